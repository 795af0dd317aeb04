package tracker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

// The reference: how this package read Spine's JSON before encoding/json/v2, with encoding/json
// itself. The tests hold the v2 reader to its answers: a reply one accepts the other accepts with the
// same result, a reply one refuses the other refuses with the same kind of error.
//
// The methods below are declared only in the tests. In the test binary text and wireOrg therefore
// have both an UnmarshalJSON (which encoding/json calls) and an UnmarshalJSONFrom (which v2 prefers,
// as the adapter's own binary does, where only that one exists).
var encodingJSON = wireReader{envelope: decodeEnvelopeV1, unmarshal: json.Unmarshal}

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(strings.TrimSpace(s))
	case string(b) == "null":
		*t = ""
	case b[0] == '{' || b[0] == '[':
		return errors.New("want a string, got an object or array")
	default:
		*t = text(b)
	}
	return nil
}

func (o *wireOrg) UnmarshalJSON(b []byte) error {
	var t text
	if err := json.Unmarshal(b, &t); err == nil {
		if absent(t) != "" {
			return fmt.Errorf("organisation %q is not an object", t)
		}
		*o = wireOrg{}
		return nil
	}
	type plain wireOrg // without this method
	return json.Unmarshal(b, (*plain)(o))
}

// decodeEnvelopeV1 is decodeEnvelope as it was, on encoding/json's Decoder.
func decodeEnvelopeV1(interaction string, data []byte) (*envelope, error) {
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
	env := &envelope{fields: map[string]jsontext.Value{}}
	var status text
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(interaction, err)
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(interaction, err)
		}
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
		default:
			env.fields[key] = jsontext.Value(v)
		}
		if err != nil {
			return nil, malformed(interaction, fmt.Errorf("%s: %w", key, err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(interaction, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed(interaction, errors.New("data after the reply"))
	}
	if err := env.status(interaction, status); err != nil {
		return nil, err
	}
	return env, nil
}

// sameAsReference parses data with both readers and fails the test unless they agree: both succeed
// with equal results, or both fail with the same kind of error, the same statusCode and reason.
func sameAsReference[T any](t *testing.T, data []byte, parse func(wireReader) (*T, error)) {
	t.Helper()
	want, wantErr := parse(encodingJSON)
	got, err := parse(wireJSON)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("encoding/json/v2 says %v; encoding/json says %v\ninput: %q", err, wantErr, data)
	}
	if err != nil {
		var e, w *Error
		if !errors.As(err, &e) || !errors.As(wantErr, &w) {
			t.Fatalf("errors %v and %v are not both *Error", err, wantErr)
		}
		if e.Kind != w.Kind || e.StatusCode != w.StatusCode || e.Reason != w.Reason || e.Interaction != w.Interaction {
			t.Fatalf("encoding/json/v2 says %+v; encoding/json says %+v\ninput: %q", e, w, data)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("encoding/json/v2 reads differently (-encoding/json +v2):\n%s\ninput: %q", diff, data)
	}
}

// sameForEveryInteraction holds data to the reference as each interaction's reply.
func sameForEveryInteraction(t *testing.T, data []byte, wantID string) {
	t.Helper()
	sameAsReference(t, data, func(r wireReader) (*SearchResult, error) { return r.search(data) })
	sameAsReference(t, data, func(r wireReader) (*Prescription, error) { return r.retrieve(data) })
	sameAsReference(t, data, func(r wireReader) (*ItemSummaryResult, error) { return r.itemSummary(data) })
	sameAsReference(t, data, func(r wireReader) (*PrescriptionDetail, error) { return r.itemDetails(data, wantID) })
	_, err := decodeEnvelope(interactionSearch, data)
	_, wantErr := decodeEnvelopeV1(interactionSearch, data)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("envelope: encoding/json/v2 says %v; encoding/json says %v\ninput: %q", err, wantErr, data)
	}
}

// TestWireJSONIsEncodingJSON: every real payload, every fuzz seed of every interaction, and variants
// of the real payloads that change one thing at a time (case, repeated names, escapes, invalid
// UTF-8, nulls and other types where strings belong, whitespace, truncation) read the same with both.
func TestWireJSONIsEncodingJSON(t *testing.T) {
	var inputs [][]byte
	files, _ := filepath.Glob("testdata/spine/*/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	if len(inputs) < 20 {
		t.Fatalf("only %d payloads: the fixtures were not read", len(inputs))
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzParse*/*")
	for _, f := range seeds {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, seedValues(t, b)...)
	}
	given := len(inputs)
	for _, b := range inputs[:given] {
		inputs = append(inputs, variants(b)...)
	}
	t.Logf("%d inputs (%d payloads and seeds, %d variants)", len(inputs), given, len(inputs)-given)
	for _, b := range inputs {
		sameForEveryInteraction(t, b, "")
	}
}

// variants are b with one kind of change applied everywhere.
func variants(b []byte) [][]byte {
	s := string(b)
	edits := [][2]string{
		{`"statusCode"`, `"StatusCode"`}, {`"statusText"`, `"STATUSTEXT"`}, {`"issues"`, `"Issues"`},
		{`"lineItems"`, `"LINEITEMS"`}, {`"prescriptionStatus"`, `"prescriptionstatus"`},
		{`"0007"`, `"\u0030007"`}, {`"0007"`, `" 0007\t"`}, {`"1"`, `" 1 "`}, {`"False"`, `"\u0020False"`}, {`"False"`, `null`}, {`"False"`, `false`}, {`"1"`, `1`}, {`"1"`, `1e0`},
		{`"True"`, `true`}, {`"0"`, `[]`}, {`"0"`, `{}`}, {`":"`, `" : "`}, {`":{"`, `":{ "`}, {`,"`, "\n,\t\""},
		{`"Not Found"`, "\"Not \xff Found\""}, {`"name"`, `"na\u006De"`}, {`Dispensed`, `Dis\"pensed`},
		{`{}`, `null`}, {`"issue":{`, `"issue":null,"x":{`}, {`"prescriber":{`, `"prescriber":"False","p":{`},
		{`"ods":`, `"ods":"A","ods":`}, {`"statusText":`, `"statusText":"x","statusText":`},
		{`}}`, `},"1":{}}`}, {`"lineItems":{`, `"lineItems":{"":{},`},
	}
	var out [][]byte
	for _, e := range edits {
		if strings.Contains(s, e[0]) {
			out = append(out, []byte(strings.ReplaceAll(s, e[0], e[1])))
		}
	}
	for _, cut := range []int{len(b) / 2, len(b) - 1} {
		if cut > 0 {
			out = append(out, b[:cut])
		}
	}
	return append(out, append(bytes.Clone(b), ` {}`...), append([]byte(" \n"), b...))
}

// seedValues reads the []byte values of a go test fuzz corpus file ("go test fuzz v1" then one
// value per line).
func seedValues(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if v, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
			if err != nil {
				t.Fatalf("corpus line %q: %v", line, err)
			}
			out = append(out, []byte(s))
		}
	}
	return out
}

// BenchmarkParseSearch parses the sandbox's search reply for its patient with 60 line items
// (load/run.sh's search), with each reader.
func BenchmarkParseSearch(b *testing.B) {
	body, err := os.ReadFile("testdata/sandbox/search_60_items.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []struct {
		name   string
		reader wireReader
	}{{"encoding-json", encodingJSON}, {"v2", wireJSON}} {
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.reader.search(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
