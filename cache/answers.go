package cache

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Answer is one whole answer as the routes sent it, kept to be sent again. Its slices are shared by
// everyone who gets it: read them, never change them.
type Answer struct {
	Body    []byte    // the marshalled answer, exactly as sent
	ETag    string    // its entity tag, for If-None-Match
	Stored  time.Time // when it was stored; Put sets it when zero
	Fetched time.Time // when Spine answered for the oldest data in it: the answer's Age counts from here
	// LastModified is a read's meta.lastUpdated, sent as Last-Modified; zero for a search.
	LastModified time.Time

	// The identifiers the answer holds, for the audit record of a hit: a cached answer is audited
	// like any other.
	PatientNHSNumber string
	PrescriptionIDs  []string
}

// Answers is a bounded store of whole answers, for TTL after the Spine data in them was fetched. The
// routes build its keys, which must hold everything that makes an answer differ: the canonical query,
// the page, the format, and the user unless answers are shared across users. It is safe for
// concurrent use.
type Answers struct {
	ttl   time.Duration
	now   func() time.Time
	store *store // nil when caching is disabled
	m     *instruments
}

// NewAnswers returns an Answers store bounded by c's TTL, MaxBytes and MaxEntries; a zero TTL makes a
// store that keeps nothing. mp may be nil, for no metrics.
func NewAnswers(c Config, mp metric.MeterProvider) (*Answers, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cache: invalid config: %w", err)
	}
	c = c.withDefaults()
	a := &Answers{ttl: c.TTL, now: c.Now}
	if c.TTL == 0 {
		return a, nil
	}
	var err error
	a.m, err = newInstruments(mp, "answers", func() (int, int64) { return a.store.size() })
	if err != nil {
		return nil, fmt.Errorf("cache: metrics: %w", err)
	}
	a.store = newStore(c, a.m)
	return a, nil
}

// Get returns the answer stored under key, if it is still fresh.
func (a *Answers) Get(key string) (Answer, bool) {
	if a.store == nil {
		return Answer{}, false
	}
	e, ok := a.store.get(key)
	if !ok {
		a.m.lookup(context.Background(), resultMiss)
		return Answer{}, false
	}
	a.m.lookup(context.Background(), resultHit)
	return e.val.(Answer), true
}

// Put stores ans under key until TTL after its Spine data was fetched (or after it was stored, when
// Fetched is zero), so that an answer built from cached tracker results is no older at the end of its
// life than one built from Spine. ans must not be changed afterwards.
func (a *Answers) Put(key string, ans Answer) {
	if a.store == nil {
		return
	}
	if ans.Stored.IsZero() {
		ans.Stored = a.now()
	}
	born := ans.Stored
	if !ans.Fetched.IsZero() && ans.Fetched.Before(born) {
		born = ans.Fetched
	}
	a.store.put(key, ans, sizeOf(ans), born.Add(a.ttl))
}
