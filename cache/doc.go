// Package cache keeps Spine's answers for a short while, so that a clinician paging through a search, or
// several requests for the same patient at once, cost one Spine call rather than many.
//
// Tracker decorates the tracker client with the method set the routes need: a lookup is answered from
// the cache (a hit), from a Spine call already in flight for the same request (coalesced), or by a new
// Spine call (a miss). Answers keeps whole marshalled answers for the routes, so that a repeated request
// needs no Spine call, no mapping and no marshalling.
//
// # Shared, immutable values
//
// A cached value is shared: every caller that hits the same entry, or joins the same Spine call, gets
// the same pointer (a *tracker.SearchResult, an Answer's Body). Nothing may mutate a value it got from
// this package, neither its fields nor the slices it holds; copy first. The values are kept exactly as
// the tracker client returned them, so Fetched still says when Spine answered and the routes can send
// an HTTP Age header. Tracker and Answers never hold FHIR protos. A Memo may (the routes' entry
// memo does): jsonformat rewrites references in a proto while marshalling it, so a shared proto is
// only ever marshalled by the fast encoder, which reads it, or by jsonformat on a clone.
//
// # Per user, unless told otherwise
//
// A key holds the interaction, the normalised query, and the Spine-UserId and Spine-RoleProfileId the
// call carried (never the trace id), so one user's query is never answered from another user's Spine
// call and Spine's own audit sees every user. Config.ShareAcrossUsers drops the user from the key: fewer
// Spine calls under load, at two prices. Spine's audit records only the user whose call filled each
// entry (the adapter's own audit still records every request), and a user whose role Spine would
// refuse can be answered from another user's call, so the adapter's own authorisation must be the
// whole of it.
//
// # Bounds
//
// go-cache expires entries but has no bound, so each store also bounds its entries and their estimated
// bytes, evicting the oldest first: a flood of distinct patients cannot exhaust the process. A value's
// size is estimated by walking it: its inline size, every string's bytes, every slice's backing array
// to its capacity, through pointers and interfaces, plus the key and a fixed overhead per entry. The
// estimate errs high. Errors are never cached; a not-found is, for Config.NotFoundTTL at most.
//
// # Telemetry
//
// Each lookup is a span ("cache.Search", "cache.Retrieve", "cache.ItemDetails") with the attribute
// cache.result = hit, miss or coalesced. Metrics: cache.lookups (by cache.name and cache.result),
// cache.evictions (by cache.name and cache.eviction.reason), and the observable gauges cache.size (bytes)
// and cache.entries. No key, NHS number or prescription ID ever reaches a span or a metric.
package cache
