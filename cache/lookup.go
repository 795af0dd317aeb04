package cache

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// cached is a Spine answer as stored: a value, or a not-found error.
type cached[V any] struct {
	val V
	err error
}

// lookup answers one tracker call from the store, from a call in flight for the same key, or by
// making the call, inside a span named name.
func lookup[V any](ctx context.Context, t *Tracker, name, interaction, key string, call func(context.Context) (V, error)) (V, error) {
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()

	if e, ok := t.store.get(key); ok {
		c := e.val.(cached[V])
		t.m.lookup(ctx, resultHit)
		span.SetAttributes(attrResult.String(resultHit))
		return c.val, c.err
	}

	if ctx.Err() != nil {
		// Too late to wait for anything: start no call that nobody would wait for.
		return *new(V), contextError(ctx, interaction)
	}
	w, joined := t.flights.join(ctx, key, func(callCtx context.Context) (any, error) {
		v, err := call(callCtx)
		remember(t, key, v, err)
		return v, err
	})
	result := resultMiss
	if joined {
		result = resultCoalesced
	}
	t.m.lookup(ctx, result)
	span.SetAttributes(attrResult.String(result))

	shared, err := w.wait(ctx)
	if err != nil && err == ctx.Err() {
		// This caller stopped waiting; the call goes on for any others.
		err = contextError(ctx, interaction)
	}
	if err != nil && !notFound(err) {
		span.SetStatus(codes.Error, kindOf(err))
	}
	v, _ := shared.(V) // nil when this caller stopped waiting
	return v, err
}

// remember stores a call's answer: a value for the TTL, a not-found for NotFoundTTL, an error never.
func remember[V any](t *Tracker, key string, v V, err error) {
	now := t.cfg.Now()
	switch {
	case err == nil:
		c := cached[V]{val: v}
		t.store.put(key, c, sizeOf(c), now.Add(t.cfg.TTL))
	case notFound(err) && t.cfg.NotFoundTTL > 0:
		c := cached[V]{err: err}
		t.store.put(key, c, sizeOf(c), now.Add(t.cfg.NotFoundTTL))
	}
}

// notFound reports whether Spine looked and found nothing: an answer worth keeping for a moment,
// unlike a failure.
func notFound(err error) bool {
	return errors.Is(err, tracker.ErrNotFound) || errors.Is(err, tracker.ErrIssueNotFound)
}

// kindOf describes an error for a span status by its kind alone: the rest of a tracker error may
// one day say more than a span may hold.
func kindOf(err error) string {
	var te *tracker.Error
	if errors.As(err, &te) && te.Kind != nil {
		return te.Kind.Error()
	}
	return "error"
}

// contextError is the tracker's error for a caller that stopped waiting, so that the routes map it as
// they map the client's own: its deadline passing is a timeout, anything else a cancellation.
func contextError(ctx context.Context, interaction string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &tracker.Error{Kind: tracker.ErrTimeout, Interaction: interaction, Reason: "no answer from Spine in time", Err: ctx.Err()}
	}
	return &tracker.Error{Kind: tracker.ErrCanceled, Interaction: interaction, Reason: "caller gave up", Err: ctx.Err()}
}
