package cache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// flights coalesces concurrent identical Spine calls, with two changes to plain singleflight:
//
//   - The shared call is detached from the caller that started it (context.WithoutCancel, plus its own
//     deadline), so that one client hanging up never fails the others; each waiter still stops waiting
//     when its own context ends.
//   - Waiters are counted, and the shared call is cancelled when the last one leaves, so that an
//     abandoned call does not hold Spine capacity.
//
// The map m and the singleflight group always agree about which keys have a call in flight, because
// both change together under mu: a call starts (DoChan) and ends or is abandoned (Forget) only there.
type flights struct {
	group   singleflight.Group
	timeout time.Duration

	mu sync.Mutex
	m  map[string]*flight
}

// flight is one shared call and the callers waiting for it.
type flight struct {
	run     func() (any, error)
	cancel  context.CancelFunc
	waiters int
}

func newFlights(timeout time.Duration) *flights {
	return &flights{timeout: timeout, m: map[string]*flight{}}
}

// join starts fn for key, or joins the call already in flight for it (joined is true). fn gets a
// context that carries ctx's values but not its cancellation, and its own deadline. The caller must
// then wait.
func (f *flights) join(ctx context.Context, key string, fn func(context.Context) (any, error)) (w waiter, joined bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, joined := f.m[key]
	if !joined {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
		fl = &flight{cancel: cancel}
		fl.run = func() (any, error) {
			defer f.finish(key, fl)
			return fn(callCtx)
		}
		f.m[key] = fl
	}
	fl.waiters++
	// Under mu, so that the group starts or joins exactly the call fl stands for.
	return waiter{f: f, key: key, fl: fl, ch: f.group.DoChan(key, fl.run)}, joined
}

// waiter is one caller's place in a flight.
type waiter struct {
	f   *flights
	key string
	fl  *flight
	ch  <-chan singleflight.Result
}

// wait returns the shared call's result, or ctx.Err() as soon as ctx ends.
func (w waiter) wait(ctx context.Context) (any, error) {
	defer w.f.leave(w.key, w.fl)
	select {
	case r := <-w.ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// finish ends a call that returned: later callers start a new one (or, having found a cached value,
// none).
func (f *flights) finish(key string, fl *flight) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.cancel() // releases the deadline's timer
	f.drop(key, fl)
}

// leave counts a waiter out, and cancels the call if it was the last.
func (f *flights) leave(key string, fl *flight) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.waiters--
	if fl.waiters == 0 {
		fl.cancel()
		f.drop(key, fl)
	}
}

// drop forgets fl if it is still key's call in flight; mu is held.
func (f *flights) drop(key string, fl *flight) {
	if f.m[key] == fl {
		delete(f.m, key)
		f.group.Forget(key)
	}
}
