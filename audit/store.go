package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// maxBatch bounds the records of one group commit, so one slow commit cannot grow without limit. A
// single Record call's records are never split: one call of more than maxBatch is a commit alone.
const maxBatch = 512

// commitTimeout bounds one group commit. It is not a request's context: a batch serves many requests,
// and one caller giving up must not abort the others' records.
const commitTimeout = 30 * time.Second

// Store is an append-only audit trail. Record, Ready, Search and Verify are safe for concurrent use.
type Store struct {
	db       *sql.DB
	dialect  dialect
	instance string
	signer   Key
	keys     keyring
	log      *slog.Logger
	retain   time.Duration
	now      func() time.Time

	ins *inserts // SQLite's prepared INSERTs; nil for PostgreSQL

	reqs   chan *request
	prunes chan *pruneRequest
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once

	commits, records atomic.Int64
	largest          atomic.Int64

	delay    time.Duration // Config.CommitDelay
	expected atomic.Int64  // records announced by Expect, not yet taken by the writer nor withdrawn

	// The writer's own: when it last took a record, and the moving average of the time between
	// records it takes.
	lastArrival time.Time
	gap         time.Duration
	// held is a request taken that did not fit in the batch being gathered: it starts the next one.
	held *request
	// lastStamp is the latest time the writer stamped a record with: stamps never go back, even
	// when the wall clock is stepped back.
	lastStamp time.Time

	// readyUntil is when Ready's last successful probe stops vouching for the store (unix
	// nanoseconds; 0 after a failed commit), and probes shares one probe among concurrent callers.
	readyUntil atomic.Int64
	probes     singleflight.Group
	readyFor   time.Duration // readyFor, or a test's
}

type request struct {
	evs       []Event // committed together, in one transaction
	done      chan error
	announced bool // it ends an Expect announcement, which the writer closes as it takes it
}

type pruneRequest struct {
	before time.Time
	done   chan pruneResult
}

type pruneResult struct {
	removed int
	err     error
}

// Open opens (creating when needed) the store c.DSN names and starts its writer. Schema creation is
// idempotent and safe when two instances start against one PostgreSQL database at once.
func Open(ctx context.Context, c Config) (*Store, error) {
	if len(c.Keys) == 0 {
		return nil, errors.New("audit: no HMAC key (EPS_AUDIT_KEY)")
	}
	s, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	s.instance = c.Instance
	if s.instance == "" {
		s.instance = DefaultInstance()
	}
	s.signer = c.Keys[0]
	s.retain = c.Retention
	s.delay = c.CommitDelay
	if err := createSchema(ctx, s.db, s.dialect); err != nil {
		s.db.Close()
		return nil, err
	}
	head, err := s.chainHead(ctx)
	if err != nil {
		s.db.Close()
		return nil, err
	}
	if s.dialect == sqliteDB {
		if s.ins, err = prepareInserts(ctx, s.db); err != nil {
			s.db.Close()
			return nil, err
		}
	}
	s.reqs = make(chan *request)
	s.prunes = make(chan *pruneRequest)
	s.quit = make(chan struct{})
	s.done = make(chan struct{})
	go s.write(head)
	return s, nil
}

