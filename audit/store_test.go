package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRecordAndSearch(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, Config{DSN: b.dsn(t), Keys: []Key{newKey(t, "k1")}})
			day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
			var want []Event
			// Patient 9990000001 is seen by alice on days 0..5, patient 9990000002 by bob on days 0..2.
			for i := range 6 {
				e := event("9990000001", "alice", day.Add(time.Duration(i)*24*time.Hour))
				want = append(want, e)
				if err := s.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				e := event("9990000002", "bob", day.Add(time.Duration(i)*24*time.Hour+time.Hour))
				e.Status, e.Outcome, e.PrescriptionIDs = 403, "forbidden", nil
				if err := s.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}

			t.Run("a record reads back exactly as it was recorded", func(t *testing.T) {
				recs, total, err := s.Search(ctx, Query{PatientNHS: "9990000001", Count: 100})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := total, 6; got != want {
					t.Fatalf("total = %d, want %d", got, want)
				}
				var got []Event
				for i := len(recs) - 1; i >= 0; i-- { // newest first
					got = append(got, recs[i].Event)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})

			for _, tc := range []struct {
				name      string
				q         Query
				wantTotal int
				wantDays  []int // days after day of the records on the page, newest first
			}{
				{"searching by patient finds only that patient's records", Query{PatientNHS: "9990000002"}, 3, []int{2, 1, 0}},
				{"searching by agent finds only that user's records", Query{Agent: "alice", Count: 2}, 6, []int{5, 4}},
				{"the second page follows the first", Query{Agent: "alice", Count: 2, Offset: 2}, 6, []int{3, 2}},
				{"a page past the end is empty but keeps the total", Query{Agent: "alice", Offset: 10}, 6, nil},
				{"a date range includes its start and excludes its end", Query{PatientNHS: "9990000001",
					Since: day.Add(24 * time.Hour), Until: day.Add(3 * 24 * time.Hour)}, 2, []int{2, 1}},
				{"patient, agent and date combine", Query{PatientNHS: "9990000002", Agent: "bob",
					Since: day.Add(24 * time.Hour)}, 2, []int{2, 1}},
				{"an unknown patient matches nothing", Query{PatientNHS: "9990000003"}, 0, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					recs, total, err := s.Search(ctx, tc.q)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := total, tc.wantTotal; got != want {
						t.Errorf("total = %d, want %d", got, want)
					}
					var days []int
					for _, r := range recs {
						days = append(days, int(r.Time.Sub(day)/(24*time.Hour)))
					}
					if diff := cmp.Diff(tc.wantDays, days); diff != "" {
						t.Errorf("days on the page (-want +got):\n%s", diff)
					}
				})
			}
			verifyOK(t, s)
		})
	}
}

func TestGroupCommit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name+": concurrent records share durable commits", func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}})
			// Another connection holds the write lock while the requests arrive, as a slow disk would,
			// so they queue behind the first commit and must be carried together by the next.
			release := holdWriteLock(t, dsn, b.name)
			const n = 64
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					errs <- s.Record(ctx, event(fmt.Sprintf("99900%05d", i), "alice", time.Now()))
				})
			}
			time.Sleep(200 * time.Millisecond) // let the requests queue; nothing is asserted on time
			release()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if got, want := st.Records, int64(n); got != want {
				t.Errorf("Stats().Records = %d, want %d", got, want)
			}
			if st.Commits >= st.Records || st.Largest < 2 {
				t.Errorf("Stats() = %+v: no commit carried more than one record", st)
			}
			t.Logf("%d records in %d commits (%.1f per commit, largest %d)", st.Records, st.Commits, st.PerCommit(), st.Largest)
			rep := verifyOK(t, s)
			if got, want := rep.Chains[0].Records, n; got != want {
				t.Errorf("chain holds %d records, want %d", got, want)
			}
		})
	}
}

