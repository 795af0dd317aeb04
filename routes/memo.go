package routes

import (
	"fmt"
	"sync"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
)

// EntryMemo keeps what each Spine record maps to: its MedicationRequests and MedicationDispenses, and
// the searchset entry each of them makes, already marshalled. It is keyed by mapping.Source.Key, a
// digest of the record and the mapping's version, so a record that has not changed since it was last
// seen is neither mapped nor marshalled again: on another page, under another filter, for another
// user, or after the answer cache let its answer go.
//
// It never answers by itself: every request makes its own Spine call (or is answered from the tracker
// cache, per user), and the memo only saves the work when Spine's record is identical. So it outlives
// the answer cache (EPS_MEMO_TTL, minutes) and is shared across users. It holds patient data: it is
// bounded in bytes (EPS_MEMO_MAX_BYTES) and main clears it at shutdown.
//
// Its resources are shared between requests and never changed: the fast encoder only reads them, and
// its jsonformat fallback marshals a clone.
type EntryMemo struct {
	memo *cache.Memo[*memoized]

	mu      sync.Mutex
	baseURL string // the one base its entries' fullUrls are written with; set by New
}

// NewEntryMemo returns an EntryMemo bounded by c (TTL, MaxBytes, MaxEntries); a zero TTL keeps nothing.
func NewEntryMemo(c cache.Config, mp metric.MeterProvider) (*EntryMemo, error) {
	m, err := cache.NewMemo[*memoized]("entries", c, mp)
	if err != nil {
		return nil, err
	}
	return &EntryMemo{memo: m}, nil
}

// bind ties the memo to the base URL its entries' fullUrls hold: one memo must not serve two.
func (m *EntryMemo) bind(baseURL string) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.baseURL != "" && m.baseURL != baseURL {
		return fmt.Errorf("routes: the entry memo serves %s already, not %s", m.baseURL, baseURL)
	}
	m.baseURL = baseURL
	return nil
}

// Clear drops everything the memo holds.
func (m *EntryMemo) Clear() {
	if m != nil {
		m.memo.Clear()
	}
}

// memoized is one Source mapped (its matches, as mapping.Expand gives them) and, when kept in the
// memo, marshalled: entries holds the searchset entry of each MedicationRequest (mode match) and
// MedicationDispense (mode include) it made, keyed by the resource.
type memoized struct {
	matches []mapping.Match
	entries map[proto.Message][]byte
}

// memoOverhead is how much memory a memoized value holds per byte of its marshalled entries: the
// bytes themselves and the protos they were marshalled from. Measured by TestEntryMemoSizeEstimate,
// and rounded up, because an estimate that is too low lets the bound be exceeded.
const memoOverhead = 4

// expand maps src, or takes what it maps to from the memo.
func (s *service) expand(src mapping.Source) (*memoized, error) {
	if !s.memo.enabled() {
		ms, err := mapping.Expand(src)
		return &memoized{matches: ms}, err
	}
	key := src.Key()
	if m, ok := s.memo.memo.Get(key); ok {
		return m, nil
	}
	ms, err := mapping.Expand(src)
	if err != nil {
		return nil, err
	}
	m := &memoized{matches: ms}
	if size, ok := m.marshal(s.enc, s.cfg.BaseURL); ok {
		s.memo.memo.Put(key, m, size)
	}
	return m, nil
}

func (m *EntryMemo) enabled() bool { return m != nil && m.memo.Enabled() }

// marshal fills m.entries, making each entry exactly as mapping.SearchBundle makes it in a page, and
// returns the memory m then holds. Nothing is kept if an entry cannot be marshalled: the answer then
// marshals it again, and fails there as it would have.
func (m *memoized) marshal(enc *fhir.Encoder, baseURL string) (int64, bool) {
	b, err := mapping.SearchBundle(mapping.Page{BaseURL: baseURL, Matches: m.matches, RevIncludeDispense: true})
	if err != nil {
		return 0, false
	}
	entries := make(map[proto.Message][]byte, len(b.Entry))
	var size int64
	for _, e := range b.Entry {
		res := memoResource(e)
		if res == nil {
			return 0, false
		}
		j, err := enc.MarshalEntry(e)
		if err != nil {
			return 0, false
		}
		entries[res] = j
		size += int64(len(j))
	}
	m.entries = entries
	return size * memoOverhead, true
}

// memoResource is the resource of an entry the memo can hold: a MedicationRequest or a
// MedicationDispense. Other entries (the includes made per page, the notes) are nil.
func memoResource(e *bcrpb.Bundle_Entry) proto.Message {
	switch r := e.GetResource().GetOneofResource().(type) {
	case *bcrpb.ContainedResource_MedicationRequest:
		return r.MedicationRequest
	case *bcrpb.ContainedResource_MedicationDispense:
		return r.MedicationDispense
	}
	return nil
}

// memoEntries are the entries of an answer the memo holds already marshalled: those of its page's
// matches, in page order, when it holds every one of them (the Bundle is then built without them),
// and others by resource.
type memoEntries struct {
	matches    [][]byte
	byResource map[proto.Message][]byte
}

func (k memoEntries) len() int { return len(k.matches) + len(k.byResource) }

// pageEntries returns the marshalled entry of each match of a page, in page order, taken from the
// memoized record each was expanded from (records, as given to mapping.Keep); nil when the page is
// empty or any entry is missing (a record the memo could not keep).
func pageEntries(page []mapping.Match, records []*memoized) [][]byte {
	if len(page) == 0 {
		return nil
	}
	out := make([][]byte, len(page))
	for i, m := range page {
		if m.Source < 0 || m.Source >= len(records) {
			return nil
		}
		j, ok := records[m.Source].entries[m.Request]
		if !ok {
			return nil
		}
		out[i] = j
	}
	return out
}

// marshalSearchset marshals a searchset Bundle, taking each entry the memo already holds as it is:
// byte for byte what marshalling the whole Bundle, with its matches, gives. When known holds the
// page's matches, b was built without them, and they come first.
func marshalSearchset(enc *fhir.Encoder, b *bcrpb.Bundle, known memoEntries) ([]byte, error) {
	if known.len() == 0 {
		return enc.Marshal(b, false)
	}
	entries := make([][]byte, 0, len(known.matches)+len(b.Entry))
	entries = append(entries, known.matches...)
	for _, e := range b.Entry {
		if j, ok := known.byResource[memoResource(e)]; ok {
			entries = append(entries, j)
			continue
		}
		j, err := enc.MarshalEntry(e)
		if err != nil {
			return nil, err
		}
		entries = append(entries, j)
	}
	all := b.Entry
	b.Entry = nil // b is this request's own: only its entries are shared
	defer func() { b.Entry = all }()
	return enc.MarshalBundleEntries(b, entries)
}
