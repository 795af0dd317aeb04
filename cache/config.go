package cache

import (
	"errors"
	"fmt"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// The defaults for Config. TTL has none in Config itself, because zero there disables the cache;
// DefaultTTL is what an unset EPS_CACHE_TTL means.
const (
	DefaultTTL         = 30 * time.Second
	DefaultNotFoundTTL = 5 * time.Second
	// DefaultMaxBytes (and DefaultMemoMaxBytes) are sized with the process's soft memory limit (main's
	// defaultMemoryLimit): what the caches hold is live heap the collector keeps scanning, and at
	// 32 MiB each a flood of distinct patients left it so little room that it ran without pause.
	DefaultMaxBytes    = 16 << 20
	DefaultMaxEntries  = 10000
	DefaultCallTimeout = tracker.DefaultTimeout
)

// Config is what a Tracker or an Answers store is told at start-up.
type Config struct {
	// TTL is how long an answer is reused (EPS_CACHE_TTL). Zero disables caching: every call goes to
	// Spine, uncoalesced, and Answers keeps nothing.
	TTL time.Duration
	// NotFoundTTL is how long a not-found is reused, never longer than TTL. Zero means
	// DefaultNotFoundTTL; negative means a not-found is not cached at all.
	NotFoundTTL time.Duration
	// MaxBytes bounds the estimated size of all entries (EPS_CACHE_MAX_BYTES); zero means
	// DefaultMaxBytes. Tracker and Answers each have their own bound.
	MaxBytes int64
	// MaxEntries bounds the number of entries; zero means DefaultMaxEntries.
	MaxEntries int
	// ShareAcrossUsers lets one user's query be answered from another user's Spine call
	// (EPS_CACHE_SHARE_ACROSS_USERS). See the package documentation for the trade-off.
	ShareAcrossUsers bool
	// CallTimeout is the deadline of a coalesced Spine call, which runs detached from the caller that
	// started it; zero means DefaultCallTimeout. Set it to the tracker client's own timeout.
	CallTimeout time.Duration
	// Now is the clock entries expire by; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache TTL %v must not be negative", c.TTL))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("cache max bytes %d must not be negative", c.MaxBytes))
	}
	if c.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("cache max entries %d must not be negative", c.MaxEntries))
	}
	if c.CallTimeout < 0 {
		errs = append(errs, fmt.Errorf("cache call timeout %v must not be negative", c.CallTimeout))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	switch {
	case c.NotFoundTTL == 0:
		c.NotFoundTTL = DefaultNotFoundTTL
	case c.NotFoundTTL < 0:
		c.NotFoundTTL = 0
	}
	c.NotFoundTTL = min(c.NotFoundTTL, c.TTL)
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
