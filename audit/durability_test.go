package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child process of TestDurableAcrossSIGKILL is this test binary re-executed with these set.
const (
	childDSNEnv = "AUDIT_TEST_CHILD_DSN"
	childKeyEnv = "AUDIT_TEST_CHILD_KEY"
)

// TestDurableAcrossSIGKILL runs a child process that records and reports back, kills it with
// SIGKILL the moment Record has returned (no Close, no deferred cleanup), and finds the record.
func TestDurableAcrossSIGKILL(t *testing.T) {
	if dsn := os.Getenv(childDSNEnv); dsn != "" {
		recordThenHang(dsn, os.Getenv(childKeyEnv))
		return
	}
	for _, b := range backends(t) {
		t.Run(b.name+": a record committed before the kill is there after it", func(t *testing.T) {
			dsn := b.dsn(t)
			key := newKey(t, "k1")
			cmd := exec.Command(os.Args[0], "-test.run=^TestDurableAcrossSIGKILL$")
			cmd.Env = append(os.Environ(), childDSNEnv+"="+dsn, childKeyEnv+"="+keySpec(key))
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			state, _ := cmd.Process.Wait()
			if err != nil || strings.TrimSpace(line) != "recorded" {
				t.Fatalf("child said %q (%v), exited %v", line, err, state)
			}
			if ws, ok := state.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child ended with %v, not by SIGKILL", state)
			}

			s := open(t, Config{DSN: dsn, Keys: []Key{key}, Instance: "child"})
			recs, total, err := s.Search(context.Background(), Query{PatientNHS: "9990000042"})
			if err != nil {
				t.Fatal(err)
			}
			if total != 1 || recs[0].RequestID != "req-9990000042" {
				t.Fatalf("after the kill the trail holds %d records for the patient (%+v), want the one recorded", total, recs)
			}
			verifyOK(t, s)
			// The chain continues where the killed process left it.
			if err := s.Record(context.Background(), event("9990000042", "alice", time.Now())); err != nil {
				t.Fatal(err)
			}
			if rep := verifyOK(t, s); rep.Chains[0].LastSeq != 2 {
				t.Errorf("chain ends at %d, want 2", rep.Chains[0].LastSeq)
			}
		})
	}
}

// recordThenHang is the child: it records one event, says so, and waits to be killed.
func recordThenHang(dsn, keySpec string) {
	keys, err := ParseKeys(keySpec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(context.Background(), Config{DSN: dsn, Keys: keys, Instance: "child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.Record(context.Background(), event("9990000042", "alice", time.Now())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("recorded")
	select {}
}

// A DSN whose own pragmas would stop every commit being synced is refused: modernc applies them after
// the store's, so they would otherwise win without a word.
func TestADSNCannotWeakenDurability(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{"", true},
		{"?_pragma=synchronous(EXTRA)", true},
		{"?_pragma=synchronous(NORMAL)", false},
		{"?_pragma=synchronous(OFF)", false},
		{"?_pragma=journal_mode(DELETE)", true}, // the store's WAL is applied after it: WAL stays
		{"?_synchronous=OFF", false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			dsn := "file:" + filepath.Join(t.TempDir(), "audit.db") + tc.query
			s, err := Open(ctx, Config{DSN: dsn, Keys: []Key{newKey(t, "k1")}})
			if s != nil {
				s.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("Open(%s): %v", tc.query, err)
			}
		})
	}
}
