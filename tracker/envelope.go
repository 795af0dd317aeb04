package tracker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// envelope is a Spine reply's top level: statusCode, reason and version, and the body under a key
// that depends on the interaction. The parts come in any order.
type envelope struct {
	statusCode int
	reason     string
	fields     map[string]json.RawMessage // every other key, whitespace-trimmed
}

// envelopeKeys are the top-level keys Spine spells one way. A key that differs from one of them only
// in case or surrounding space is not Spine's: matching it loosely would let an ambiguous reply such
// as {"statusCode":"0","StatusCode":"5"} be read either way, so it makes the reply malformed.
var envelopeKeys = []string{"statusCode", "reason", "version"}

// decodeEnvelope reads the top level of a reply, key by key in the order sent, so that the outcome
// never depends on map order. A key sent twice is malformed: which one Spine meant is unknowable. A
// non-zero statusCode comes back as an *Error of the matching kind, so no caller can mistake an
// error reply for data.
func decodeEnvelope(interaction string, data []byte) (*envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(interaction, err)
	}
	if tok == nil {
		return nil, malformed(interaction, errors.New("reply is null"))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, malformed(interaction, errors.New("reply is not a JSON object"))
	}
	env := &envelope{fields: map[string]json.RawMessage{}}
	var status text
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(interaction, err)
		}
		k, _ := tok.(string) // inside an object the decoder only yields string keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(interaction, err)
		}
		// Keys are trimmed because the published search example prints `" prescriptionList"`
		// (SPEC 8, examples/README.md). That is most likely a documentation typo, but no key Spine
		// uses has surrounding space, so accepting it for a body key cannot misread a reply.
		key := strings.TrimSpace(k)
		if seen[key] {
			return nil, malformed(interaction, fmt.Errorf("key %q appears twice", key))
		}
		seen[key] = true
		if i := slices.IndexFunc(envelopeKeys, func(e string) bool { return strings.EqualFold(e, key) }); i >= 0 && k != envelopeKeys[i] {
			return nil, malformed(interaction, fmt.Errorf("key %q is not spelt %q", k, envelopeKeys[i]))
		}
		switch key {
		case "statusCode":
			err = json.Unmarshal(v, &status)
		case "reason":
			var reason text
			err = json.Unmarshal(v, &reason)
			env.reason = string(reason)
		case "version":
			// "1" or "1.0": nothing depends on it.
		default:
			env.fields[key] = v
		}
		if err != nil {
			return nil, malformed(interaction, fmt.Errorf("%s: %w", key, err))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed(interaction, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed(interaction, errors.New("data after the reply"))
	}
	// Success is "0", or "" on the 111 pages (SPEC 3).
	if status != "" {
		code, err := strconv.Atoi(string(status))
		if err != nil || code < 0 {
			return nil, malformed(interaction, fmt.Errorf("statusCode %q is not a number", status))
		}
		env.statusCode = code
	}
	if env.statusCode != 0 {
		return nil, &Error{
			Kind:        statusKind(interaction, env.statusCode),
			Interaction: interaction,
			StatusCode:  string(status),
			Reason:      env.reason,
		}
	}
	return env, nil
}

// body returns the first of keys present in the reply.
func (env *envelope) body(keys ...string) (json.RawMessage, bool) {
	for _, k := range keys {
		if v, ok := env.fields[k]; ok {
			return v, true
		}
	}
	return nil, false
}

// malformed is the error for a reply this package cannot read.
func malformed(interaction string, err error) *Error {
	return &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "malformed reply", Err: err}
}
