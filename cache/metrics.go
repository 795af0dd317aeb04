package cache

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// scope is the instrumentation scope of this package's spans and metrics.
const scope = "github.com/nhs-eps/eps-fhir-tracker/cache"

// The attribute keys of this package's spans and metrics. None ever carries a key or an identifier.
const (
	attrName   = attribute.Key("cache.name")   // which cache: "tracker" or "answers"
	attrResult = attribute.Key("cache.result") // hit, miss or coalesced
	attrReason = attribute.Key("cache.eviction.reason")
)

// The results of a lookup.
const (
	resultHit       = "hit"
	resultMiss      = "miss"
	resultCoalesced = "coalesced" // joined a Spine call already in flight
)

// The reasons an entry leaves a store before anyone replaces it.
const (
	reasonCapacity = "capacity" // the oldest, to keep within the byte or entry bound
	reasonExpired  = "expired"  // removed by go-cache's janitor after its TTL
	reasonCleared  = "cleared"  // all of them, at shutdown
)

// instruments are one store's metrics. The option sets are built once, so that counting a hit
// allocates nothing.
type instruments struct {
	lookups   metric.Int64Counter
	evictions metric.Int64Counter
	byResult  map[string]metric.AddOption
	byReason  map[string]metric.AddOption
}

// newInstruments makes the metrics of the store called name; size reports its entries and bytes for
// the observable gauges.
func newInstruments(mp metric.MeterProvider, name string, size func() (entries int, bytes int64)) (*instruments, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(scope)
	lookups, err1 := m.Int64Counter("cache.lookups", metric.WithUnit("{lookup}"),
		metric.WithDescription("Cache lookups, by result: hit, miss, or coalesced into a Spine call in flight."))
	evictions, err2 := m.Int64Counter("cache.evictions", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries removed before being replaced: the oldest for the bound, or expired."))
	bytes, err3 := m.Int64ObservableGauge("cache.size", metric.WithUnit("By"),
		metric.WithDescription("Estimated memory held by the cache's entries."))
	entries, err4 := m.Int64ObservableGauge("cache.entries", metric.WithUnit("{entry}"),
		metric.WithDescription("Entries held by the cache, expired ones included until removed."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	set := attribute.NewSet(attrName.String(name))
	// Never unregistered: a store lives as long as the process.
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		n, b := size()
		o.ObserveInt64(entries, int64(n), metric.WithAttributeSet(set))
		o.ObserveInt64(bytes, b, metric.WithAttributeSet(set))
		return nil
	}, bytes, entries)
	if err != nil {
		return nil, err
	}
	in := &instruments{lookups: lookups, evictions: evictions,
		byResult: map[string]metric.AddOption{}, byReason: map[string]metric.AddOption{}}
	for _, r := range []string{resultHit, resultMiss, resultCoalesced} {
		in.byResult[r] = metric.WithAttributeSet(attribute.NewSet(attrName.String(name), attrResult.String(r)))
	}
	for _, r := range []string{reasonCapacity, reasonExpired, reasonCleared} {
		in.byReason[r] = metric.WithAttributeSet(attribute.NewSet(attrName.String(name), attrReason.String(r)))
	}
	return in, nil
}

// lookup counts one lookup in the request's context, so that an exemplar can point at its trace.
func (in *instruments) lookup(ctx context.Context, result string) {
	in.lookups.Add(ctx, 1, in.byResult[result])
}

// evicted counts entries removed by the store's own housekeeping, which belongs to no request.
func (in *instruments) evicted(reason string, n int) {
	if n > 0 {
		in.evictions.Add(context.Background(), int64(n), in.byReason[reason])
	}
}
