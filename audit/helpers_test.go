package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// backend is a real database a test runs against.
type backend struct {
	name string
	// dsn returns a fresh, empty store for one test, removed when the test ends.
	dsn func(t testing.TB) string
}

// backends are SQLite in a temporary folder and PostgreSQL in a schema of its own per test. The
// PostgreSQL variant skips, saying why, only when EPS_TEST_POSTGRES_URL is unset (.ci/run sets it
// whenever a server answers).
func backends(t testing.TB) []backend {
	t.Helper()
	return []backend{
		{name: "sqlite", dsn: func(t testing.TB) string {
			return filepath.Join(t.TempDir(), "audit.db")
		}},
		{name: "postgresql", dsn: func(t testing.TB) string {
			base := os.Getenv("EPS_TEST_POSTGRES_URL")
			if base == "" {
				t.Skip("PostgreSQL not tested: EPS_TEST_POSTGRES_URL is not set")
			}
			return postgresSchema(t, base)
		}},
	}
}

// postgresSchema creates a uniquely named schema and returns a DSN whose search_path points at it,
// so tests running at once never see each other's tables.
func postgresSchema(t testing.TB, base string) string {
	t.Helper()
	name := "audit_test_" + randomHex(t, 6)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + name
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newKey generates a key at run time: no secret is committed.
func newKey(t *testing.T, id string) Key {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return Key{ID: id, Secret: b}
}

func keySpec(keys ...Key) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.ID+":"+base64.StdEncoding.EncodeToString(k.Secret))
	}
	return strings.Join(parts, ",")
}

// open opens a store and closes it when the test ends.
func open(t *testing.T, c Config) *Store {
	t.Helper()
	if c.Instance == "" {
		c.Instance = "test-instance"
	}
	s, err := Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens a second, independent connection to the store's database, as an operator (or an
// attacker) editing the table would.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, _, err := openDB(context.Background(), dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// event is a typical search answer for a patient.
func event(nhs, user string, at time.Time) Event {
	return Event{
		Time:            at,
		RequestID:       "req-" + nhs,
		TraceID:         "4bf92f3577b34da6a3ce929d0e0e4736",
		ClientAddr:      "192.0.2.10",
		UserID:          user,
		RoleProfileID:   "555021935107",
		OrgCode:         "A83008",
		ClientID:        "test-client",
		Interaction:     "search",
		ResourceType:    "MedicationRequest",
		Query:           "/FHIR/R4/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|" + nhs,
		PatientNHS:      nhs,
		PrescriptionIDs: []string{"24F5DA-A83008-7EFE6Z"},
		Status:          200,
	}
}

func verifyOK(t *testing.T, s *Store) Report {
	t.Helper()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, c := range rep.Chains {
		if c.Broken != nil {
			t.Errorf("Verify: %s", c.Broken)
		}
	}
	return rep
}
