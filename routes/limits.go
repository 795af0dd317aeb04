package routes

import (
	"math"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/time/rate"
)

// Rate is a token-bucket rate: PerSecond on average, Burst at once. The zero Rate is no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// maxLimited bounds how many keys a limiter tracks: past it a new key is refused, so that a flood of
// addresses or clients cannot grow the process.
const maxLimited = 100_000

// limiter keeps a token bucket per key (a client address, an OAuth client), forgotten after a few
// minutes unused.
type limiter struct {
	rate    Rate
	buckets *gocache.Cache
}

func newLimiter(r Rate) *limiter {
	if r.PerSecond <= 0 {
		return &limiter{}
	}
	return &limiter{rate: r, buckets: gocache.New(5*time.Minute, time.Minute)}
}

// allow reports whether key may make a request now.
func (l *limiter) allow(key string) bool {
	if l.buckets == nil {
		return true
	}
	if v, ok := l.buckets.Get(key); ok {
		return v.(*rate.Limiter).Allow()
	}
	if l.buckets.ItemCount() >= maxLimited {
		return false
	}
	b := rate.NewLimiter(rate.Limit(l.rate.PerSecond), l.rate.Burst)
	if err := l.buckets.Add(key, b, gocache.DefaultExpiration); err != nil {
		// Another request made the bucket first: use that one.
		if v, ok := l.buckets.Get(key); ok {
			b = v.(*rate.Limiter)
		}
	}
	return b.Allow()
}

// retryAfter is the whole seconds a refused client should wait for one token.
func (l *limiter) retryAfter() int {
	if l.rate.PerSecond <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(1/l.rate.PerSecond)))
}
