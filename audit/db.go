package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"               // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is the database behind a store. Both accept the same SQL and $n placeholders; they differ
// in how the DSN is opened and how concurrent schema creation is made safe.
type dialect int

const (
	sqliteDB dialect = iota
	postgresDB
)

func (d dialect) String() string {
	if d == postgresDB {
		return "postgresql"
	}
	return "sqlite"
}

// defaultBusyTimeout is how long SQLite waits for another process's write lock before failing.
const defaultBusyTimeout = 5 * time.Second

// DefaultDSN is the SQLite file used when EPS_AUDIT_DSN is empty: audit.db in the local state folder
// ($XDG_STATE_HOME/eps-fhir-tracker, else ~/.local/state/eps-fhir-tracker).
func DefaultDSN(getenv func(string) string) string {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			home = "."
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "eps-fhir-tracker", "audit.db")
}

// openDB opens the database a DSN names and makes sure the schema exists.
func openDB(ctx context.Context, dsn string, busy time.Duration) (*sql.DB, dialect, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, postgresDB, fmt.Errorf("audit: postgresql: %w", err)
		}
		return db, postgresDB, nil
	}
	name, err := sqliteName(dsn, busy)
	if err != nil {
		return nil, sqliteDB, err
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, sqliteDB, fmt.Errorf("audit: sqlite: %w", err)
	}
	return db, sqliteDB, nil
}

