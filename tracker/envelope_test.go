package tracker

import (
	"errors"
	"testing"
)

// Issue 11 problem 5: Spine's envelope used to be matched case-insensitively while walking a map, so
// a reply with two statusCodes parsed as success in about one try in ten. Each case here runs many
// times: a parse that depends on map order fails some of them.
func TestEnvelopeIsReadExactlyAndDeterministically(t *testing.T) {
	const tries = 300
	malformedCases := []struct {
		name string
		body string
	}{
		{"statusCode and StatusCode conflicting", `{"statusCode":"0","StatusCode":"1","prescriptionList":{}}`},
		{"StatusCode before statusCode", `{"StatusCode":"1","statusCode":"0","prescriptionList":{}}`},
		{"statusCode twice with different values", `{"statusCode":"0","statusCode":"1","prescriptionList":{}}`},
		{"statusCode twice with the same value", `{"statusCode":"1","statusCode":"1","prescriptionList":{}}`},
		{"statusCode spelt in another case only", `{"STATUSCODE":"0","prescriptionList":{}}`},
		{"statusCode with surrounding space", `{" statusCode":"0","prescriptionList":{}}`},
		{"reason twice", `{"statusCode":"0","reason":"","reason":"x","prescriptionList":{}}`},
		{"Reason spelt in another case", `{"statusCode":"0","Reason":"","prescriptionList":{}}`},
		{"version twice", `{"statusCode":"0","version":"1","version":"1","prescriptionList":{}}`},
		{"the body key twice", `{"statusCode":"0","prescriptionList":{},"prescriptionList":{}}`},
		{"a second value after the reply", `{"statusCode":"0","prescriptionList":{}} {}`},
		{"a negative statusCode", `{"statusCode":"-1","prescriptionList":{}}`},
	}
	for _, tt := range malformedCases {
		t.Run(tt.name+" is a malformed reply every time", func(t *testing.T) {
			for range tries {
				_, err := parseSearch([]byte(tt.body))
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want an *Error", err)
				}
				if e.Kind != ErrUpstream || e.StatusCode != "" || e.Reason != "malformed reply" {
					t.Fatalf("err = %v, want a malformed reply (kind %v, no statusCode)", err, ErrUpstream)
				}
			}
		})
	}

	t.Run("an exact envelope with the body first reads the same every time", func(t *testing.T) {
		body := []byte(`{"prescriptionList":{},"version":"1","reason":"","statusCode":"0"}`)
		for range tries {
			res, err := parseSearch(body)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(res.Prescriptions), 0; got != want {
				t.Fatalf("len(Prescriptions) = %d, want %d", got, want)
			}
		}
	})
	t.Run("an exact error envelope gives its statusCode every time", func(t *testing.T) {
		body := []byte(`{"reason":"Prescription not found","prescriptionList":{},"statusCode":"1"}`)
		for range tries {
			_, err := parseSearch(body)
			var e *Error
			if !errors.As(err, &e) || e.Kind != ErrNotFound || e.StatusCode != "1" {
				t.Fatalf("err = %v, want not found with statusCode 1", err)
			}
		}
	})
}
