package audit

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}, Retention: 24 * time.Hour})
			now := time.Now()
			for _, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, 30 * time.Hour, time.Hour, time.Minute} {
				if err := s.Record(ctx, event("9990000001", "alice", now.Add(-age))); err != nil {
					t.Fatal(err)
				}
			}

			t.Run("records older than the limit go, and the chain still verifies", func(t *testing.T) {
				removed, err := s.Prune(ctx, now.Add(-s.Retention()))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := removed, 3; got != want {
					t.Errorf("removed %d, want %d", got, want)
				}
				rep := verifyOK(t, s)
				if got, want := rep.Chains[0].FirstSeq, int64(4); got != want {
					t.Errorf("chain starts at %d, want %d", got, want)
				}
				_, total, err := s.Search(ctx, Query{PatientNHS: "9990000001"})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := total, 2; got != want {
					t.Errorf("%d access records left, want %d", got, want)
				}
			})
			t.Run("nothing to remove writes nothing", func(t *testing.T) {
				removed, err := s.Prune(ctx, now.Add(-100*time.Hour))
				if err != nil || removed != 0 {
					t.Fatalf("Prune = %d, %v; want 0, nil", removed, err)
				}
				if rep := verifyOK(t, s); rep.Chains[0].LastSeq != 6 {
					t.Errorf("chain ends at %d, want 6 (5 records and one retention record)", rep.Chains[0].LastSeq)
				}
			})
			t.Run("a later pass that removes the earlier retention record keeps the chain verifiable", func(t *testing.T) {
				removed, err := s.Prune(ctx, time.Now().Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := removed, 3; got != want {
					t.Errorf("removed %d, want %d (two access records and the first retention record)", got, want)
				}
				if err := s.Record(ctx, event("9990000001", "alice", time.Now())); err != nil {
					t.Fatal(err)
				}
				rep := verifyOK(t, s)
				if got, want := rep.Chains[0].FirstSeq, int64(7); got != want {
					t.Errorf("chain starts at %d, want %d", got, want)
				}
			})
			t.Run("deleting the retention record breaks the chain", func(t *testing.T) {
				mustExec(t, rawDB(t, dsn), `DELETE FROM audit_records WHERE kind = 'retention'`)
				rep, err := s.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if brk := rep.Chains[0].Broken; brk == nil || !strings.Contains(brk.Reason, "no retention record") {
					t.Errorf("Verify after deleting the retention record: %v", brk)
				}
			})
		})
	}
}
