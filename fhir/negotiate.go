package fhir

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type the adapter answers with, errors included, unless a client asked
// for plain JSON.
const ContentType = "application/fhir+json; charset=utf-8"

// JSONContentType is the same FHIR JSON labelled application/json, for a client that asked for that
// rather than application/fhir+json (http.html: "If a client provides a generic mime type in the
// Accept header (application/xml, text/json, or application/json), the server SHOULD respond with
// the requested mime type").
const JSONContentType = "application/json; charset=utf-8"

// fhirVersions are the values of the fhirVersion media-type parameter this server answers for
// (http.html#version-parameter names "4.0"; "4.0.1" is what clients copy from the
// CapabilityStatement).
var fhirVersions = []string{"4.0", "4.0.1"}

// Negotiate returns the content type to answer with, ContentType or JSONContentType, or "" when the
// adapter cannot answer in a format the client accepts: a 406 with issue code not-supported.
//
// Following hl7.org/fhir/R4/http.html: _format, when present, overrides the Accept header and may
// be json, application/json or application/fhir+json; Accept may name those, */* or application/*
// (q-values honoured, q=0 refuses), and an absent Accept accepts anything. Either may carry
// fhirVersion (4.0) and charset (utf-8) parameters; other versions or charsets are refused, as are
// XML, Turtle, HTML and everything else, because FHIR JSON is all the adapter speaks. The answer is
// labelled application/json when the client named that type (_format=application/json) or accepts
// it more than application/fhir+json (Accept: application/json, or application/fhir+json;q=0 beside
// */*); otherwise, ties included, application/fhir+json.
//
// A "+" left unencoded in the query string arrives as a space, so "_format=application/fhir json"
// is read as application/fhir+json.
func Negotiate(formatParam, accept string) (contentType string) {
	if f := strings.TrimSpace(formatParam); f != "" {
		return formatAcceptable(f)
	}
	return acceptAcceptable(accept)
}

// NegotiateRequest applies Negotiate to r's first _format query parameter and all of its Accept
// headers.
func NegotiateRequest(r *http.Request) string {
	return Negotiate(formatParam(r.URL.RawQuery), strings.Join(r.Header.Values("Accept"), ","))
}

// formatParam is the first _format in a raw query, whose pairs are split at "&" alone: net/url drops
// every pair holding a ";", and "_format=application/fhir+xml;fhirVersion=4.0" must be refused, not
// ignored. A value with broken percent-encoding is returned as it is, which no format matches.
func formatParam(raw string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != "_format" {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u
		}
		return v
	}
	return ""
}

// PrettyRequested reports whether the _pretty parameter asks for indented JSON (_pretty=true).
func PrettyRequested(pretty string) bool {
	return strings.EqualFold(strings.TrimSpace(pretty), "true")
}

func formatAcceptable(f string) string {
	typ, params, _ := strings.Cut(f, ";")
	typ = strings.ReplaceAll(strings.TrimSpace(typ), " ", "+")
	ct := ContentType
	switch strings.ToLower(typ) {
	case "json", "application/fhir+json":
	case "application/json":
		ct = JSONContentType
	default:
		return ""
	}
	if _, ok := parseParams(params); !ok {
		return ""
	}
	return ct
}

func acceptAcceptable(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return ContentType
	}
	// The representation is application/fhir+json, which FHIR lets a client also ask for as
	// application/json. Each gets the q of the most specific range that matches it (RFC 9110
	// 12.5.1); the client accepts us if either ends with q > 0, and gets the one it prefers.
	best := [2]struct{ specificity, q int }{{-1, 0}, {-1, 0}}
	for _, rng := range strings.Split(accept, ",") {
		typ, params, _ := strings.Cut(rng, ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ == "" {
			continue
		}
		q, ok := parseParams(params)
		for i, ours := range [2]string{"application/fhir+json", "application/json"} {
			s := specificity(typ, ours)
			if s < 0 || s < best[i].specificity {
				continue
			}
			if !ok {
				// A range that matches us but asks for another FHIR version or charset
				// refuses us at its level of specificity.
				q = 0
			}
			if s > best[i].specificity || q > best[i].q {
				best[i].specificity, best[i].q = s, q
			}
		}
	}
	switch {
	case best[0].q > 0 && best[0].q >= best[1].q:
		return ContentType
	case best[1].q > 0:
		return JSONContentType
	}
	return ""
}

// specificity is 2 for an exact match of the media range with typ, 1 for type/*, 0 for */*, -1 for
// no match.
func specificity(rng, typ string) int {
	switch {
	case rng == typ:
		return 2
	case rng == "*/*":
		return 0
	case strings.HasSuffix(rng, "/*") && strings.HasPrefix(typ, strings.TrimSuffix(rng, "*")):
		return 1
	}
	return -1
}

// parseParams reads the parameters after a media type: q in thousandths (1000 when absent or
// unreadable), and whether fhirVersion and charset, when given, are ones the adapter serves.
func parseParams(params string) (q int, ok bool) {
	q, ok = 1000, true
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch k {
		case "q":
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = int(f*1000 + 0.5)
			}
		case "fhirversion":
			if !slices.Contains(fhirVersions, v) {
				ok = false
			}
		case "charset":
			if !strings.EqualFold(v, "utf-8") && !strings.EqualFold(v, "utf8") {
				ok = false
			}
		}
	}
	return q, ok
}