// holdWriteLock takes the audit table's write lock from a separate connection and returns the
// function that releases it.
func holdWriteLock(t *testing.T, dsn, backend string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db := rawDB(t, dsn)
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on SQLite: the database's write lock
	if err != nil {
		t.Fatal(err)
	}
	if backend == "postgresql" {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE audit_records IN EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite: while another process holds the write lock, Record and Ready fail", func(t *testing.T) {
		dsn := backends(t)[0].dsn(t)
		s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}, busyTimeout: 100 * time.Millisecond})
		release := holdWriteLock(t, dsn, "sqlite")
		if err := s.Record(ctx, event("9990000001", "alice", time.Now())); err == nil {
			t.Error("Record succeeded on a locked store")
		}
		if err := s.Ready(ctx); err == nil {
			t.Error("Ready succeeded on a locked store")
		}
		release()
		if err := s.Ready(ctx); err != nil {
			t.Errorf("Ready once the lock is gone: %v", err)
		}
		if err := s.Record(ctx, event("9990000002", "alice", time.Now())); err != nil {
			t.Fatalf("Record once the lock is gone: %v", err)
		}
		if _, total, _ := s.Search(ctx, Query{PatientNHS: "9990000001"}); total != 0 {
			t.Errorf("the failed record is in the trail")
		}
		verifyOK(t, s)
	})
	for _, b := range backends(t)[1:] {
		t.Run(b.name+": with the audit table gone, Record and Ready fail, and recover when it returns", func(t *testing.T) {
			dsn := b.dsn(t)
			s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}})
			if err := s.Record(ctx, event("9990000001", "alice", time.Now())); err != nil {
				t.Fatal(err)
			}
			db := rawDB(t, dsn)
			if _, err := db.ExecContext(ctx, `ALTER TABLE audit_records RENAME TO audit_records_away`); err != nil {
				t.Fatal(err)
			}
			if err := s.Record(ctx, event("9990000002", "alice", time.Now())); err == nil {
				t.Error("Record succeeded without a table")
			}
			if err := s.Ready(ctx); err == nil {
				t.Error("Ready succeeded without a table")
			}
			if _, err := db.ExecContext(ctx, `ALTER TABLE audit_records_away RENAME TO audit_records`); err != nil {
				t.Fatal(err)
			}
			if err := s.Ready(ctx); err != nil {
				t.Errorf("Ready once the table is back: %v", err)
			}
			if err := s.Record(ctx, event("9990000003", "alice", time.Now())); err != nil {
				t.Fatalf("Record once the table is back: %v", err)
			}
			verifyOK(t, s)
		})
	}
	t.Run("a closed store refuses records", func(t *testing.T) {
		s := open(t, Config{DSN: backends(t)[0].dsn(t), Keys: []Key{newKey(t, "k1")}})
		s.Close()
		if err := s.Record(ctx, event("9990000001", "alice", time.Now())); !errors.Is(err, ErrClosed) {
			t.Errorf("Record after Close = %v, want ErrClosed", err)
		}
	})
	t.Run("Open refuses to start without a key", func(t *testing.T) {
		if _, err := Open(ctx, Config{DSN: backends(t)[0].dsn(t)}); err == nil {
			t.Error("Open succeeded without a key")
		}
	})
}

// TestOneCallsRecordsAreCommittedTogether: the records of one Record call (an answer about several
// patients) go into one transaction, all or none: never split across commits, even past maxBatch, and
// never interleaved with another call's.
func TestOneCallsRecordsAreCommittedTogether(t *testing.T) {
	ctx := context.Background()
	s := open(t, Config{DSN: backends(t)[0].dsn(t), Keys: []Key{newKey(t, "k1")}})
	many := make([]Event, maxBatch+10)
	for i := range many {
		many[i] = event(fmt.Sprintf("99900%05d", i), "auditor", time.Now())
	}
	before := s.Stats()
	if err := s.Record(ctx, many...); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if after.Commits-before.Commits != 1 || after.Largest < int64(len(many)) {
		t.Errorf("%d records of one call took %d commits (largest %d), want one", len(many), after.Commits-before.Commits, after.Largest)
	}

	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			evs := make([]Event, 5)
			for i := range evs {
				evs[i] = event(fmt.Sprintf("99911%05d", c*10+i), "auditor", time.Now())
				evs[i].RequestID = fmt.Sprintf("call-%d", c)
			}
			if err := s.Record(ctx, evs...); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	recs, err := allRecords(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]int64{}
	for _, r := range recs {
		if !strings.HasPrefix(r.RequestID, "call-") {
			continue
		}
		if _, ok := first[r.RequestID]; !ok {
			first[r.RequestID] = r.Seq
		}
		if r.Seq-first[r.RequestID] >= 5 {
			t.Errorf("%s: record at seq %d, more than 5 after its first at %d: the call's records were split", r.RequestID, r.Seq, first[r.RequestID])
		}
	}
	if len(first) != 8 {
		t.Errorf("%d calls recorded, want 8", len(first))
	}
	verifyOK(t, s)
}

