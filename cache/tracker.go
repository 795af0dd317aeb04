package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Upstream is what the cache needs of Spine: the tracker client.
type Upstream interface {
	Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error)
	Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error)
	ItemDetails(ctx context.Context, who tracker.Caller, q tracker.DetailQuery) (*tracker.PrescriptionDetail, error)
	ItemSummary(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.ItemSummaryResult, error)
}

// Tracker is a caching, coalescing decorator of the tracker client, with the same methods. Its results
// are shared between callers and must not be mutated (see the package documentation).
type Tracker struct {
	next    Upstream
	cfg     Config
	tracer  trace.Tracer
	store   *store // nil when caching is disabled
	flights *flights
	m       *instruments
}

// New returns a Tracker in front of next. tp and mp may be nil, for no spans and no metrics.
func New(next Upstream, c Config, tp trace.TracerProvider, mp metric.MeterProvider) (*Tracker, error) {
	if next == nil {
		return nil, errors.New("cache: nil upstream tracker")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cache: invalid config: %w", err)
	}
	c = c.withDefaults()
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	t := &Tracker{next: next, cfg: c, tracer: tp.Tracer(scope)}
	if c.TTL == 0 {
		return t, nil
	}
	var err error
	t.m, err = newInstruments(mp, "tracker", func() (int, int64) { return t.store.size() })
	if err != nil {
		return nil, fmt.Errorf("cache: metrics: %w", err)
	}
	t.store = newStore(c, t.m)
	t.flights = newFlights(c.CallTimeout)
	return t, nil
}

// The interaction names, as the tracker's errors spell them.
const (
	interactionSearch      = "search"
	interactionRetrieve    = "retrieve"
	interactionItemDetails = "nhs111itemdetails"
	interactionItemSummary = "nhs111itemsummary"
)

// ItemSummary is tracker.Client.ItemSummary, cached.
func (t *Tracker) ItemSummary(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	if t.store == nil {
		return t.next.ItemSummary(ctx, who, q)
	}
	key := t.key(interactionItemSummary, who, q.NHSNumber, day(q.EarliestDate), day(q.LatestDate), string(q.Status), q.Version)
	return lookup(ctx, t, "cache.ItemSummary", interactionItemSummary, key, func(ctx context.Context) (*tracker.ItemSummaryResult, error) {
		return t.next.ItemSummary(ctx, who, q)
	})
}

// Search is tracker.Client.Search, cached.
func (t *Tracker) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	if t.store == nil {
		return t.next.Search(ctx, who, q)
	}
	key := t.key(interactionSearch, who, q.NHSNumber, day(q.EarliestDate), day(q.LatestDate), string(q.Status), q.Version)
	return lookup(ctx, t, "cache.Search", interactionSearch, key, func(ctx context.Context) (*tracker.SearchResult, error) {
		return t.next.Search(ctx, who, q)
	})
}

// Retrieve is tracker.Client.Retrieve, cached.
func (t *Tracker) Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error) {
	if t.store == nil {
		return t.next.Retrieve(ctx, who, q)
	}
	key := t.key(interactionRetrieve, who, q.PrescriptionID, strconv.Itoa(q.IssueNumber))
	return lookup(ctx, t, "cache.Retrieve", interactionRetrieve, key, func(ctx context.Context) (*tracker.Prescription, error) {
		return t.next.Retrieve(ctx, who, q)
	})
}

// ItemDetails is tracker.Client.ItemDetails, cached.
func (t *Tracker) ItemDetails(ctx context.Context, who tracker.Caller, q tracker.DetailQuery) (*tracker.PrescriptionDetail, error) {
	if t.store == nil {
		return t.next.ItemDetails(ctx, who, q)
	}
	// The client upper-cases the line item ID before sending it, so case does not make another call.
	key := t.key(interactionItemDetails, who, q.PrescriptionID, strconv.Itoa(q.IssueNumber), strings.ToUpper(q.LineItemID))
	return lookup(ctx, t, "cache.ItemDetails", interactionItemDetails, key, func(ctx context.Context) (*tracker.PrescriptionDetail, error) {
		return t.next.ItemDetails(ctx, who, q)
	})
}

// key is the interaction, the caller as Spine sees it (unless shared) and the query's parameters as
// the client sends them. Values are normalised only where the client sends them normalised (dates as
// UTC days, line item IDs upper case): a prescription ID's case is kept, because Spine might not ignore
// it. The trace id is never part of it. The key holds identifiers: it stays inside this package.
func (t *Tracker) key(interaction string, who tracker.Caller, params ...string) string {
	var b strings.Builder
	b.WriteString(interaction)
	if !t.cfg.ShareAcrossUsers {
		// Spine records the user and role of the call; an empty one falls back to the client's
		// configured default, the same for every empty caller.
		b.WriteByte(0)
		b.WriteString(who.UserID)
		b.WriteByte(0)
		b.WriteString(who.RoleProfileID)
	}
	for _, p := range params {
		b.WriteByte(0) // no parameter contains a NUL, so no two queries share a key
		b.WriteString(p)
	}
	return b.String()
}

// day is a date as the client sends it: the UTC day, or nothing.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("20060102")
}
