package tracker

import "time"

// SetReloadCheckInterval lets the external tests see a rotation at once instead of after a second.
func (r *ReloadingTLS) SetReloadCheckInterval(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.interval = d
}

// Waiting is how many calls wait for a Spine call slot now, so that a test can line calls up
// without sleeping.
func (c *Client) Waiting() int64 { return c.limit.waiting.Load() }