// TestAGroupCommitStaysWithinMaxBatch: gathering stops before a call whose records would take the
// batch past maxBatch, and holds that call to start the next one; a single call larger than
// maxBatch is a batch alone.
func TestAGroupCommitStaysWithinMaxBatch(t *testing.T) {
	call := func(n int) *request { return &request{evs: make([]Event, n), done: make(chan error, 1)} }
	s := &Store{reqs: make(chan *request, 4)}
	first, second, third := call(1), call(300), call(300)
	s.reqs <- second
	s.reqs <- third
	batch := s.gather([]*request{first})
	if len(batch) != 2 || batch[1] != second || s.held != third {
		t.Errorf("batch of %d calls, held %v; want the first two, and the third held", len(batch), s.held != nil)
	}
	s = &Store{reqs: make(chan *request, 4)}
	big := call(maxBatch + 10)
	s.reqs <- call(1)
	if batch := s.gather([]*request{big}); len(batch) != 1 {
		t.Errorf("a call past maxBatch was batched with %d others", len(batch)-1)
	}
}

// TestRecordsAreStampedInChainOrder: a record without a time is stamped as the writer commits it, so
// its time never goes back along the chain, whatever order concurrent callers arrived in.
func TestRecordsAreStampedInChainOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, Config{DSN: backends(t)[0].dsn(t), Keys: []Key{newKey(t, "k1")}})
	start := time.Now()
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 5 {
				e := event(fmt.Sprintf("99922%05d", c*10+i), "alice", time.Time{})
				if err := s.Record(ctx, e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	recs, err := allRecords(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Time.Before(start) || r.Time.After(time.Now()) {
			t.Errorf("seq %d stamped %s, outside the test's run", r.Seq, r.Time)
		}
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Errorf("seq %d stamped %s, before seq %d's %s", r.Seq, r.Time, recs[i-1].Seq, recs[i-1].Time)
		}
	}
	if len(recs) != 80 {
		t.Errorf("%d records, want 80", len(recs))
	}
	t.Run("even when the wall clock steps back", func(t *testing.T) {
		last := recs[len(recs)-1].Time
		s.now = func() time.Time { return last.Add(-time.Hour) }
		if err := s.Record(ctx, event("9992299999", "alice", time.Time{})); err != nil {
			t.Fatal(err)
		}
		recs, err := allRecords(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := recs[len(recs)-1].Time; got.Before(last) {
			t.Errorf("stamped %s, before the previous record's %s", got, last)
		}
	})
}

// TestABatchIsStoredWholeInChainOrder: group commits of every size the multi-row INSERTs split
// differently (SQLite's chunks of 16, 8, 4, 2 and 1 rows; PostgreSQL's full INSERT and a shorter one)
// store every record in its own row, with its own values, in chain order.
func TestABatchIsStoredWholeInChainOrder(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := open(t, Config{DSN: b.dsn(t), Keys: []Key{newKey(t, "k1")}})
			start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
			var all []*request
			h := head{}
			// 85 = 64 + 16 + 5 (PostgreSQL's 64 and a shorter INSERT; SQLite's 16s, a 4 and a 1), then
			// 31 = 16 + 8 + 4 + 2 + 1, 2, and 1.
			for _, size := range []int{insertChunk + 16 + 5, 31, 2, 1} {
				batch := make([]*request, size)
				for i := range batch {
					k := len(all) + i
					ev := event(fmt.Sprintf("99900%05d", k), fmt.Sprintf("user-%d", k), start.Add(time.Duration(k)*time.Second))
					ev.PrescriptionIDs = []string{fmt.Sprintf("24F5DA-A83008-%06d", k)}
					batch[i] = &request{evs: []Event{ev}}
				}
				// The writer is idle: nothing else is recorded while the test commits its batches directly.
				var err error
				if h, err = s.commit(h, batch); err != nil {
					t.Fatal(err)
				}
				all = append(all, batch...)
			}
			n := len(all)
			rows, err := s.db.QueryContext(context.Background(), `SELECT `+columns+` FROM audit_records WHERE chain = $1 ORDER BY seq`, s.Instance())
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			i := 0
			for ; rows.Next(); i++ {
				r, err := scanRecord(rows)
				if err != nil {
					t.Fatal(err)
				}
				want := all[min(i, n-1)].evs[0]
				if r.Seq != int64(i+1) || r.PatientNHS != want.PatientNHS || r.UserID != want.UserID ||
					!r.Time.Equal(want.Time) || len(r.PrescriptionIDs) != 1 || r.PrescriptionIDs[0] != want.PrescriptionIDs[0] {
					t.Errorf("row %d: seq %d, patient %s, user %s, at %s, ids %v; want seq %d, %s, %s, %s, %v", i, r.Seq,
						r.PatientNHS, r.UserID, r.Time, r.PrescriptionIDs, i+1, want.PatientNHS, want.UserID, want.Time, want.PrescriptionIDs)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if i != n {
				t.Errorf("%d rows, want %d", i, n)
			}
			if rep := verifyOK(t, s); rep.Chains[0].Records != n {
				t.Errorf("the chain verifies %d records, want %d", rep.Chains[0].Records, n)
			}
		})
	}
}

