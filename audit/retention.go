package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Prune removes this instance's records older than before from the start of its chain and, in the
// same transaction, appends a retention record naming what it removed and the MAC of the last record
// removed, so the chain still verifies from its new first record. It returns how many records went.
//
// Each instance prunes only its own chain: chains are written by one instance each, and a retention
// record must be appended by the chain's writer. A retired instance's chain is pruned by opening a
// Store with its Instance name and calling Prune once.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	p := &pruneRequest{before: before, done: make(chan pruneResult, 1)}
	select {
	case s.prunes <- p:
	case <-s.quit:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, fmt.Errorf("audit: prune: %w", ctx.Err())
	}
	select {
	case res := <-p.done:
		return res.removed, res.err
	case <-ctx.Done():
		return 0, fmt.Errorf("audit: prune: %w", ctx.Err())
	}
}

// prune runs in the writer, so the retention record takes the next place in the chain.
func (s *Store) prune(h head, before time.Time) (head, pruneResult) {
	// A prune is rare and may delete many rows: it keeps commitTimeout's bound in either database.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	next := h
	removed := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.durable(ctx, tx); err != nil {
			return err
		}
		// Records are removed by position, not by time, so that only a prefix of the chain ever goes
		// even if the clock stepped back between two records.
		var p Pruned
		err := tx.QueryRowContext(ctx,
			`SELECT seq, mac FROM audit_records WHERE chain = $1 AND at_ns < $2 ORDER BY seq DESC LIMIT 1`,
			s.instance, before.UnixNano()).Scan(&p.ThroughSeq, &p.ThroughMAC)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx,
			`SELECT COUNT(*), MIN(seq) FROM audit_records WHERE chain = $1 AND seq <= $2`,
			s.instance, p.ThroughSeq).Scan(&p.Removed, &p.FromSeq); err != nil {
			return err
		}
		p.Before = before.UTC().Format(time.RFC3339Nano)
		next.seq++
		rec := s.seal(Record{Event: Event{Time: s.now()}, Chain: s.instance, Seq: next.seq, Kind: KindRetention, Pruned: &p}, h.mac)
		next.mac = rec.MAC
		if err := insert(ctx, tx, s.dialect, s.ins, []Record{rec}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_records WHERE chain = $1 AND seq <= $2`,
			s.instance, p.ThroughSeq); err != nil {
			return err
		}
		removed = p.Removed
		return nil
	})
	if err != nil {
		return h, pruneResult{err: fmt.Errorf("audit: prune: %w", err)}
	}
	return next, pruneResult{removed: removed}
}

// RunRetention prunes records older than the configured retention every interval until ctx ends. It
// does nothing when retention is 0 (keep). A failed pass is logged and retried at the next tick:
// retention failing must not stop auditing.
func (s *Store) RunRetention(ctx context.Context, every time.Duration) {
	if s.retain <= 0 || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.Prune(ctx, s.now().Add(-s.retain))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "audit retention failed", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "audit retention removed records", "removed", n, "chain", s.instance)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
