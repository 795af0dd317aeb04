package fhir

import (
	"net/http/httptest"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		format, accept string
		want           bool
	}{
		// Nothing asked: FHIR JSON.
		{"", "", true},
		{"  ", "  ", true},

		// _format values http.html lists for JSON, with and without parameters.
		{"json", "", true},
		{"JSON", "", true},
		{"application/json", "", true},
		{"application/fhir+json", "", true},
		{"application/fhir+json; fhirVersion=4.0", "", true},
		{"application/fhir+json;fhirVersion=4.0.1", "", true},
		{"application/fhir+json; charset=utf-8", "", true},
		{"application/fhir+json; charset=UTF-8; fhirVersion=4.0", "", true},
		{"application/json; charset=utf-8", "", true},
		{"application/fhir json", "", true}, // an unencoded + decoded as a space
		{" application/fhir+json ", "", true},

		// _format values the adapter cannot serve.
		{"xml", "", false},
		{"application/xml", "", false},
		{"application/fhir+xml", "", false},
		{"text/xml", "", false},
		{"ttl", "", false},
		{"application/fhir+turtle", "", false},
		{"text/turtle", "", false},
		{"html", "", false},
		{"text/html", "", false},
		{"text/json", "", false},
		{"application/fhir+json; fhirVersion=3.0", "", false},
		{"application/fhir+json; charset=iso-8859-1", "", false},

		// _format overrides Accept, both ways.
		{"json", "application/fhir+xml", true},
		{"xml", "application/fhir+json", false},

		// Accept alone.
		{"", "application/fhir+json", true},
		{"", "application/json", true},
		{"", "APPLICATION/FHIR+JSON", true},
		{"", "application/fhir+json; fhirVersion=4.0", true},
		{"", "application/fhir+json; charset=utf-8", true},
		{"", "*/*", true},
		{"", "application/*", true},
		{"", "application/fhir+xml, application/fhir+json;q=0.5", true},
		{"", "application/fhir+xml;q=1.0, */*;q=0.1", true},
		{"", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true}, // a browser
		{"", "application/fhir+json;q=0.0, application/json", true},                   // application/json still takes us
		{"", "application/fhir+json;q=garbage", true},                                 // an unreadable q counts as 1

		{"", "application/fhir+xml", false},
		{"", "application/xml", false},
		{"", "application/fhir+turtle", false},
		{"", "text/html", false},
		{"", "text/*", false},
		{"", "application/fhir+json;q=0", false},
		{"", "application/fhir+json;q=0, application/json;q=0", false},
		{"", "*/*;q=0", false},
		{"", "application/*;q=0", false},
		{"", "application/fhir+json; fhirVersion=3.0", false},
		{"", "application/fhir+json; charset=iso-8859-1", false},
		{"", "application/json;q=0, */*", true},                             // fhir+json still matches */*
		{"", "application/fhir+json;q=0, application/json;q=0, */*", false}, // the specific refusals win
		{"", "application/fhir+json; fhirVersion=3.0, application/*;q=0", false},
		{"", ",,", false},
	}
	for _, tt := range tests {
		name := "_format=" + tt.format + " Accept: " + tt.accept
		t.Run(name, func(t *testing.T) {
			if got := Negotiate(tt.format, tt.accept) != ""; got != tt.want {
				t.Errorf("Negotiate(%q, %q) = %v, want %v", tt.format, tt.accept, got, tt.want)
			}
		})
	}
}

// TestNegotiateAnswersInTheTypeAsked: FHIR JSON is labelled application/json for a client that
// asked for that type or prefers it, and application/fhir+json otherwise.
func TestNegotiateAnswersInTheTypeAsked(t *testing.T) {
	for _, tt := range []struct{ format, accept, want string }{
		{"", "", ContentType},
		{"", "*/*", ContentType},
		{"", "application/fhir+json", ContentType},
		{"", "application/fhir+json, application/json", ContentType},
		{"", "application/json", JSONContentType},
		{"", "application/json; charset=utf-8", JSONContentType},
		{"", "application/fhir+json;q=0.5, application/json", JSONContentType},
		{"", "application/fhir+json;q=0, */*", JSONContentType},
		{"", "application/fhir+json;q=0, application/json;q=0", ""},
		{"", "application/*", ContentType},
		{"json", "application/json", ContentType}, // _format decides
		{"application/fhir+json", "application/json", ContentType},
		{"application/json", "", JSONContentType},
		{"xml", "application/json", ""},
	} {
		if got := Negotiate(tt.format, tt.accept); got != tt.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.format, tt.accept, got, tt.want)
		}
	}
}

func TestNegotiateRequest(t *testing.T) {
	tests := []struct {
		name   string
		target string
		accept []string
		want   bool
	}{
		{"an unencoded + in _format is read as +", "/FHIR/R4/metadata?_format=application/fhir+json", nil, true},
		{"an encoded + in _format is read as +", "/FHIR/R4/metadata?_format=application%2Ffhir%2Bjson", nil, true},
		{"_format=xml is refused", "/FHIR/R4/metadata?_format=xml", []string{"application/fhir+json"}, false},
		{"every Accept header counts", "/FHIR/R4/metadata", []string{"application/fhir+xml", "application/fhir+json"}, true},
		{"Accept headers naming only XML are refused", "/FHIR/R4/metadata", []string{"application/fhir+xml", "application/xml"}, false},
		// net/url drops a query pair holding a literal ";": the _format must still be read.
		{"a literal ; in _format does not hide XML", "/FHIR/R4/metadata?_format=application/fhir%2Bxml;fhirVersion=4.0", nil, false},
		{"a literal ; in _format does not hide another FHIR version", "/FHIR/R4/metadata?_format=json;fhirVersion=3.0", nil, false},
		{"a literal ; in _format with FHIR 4.0 is accepted", "/FHIR/R4/metadata?_count=1&_format=json;fhirVersion=4.0", nil, true},
		{"broken percent-encoding in _format is refused", "/FHIR/R4/metadata?_format=json%zz", nil, false},
		{"the first _format decides", "/FHIR/R4/metadata?_format=xml&_format=json", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			for _, a := range tt.accept {
				r.Header.Add("Accept", a)
			}
			if got := NegotiateRequest(r) != ""; got != tt.want {
				t.Errorf("NegotiateRequest(%s, Accept %q) = %v, want %v", tt.target, tt.accept, got, tt.want)
			}
		})
	}
}

func TestPrettyRequested(t *testing.T) {
	for in, want := range map[string]bool{
		"true": true, "TRUE": true, " true ": true,
		"": false, "false": false, "1": false, "yes": false,
	} {
		if got := PrettyRequested(in); got != want {
			t.Errorf("PrettyRequested(%q) = %v, want %v", in, got, want)
		}
	}
}
