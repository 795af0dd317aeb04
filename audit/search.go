package audit

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Count bounds for Search.
const (
	DefaultCount = 50
	MaxCount     = 1000
)

// Query selects access records for an auditor. Empty fields do not filter.
type Query struct {
	// PatientNHS matches the patient's NHS number exactly.
	PatientNHS string
	// Agent matches the user id exactly.
	Agent string
	// Since is inclusive and Until exclusive, so FHIR date prefixes map onto them directly
	// (ge -> Since, lt -> Until; a day "eq" is [day, next day)).
	Since, Until time.Time
	// Offset skips that many matches; Count returns at most that many (0 means DefaultCount, capped
	// at MaxCount).
	Offset, Count int
}

// Search returns one page of matching access records, newest first, and how many match in all.
// Retention records are not patient data accesses and are left out.
func (s *Store) Search(ctx context.Context, q Query) ([]Record, int, error) {
	where := []string{"kind = $1"}
	args := []any{KindAccess}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.PatientNHS != "" {
		add("patient_nhs = ?", q.PatientNHS)
	}
	if q.Agent != "" {
		add("user_id = ?", q.Agent)
	}
	if !q.Since.IsZero() {
		add("at_ns >= ?", unixNano(q.Since))
	}
	if !q.Until.IsZero() {
		add("at_ns < ?", unixNano(q.Until))
	}
	cond := strings.Join(where, " AND ")

	// The count and the page are read from one snapshot of the trail, so that a commit between them
	// cannot make the page hold a record the total does not count (SQLite: a WAL read transaction;
	// PostgreSQL: REPEATABLE READ).
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == postgresDB {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: search: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_records WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("audit: search: %w", err)
	}
	count := q.Count
	if count <= 0 {
		count = DefaultCount
	}
	count = min(count, MaxCount)
	offset := max(q.Offset, 0)
	if offset >= total {
		return nil, total, nil
	}
	page := append(args, int64(count), int64(offset))
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM audit_records WHERE `+cond+
		` ORDER BY at_ns DESC, chain, seq DESC LIMIT $`+strconv.Itoa(len(args)+1)+
		` OFFSET $`+strconv.Itoa(len(args)+2), page...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: search: %w", err)
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("audit: search: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("audit: search: %w", err)
	}
	return recs, total, nil
}

// unixNano is t in the nanoseconds at_ns holds, clamped to the years they can hold (1678 to 2262):
// time.UnixNano is undefined outside them, and "date=lt2300" wrapped round to a bound before any
// record. Every record's time is inside them, so the clamped bound selects the same records.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
