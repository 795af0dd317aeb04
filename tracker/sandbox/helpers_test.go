package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed clock of most tests: every documented date is relative to it.
var testNow = time.Date(2025, 3, 14, 10, 30, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// spineHeaders are the headers EPSAPI's live client sends (SPEC 1.4).
func spineHeaders() http.Header {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("Spine-From-Asid", "200000000946")
	h.Set("Spine-UserId", "313175813564")
	h.Set("Spine-RoleProfileId", "562926913100")
	return h
}

// env is a sandbox served over real mutual TLS, and a client that holds the client certificate.
type env struct {
	srv    *Server
	client *http.Client
}

func startEnv(t *testing.T, o Options) *env {
	t.Helper()
	if o.Now == nil {
		o.Now = fixedClock
	}
	srv, err := Start(o, "")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	cfg, err := srv.Certs.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &env{srv: srv, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil unless the body is a JSON object
}

// get sends a GET with the standard Spine headers, changed by hdr (an empty value deletes a header).
func (e *env) get(t *testing.T, path string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = spineHeaders()
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return e.do(t, req)
}

func (e *env) do(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func searchPath(nhs string, extra ...string) string {
	return "/mm/prescriptions?nhsNumber=" + nhs + "&format=trace-summary" + strings.Join(extra, "")
}

func retrievePath(id string, extra ...string) string {
	return "/mm/prescriptions/" + url.PathEscape(id) + "?format=trace" + strings.Join(extra, "")
}

func (r response) str(key string) string { s, _ := r.body[key].(string); return s }

func (r response) obj(key string) map[string]any { m, _ := r.body[key].(map[string]any); return m }

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func readTestdata(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// idKey matches the keys of Spine's maps keyed by data: issue and line ordinals, line-item UUIDs and
// prescription IDs. Objects keyed so are compared by the shape of their values, not their keys.
var idKey = regexp.MustCompile(`^[0-9]+$|^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}[0-9A-Z+]?$|^[0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{5}[0-9A-Z+]$`)

func isIDMap(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !idKey.MatchString(k) {
			return false
		}
	}
	return true
}

// shapeDiff compares got with the real payload want: the same keys in every object, a string wherever
// want has a string, and for maps keyed by IDs or numbers every value of got shaped like every value
// of want. An empty object matches an empty object or an ID-keyed map.
func shapeDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case string:
		if _, ok := got.(string); !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T", path, got)}
		}
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", path, got)}
		}
		if isIDMap(w) || len(w) == 0 {
			if len(w) == 0 && len(g) > 0 && !isIDMap(g) {
				return []string{fmt.Sprintf("%s: want an empty or ID-keyed object, got keys %v", path, keys(g))}
			}
			if len(g) > 0 && !isIDMap(g) {
				return []string{fmt.Sprintf("%s: want an ID-keyed map, got keys %v", path, keys(g))}
			}
			var diffs []string
			for _, gk := range keys(g) {
				for _, wk := range keys(w) {
					diffs = append(diffs, shapeDiff(path+"."+gk, w[wk], g[gk])...)
				}
			}
			return diffs
		}
		if wk, gk := keys(w), keys(g); strings.Join(wk, ",") != strings.Join(gk, ",") {
			return []string{fmt.Sprintf("%s: keys differ:\n  want %v\n  got  %v", path, wk, gk)}
		}
		var diffs []string
		for k := range w {
			diffs = append(diffs, shapeDiff(path+"."+k, w[k], g[k])...)
		}
		return diffs
	default:
		return []string{fmt.Sprintf("%s: real payload has a %T", path, want)}
	}
}

// allStrings reports the paths of any scalar in v that is not a string.
func allStrings(path string, v any) []string {
	switch x := v.(type) {
	case string:
		return nil
	case map[string]any:
		var bad []string
		for k, e := range x {
			bad = append(bad, allStrings(path+"."+k, e)...)
		}
		return bad
	default:
		return []string{fmt.Sprintf("%s is %T", path, v)}
	}
}

// renameKey returns m with the key old renamed to new (for the 111 details, keyed by the ID itself).
func renameKey(m map[string]any, old, new string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == old {
			k = new
		}
		out[k] = v
	}
	return out
}

func TestShapeDiffNoticesDifferences(t *testing.T) {
	real := map[string]any{"a": "x", "issues": map[string]any{"1": map[string]any{"s": "y"}}}
	tests := []struct {
		name  string
		got   map[string]any
		diffs bool
	}{
		{"the same shape with other values and keys of an ID map passes", map[string]any{"a": "z", "issues": map[string]any{"2": map[string]any{"s": ""}, "3": map[string]any{"s": "q"}}}, false},
		{"an empty ID map passes", map[string]any{"a": "z", "issues": map[string]any{}}, false},
		{"a missing key fails", map[string]any{"issues": map[string]any{}}, true},
		{"an extra key fails", map[string]any{"a": "z", "b": "z", "issues": map[string]any{}}, true},
		{"a number for a string fails", map[string]any{"a": 1.0, "issues": map[string]any{}}, true},
		{"a wrong key inside an ID map's value fails", map[string]any{"a": "z", "issues": map[string]any{"1": map[string]any{"t": "y"}}}, true},
		{"named keys where an ID map belongs fail", map[string]any{"a": "z", "issues": map[string]any{"one": map[string]any{"s": "y"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := shapeDiff("$", real, tt.got); (len(d) > 0) != tt.diffs {
				t.Errorf("diffs %v, want some: %v", d, tt.diffs)
			}
		})
	}
}
