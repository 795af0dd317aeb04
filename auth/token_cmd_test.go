package auth

import (
	"bytes"
	"strings"
	"testing"
)

func TestTokenCommandPrintsATokenARunningServerAccepts(t *testing.T) {
	dir := t.TempDir()
	const issuerURL = "http://127.0.0.1:8080/oauth2"
	var stdout, stderr bytes.Buffer
	err := TokenCommand(t.Context(), []string{"--user", "555555555555", "--role", "666666666666", "--scope", "user/MedicationRequest.r", "--ttl", "5m"},
		dir, issuerURL, testAudience, &stdout, &stderr)
	if err != nil {
		t.Fatalf("TokenCommand: %v (stderr %s)", err, stderr.String())
	}
	// The server opens the same state folder after the command made the key.
	iss, err := OpenIssuer(dir, issuerURL, testAudience)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, iss.Config())
	id, err := v.Authenticate(t.Context(), "Bearer "+strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if err := v.Authorize(id, "MedicationRequest", Read); err != nil {
		t.Errorf("Authorize(read): %v", err)
	}
	if err := v.Authorize(id, "MedicationRequest", Search); err == nil {
		t.Error("a .r-only token from --scope may search")
	}
}

func TestTokenCommandHelpListsTheSandboxUsers(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := TokenCommand(t.Context(), []string{"--help"}, t.TempDir(), "http://127.0.0.1:8080/oauth2", testAudience, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, u := range SandboxUsers {
		if !strings.Contains(stderr.String(), u.UserID) || !strings.Contains(stderr.String(), u.Password) {
			t.Errorf("--help does not list user %s with its password:\n%s", u.UserID, stderr.String())
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("--help wrote %q to stdout, where a token goes", stdout.String())
	}
}

// A bad flag is one error, returned for the caller to print once, with nothing on stdout (where
// $(go run . token) takes its token) and no usage dump; it printed the usage to stdout and the
// error twice.
func TestTokenCommandReportsABadFlagOnce(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"--user"}} {
		var stdout, stderr bytes.Buffer
		err := TokenCommand(t.Context(), args, t.TempDir(), "http://127.0.0.1:8080/oauth2", testAudience, &stdout, &stderr)
		if err == nil || stdout.Len() != 0 || stderr.Len() != 0 {
			t.Errorf("%v: err %v, stdout %q, stderr %q; want the error alone", args, err, stdout.String(), stderr.String())
		}
	}
}

func TestTokenCommandRefusesAnUnknownUser(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := TokenCommand(t.Context(), []string{"--user", "000000000000"}, t.TempDir(), "http://127.0.0.1:8080/oauth2", testAudience, &stdout, &stderr)
	if err == nil || stdout.Len() != 0 {
		t.Errorf("error %v, stdout %q; want an error and no token", err, stdout.String())
	}
}
