package tracker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Spine's JSON is read with encoding/json/v2 (github.com/go-json-experiment/json, the standard
// library's encoding/json/v2 as a module until Go 1.27) set to encoding/json's own semantics: names
// matched without regard to case, a repeated name's last value kept, invalid UTF-8 replaced; its
// engine is the faster (see BenchmarkParseSearch). wireReader lets the tests run encoding/json itself beside it (reference_test.go), and they
// require the same answer for every payload, every seed and every fuzzed input. One difference is
// known and kept: v2 counts nesting depth (at most 10,000) from the top of the reply, where
// encoding/json's Decoder counted it afresh in each top-level value, so a reply nested some 10,000
// deep is malformed here and was not there.
var wireOptions = jsonv1.DefaultOptionsV1()

// wireReader is how the parse functions read JSON: the envelope, then the body into the wire shapes.
type wireReader struct {
	envelope  func(interaction string, data []byte) (*envelope, error)
	unmarshal func(data []byte, v any) error
}

// wireJSON is the reader the client uses.
var wireJSON = wireReader{envelope: decodeEnvelope, unmarshal: unmarshalWire}

func unmarshalWire(data []byte, v any) error { return jsonv2.Unmarshal(data, v, wireOptions) }

// envelope is a Spine reply's top level: statusCode, reason and version, and the body under a key
// that depends on the interaction. The parts come in any order.
type envelope struct {
	statusCode int
	reason     string
	fields     map[string]jsontext.Value // every other key's value, as sent
}

// envelopeKeys are the top-level keys Spine spells one way. A key that differs from one of them only
// in case or surrounding space is not Spine's: matching it loosely would let an ambiguous reply such
// as {"statusCode":"0","StatusCode":"5"} be read either way, so it makes the reply malformed.
var envelopeKeys = []string{"statusCode", "reason", "version"}

// decodeEnvelope reads the top level of a reply, key by key in the order sent, so that the outcome
// never depends on map order. A key sent twice is malformed: which one Spine meant is unknowable. A
// non-zero statusCode comes back as an *Error of the matching kind, so no caller can mistake an
// error reply for data. The values it keeps are slices of data, not copies.
func decodeEnvelope(interaction string, data []byte) (*envelope, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), wireOptions) // reads data in place
	tok, err := dec.ReadToken()
	switch {
	case err != nil:
		return nil, malformed(interaction, err)
	case tok.Kind() == 'n':
		return nil, malformed(interaction, errors.New("reply is null"))
	case tok.Kind() != '{':
		return nil, malformed(interaction, errors.New("reply is not a JSON object"))
	}
	env := &envelope{fields: map[string]jsontext.Value{}}
	var status text
	seen := map[string]bool{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken() // a name, or the error that stopped PeekKind
		if err != nil {
			return nil, malformed(interaction, err)
		}
		k := name.String()
		v, err := dec.ReadValue()
		if err != nil {
			return nil, malformed(interaction, err)
		}
		// The value as a slice of data itself (ReadValue's may be the decoder's buffer), capped so
		// that no append can write over the rest of the reply.
		end := dec.InputOffset()
		v = data[end-int64(len(v)) : end : end]
		// Keys are trimmed because the published search example prints `" prescriptionList"`
		// (SPEC 8, examples/README.md). That is most likely a documentation typo, but no key Spine
		// uses has surrounding space, so accepting it for a body key cannot misread a reply.
		key := strings.TrimSpace(k)
		if seen[key] {
			// Not named: the 111 details page keys its body by prescription ID.
			return nil, malformed(interaction, errors.New("a key appears twice"))
		}
		seen[key] = true
		if i := slices.IndexFunc(envelopeKeys, func(e string) bool { return strings.EqualFold(e, key) }); i >= 0 && k != envelopeKeys[i] {
			return nil, malformed(interaction, fmt.Errorf("key %q is not spelt %q", k, envelopeKeys[i]))
		}
		switch key {
		case "statusCode":
			err = unmarshalWire(v, &status)
		case "reason":
			var reason text
			err = unmarshalWire(v, &reason)
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
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return nil, malformed(interaction, err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, malformed(interaction, errors.New("data after the reply"))
	}
	if err := env.status(interaction, status); err != nil {
		return nil, err
	}
	return env, nil
}

// status reads the statusCode. Success is "0", or "" on the 111 pages (SPEC 3); anything else is
// an *Error of the matching kind.
func (env *envelope) status(interaction string, status text) error {
	if status != "" {
		code, err := strconv.Atoi(string(status))
		if err != nil || code < 0 {
			return malformed(interaction, fmt.Errorf("statusCode %q is not a number", status))
		}
		env.statusCode = code
	}
	if env.statusCode != 0 {
		return &Error{
			Kind:        statusKind(interaction, env.statusCode),
			Interaction: interaction,
			StatusCode:  string(status),
			Reason:      env.reason,
		}
	}
	return nil
}

// body returns the first of keys present in the reply.
func (env *envelope) body(keys ...string) (jsontext.Value, bool) {
	for _, k := range keys {
		if v, ok := env.fields[k]; ok {
			return v, true
		}
	}
	return nil, false
}

// isEmptyObject reports whether raw, a valid JSON value, is an object with no member.
func isEmptyObject(raw jsontext.Value) bool {
	b := bytes.Trim(raw, " \t\r\n")
	return len(b) >= 2 && b[0] == '{' && len(bytes.TrimLeft(b[1:], " \t\r\n")) == 1
}

// malformed is the error for a reply this package cannot read.
func malformed(interaction string, err error) *Error {
	return &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "malformed reply", Err: parseFault{err}}
}

// parseFault is a JSON parser's error told without its path. Spine keys its lists by prescription
// ID (a search's prescriptionList, the 111 pages), and the parser quotes the path to a fault
// ("/prescriptionList/<ID>/issues", "Go struct field .<ID>.issues"), so its text would carry an ID
// into the log. What is kept is the kind of fault and its byte offset; the parser's error stays
// reachable through Unwrap. This package's own texts name no identifier, and are kept.
type parseFault struct{ err error }

func (f parseFault) Error() string {
	var (
		syn *jsontext.SyntacticError
		sem *jsonv2.SemanticError
		typ *jsonv1.UnmarshalTypeError
	)
	switch {
	case errors.As(f.err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d", syn.ByteOffset)
	case errors.As(f.err, &sem):
		return fmt.Sprintf("a %s where another type was wanted, at byte %d", sem.JSONKind, sem.ByteOffset)
	case errors.As(f.err, &typ):
		return fmt.Sprintf("a JSON %s where another type was wanted, at byte %d", typ.Value, typ.Offset)
	case errors.Is(f.err, io.ErrUnexpectedEOF):
		return "cut short"
	}
	return f.err.Error()
}

func (f parseFault) Unwrap() error { return f.err }
