package routes

import (
	"errors"
	"net/url"
	"strings"

	"github.com/nhs-eps/eps-fhir-tracker/mapping"
)

// parseQuery reads a raw query string exactly. net/url's parser drops a pair whose percent-encoding
// is broken, or that holds a ';', and carries on: for a search that means a filter silently lost
// and more answered than was asked for. Here every '&'-separated pair is kept or refused: a pair
// that cannot be decoded is a 400 naming the parameter. A ';' is an ordinary character (FHIR gives
// it no meaning), so it stays in the value, where the parameter's own rules judge it.
func parseQuery(raw string) (url.Values, error) {
	q := make(url.Values)
	var errs []error
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(rawKey)
		value, verr := url.QueryUnescape(rawValue)
		switch {
		case kerr != nil:
			errs = append(errs, &mapping.ParamError{Param: printableParam(rawKey),
				Msg: "The parameter's name has broken percent-encoding (a % must be followed by two hex digits): the request was not served."})
		case verr != nil:
			errs = append(errs, &mapping.ParamError{Param: key,
				Msg: "The value has broken percent-encoding (a % must be followed by two hex digits; write a literal % as %25): the request was not served."})
		default:
			q[key] = append(q[key], value)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return q, nil
}

// printableParam is a raw parameter name made safe to echo in an OperationOutcome: at most 64
// characters, and only what a parameter name is made of.
func printableParam(raw string) string {
	var b strings.Builder
	for _, r := range raw {
		if b.Len() >= 64 {
			break
		}
		if r == '-' || r == '_' || r == ':' || r == '.' || r == '%' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
