package tracker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unquoteSeeds are JSON strings of every kind: plain, escaped, control characters, invalid UTF-8,
// stray quotes, and not strings at all.
var unquoteSeeds = []string{
	`""`, `"0001"`, `"False"`, `" spaced "`, `"Not Found"`, `"café"`, `"\u00e9"`, `"a\"b"`, `"a\\b"`,
	`"a\nb"`, "\"a\tb\"", "\"a\x01b\"", "\"\xff\"", "\"\xc3\"", `"tab\t"`, `"\ud800"`, `"€"`, `"`, `"a"b"`,
	`x"a"`, `"a"x`, `123`, `null`,
}

// TestUnquoteIsEncodingJSON: the fast path answers what encoding/json answers, value and error alike.
func TestUnquoteIsEncodingJSON(t *testing.T) {
	inputs := append([]string(nil), unquoteSeeds...)
	// Every string value in the real Spine payloads.
	files, _ := filepath.Glob("testdata/spine/*/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			if s, ok := tok.(string); ok {
				q, _ := json.Marshal(s)
				inputs = append(inputs, string(q))
			}
		}
	}
	if len(inputs) < 500 {
		t.Fatalf("only %d strings: the payloads were not read", len(inputs))
	}
	for _, in := range inputs {
		checkUnquote(t, []byte(in))
	}
}

func checkUnquote(t *testing.T, b []byte) {
	t.Helper()
	var want string
	wantErr := json.Unmarshal(b, &want)
	got, err := unquote(b)
	if (err != nil) != (wantErr != nil) || (err == nil && got != want) {
		t.Errorf("unquote(%q) = %q, %v; encoding/json says %q, %v", b, got, err, want, wantErr)
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range unquoteSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkUnquote(t, b) })
}

// BenchmarkParseSearch parses a real Spine search reply.
func BenchmarkParseSearch(b *testing.B) {
	body, err := os.ReadFile("testdata/spine/spine-eps-tracker-docs/search_111branch_scenario1_acute_and_repeat.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseSearch(body); err != nil {
			b.Fatal(err)
		}
	}
}
