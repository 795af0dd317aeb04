package cache

import (
	"container/list"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// store is go-cache with a bound: at most maxEntries entries and maxBytes estimated bytes, the oldest
// evicted first. go-cache holds the values and expires them; the store keeps, beside it, the entries in
// the order they were stored and their sizes.
//
// The two agree because every change to the bookkeeping happens under mu, and go-cache's own removals
// (its janitor's expiries, the store's evictions) come back through OnEvicted, which settles the
// bookkeeping only if the removed value is still the entry it knows for that key.
type store struct {
	gc         *gocache.Cache
	now        func() time.Time
	ttl        time.Duration
	maxBytes   int64
	maxEntries int
	m          *instruments

	mu        sync.Mutex
	order     *list.List               // of *entry, oldest first
	byKey     map[string]*list.Element // the current entry of each key
	bytes     int64
	nextSweep time.Time // wall clock, as go-cache's expiry is
}

// entry is one stored value. It is never changed once stored: a new value for a key is a new entry.
type entry struct {
	key     string
	val     any
	size    int64
	expires time.Time // by the store's clock, which tests control; go-cache expires by the wall clock
}

func newStore(c Config, m *instruments) *store {
	s := &store{
		// No janitor goroutine: it would outlive the store (its finalizer trick cannot fire while
		// OnEvicted refers back to the store). put sweeps instead, once per TTL.
		gc:         gocache.New(c.TTL, 0),
		now:        c.Now,
		ttl:        c.TTL,
		maxBytes:   c.MaxBytes,
		maxEntries: c.MaxEntries,
		m:          m,
		order:      list.New(),
		byKey:      map[string]*list.Element{},
	}
	s.gc.OnEvicted(s.expired)
	return s
}

// get returns the live entry for key.
func (s *store) get(key string) (*entry, bool) {
	v, ok := s.gc.Get(key)
	if !ok {
		return nil, false
	}
	e := v.(*entry)
	if !s.now().Before(e.expires) {
		return nil, false
	}
	return e, true
}

// put stores val under key until expires, size being its estimate (sizeOf), and evicts the oldest
// entries until the store is within its bounds again. A value bigger than the whole bound is not stored.
func (s *store) put(key string, val any, size int64, expires time.Time) {
	ttl := expires.Sub(s.now())
	size += entryOverhead + int64(len(key))
	if ttl <= 0 || size > s.maxBytes {
		return
	}
	e := &entry{key: key, val: val, size: size, expires: expires}
	s.sweep()

	s.mu.Lock()
	if old, ok := s.byKey[key]; ok {
		s.forget(old)
	}
	s.gc.Set(key, e, ttl)
	s.byKey[key] = s.order.PushBack(e)
	s.bytes += size
	var victims []string
	for s.bytes > s.maxBytes || s.order.Len() > s.maxEntries {
		oldest := s.order.Front()
		s.forget(oldest)
		victims = append(victims, oldest.Value.(*entry).key)
	}
	s.mu.Unlock()

	// Deleted outside mu, because go-cache calls OnEvicted (which takes mu) from Delete. Should a new
	// value for a victim's key arrive in between, it is deleted too: a spurious miss, and expired
	// settles the bookkeeping, since the value removed is then the current entry.
	for _, k := range victims {
		s.gc.Delete(k)
	}
	s.m.evicted(reasonCapacity, len(victims))
}

// sweep has go-cache remove expired entries, at most once per TTL, so that they stop counting against
// the bound. Until then they count: the bound holds whether or not anyone sweeps.
func (s *store) sweep() {
	now := time.Now()
	s.mu.Lock()
	due := !now.Before(s.nextSweep)
	if due {
		s.nextSweep = now.Add(s.ttl)
	}
	s.mu.Unlock()
	if due {
		s.gc.DeleteExpired() // calls expired, which takes mu
	}
}

// forget drops an entry from the bookkeeping; mu is held.
func (s *store) forget(el *list.Element) {
	e := el.Value.(*entry)
	s.order.Remove(el)
	delete(s.byKey, e.key)
	s.bytes -= e.size
}

// expired is go-cache's OnEvicted: it settles the bookkeeping when go-cache removed the current
// entry of key, which only a sweep does (the store's own evictions forget the entry first).
func (s *store) expired(key string, v any) {
	s.mu.Lock()
	el, ok := s.byKey[key]
	current := ok && el.Value == v
	if current {
		s.forget(el)
	}
	s.mu.Unlock()
	if current {
		s.m.evicted(reasonExpired, 1)
	}
}

// size reports the entries held and their estimated bytes.
func (s *store) size() (entries int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len(), s.bytes
}

// clear drops every entry, counted as evicted for the reason "cleared".
func (s *store) clear() {
	s.mu.Lock()
	n := s.order.Len()
	s.gc.Flush() // go-cache's Flush does not call OnEvicted
	s.order.Init()
	clear(s.byKey)
	s.bytes = 0
	s.mu.Unlock()
	s.m.evicted(reasonCleared, n)
}
