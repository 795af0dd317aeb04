package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// recordN records n events for one patient.
func recordN(t *testing.T, s *Store, n int) {
	t.Helper()
	for range n {
		if err := s.Record(context.Background(), event("9990000001", "alice", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrite replaces record seq of chain, as someone with write access to the table would.
func rewrite(t *testing.T, db *sql.DB, chain string, seq int64, edit func(r *Record)) {
	t.Helper()
	ctx := context.Background()
	r, err := scanRecord(db.QueryRowContext(ctx, `SELECT `+columns+` FROM audit_records WHERE chain = $1 AND seq = $2`, chain, seq))
	if err != nil {
		t.Fatal(err)
	}
	r.stored = nil
	edit(&r)
	ids, _ := r.texts()
	if _, err := db.ExecContext(ctx,
		`UPDATE audit_records SET patient_nhs = $1, prescription_ids = $2, prev_mac = $3, mac = $4, key_id = $5 WHERE chain = $6 AND seq = $7`,
		r.PatientNHS, ids, r.PrevMAC, r.MAC, r.KeyID, chain, seq); err != nil {
		t.Fatal(err)
	}
}

func plainHash(r Record) string {
	h := sha256.Sum256(canonical(r))
	return hex.EncodeToString(h[:])
}

func TestVerifyDetectsTampering(t *testing.T) {
	forger := Key{ID: "k1", Secret: []byte("the attacker's guess at the key")}
	for _, b := range backends(t) {
		for _, tc := range []struct {
			name    string
			tamper  func(t *testing.T, db *sql.DB)
			wantSeq int64
			want    string
		}{
			{"a changed patient whose record's plain hash was recomputed is caught at that record",
				func(t *testing.T, db *sql.DB) {
					rewrite(t, db, "test-instance", 3, func(r *Record) {
						r.PatientNHS = "9990000999"
						r.MAC = plainHash(*r)
					})
				}, 3, "altered"},
			{"a chain re-signed from the change onwards with a guessed key is caught at the change",
				func(t *testing.T, db *sql.DB) {
					prev := ""
					for seq := int64(3); seq <= 5; seq++ {
						rewrite(t, db, "test-instance", seq, func(r *Record) {
							if seq == 3 {
								r.PrescriptionIDs = []string{"FORGED-A83008-000000"}
							} else {
								r.PrevMAC = prev
							}
							r.MAC = sign(forger, *r)
							prev = r.MAC
						})
					}
				}, 3, "altered"},
			{"a record deleted from the middle is caught at the next one",
				func(t *testing.T, db *sql.DB) {
					mustExec(t, db, `DELETE FROM audit_records WHERE seq = 2`)
				}, 3, "records 2 to 2 are missing"},
			{"records deleted from the start without a retention record are caught",
				func(t *testing.T, db *sql.DB) {
					mustExec(t, db, `DELETE FROM audit_records WHERE seq <= 2`)
				}, 3, "no retention record"},
			{"a record claiming to be signed by an unknown key is caught",
				func(t *testing.T, db *sql.DB) {
					mustExec(t, db, `UPDATE audit_records SET key_id = 'k9' WHERE seq = 4`)
				}, 4, `unknown key "k9"`},
			{"prescription IDs replaced by text that does not decode are caught",
				func(t *testing.T, db *sql.DB) {
					mustExec(t, db, `UPDATE audit_records SET prescription_ids = 'garbage' WHERE seq = 5`)
				}, 5, "altered"},
		} {
			t.Run(b.name+": "+tc.name, func(t *testing.T) {
				dsn := b.dsn(t)
				s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}})
				recordN(t, s, 5)
				verifyOK(t, s)
				tc.tamper(t, rawDB(t, dsn))
				rep, err := s.Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() {
					t.Fatal("Verify passed a tampered trail")
				}
				brk := rep.Chains[0].Broken
				if got, want := brk.Seq, tc.wantSeq; got != want {
					t.Errorf("broken at seq %d, want %d (%s)", got, want, brk)
				}
				if !strings.Contains(brk.Reason, tc.want) {
					t.Errorf("reason %q, want it to mention %q", brk.Reason, tc.want)
				}
			})
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

func TestKeyRotation(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name+": records signed by a retired key still verify", func(t *testing.T) {
			dsn := b.dsn(t)
			k1, k2 := newKey(t, "k1"), newKey(t, "k2")
			old := open(t, Config{DSN: dsn, Keys: []Key{k1}})
			recordN(t, old, 2)
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			s := open(t, Config{DSN: dsn, Keys: []Key{k2, k1}})
			recordN(t, s, 2)
			rep := verifyOK(t, s)
			if got, want := rep.Chains[0].Records, 4; got != want {
				t.Errorf("verified %d records, want %d", got, want)
			}
			recs, _, err := s.Search(context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.KeyID)
			}
			if got, want := strings.Join(ids, ","), "k2,k2,k1,k1"; got != want {
				t.Errorf("key ids newest first = %s, want %s", got, want)
			}

			withoutOld, err := openStore(context.Background(), Config{DSN: dsn, Keys: []Key{k2}})
			if err != nil {
				t.Fatal(err)
			}
			defer withoutOld.Close()
			rep, err = withoutOld.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if brk := rep.Chains[0].Broken; brk == nil || brk.Seq != 1 || !strings.Contains(brk.Reason, `unknown key "k1"`) {
				t.Errorf("verifying without the retired key: %v, want a break at seq 1 naming k1", brk)
			}
		})
	}
}

func TestTwoInstancesShareOneDatabase(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name+": both chains verify after concurrent writes", func(t *testing.T) {
			dsn := b.dsn(t)
			keys := []Key{newKey(t, "k1")}
			// Both open at once on an empty database, racing to create the schema.
			stores := make([]*Store, 2)
			errs := make(chan error, 2)
			for i, name := range []string{"instance-a", "instance-b"} {
				go func() {
					s, err := Open(context.Background(), Config{DSN: dsn, Keys: keys, Instance: name})
					stores[i] = s
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range stores {
				t.Cleanup(func() { s.Close() })
			}
			const perInstance = 40
			done := make(chan error, 2*perInstance)
			for _, s := range stores {
				for i := range perInstance {
					go func() {
						done <- s.Record(context.Background(), event("9990000001", "user"+string(rune('a'+i%3)), time.Now()))
					}()
				}
			}
			for range 2 * perInstance {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			rep := verifyOK(t, stores[0])
			if got, want := len(rep.Chains), 2; got != want {
				t.Fatalf("%d chains, want %d", got, want)
			}
			for i, c := range rep.Chains {
				if c.Chain != stores[i].Instance() || c.Records != perInstance || c.LastSeq != perInstance {
					t.Errorf("chain %d = %+v, want %q with %d records", i, c, stores[i].Instance(), perInstance)
				}
			}
		})
	}
}
