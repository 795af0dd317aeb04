package cache

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// The defaults for a Memo: it outlives the answer cache, because it never answers by itself.
const (
	DefaultMemoTTL      = 5 * time.Minute
	DefaultMemoMaxBytes = 16 << 20
	// DefaultMemoMaxEntries allows a few entries per prescription of the DefaultMaxEntries answers.
	DefaultMemoMaxEntries = 100000
)

// Memo keeps values derived from data the caller has just fetched, under a digest of that data: the
// routes keep each prescription's mapped and marshalled entries under mapping.Source.Key, so that a
// Spine record seen before is not mapped and marshalled again. A Memo never stands in for a Spine
// call, so it may keep values longer than the answer cache and share them across users; it holds
// patient data all the same, so it is bounded in bytes and entries and Clear empties it at shutdown.
// It is safe for concurrent use; its values are shared and must never be changed.
type Memo[V any] struct {
	ttl   time.Duration
	now   func() time.Time
	store *store // nil when disabled
	m     *instruments
}

// NewMemo returns a Memo named name (its metrics' cache.name) keeping values for c.TTL, bounded by
// c.MaxBytes (default DefaultMemoMaxBytes) and c.MaxEntries (default DefaultMemoMaxEntries). A zero
// TTL makes a Memo that keeps nothing. mp may be nil, for no metrics.
func NewMemo[V any](name string, c Config, mp metric.MeterProvider) (*Memo[V], error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cache: invalid memo config: %w", err)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMemoMaxBytes
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMemoMaxEntries
	}
	c = c.withDefaults()
	m := &Memo[V]{ttl: c.TTL, now: c.Now}
	if c.TTL == 0 {
		return m, nil
	}
	var err error
	m.m, err = newInstruments(mp, name, func() (int, int64) { return m.store.size() })
	if err != nil {
		return nil, fmt.Errorf("cache: metrics: %w", err)
	}
	m.store = newStore(c, m.m)
	return m, nil
}

// Enabled reports whether the Memo keeps anything.
func (m *Memo[V]) Enabled() bool { return m != nil && m.store != nil }

// Get returns the value kept under key, if it is still fresh.
func (m *Memo[V]) Get(key [sha256.Size]byte) (V, bool) {
	var zero V
	if !m.Enabled() {
		return zero, false
	}
	e, ok := m.store.get(string(key[:]))
	if !ok {
		m.m.lookup(context.Background(), resultMiss)
		return zero, false
	}
	m.m.lookup(context.Background(), resultHit)
	return e.val.(V), true
}

// Put keeps v under key for the Memo's TTL; size is the caller's estimate of the memory v holds,
// which must err high. v must not be changed afterwards.
func (m *Memo[V]) Put(key [sha256.Size]byte, v V, size int64) {
	if !m.Enabled() {
		return
	}
	m.store.put(string(key[:]), v, size, m.now().Add(m.ttl))
}

// Clear drops everything the Memo holds.
func (m *Memo[V]) Clear() {
	if m.Enabled() {
		m.store.clear()
	}
}