// openStore connects without starting a writer: enough for Verify and Search.
func openStore(ctx context.Context, c Config) (*Store, error) {
	dsn := c.DSN
	if dsn == "" {
		return nil, errors.New("audit: no DSN")
	}
	db, d, err := openDB(ctx, dsn, c.busyTimeout)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, db, c.busyTimeout); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: %s: %w", d, err)
	}
	if d == sqliteDB {
		if err := syncsEveryCommit(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &Store{db: db, dialect: d, keys: newKeyring(c.Keys), log: c.logger(), now: time.Now, readyFor: readyFor}, nil
}

// Instance is the name of the chain this store appends to.
func (s *Store) Instance() string { return s.instance }

// Retention is the configured retention; 0 keeps everything.
func (s *Store) Retention() time.Duration { return s.retain }

// head is the last committed record of this instance's chain.
type head struct {
	seq int64
	mac string
}

func (s *Store) chainHead(ctx context.Context) (head, error) {
	var h head
	err := s.db.QueryRowContext(ctx,
		`SELECT seq, mac FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, s.instance,
	).Scan(&h.seq, &h.mac)
	if errors.Is(err, sql.ErrNoRows) {
		return head{}, nil
	}
	if err != nil {
		return head{}, fmt.Errorf("audit: read chain head: %w", err)
	}
	return h, nil
}

// Record appends evs to the trail, all in one transaction, and returns only once they are durably
// committed: an answer recorded in several records (one per patient it shows) has all of them or
// none. Any error means the records may not exist, and the caller must not send the data they
// describe.
func (s *Store) Record(ctx context.Context, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	stored := make([]Event, len(evs))
	for i, e := range evs {
		stored[i] = e.storable() // a zero Time is stamped by the writer, as it seals the record
	}
	r := &request{evs: stored, done: make(chan error, 1), announced: s.claim(ctx)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		s.unannounce(r)
		return ErrClosed
	case <-ctx.Done():
		s.unannounce(r)
		return fmt.Errorf("audit: record: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: record: %w", ctx.Err())
	}
}

// expectation is a record announced by Expect; withdrawn once, by Record or by Withdraw.
type expectation struct {
	store     *Store
	withdrawn atomic.Bool
}

type expectKey struct{}

// Expect announces that the request of ctx will record an access: a group commit may then wait for
// it, up to CommitDelay, rather than commit without it, so that a busy instance pays one commit (its
// page writes and its sync) for several records, while a request with none announced beside it, or
// on an instance whose records come further apart than the delay, waits for nothing. Record with the
// returned context, or a call of Withdraw with it when the request ends, ends the announcement.
func (s *Store) Expect(ctx context.Context) context.Context {
	s.expected.Add(1)
	return context.WithValue(ctx, expectKey{}, &expectation{store: s})
}

// Withdraw ends ctx's announcement if Record has not: call it when the request ends, recorded or not.
func (s *Store) Withdraw(ctx context.Context) {
	if s.claim(ctx) {
		s.expected.Add(-1)
	}
}

// claim takes ctx's announcement, once: whoever claims it ends it (Withdraw at once, Record by way of
// the writer, which ends it as it takes the record, so that it never waits for a record it holds).
func (s *Store) claim(ctx context.Context) bool {
	x, ok := ctx.Value(expectKey{}).(*expectation)
	return ok && x.store == s && x.withdrawn.CompareAndSwap(false, true)
}

// unannounce ends the announcement of a record that never reached the writer.
func (s *Store) unannounce(r *request) {
	if r.announced {
		s.expected.Add(-1)
	}
}

// take is the writer taking r: its announcement ends, and the time between records is averaged.
func (s *Store) take(r *request) {
	s.unannounce(r)
	now := time.Now()
	if s.lastArrival.IsZero() {
		s.gap = time.Second // nothing known yet: as if idle
	} else {
		s.gap += (now.Sub(s.lastArrival) - s.gap) / 4
	}
	s.lastArrival = now
}

// gatherPoll is how often a waiting group commit looks again whether records are still announced.
const gatherPoll = 250 * time.Microsecond

// gather adds to batch every request already waiting and then, while records are announced and
// CommitDelay has not passed since it began waiting, each one that arrives. It waits only while
// records come closer together than the delay: where they are further apart, the announced one is
// most likely a request still waiting for Spine, and waiting for it would only add the delay.
func (s *Store) gather(batch []*request) []*request {
	var deadline time.Time
	n := 0
	for _, r := range batch {
		n += len(r.evs)
	}
	// fits adds r to the batch unless that would take it past maxBatch; then r is held for the next.
	fits := func(r *request) bool {
		s.take(r)
		if n+len(r.evs) > maxBatch {
			s.held = r
			return false
		}
		batch = append(batch, r)
		n += len(r.evs)
		return true
	}
	for n < maxBatch {
		select {
		case r := <-s.reqs:
			if !fits(r) {
				return batch
			}
			continue
		default:
		}
		if s.delay <= 0 || s.gap >= s.delay || s.expected.Load() <= 0 {
			return batch
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.delay)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return batch
		}
		select {
		case r := <-s.reqs:
			if !fits(r) {
				return batch
			}
		case <-time.After(min(wait, gatherPoll)):
		case <-s.quit: // closing: commit what is here
			return batch
		}
	}
	return batch
}

// write is the single writer of this instance's chain. It takes one request, then every request that
// arrived meanwhile (and, with a CommitDelay, those announced), and commits them in one transaction:
// while one commit syncs, the next batch gathers, so a busy adapter pays one sync for many records.
func (s *Store) write(h head) {
	defer close(s.done)
	stale := false
	for {
		r := s.held
		s.held = nil
		if r == nil {
			select {
			case <-s.quit:
				return
			case p := <-s.prunes:
				h, stale = s.reload(h, stale)
				var res pruneResult
				h, res = s.prune(h, p.before)
				stale = res.err != nil
				p.done <- res
				continue
			case r = <-s.reqs:
				s.take(r)
			}
		}
		batch := s.gather([]*request{r})
		h, stale = s.reload(h, stale)
		var err error
		h, err = s.commit(h, batch)
		stale = err != nil
		if err != nil {
			s.readyUntil.Store(0) // readiness is probed afresh
		}
		for _, r := range batch {
			r.done <- err
		}
		if s.held != nil {
			select {
			case <-s.quit: // closing: the held request was taken, so it is failed, not dropped
				s.held.done <- ErrClosed
				return
			default:
			}
		}
	}
}

// reload rereads the chain head after a failed commit: a commit whose answer was lost may have
// landed, and the next record must link to whatever is really the last one.
func (s *Store) reload(h head, stale bool) (head, bool) {
	if !stale {
		return h, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	nh, err := s.chainHead(ctx)
	if err != nil {
		return h, true
	}
	return nh, false
}

// commit writes a batch as one transaction and returns the new head, or the old one on failure.
func (s *Store) commit(h head, batch []*request) (head, error) {
	ctx, cancel := s.writeContext()
	defer cancel()
	// Records without a time are stamped now, by the one writer, as they are sealed: their times
	// follow the chain's order, so a search that saw the trail up to some record's time will not
	// find, later, a record stamped before that time but committed after it.
	now := s.now()
	if now.Before(s.lastStamp) {
		now = s.lastStamp // the wall clock stepped back: stamps keep the chain's order
	}
	s.lastStamp = now
	var recs []Record
	next := h
	for _, r := range batch {
		for _, ev := range r.evs {
			if ev.Time.IsZero() {
				ev.Time = now
			}
			next.seq++
			rec := s.seal(Record{Event: ev, Chain: s.instance, Seq: next.seq, Kind: KindAccess}, next.mac)
			next.mac = rec.MAC
			recs = append(recs, rec)
		}
	}
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.durable(ctx, tx); err != nil {
			return err
		}
		return insert(ctx, tx, s.dialect, s.ins, recs)
	}); err != nil {
		return h, fmt.Errorf("audit: commit %d records: %w", len(recs), err)
	}
	s.commits.Add(1)
	s.records.Add(int64(len(recs)))
	for {
		old := s.largest.Load()
		if int64(len(recs)) <= old || s.largest.CompareAndSwap(old, int64(len(recs))) {
			break
		}
	}
	return next, nil
}

// writeContext is the context of a group commit. PostgreSQL's is bounded by commitTimeout. SQLite's
// is not cancellable, because a cancellable context makes the driver start a watcher goroutine for
// every statement: its waits for a lock are bounded by the busy timeout when another process holds
// it, and otherwise by this store's own short holders (a Ready probe, a search), which give way once
// they are done.
func (s *Store) writeContext() (context.Context, context.CancelFunc) {
	if s.dialect == sqliteDB {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), commitTimeout)
}

// seal links r after prev and signs it with the current key. The record keeps the text of its
// encoded columns, so that they are encoded once for the MAC and the INSERT.
func (s *Store) seal(r Record, prev string) Record {
	r.Time = r.Time.UTC()
	r.KeyID = s.signer.ID
	r.PrevMAC = prev
	if r.stored == nil {
		ids, det := r.texts()
		r.stored = &storedText{ids: ids, detail: det}
	}
	r.MAC = sign(s.signer, r)
	return r
}

// durable makes a PostgreSQL commit wait for the server's WAL flush whatever synchronous_commit the
// server or role defaults to: an asynchronous commit could lose a record whose data was already sent.
// SQLite's durability comes from the DSN's synchronous=FULL.
func (s *Store) durable(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != postgresDB {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO on`)
	return err
}

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// readyFor is how long a successful probe vouches for the store (Store.readyFor). /readyz is unauthenticated, so its
// probes must not become a load on the writer every answer's record waits for: however often it is
// asked, the store is probed at most once in this time while it is well, and concurrent probes share
// one. A failure is never reused: the next probe tries again.
const readyFor = time.Second

// Ready reports whether the store can take a write now, for /readyz: it inserts a probe record into
// the audit table inside a transaction and rolls it back, so it proves the write path (lock,
// permissions, table, connection) without leaving anything behind. See readyFor.
func (s *Store) Ready(ctx context.Context) error {
	if time.Now().UnixNano() < s.readyUntil.Load() {
		return nil
	}
	ch := s.probes.DoChan("probe", func() (any, error) {
		// The probe is shared: one caller leaving must not fail it for the others.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		err := s.probe(pctx)
		if err == nil {
			s.readyUntil.Store(time.Now().Add(s.readyFor).UnixNano())
		}
		return nil, err
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("audit: readiness: %w", ctx.Err())
	}
}

// probe is one readiness probe: an INSERT rolled back.
func (s *Store) probe(ctx context.Context) error {
	probe := Record{Event: Event{Time: s.now()}, Chain: "ready-probe:" + s.instance, Seq: -1, Kind: "probe"}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insert(ctx, tx, s.dialect, s.ins, []Record{probe}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		return fmt.Errorf("audit: not writable: %w", err)
	}
	return nil
}

// errRollback makes inTx roll back a transaction that succeeded.
var errRollback = errors.New("rollback")

// Stats counts the store's group commits since Open, for the benchmark.
type Stats struct {
	Commits int64 // durable commits of access records
	Records int64 // records they carried
	Largest int64 // most records in one commit
	// Announced is how many records requests in progress have announced (Expect) and not yet sent
	// or withdrawn, now.
	Announced int64
}

// PerCommit is the mean number of records per durable commit.
func (st Stats) PerCommit() float64 {
	if st.Commits == 0 {
		return 0
	}
	return float64(st.Records) / float64(st.Commits)
}

// Stats returns the commit counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Records: s.records.Load(), Largest: s.largest.Load(), Announced: s.expected.Load()}
}

// Close stops the writer, failing records not yet taken with ErrClosed, and closes the database.
// Records already taken are committed or failed before Close returns.
func (s *Store) Close() error {
	s.once.Do(func() {
		if s.quit != nil {
			close(s.quit)
			<-s.done
		}
		s.ins.close()
	})
	return s.db.Close()
}