// sqliteName turns a path or file: URI into modernc's DSN with the pragmas that make every commit
// durable: WAL with synchronous=FULL syncs the log on each commit, so a committed record survives a
// process kill or power loss. Writes take the lock at BEGIN (txlock=immediate) so that a store that
// cannot write fails at once rather than midway.
func sqliteName(dsn string, busy time.Duration) (string, error) {
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	base, query := dsn, ""
	if strings.HasPrefix(dsn, "file:") {
		base, query, _ = strings.Cut(dsn, "?")
	} else {
		abs, err := filepath.Abs(dsn)
		if err != nil {
			return "", fmt.Errorf("audit: sqlite path: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return "", fmt.Errorf("audit: sqlite folder: %w", err)
		}
		base = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("audit: sqlite DSN query: %w", err)
	}
	v.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(FULL)")
	v.Set("_txlock", "immediate")
	return base + "?" + v.Encode(), nil
}

// syncsEveryCommit refuses an SQLite database whose connections would not sync each commit. A DSN
// may carry pragmas of its own, and modernc applies an operator's synchronous after sqliteName's, so
// without this check "?_pragma=synchronous(OFF)" would quietly let Record return before its record
// is on disk.
func syncsEveryCommit(ctx context.Context, db *sql.DB) error {
	var mode string
	var sync int
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("audit: sqlite: %w", err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return fmt.Errorf("audit: sqlite: %w", err)
	}
	if !strings.EqualFold(mode, "wal") || sync < 2 { // 2 is FULL, 3 EXTRA
		return fmt.Errorf("audit: sqlite: the DSN leaves journal_mode %s and synchronous %d; the trail needs WAL with synchronous FULL (2) or EXTRA (3), so that every committed record is on disk: remove the DSN's own journal_mode or synchronous", mode, sync)
	}
	return nil
}

// schema is idempotent. There is no UPDATE anywhere in this package: records are appended, and
// retention deletes whole records from the start of a chain.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS audit_records (
		chain TEXT NOT NULL,
		seq BIGINT NOT NULL,
		at_ns BIGINT NOT NULL,
		kind TEXT NOT NULL,
		request_id TEXT NOT NULL,
		trace_id TEXT NOT NULL,
		client_addr TEXT NOT NULL,
		user_id TEXT NOT NULL,
		role_profile_id TEXT NOT NULL,
		org_code TEXT NOT NULL,
		client_id TEXT NOT NULL,
		interaction TEXT NOT NULL,
		resource_type TEXT NOT NULL,
		query TEXT NOT NULL,
		patient_nhs TEXT NOT NULL,
		prescription_ids TEXT NOT NULL,
		status INTEGER NOT NULL,
		outcome TEXT NOT NULL,
		detail TEXT NOT NULL,
		key_id TEXT NOT NULL,
		prev_mac TEXT NOT NULL,
		mac TEXT NOT NULL,
		PRIMARY KEY (chain, seq)
	)`,
	`CREATE INDEX IF NOT EXISTS audit_records_patient ON audit_records (patient_nhs, at_ns)`,
	`CREATE INDEX IF NOT EXISTS audit_records_user ON audit_records (user_id, at_ns)`,
	`CREATE INDEX IF NOT EXISTS audit_records_at ON audit_records (at_ns)`,
}

// schemaLockKey is the PostgreSQL advisory lock taken around schema creation: CREATE ... IF NOT
// EXISTS is not safe against a concurrent CREATE of the same name, so two instances starting at once
// would otherwise race on the catalogue.
const schemaLockKey = 0x65707361756474 // "epsaudt"

func createSchema(ctx context.Context, db *sql.DB, d dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: schema: %w", err)
	}
	defer tx.Rollback()
	if d == postgresDB {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLockKey)); err != nil {
			return fmt.Errorf("audit: schema lock: %w", err)
		}
	}
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("audit: schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: schema: %w", err)
	}
	return nil
}

const columns = `chain, seq, at_ns, kind, request_id, trace_id, client_addr, user_id, role_profile_id,
	org_code, client_id, interaction, resource_type, query, patient_nhs, prescription_ids, status, outcome,
	detail, key_id, prev_mac, mac`

const numColumns = 22

// insertChunk bounds the rows of PostgreSQL's multi-row INSERT, keeping its placeholders under the
// limit.
const insertChunk = 64

// sqliteChunks are the row counts of SQLite's multi-row INSERTs, prepared once, largest first: a batch
// is written as whole chunks of the largest that fits, then of the next, so a group commit of n
// records runs at most n/16 + 4 statements rather than one per record.
var sqliteChunks = []int{16, 8, 4, 2, 1}

// insertRows is an INSERT of n records. SQLite gets anonymous placeholders: it looks a numbered one
// ($1) up by name in a list on every bind, which made a multi-row INSERT quadratic in its rows.
func insertRows(d dialect, n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO audit_records (" + columns + ") VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range numColumns {
			if c > 0 {
				sb.WriteByte(',')
			}
			if d == postgresDB {
				sb.WriteString("$" + strconv.Itoa(i*numColumns+c+1))
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// inserts are SQLite's INSERT statements, one per size in sqliteChunks, prepared once on the store's
// database: database/sql keeps each prepared on every connection that has run it, so a group commit
// parses no SQL once its connection has run the statement.
type inserts struct{ bySize []*sql.Stmt } // bySize[i] inserts sqliteChunks[i] rows

func prepareInserts(ctx context.Context, db *sql.DB) (*inserts, error) {
	in := &inserts{}
	for _, n := range sqliteChunks {
		st, err := db.PrepareContext(ctx, insertRows(sqliteDB, n))
		if err != nil {
			in.close()
			return nil, fmt.Errorf("audit: prepare insert: %w", err)
		}
		in.bySize = append(in.bySize, st)
	}
	return in, nil
}

func (in *inserts) close() {
	if in != nil {
		for _, st := range in.bySize {
			st.Close()
		}
	}
}

// insert appends records. SQLite runs in-process: its prepared statements cost no round trips, and
// they are run with whole chunks of records, largest first. PostgreSQL gets multi-row INSERTs of up
// to insertChunk records, one round trip each. in is the store's statements: every SQLite store
// prepares them as it opens, and PostgreSQL's is nil.
func insert(ctx context.Context, tx *sql.Tx, d dialect, in *inserts, recs []Record) error {
	if d != postgresDB {
		if in == nil || len(in.bySize) != len(sqliteChunks) {
			return errors.New("audit: SQLite's INSERT statements are not prepared")
		}
		args := make([]any, 0, sqliteChunks[0]*numColumns)
		for i, n := range sqliteChunks {
			if len(recs) < n {
				continue
			}
			// The transaction's handle of the store's statement: closing it leaves the store's open.
			stmt := tx.StmtContext(ctx, in.bySize[i])
			for len(recs) >= n {
				args = args[:0]
				for _, r := range recs[:n] {
					args = r.values(args)
				}
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					stmt.Close()
					return err
				}
				recs = recs[n:]
			}
			stmt.Close()
		}
		return nil
	}
	for len(recs) > 0 {
		n := min(len(recs), insertChunk)
		args := make([]any, 0, n*numColumns)
		for _, r := range recs[:n] {
			args = r.values(args)
		}
		if _, err := tx.ExecContext(ctx, insertRows(d, n), args...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// values appends r's columns, in the order of columns.
func (r Record) values(args []any) []any {
	ids, det := r.texts()
	return append(args, r.Chain, r.Seq, r.Time.UnixNano(), r.Kind, r.RequestID, r.TraceID,
		r.ClientAddr, r.UserID, r.RoleProfileID, r.OrgCode, r.ClientID, r.Interaction,
		r.ResourceType, r.Query, r.PatientNHS, ids, int64(r.Status), r.Outcome,
		det, r.KeyID, r.PrevMAC, r.MAC)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanRecord reads one row selected with columns.
func scanRecord(s rowScanner) (Record, error) {
	var (
		r            Record
		at, status   int64
		ids, details string
	)
	err := s.Scan(&r.Chain, &r.Seq, &at, &r.Kind, &r.RequestID, &r.TraceID, &r.ClientAddr, &r.UserID,
		&r.RoleProfileID, &r.OrgCode, &r.ClientID, &r.Interaction, &r.ResourceType, &r.Query,
		&r.PatientNHS, &ids, &status, &r.Outcome, &details, &r.KeyID, &r.PrevMAC, &r.MAC)
	if err != nil {
		return Record{}, err
	}
	r.Time = time.Unix(0, at).UTC()
	r.Status = int(status)
	// The MAC is checked against the text as stored, so a column edited into something that does not
	// decode still fails the check instead of decoding to the same empty value as before.
	r.stored = &storedText{ids: ids, detail: details}
	if err := json.Unmarshal([]byte(ids), &r.PrescriptionIDs); err != nil || len(r.PrescriptionIDs) == 0 {
		r.PrescriptionIDs = nil
	}
	if details != "" {
		var p Pruned
		if err := json.Unmarshal([]byte(details), &p); err == nil {
			r.Pruned = &p
		}
	}
	return r, nil
}

// ping opens the first connection. Its pragmas switch a new SQLite database to WAL, which needs the
// file to itself, and SQLite answers another process opening it at that moment SQLITE_BUSY at once,
// busy timeout or not: so a busy answer is tried again, for as long as the busy timeout.
func ping(ctx context.Context, db *sql.DB, busy time.Duration) error {
	if busy <= 0 {
		busy = defaultBusyTimeout
	}
	deadline := time.Now().Add(busy)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}
