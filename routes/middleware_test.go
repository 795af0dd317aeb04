package routes

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

func TestEpsTraceID(t *testing.T) {
	for _, tc := range []struct {
		name, traceparent, requestID, want string
	}{
		{"a W3C trace id becomes 26 characters of base32",
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ignored", "JP4S6NLXWNG2NI6OSKOQ4DSHGY"},
		{"without a trace id a UUID request id becomes 26 characters of base32",
			"", "4b7120c1-c5c1-46d1-a6db-f8321645993b", "JNYSBQOFYFDNDJW37AZBMRMZHM"},
		{"an all-zero trace id is ignored",
			"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "abc-123", "abc-123"},
		{"a malformed traceparent is ignored",
			"garbage", "abc-123", "abc-123"},
		{"another request id keeps only Spine's characters, at most 30",
			"", "req.1:2_3-" + "abcdefghijklmnopqrstuvwxyz0123456789", "req123-abcdefghijklmnopqrstuvw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := epsTraceID(tc.traceparent, tc.requestID)
			if !tracker.ValidTraceID(got) {
				t.Fatalf("%q is not a valid Eps-TraceId", got)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("the same trace id always gives the same Eps-TraceId", func(t *testing.T) {
		tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		if epsTraceID(tp, "a") != epsTraceID(tp, "b") {
			t.Error("not stable")
		}
	})
}

func TestPager(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := newPager([][]byte{[]byte("test key")}, time.Hour)
	q := url.Values{"patient:identifier": {"https://fhir.nhs.uk/Id/nhs-number|9691003120"}, "_count": {"10"}}

	t.Run("a token opens to the query and offset it was made from", func(t *testing.T) {
		gotQ, gotOff, err := p.open(p.token(q, 30, "555555555555", at), "555555555555", at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if gotOff != 30 || gotQ.Encode() != q.Encode() {
			t.Errorf("got %v %d", gotQ, gotOff)
		}
	})
	t.Run("a token signed with another key is refused", func(t *testing.T) {
		other := newPager([][]byte{[]byte("other key")}, time.Hour)
		if _, _, err := p.open(other.token(q, 30, "u", at), "u", at); !errors.Is(err, errBadToken) {
			t.Errorf("got %v, want errBadToken", err)
		}
	})
	t.Run("keys rotate: a token signed with the old key still opens while that key verifies", func(t *testing.T) {
		old := newPager([][]byte{[]byte("old key")}, time.Hour)
		rotated := newPager([][]byte{[]byte("new key"), []byte("old key")}, time.Hour)
		if _, _, err := rotated.open(old.token(q, 10, "u", at), "u", at); err != nil {
			t.Errorf("old token refused after rotation: %v", err)
		}
		retired := newPager([][]byte{[]byte("new key")}, time.Hour)
		if _, _, err := retired.open(old.token(q, 10, "u", at), "u", at); !errors.Is(err, errBadToken) {
			t.Errorf("token of a retired key: got %v", err)
		}
	})
	t.Run("a token opened by another user is refused as such", func(t *testing.T) {
		if _, _, err := p.open(p.token(q, 10, "555555555555", at), "555555555556", at); !errors.Is(err, errTokenOwner) {
			t.Errorf("got %v, want errTokenOwner", err)
		}
	})
	t.Run("a search's compressed form is kept, and its tokens are as a fresh compressor makes them", func(t *testing.T) {
		fresh := newPager(p.keys, time.Hour) // nothing compressed yet
		first := p.token(q, 10, "u", at)
		if again := p.token(q, 10, "u", at); again != first {
			t.Errorf("the same token twice: %s then %s", first, again)
		}
		if got := fresh.token(q, 10, "u", at); got != first {
			t.Errorf("token from the kept compressed query %s, from a fresh compressor %s", first, got)
		}
		if _, ok := p.queries.get(q.Encode()); !ok {
			t.Error("the compressed query was not kept")
		}
		if got, off, err := p.open(first, "u", at); err != nil || off != 10 || got.Encode() != q.Encode() {
			t.Errorf("opened %v %d %v", got, off, err)
		}
	})
	t.Run("the compressed queries kept are bounded", func(t *testing.T) {
		b := newPager(p.keys, time.Hour)
		for i := range maxCompressedQueries + 10 {
			b.token(url.Values{"patient": {strconv.Itoa(i)}}, 0, "u", at)
		}
		if n := len(b.queries.m); n == 0 || n > maxCompressedQueries {
			t.Errorf("%d compressed queries kept, want at most %d", n, maxCompressedQueries)
		}
	})
	t.Run("a token expires, an hour to an hour and ten minutes after it was made", func(t *testing.T) {
		for _, made := range []time.Time{at, at.Add(3 * time.Minute), at.Add(9*time.Minute + 59*time.Second)} {
			tok := p.token(q, 10, "u", made)
			if _, _, err := p.open(tok, "u", made.Add(59*time.Minute)); err != nil {
				t.Errorf("made %s, before expiry: %v", made.Format(time.TimeOnly), err)
			}
			if _, _, err := p.open(tok, "u", made.Add(71*time.Minute)); !errors.Is(err, errTokenExpired) {
				t.Errorf("made %s, after expiry: got %v", made.Format(time.TimeOnly), err)
			}
		}
	})
	t.Run("tokens for one page made within the same ten minutes are the same", func(t *testing.T) {
		start := at.Truncate(tokenExpiryStep)
		first := p.token(q, 10, "u", start.Add(time.Second))
		if again := p.token(q, 10, "u", start.Add(9*time.Minute)); again != first {
			t.Error("two tokens made in the same ten minutes differ, so the page's ETag changes every second")
		}
		if later := p.token(q, 10, "u", start.Add(11*time.Minute)); later == first {
			t.Error("a token made in the next ten minutes is the same: its expiry was not moved on")
		}
	})
	t.Run("a token whose search inflates past 4096 bytes is refused, never cut short", func(t *testing.T) {
		big := url.Values{"patient": {"9691003120"}, "x": {strings.Repeat("a", 5000)}}
		if _, _, err := p.open(p.token(big, 0, "u", at), "u", at); !errors.Is(err, errBadToken) {
			t.Errorf("got %v, want errBadToken", err)
		}
		if _, _, err := p.open(strings.Repeat("A", 5000), "u", at); !errors.Is(err, errBadToken) {
			t.Errorf("a 5000-character token: got %v", err)
		}
	})
	t.Run("junk is refused", func(t *testing.T) {
		for _, tok := range []string{"", "!!", "AAAA", "c2hvcnQ"} {
			if _, _, err := p.open(tok, "u", at); err == nil {
				t.Errorf("%q accepted", tok)
			}
		}
	})
}

func TestStrictHandling(t *testing.T) {
	for prefer, want := range map[string]bool{
		"":                                false,
		"handling=lenient":                false,
		"handling=strict":                 true,
		"return=minimal, handling=strict": true,
		`handling="strict"`:               true,
		"Handling=Strict":                 true,
		"respond-async, handling=lenient": false,
		"handling=strict; x=y":            true,
		"handling=strict;x":               true,
		"return=minimal; handling=strict": false, // a parameter of return, not a preference
		"handling=strictly":               false,
	} {
		if got := strictHandling([]string{prefer}); got != want {
			t.Errorf("strictHandling(%q) = %v, want %v", prefer, got, want)
		}
	}
}

// TestStrictHandlingReadsEveryPreferLine: RFC 7240 lets preferences come on separate field lines.
func TestStrictHandlingReadsEveryPreferLine(t *testing.T) {
	if !strictHandling([]string{"return=representation", "handling=strict"}) {
		t.Error("handling=strict on a second Prefer line was missed")
	}
	// RFC 7240 2: only the first instance of a preference counts.
	if strictHandling([]string{"handling=lenient", "handling=strict"}) || strictHandling([]string{"handling=lenient, handling=strict"}) {
		t.Error("a second handling preference overrode the first")
	}
	if !strictHandling([]string{"handling=strict", "handling=lenient"}) {
		t.Error("the first handling preference, strict, was not kept")
	}
	if strictHandling([]string{"return=representation", "respond-async"}) {
		t.Error("no handling preference read as strict")
	}
}

func TestETagMatches(t *testing.T) {
	etag := `"abc"`
	for header, want := range map[string]bool{
		`"abc"`:      true,
		`W/"abc"`:    true,
		`"x", "abc"`: true,
		`*`:          true,
		`"abd"`:      false,
		``:           false,
	} {
		if got := etagMatches(header, etag); got != want {
			t.Errorf("etagMatches(%q) = %v, want %v", header, got, want)
		}
	}
}

// TestETagTellsAnswersApart: an ETag is stable for the same bytes (XXH64's published digest of no
// input, so every instance and every restart agrees) and differs when a byte or the length does.
func TestETagTellsAnswersApart(t *testing.T) {
	// Length 0, then XXH64("") = ef46db3751d8e999, base64url.
	if got, want := ETag(nil), `"AAAAAAAAAADvRts3UdjpmQ"`; got != want {
		t.Errorf("ETag of nothing = %s, want %s", got, want)
	}
	body := []byte(`{"resourceType":"Bundle","type":"searchset","total":1}`)
	if ETag(body) != ETag(append([]byte(nil), body...)) {
		t.Error("the same bytes have two ETags")
	}
	changed := append([]byte(nil), body...)
	changed[len(changed)-2] = '2'
	for name, other := range map[string][]byte{"a byte changed": changed, "a byte more": append(append([]byte(nil), body...), ' ')} {
		if ETag(other) == ETag(body) {
			t.Errorf("%s: the same ETag %s", name, ETag(body))
		}
	}
}
