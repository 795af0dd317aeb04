package audit

import (
	"context"
	"fmt"
)

// Report is the result of Verify: one entry per chain, in chain name order.
type Report struct {
	Chains []ChainReport
}

// ChainReport says how much of one chain verified and where it first broke.
type ChainReport struct {
	Chain             string
	Records           int // records read, up to and including a broken one
	FirstSeq, LastSeq int64
	Broken            *Break // nil when the whole chain verifies
}

// Break names the first record of a chain that does not verify, and why.
type Break struct {
	Chain  string
	Seq    int64
	Reason string
}

func (b *Break) String() string {
	return fmt.Sprintf("chain %q broken at seq %d: %s", b.Chain, b.Seq, b.Reason)
}

// OK reports whether every chain verified.
func (r Report) OK() bool {
	for _, c := range r.Chains {
		if c.Broken != nil {
			return false
		}
	}
	return true
}

// Verify walks every chain from its first record and checks that each record's HMAC matches its
// content under the key it names, that it links to the record before it, and that a chain not
// starting at 1 is explained by a verified retention record. An error means the store could not be
// read; broken chains are in the Report.
//
// What the chain cannot show: records removed from the end of a chain leave a shorter, valid chain.
// Compare LastSeq with an earlier run's (or with the instance's logs) to catch that.
func (s *Store) Verify(ctx context.Context) (Report, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT chain FROM audit_records ORDER BY chain`)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	var chains []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("audit: verify: %w", err)
		}
		chains = append(chains, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	var rep Report
	for _, c := range chains {
		cr, err := s.verifyChain(ctx, c)
		if err != nil {
			return Report{}, err
		}
		rep.Chains = append(rep.Chains, cr)
	}
	return rep, nil
}

func (s *Store) verifyChain(ctx context.Context, chain string) (ChainReport, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+columns+` FROM audit_records WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		return ChainReport{}, fmt.Errorf("audit: verify %q: %w", chain, err)
	}
	defer rows.Close()
	cr := ChainReport{Chain: chain}
	var (
		prev      Record
		first     Record
		explained bool
	)
	brk := func(seq int64, format string, a ...any) {
		cr.Broken = &Break{Chain: chain, Seq: seq, Reason: fmt.Sprintf(format, a...)}
	}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return ChainReport{}, fmt.Errorf("audit: verify %q: %w", chain, err)
		}
		cr.Records++
		cr.LastSeq = r.Seq
		if cr.Records == 1 {
			first, cr.FirstSeq = r, r.Seq
			explained = r.Seq == 1
		}
		if reason := s.keys.check(r); reason != "" {
			brk(r.Seq, "%s", reason)
			break
		}
		switch {
		case cr.Records == 1 && r.Seq == 1 && r.PrevMAC != "":
			brk(r.Seq, "the first record links to a predecessor")
		case cr.Records > 1 && r.Seq != prev.Seq+1:
			brk(r.Seq, "records %d to %d are missing", prev.Seq+1, r.Seq-1)
		case cr.Records > 1 && r.PrevMAC != prev.MAC:
			brk(r.Seq, "does not link to record %d", prev.Seq)
		case r.Kind != KindAccess && r.Kind != KindRetention:
			brk(r.Seq, "unknown record kind %q", r.Kind)
		case r.Kind == KindRetention && r.Pruned == nil:
			brk(r.Seq, "retention record without a description of what it removed")
		}
		if cr.Broken != nil {
			break
		}
		if !explained && r.Kind == KindRetention &&
			r.Pruned.ThroughSeq == first.Seq-1 && r.Pruned.ThroughMAC == first.PrevMAC {
			explained = true
		}
		prev = r
	}
	if err := rows.Err(); err != nil {
		return ChainReport{}, fmt.Errorf("audit: verify %q: %w", chain, err)
	}
	// A missing start is reported even when a later link also broke: it is the first broken link.
	if cr.Records > 0 && !explained {
		cr.Broken = &Break{Chain: chain, Seq: first.Seq, Reason: fmt.Sprintf(
			"the chain starts at seq %d but no retention record removed the records before it", first.Seq)}
	}
	return cr, nil
}
