package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dsn := backends(t)[0].dsn(t)
	key := newKey(t, "k1")
	s := open(t, Config{DSN: dsn, Keys: []Key{key}, Instance: "adapter-1"})
	recordN(t, s, 3)
	env := map[string]string{"EPS_AUDIT_KEY": keySpec(key), "HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	run := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := VerifyCommand(ctx, args, getenv, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}

	t.Run("--help prints the usage and is not a failure", func(t *testing.T) {
		out, err := run("--help")
		if err != nil || !strings.Contains(out, "-dsn") {
			t.Errorf("VerifyCommand(--help) = %v\n%s", err, out)
		}
	})
	t.Run("an intact trail verifies", func(t *testing.T) {
		out, err := run("--dsn", dsn)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, `ok chain "adapter-1": 3 records, seq 1 to 3`) {
			t.Errorf("output %q does not report the chain", out)
		}
	})
	t.Run("the DSN comes from EPS_AUDIT_DSN when no flag is given", func(t *testing.T) {
		env["EPS_AUDIT_DSN"] = dsn
		defer delete(env, "EPS_AUDIT_DSN")
		if out, err := run(); err != nil || !strings.Contains(out, "ok chain") {
			t.Errorf("VerifyCommand() = %v\n%s", err, out)
		}
	})
	t.Run("a missing SQLite file is reported, not created", func(t *testing.T) {
		missing := dsn + ".missing"
		if _, err := run("--dsn", missing); err == nil || !strings.Contains(err.Error(), "no audit store") {
			t.Errorf("VerifyCommand on a missing file = %v", err)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Error("verify created the missing store")
		}
	})
	t.Run("without a key it refuses to run", func(t *testing.T) {
		saved := env["EPS_AUDIT_KEY"]
		delete(env, "EPS_AUDIT_KEY")
		defer func() { env["EPS_AUDIT_KEY"] = saved }()
		if _, err := run("--dsn", dsn); err == nil {
			t.Error("VerifyCommand succeeded without a key")
		}
	})
	t.Run("a tampered record is named and the command fails", func(t *testing.T) {
		mustExec(t, rawDB(t, dsn), `UPDATE audit_records SET user_id = 'mallory' WHERE seq = 2`)
		out, err := run("--dsn", dsn)
		if !errors.Is(err, ErrBroken) {
			t.Errorf("VerifyCommand = %v, want ErrBroken", err)
		}
		if !strings.Contains(out, `BROKEN chain "adapter-1" broken at seq 2`) {
			t.Errorf("output %q does not name the broken link", out)
		}
	})
}
