// Package audit is the adapter's durable, fail-closed, tamper-evident audit trail of every access to
// patient data, as the EPS Tracker's conditions of use require.
//
// A Store appends one Record per request to an SQL table (SQLite through modernc.org/sqlite by
// default, PostgreSQL through pgx when several adapter instances share one trail). Record returns only
// after the record is durably committed, so a caller that stops on error never lets data leave
// unaudited. Commits are grouped: records from concurrent requests share one transaction, and each
// caller waits for the commit that carries its own record.
//
// Every record is linked into its instance's chain by an HMAC-SHA256 over its content and the
// previous record's HMAC. The key lives outside the database, so whoever can edit the table cannot
// forge a consistent chain; Verify walks every chain and names the first broken link. Records are
// never updated; retention deletes from the start of a chain and appends a record saying what it
// removed, which keeps the chain verifiable.
//
// AuditEvent renders a Record as a FHIR R4 AuditEvent following IHE BALP's Query and Read patterns.
package audit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is what the caller knows about one request that touched patient data, allowed or refused.
type Event struct {
	// Time is when the request was answered; Record fills in the current time when zero.
	Time time.Time
	// RequestID, TraceID and ClientAddr tie the record to logs, traces and the network peer.
	RequestID, TraceID, ClientAddr string
	// Who asked: the verified user, the role selected at login, its organisation and the OAuth client.
	UserID, RoleProfileID, OrgCode, ClientID string
	// Interaction is "search" or "read".
	Interaction string
	// ResourceType is MedicationRequest, MedicationDispense, Patient, Organization or AuditEvent.
	ResourceType string
	// Query is the request as received: path and query string.
	Query string
	// PatientNHS is the patient's NHS number, "" when the request never established one.
	PatientNHS string
	// PrescriptionIDs are the prescriptions whose data the answer carried.
	PrescriptionIDs []string
	// Status is the HTTP status answered.
	Status int
	// Outcome is the OperationOutcome issue code answered, "" for success.
	Outcome string
}

// Record kinds. An access record is an Event; a retention record says what retention removed from the
// start of its chain.
const (
	KindAccess    = "access"
	KindRetention = "retention"
)

// Record is an Event as stored: its place in its instance's chain and the HMAC that seals it.
type Record struct {
	Event
	// Chain is the instance that wrote the record; Seq its position in that chain, from 1.
	Chain string
	Seq   int64
	Kind  string
	// Pruned is set on retention records.
	Pruned *Pruned
	// KeyID names the key of MAC; PrevMAC is the MAC of record Seq-1 ("" for Seq 1). Both hex.
	KeyID   string
	PrevMAC string
	MAC     string

	// stored holds the encoded columns as read from the database, for the MAC check, or as they
	// will be written, once sealed.
	stored *storedText
}

type storedText struct{ ids, detail string }

// Pruned describes what one retention pass removed from the start of its chain: records FromSeq to
// ThroughSeq, the last of which had ThroughMAC. The next remaining record's PrevMAC equals ThroughMAC,
// which is how Verify accepts a chain that no longer starts at 1.
type Pruned struct {
	Removed    int    `json:"removed"`
	FromSeq    int64  `json:"from_seq"`
	ThroughSeq int64  `json:"through_seq"`
	ThroughMAC string `json:"through_mac"`
	Before     string `json:"before"`
}

// ID is the record's FHIR resource id: stable, unique and made only of characters an id allows.
func (r Record) ID() string {
	if len(r.MAC) >= 32 {
		return r.MAC[:32]
	}
	return r.MAC
}

// Config chooses and configures the store.
type Config struct {
	// DSN is EPS_AUDIT_DSN: a file path or file: URI selects SQLite, a postgres:// or postgresql://
	// URL selects PostgreSQL. Required: the caller's config defaults it to DefaultDSN(getenv).
	DSN string
	// Keys is EPS_AUDIT_KEY parsed by ParseKeys: the first signs, all verify.
	Keys []Key
	// Instance names this adapter instance's chain. Empty means DefaultInstance(): the host name,
	// which is unique per container or VM. Two live processes must never share one.
	Instance string
	// Retention is EPS_AUDIT_RETENTION; 0 keeps everything. Open's caller runs Prune on a schedule
	// (see RunRetention); the Store itself only remembers the setting.
	Retention time.Duration
	// Logger receives operational messages (never record content); nil discards them.
	Logger *slog.Logger
	// CommitDelay is EPS_AUDIT_COMMIT_DELAY: how long a group commit may wait for records that other
	// requests in progress have announced (Store.Expect) before it commits without them. 0 never waits.
	CommitDelay time.Duration

	// busyTimeout overrides SQLite's busy timeout; tests shorten it.
	busyTimeout time.Duration
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: store closed")

// DefaultInstance is the chain name used when Config.Instance is empty: the host name, or "adapter"
// when the host has none.
func DefaultInstance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "adapter"
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// storable returns e with every text as both databases can store it: valid UTF-8 without NUL.
// PostgreSQL refuses anything else, and failed the whole group commit with it, so one request with a
// raw 0xFF in its URL (Go's server lets it through) would make every record committed beside it fail.
// Each offending byte becomes its percent-encoding, which is what it should have been in a URL.
func (e Event) storable() Event {
	for _, f := range []*string{&e.RequestID, &e.TraceID, &e.ClientAddr, &e.UserID, &e.RoleProfileID,
		&e.OrgCode, &e.ClientID, &e.Interaction, &e.ResourceType, &e.Query, &e.PatientNHS, &e.Outcome} {
		*f = storableText(*f)
	}
	cloned := false
	for i, id := range e.PrescriptionIDs {
		if s := storableText(id); s != id {
			if !cloned { // the caller's slice stays as it was
				e.PrescriptionIDs, cloned = slices.Clone(e.PrescriptionIDs), true
			}
			e.PrescriptionIDs[i] = s
		}
	}
	return e
}

func storableText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && n == 1) {
			fmt.Fprintf(&b, "%%%02X", s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
