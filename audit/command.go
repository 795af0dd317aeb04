package audit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrBroken is returned by VerifyCommand when a chain does not verify.
var ErrBroken = errors.New("audit: the trail does not verify")

// VerifyCommand is `audit verify [--dsn DSN]`: it checks every chain of the trail and prints one line
// per chain, naming the first broken link. args are the arguments after "verify". The DSN defaults to
// EPS_AUDIT_DSN, then DefaultDSN; the keys come from EPS_AUDIT_KEY (every key that ever signed a
// retained record must be listed). It returns ErrBroken when a chain is broken, so the exit status
// tells a script.
func VerifyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a parse error is reported once, by the caller
	fs.Usage = func() {}
	dsn := fs.String("dsn", getenv("EPS_AUDIT_DSN"), "audit store: SQLite file path or file: URI, or postgres:// URL (default EPS_AUDIT_DSN)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: audit verify [--dsn DSN] [server flags, e.g. --state-dir]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return nil // asking for the usage is not a failure
		}
		return fmt.Errorf("audit verify: %w (see audit verify --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit verify: unexpected arguments %q", fs.Args())
	}
	keys, err := ParseKeys(getenv("EPS_AUDIT_KEY"))
	if err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = DefaultDSN(getenv)
	}
	// Opening a missing SQLite file would create an empty one: say plainly that there is none.
	if !strings.Contains(*dsn, "://") && !strings.HasPrefix(*dsn, "file:") {
		if _, err := os.Stat(*dsn); err != nil {
			return fmt.Errorf("audit verify: no audit store at %s: %w", *dsn, err)
		}
	}
	s, err := openStore(ctx, Config{DSN: *dsn, Keys: keys})
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Verify(ctx)
	if err != nil {
		return err
	}
	if len(rep.Chains) == 0 {
		fmt.Fprintln(stdout, "no audit records")
	}
	for _, c := range rep.Chains {
		if c.Broken != nil {
			fmt.Fprintf(stdout, "BROKEN %s (%d records read)\n", c.Broken, c.Records)
			continue
		}
		fmt.Fprintf(stdout, "ok chain %q: %d records, seq %d to %d\n", c.Chain, c.Records, c.FirstSeq, c.LastSeq)
	}
	if !rep.OK() {
		return ErrBroken
	}
	return nil
}