// A request's texts may hold bytes PostgreSQL cannot store as text (a raw 0xFF in a URL, a NUL): they
// are stored percent-encoded, and the records committed beside them are not failed with them.
func TestTextsAreStoredAsBothDatabasesCan(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, Config{DSN: b.dsn(t), Keys: []Key{newKey(t, "k1")}, CommitDelay: 20 * time.Millisecond})
			at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
			odd := event("9990000001", "alice\x00", at)
			odd.Query = "/FHIR/R4/Patient/9990000001?x=\xff&y=é"
			ids := []string{"24F5DA-A83008-7EFE6Z", "bad\xc3"}
			odd.PrescriptionIDs = ids
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					e := event("9990000002", "bob", at.Add(time.Duration(i)*time.Second))
					if i == 0 {
						e = odd
					}
					errs[i] = s.Record(s.Expect(ctx), e)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("record %d: %v", i, err)
				}
			}
			if ids[1] != "bad\xc3" {
				t.Errorf("the caller's prescription IDs were changed: %q", ids)
			}
			recs, _, err := s.Search(ctx, Query{PatientNHS: "9990000001"})
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			got := recs[0].Event
			if got.Query != "/FHIR/R4/Patient/9990000001?x=%FF&y=é" || got.UserID != "alice%00" ||
				!slices.Equal(got.PrescriptionIDs, []string{"24F5DA-A83008-7EFE6Z", "bad%C3"}) {
				t.Errorf("stored %q, %q, %q", got.Query, got.UserID, got.PrescriptionIDs)
			}
			if _, total, _ := s.Search(ctx, Query{PatientNHS: "9990000002"}); total != len(errs)-1 {
				t.Errorf("%d records committed beside it, want %d", total, len(errs)-1)
			}
			verifyOK(t, s)
		})
	}
}

// TestACountAndItsPageComeFromOneSnapshot: while records are being written, a search's total is
// always the number of matches up to its newest match, as the page's own bound will count them.
func TestACountAndItsPageComeFromOneSnapshot(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, Config{DSN: b.dsn(t), Keys: []Key{newKey(t, "k1")}})
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := s.Record(ctx, event("9990000001", "alice", time.Time{})); err != nil {
						t.Error(err)
						return
					}
				}
			})
			for range 150 {
				recs, total, err := s.Search(ctx, Query{PatientNHS: "9990000001", Count: 1})
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 {
					continue
				}
				_, bounded, err := s.Search(ctx, Query{PatientNHS: "9990000001", Until: recs[0].Time.Add(time.Nanosecond), Count: 1})
				if err != nil {
					t.Fatal(err)
				}
				if bounded != total {
					t.Errorf("total %d, but %d records up to the page's newest", total, bounded)
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}

// /readyz is unauthenticated, so a successful probe vouches for the store for a while (a second)
// rather than every probe taking the writer's lock: one within that time is not probed again, even
// with the lock now held elsewhere. A failed commit ends the vouching at once, and a failed probe is
// never reused.
func TestReadyReusesAGoodProbeUntilACommitFails(t *testing.T) {
	ctx := context.Background()
	dsn := backends(t)[0].dsn(t)
	s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}, busyTimeout: 100 * time.Millisecond})
	s.readyFor = time.Hour // no test depends on how fast the machine is
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	release := holdWriteLock(t, dsn, "sqlite")
	if err := s.Ready(ctx); err != nil {
		t.Errorf("a probe soon after a good one probed the locked store again: %v", err)
	}
	if err := s.Record(ctx, event("9990000001", "alice", time.Now())); err == nil {
		t.Fatal("Record succeeded on a locked store")
	}
	for range 2 {
		if err := s.Ready(ctx); err == nil {
			t.Error("Ready after a failed commit vouched for the store")
		}
	}
	release()
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready once the lock is gone: %v", err)
	}
}
