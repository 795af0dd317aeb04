package sandbox

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// getWith makes one search with a client holding config, on a fresh connection.
func getWith(t *testing.T, url string, config *tls.Config) error {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: config}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, url+searchPath(PatientAcuteAndRepeat), nil)
	req.Header = spineHeaders()
	res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

// RotateCerts is a Spine restarted with new certificates, on the same address: issue 11's test of
// a client that must reload its own.
func TestRotateCertsActsAsARestartWithNewCertificates(t *testing.T) {
	e := startEnv(t, Options{})
	dir := t.TempDir()
	if err := e.srv.WriteClientFiles(dir); err != nil {
		t.Fatal(err)
	}
	old, err := e.srv.Certs.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := getWith(t, e.srv.URL, old); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if err := e.srv.RotateCerts(); err != nil {
		t.Fatal(err)
	}
	current := e.srv.CurrentCerts()
	if bytes.Equal(current.CAPEM, e.srv.Certs.CAPEM) || bytes.Equal(current.ClientCertPEM, e.srv.Certs.ClientCertPEM) {
		t.Fatal("RotateCerts kept the old CA or client certificate")
	}
	t.Run("a client with the old certificates is refused", func(t *testing.T) {
		if err := getWith(t, e.srv.URL, old); err == nil {
			t.Error("a client trusting the old CA got in")
		}
	})
	t.Run("a client with the new certificates gets in", func(t *testing.T) {
		fresh, err := current.ClientTLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		if err := getWith(t, e.srv.URL, fresh); err != nil {
			t.Error(err)
		}
	})
	t.Run("the client files are rewritten, the key still private", func(t *testing.T) {
		for name, want := range map[string][]byte{CAFile: current.CAPEM, ClientFile: current.ClientCertPEM, ClientKeyFile: current.ClientKeyPEM} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s holds the old contents", name)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, ClientKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("key file mode = %v, want %v", got, want)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left behind: %v", leftovers)
		}
	})
}

// The control file changes a running sandbox's fault, and rotates its certificates, from outside
// the process: how load/soak.sh injects faults into an adapter's embedded sandbox.
func TestControlFileChangesARunningSandbox(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control")
	e := startEnv(t, Options{ControlFile: file})
	// eventually polls, because the sandbox looks at the file at most every controlInterval.
	eventually := func(t *testing.T, what string, done func() bool) {
		t.Helper()
		for range 200 {
			if done() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("never %s", what)
	}
	write := func(t *testing.T, s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	statusCode := func() string { return e.get(t, searchPath(PatientAcuteAndRepeat), nil).str("statusCode") }

	if got, want := statusCode(), "0"; got != want {
		t.Fatalf("before any control: statusCode %q, want %q", got, want)
	}
	write(t, "status5")
	eventually(t, "answered statusCode 5 after status5", func() bool { return statusCode() == "5" })
	write(t, "none")
	eventually(t, "answered statusCode 0 after none", func() bool { return statusCode() == "0" })
	old := e.srv.CurrentCerts()
	write(t, "rotate")
	eventually(t, "rotated its certificates", func() bool {
		e.client.CloseIdleConnections()
		_, _ = e.client.Get(e.srv.URL + searchPath(PatientAcuteAndRepeat)) // a request makes it look
		return e.srv.CurrentCerts() != old
	})
}
