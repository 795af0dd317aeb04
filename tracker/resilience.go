package tracker

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Spine is a shared national service: an adapter that floods it gets its ASID throttled, and one
// that keeps calling a Spine that does not answer spends every request's whole deadline finding out.
// The limiter bounds the calls in flight per instance (fleet load is instances × MaxConcurrency) and
// sheds what cannot be served in time; the breaker fails fast while Spine is down.

// minRetryAfter is the least Retry-After given: HTTP counts it in whole seconds.
const minRetryAfter = time.Second

// limiter is a counting semaphore with a bounded queue that knows how long a call usually takes.
type limiter struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	hold       atomic.Int64 // moving average of how long a slot is held, in nanoseconds
	inUse      func(ctx context.Context, delta int64)
}

func newLimiter(size, maxWaiting int, inUse func(context.Context, int64)) *limiter {
	return &limiter{slots: make(chan struct{}, size), maxWaiting: int64(maxWaiting), inUse: inUse}
}

// acquire waits for a slot. It gives up with ErrOverloaded as soon as it knows a slot would come too
// late: when the queue is full, or when the time left before ctx's deadline would not cover a
// typical call once a slot is free. A fast 503 beats a slow 504: the client can retry elsewhere.
func (l *limiter) acquire(ctx context.Context, interaction string) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return l.granted(ctx), nil
	default:
	}
	typical := time.Duration(l.hold.Load())
	position := l.waiting.Add(1)
	if position > l.maxWaiting {
		l.waiting.Add(-1)
		return nil, l.overloaded(interaction, "too many calls waiting for Spine")
	}
	defer l.waiting.Add(-1)
	var giveUp <-chan time.Time
	if deadline, ok := ctx.Deadline(); ok {
		// Slots come free at about cap/typical per second, so the calls ahead take about
		// position*typical/cap; after that this call needs a typical call's time of its own. If
		// that does not fit, waiting only turns a fast refusal into a slow timeout.
		left := time.Until(deadline)
		ahead := time.Duration(position) * typical / time.Duration(cap(l.slots))
		if left < ahead+typical {
			return nil, l.overloaded(interaction, "no time left to wait for Spine")
		}
		budget := left - typical
		t := time.NewTimer(budget)
		defer t.Stop()
		giveUp = t.C
	}
	select {
	case l.slots <- struct{}{}:
		return l.granted(ctx), nil
	case <-giveUp:
		return nil, l.overloaded(interaction, "no free Spine call slot in time")
	case <-ctx.Done():
		return nil, contextError(ctx, interaction)
	}
}

func (l *limiter) granted(ctx context.Context) func() {
	start := time.Now()
	l.inUse(ctx, 1)
	return func() {
		// An exponential moving average with weight 1/8: recent enough to follow Spine slowing
		// down, steady enough that one hang does not shed every waiting call.
		held := int64(time.Since(start))
		for {
			old := l.hold.Load()
			next := held
			if old != 0 {
				next = old + (held-old)/8
			}
			if l.hold.CompareAndSwap(old, next) {
				break
			}
		}
		l.inUse(ctx, -1)
		<-l.slots
	}
}

func (l *limiter) overloaded(interaction, reason string) *Error {
	return &Error{Kind: ErrOverloaded, Interaction: interaction, Reason: reason,
		RetryAfter: max(minRetryAfter, time.Duration(l.hold.Load()).Round(time.Second))}
}

// breaker wraps gobreaker with the error kinds of this package.
type breaker struct {
	cb       *gobreaker.CircuitBreaker[[]byte]
	openFor  time.Duration
	openedAt atomic.Int64 // unix nanoseconds of the last change to open
}

func newBreaker(failures int, openFor time.Duration, logger *slog.Logger, changed func(to string)) *breaker {
	b := &breaker{openFor: openFor}
	b.cb = gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
		Name:        "spine",
		MaxRequests: 1, // one trial call while half-open: Spine need not take a burst to prove itself
		Timeout:     openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		// Spine's own answers, statusCode errors and HTTP errors included, prove it is up.
		IsSuccessful: func(err error) bool { return !spineDown(err) },
		// Calls that never reached Spine, or that the caller abandoned before Spine was slow to
		// answer (Config.UnansweredAfter), say nothing about it.
		IsExcluded: func(err error) bool {
			return errors.Is(err, ErrOverloaded) || (errors.Is(err, ErrCanceled) && !spineDown(err))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
			logger.LogAttrs(context.Background(), slog.LevelWarn, "spine circuit breaker changed state",
				slog.String("from", from.String()), slog.String("to", to.String()))
			changed(to.String())
		},
	})
	return b
}

// spineDown tells the failures that count against Spine: no connection, a reply cut off, no answer
// in time.
func spineDown(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return err != nil
	}
	return e.spineDown || e.Kind == ErrTimeout
}

// run makes one attempt through the breaker; an open breaker answers ErrCircuitOpen at once.
func (b *breaker) run(interaction string, attempt func() ([]byte, error)) ([]byte, error) {
	if b == nil {
		return attempt()
	}
	body, err := b.cb.Execute(attempt)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		retry := b.openFor - time.Since(time.Unix(0, b.openedAt.Load()))
		return nil, &Error{Kind: ErrCircuitOpen, Interaction: interaction,
			Reason: "Spine is not answering; calls are suspended", RetryAfter: max(minRetryAfter, retry.Round(time.Second))}
	}
	return body, err
}
