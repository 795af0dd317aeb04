package routes

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// emptySpine is a tracker that knows no patient and no prescription: what the router does around it
// (parsing, validation, paging, authorisation, errors) is what the fuzzer explores.
type emptySpine struct{}

func (emptySpine) Search(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
	return &tracker.SearchResult{}, nil
}

func (emptySpine) Retrieve(context.Context, tracker.Caller, tracker.RetrieveQuery) (*tracker.Prescription, error) {
	return nil, &tracker.Error{Kind: tracker.ErrNotFound, Interaction: "retrieve", StatusCode: "1"}
}

func (emptySpine) ItemSummary(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	return &tracker.ItemSummaryResult{}, nil
}

func (emptySpine) ItemDetails(context.Context, tracker.Caller, tracker.DetailQuery) (*tracker.PrescriptionDetail, error) {
	return nil, &tracker.Error{Kind: tracker.ErrNotFound, Interaction: "nhs111itemdetails", StatusCode: "1"}
}

// FuzzRouter sends arbitrary paths, queries and headers through the whole router, authenticated:
// whatever arrives, the answer is never a 500 or a panic, and every body is FHIR JSON.
func FuzzRouter(f *testing.F) {
	for _, seed := range []string{
		"/FHIR/R4/MedicationRequest?patient=9691003120",
		"/FHIR/R4/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9691003120&_count=5&authoredon=ge2026-01-01",
		"/FHIR/R4/MedicationRequest?group-identifier=A3B4D9-Z42475-11E6B%2B&issue=2",
		"/FHIR/R4/MedicationRequest/3AF2CB-C86002-0000BX-1-1",
		"/FHIR/R4/MedicationDispense/d-3AF2CB-C86002-0000BX-1-1",
		"/FHIR/R4/Patient/9691003120",
		"/FHIR/R4/Organization/A83008",
		"/FHIR/R4/AuditEvent?patient=9691003120",
		"/FHIR/R4/MedicationRequest?_page=AAAA",
		"/FHIR/R4/MedicationRequest?patient=9691003120&status=completed%ZZ",
		"/FHIR/R4/metadata?_format=xml",
	} {
		f.Add(seed, "handling=strict")
	}
	dir := f.TempDir()
	issuer, err := auth.OpenIssuer(dir, "http://127.0.0.1:1/oauth2", "http://fuzz/FHIR/R4")
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), issuer.Config(), nil)
	if err != nil {
		f.Fatal(err)
	}
	token, err := issuer.Mint("555555555555", "", nil, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := fhir.NewEncoder()
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(Config{BaseURL: "http://fuzz/FHIR/R4", Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }},
		Deps{Tracker: emptySpine{}, Encoder: enc, Auth: verifier})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, prefer string) {
		if !strings.HasPrefix(target, "/") {
			target = "/FHIR/R4/" + target
		}
		// Only what net/http itself would read off the wire reaches a handler.
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: fuzz\r\n\r\n")))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Prefer", prefer)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		if rec.Body.Len() > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/fhir+json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("GET %s: the body is not JSON: %s", target, rec.Body)
		}
	})
}

// FuzzPageToken opens arbitrary tokens: never a panic, never a query longer than the bound, and a
// token made here always opens to what it was made from.
func FuzzPageToken(f *testing.F) {
	p := newPager([][]byte{[]byte("fuzz key")}, time.Hour)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Add(p.token(url.Values{"patient": {"9691003120"}, "_count": {"10"}}, 10, "u", at), "patient=9691003120", 7)
	f.Add("AAAA", "", 0)
	f.Fuzz(func(t *testing.T, tok, query string, offset int) {
		if q, _, err := p.open(tok, "u", at); err == nil && len(q.Encode()) > 4*maxQueryBytes {
			t.Fatalf("a token opened to %d bytes", len(q.Encode()))
		}
		q, err := url.ParseQuery(query)
		if err != nil || offset < 0 || offset > 1<<20 || len(q.Encode()) > maxQueryBytes {
			return
		}
		got, off, err := p.open(p.token(q, offset, "u", at), "u", at)
		if err != nil || off != offset || got.Encode() != q.Encode() {
			t.Fatalf("round trip of %q@%d: %v %d %v", q.Encode(), offset, got, off, err)
		}
	})
}

// FuzzParseQuery: the raw query parser never drops a pair silently: each '&'-separated pair is either
// kept or named in an error.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "status=completed%ZZ", "x=1;y=2", "%zz=1", "a=%2B&a=b", "&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			return
		}
		pairs := 0
		for _, p := range strings.Split(raw, "&") {
			if p != "" {
				pairs++
			}
		}
		kept := 0
		for _, vs := range q {
			kept += len(vs)
		}
		if kept != pairs {
			t.Fatalf("%q: %d pairs, %d kept", raw, pairs, kept)
		}
	})
}
