package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// waitExpected waits until the store counts n announced records, which Record lowers once its
// record has reached the writer.
func waitExpected(t *testing.T, s *Store, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.expected.Load() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d records announced, want %d", s.expected.Load(), n)
		}
	}
}

// TestACommitWaitsForAnnouncedRecords: with a commit delay, records that requests in progress have
// announced (Expect) are committed together with the one already there, in one commit; without the
// delay each would have had its own. (A minute's delay is longer than the second between records a
// new store assumes, so the store counts as busy.)
func TestACommitWaitsForAnnouncedRecords(t *testing.T) {
	s := open(t, Config{DSN: filepath.Join(t.TempDir(), "a.db"), Keys: []Key{newKey(t, "k1")}, CommitDelay: time.Minute})
	ctx := context.Background()
	var ctxs []context.Context
	for range 3 {
		ctxs = append(ctxs, s.Expect(ctx))
	}
	errs := make(chan error, len(ctxs))
	for i, c := range ctxs {
		go func() { errs <- s.Record(c, event(fmt.Sprintf("999000000%d", i), "alice", time.Now())) }()
		waitExpected(t, s, int64(len(ctxs)-1-i)) // it is with the writer, which waits for the others
		if i < len(ctxs)-1 && s.Stats().Commits != 0 {
			t.Fatalf("committed after %d of %d announced records", i+1, len(ctxs))
		}
	}
	for range ctxs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Commits != 1 || st.Records != 3 {
		t.Errorf("Stats() = %+v, want the 3 records in 1 commit", st)
	}
	verifyOK(t, s)
}

// TestACommitWaitsForNothingElse: a record nobody else announced, or whose announcers withdrew
// (their requests ended without a record), is committed at once, however long the delay.
func TestACommitWaitsForNothingElse(t *testing.T) {
	s := open(t, Config{DSN: filepath.Join(t.TempDir(), "a.db"), Keys: []Key{newKey(t, "k1")}, CommitDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Record(ctx, event("9990000018", "alice", time.Now())); err != nil {
		t.Fatal(err)
	}
	gone := s.Expect(ctx)
	s.Withdraw(gone)
	s.Withdraw(gone) // twice is once
	mine := s.Expect(ctx)
	if err := s.Record(mine, event("9990000026", "alice", time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Withdraw(mine) // after its Record: nothing left to withdraw
	if n := s.expected.Load(); n != 0 {
		t.Errorf("%d records still announced, want 0", n)
	}
	if st := s.Stats(); st.Records != 2 {
		t.Errorf("Stats() = %+v, want 2 records", st)
	}
}

// TestCloseDoesNotWaitOutTheDelay: a commit waiting for announced records that never come is made
// at once when the store closes, and its record is durable.
func TestCloseDoesNotWaitOutTheDelay(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	s := open(t, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}, CommitDelay: time.Hour})
	ctx := context.Background()
	s.Expect(ctx) // a request that never records
	mine := s.Expect(ctx)
	errs := make(chan error, 1)
	go func() { errs <- s.Record(mine, event("9990000018", "alice", time.Now())) }()
	waitExpected(t, s, 1) // the record is with the writer, which waits for the other
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("the waiting record failed at close: %v", err)
	}
	if st := s.Stats(); st.Records != 1 {
		t.Errorf("Stats() = %+v, want the record committed", st)
	}
}

// TestAQuietStoreDoesNotWaitForAnnouncedRecords: where records come further apart than the delay, an
// announced record is most likely a request still waiting for Spine: the commit does not wait for it.
func TestAQuietStoreDoesNotWaitForAnnouncedRecords(t *testing.T) {
	s := open(t, Config{DSN: filepath.Join(t.TempDir(), "a.db"), Keys: []Key{newKey(t, "k1")}, CommitDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other := s.Expect(context.Background()) // a request still waiting for Spine
	defer s.Withdraw(other)
	// Records ten hours apart, as far as the writer knows (set before any record reaches it).
	s.lastArrival, s.gap = time.Now().Add(-10*time.Hour), 10*time.Hour
	if err := s.Record(ctx, event("9990000018", "alice", time.Now())); err != nil {
		t.Fatalf("the commit waited for a record announced on a quiet store: %v", err)
	}
	if st := s.Stats(); st.Records != 1 || st.Announced != 1 {
		t.Errorf("Stats() = %+v, want 1 record committed and the other still announced", st)
	}
}
