package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// jaegerTrace is the part of Jaeger's /api/traces JSON the checks read.
type jaegerTrace struct {
	TraceID string       `json:"traceID"`
	Spans   []jaegerSpan `json:"spans"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// tag returns a tag's value as text, and whether the span has it.
func (s jaegerSpan) tag(key string) (string, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) isError() bool {
	code, _ := s.tag("otel.status_code")
	errTag, _ := s.tag("error")
	return code == "ERROR" || errTag == "true"
}

type jaeger struct {
	base   string
	client *http.Client
}

func (j jaeger) get(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}

// awaitTrace fetches a trace until its checks pass or the deadline comes: spans arrive in batches,
// so an early fetch may hold only some of them. It returns the last fetch either way.
func (j jaeger) awaitTrace(ctx context.Context, s *step, deadline time.Time) (jaegerTrace, []byte, error) {
	var last jaegerTrace
	var lastBody []byte
	for {
		body, code, err := j.get(ctx, "/api/traces/"+s.traceID)
		if err == nil && code == http.StatusOK {
			var r struct{ Data []jaegerTrace }
			if err := json.Unmarshal(body, &r); err == nil && len(r.Data) == 1 {
				last, lastBody = r.Data[0], body
				if len(s.problems(last)) == 0 {
					return last, body, nil
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if lastBody == nil {
				return last, nil, fmt.Errorf("trace %s never arrived in Jaeger (last: HTTP %d %v)", s.traceID, code, err)
			}
			return last, lastBody, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// serviceTraces lists the service's recent traces through the search API.
func (j jaeger) serviceTraces(ctx context.Context, service string) (map[string]bool, []byte, error) {
	q := url.Values{"service": {service}, "limit": {"100"}, "lookback": {"1h"}}
	body, code, err := j.get(ctx, "/api/traces?"+q.Encode())
	if err != nil || code != http.StatusOK {
		return nil, body, fmt.Errorf("/api/traces?service=%s: HTTP %d %v", service, code, err)
	}
	var r struct{ Data []jaegerTrace }
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, body, fmt.Errorf("/api/traces?service=%s: %v", service, err)
	}
	ids := map[string]bool{}
	for _, t := range r.Data {
		ids[strings.TrimLeft(t.TraceID, "0")] = true
		ids[t.TraceID] = true
	}
	return ids, body, nil
}

// The expectations. Each returns what is wrong with a trace; none means it is as it should be.

func serverSpan(t jaegerTrace, route string) (jaegerSpan, []string) {
	want := "GET " + route
	for _, s := range t.Spans {
		if kind, _ := s.tag("span.kind"); kind == "server" {
			var p []string
			if s.OperationName != want {
				p = append(p, fmt.Sprintf("server span named %q, want %q", s.OperationName, want))
			}
			if r, _ := s.tag("http.route"); r != route {
				p = append(p, fmt.Sprintf("server span http.route = %q, want %q", r, route))
			}
			if got, want := tagOr(s, epsTraceID), epsTraceIDOf(t.TraceID); got != want {
				p = append(p, fmt.Sprintf("server span %s = %q, want %q (base32 of the trace id)", epsTraceID, got, want))
			}
			return s, p
		}
	}
	return jaegerSpan{}, []string{"no server span"}
}

func tagOr(s jaegerSpan, key string) string { v, _ := s.tag(key); return v }

func spansWithPrefix(t jaegerTrace, prefix string) []jaegerSpan {
	var out []jaegerSpan
	for _, s := range t.Spans {
		if strings.HasPrefix(s.OperationName, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func needSpine(t jaegerTrace, tags ...string) []string {
	spine := spansWithPrefix(t, spinePrefix)
	if len(spine) == 0 {
		return []string{"no " + spinePrefix + "* span (the Spine call)"}
	}
	var p []string
	for _, key := range tags {
		if _, ok := spine[0].tag(key); !ok {
			p = append(p, fmt.Sprintf("span %s lacks %s", spine[0].OperationName, key))
		}
	}
	return p
}

func needCacheResult(t jaegerTrace, want string) []string {
	for _, s := range spansWithPrefix(t, cachePrefix) {
		if v, _ := s.tag("cache.result"); v == want {
			return nil
		}
	}
	return []string{fmt.Sprintf("no %s* span with cache.result=%s", cachePrefix, want)}
}

func needSpan(t jaegerTrace, prefix string) []string {
	if len(spansWithPrefix(t, prefix)) == 0 {
		return []string{"no " + prefix + " span"}
	}
	return nil
}

func expectMiss(t jaegerTrace) []string {
	_, p := serverSpan(t, searchRoute)
	p = append(p, needCacheResult(t, "miss")...)
	p = append(p, needSpine(t, spineTags...)...)
	p = append(p, needSpan(t, mappingSpan)...)
	return append(p, needSpan(t, marshalSpan)...)
}

// expectHit: a repeated identical search is answered from the cache: no Spine call, and any cache
// result recorded says hit.
func expectHit(t jaegerTrace) []string {
	_, p := serverSpan(t, searchRoute)
	if n := len(spansWithPrefix(t, spinePrefix)); n > 0 {
		p = append(p, fmt.Sprintf("%d %s* spans: a cache hit must not call Spine", n, spinePrefix))
	}
	for _, s := range t.Spans {
		if v, ok := s.tag("cache.result"); ok && v != "hit" {
			p = append(p, fmt.Sprintf("span %s has cache.result=%s, want hit", s.OperationName, v))
		}
	}
	return p
}

// expectRead: the search before it may already have retrieved the prescription, so the read is a
// Spine call or a cache hit, either way marshalled.
func expectRead(t jaegerTrace) []string {
	_, p := serverSpan(t, readRoute)
	if needCacheResult(t, "hit") != nil {
		p = append(p, needSpine(t, spineTags...)...)
	}
	return append(p, needSpan(t, marshalSpan)...)
}

func expectFault(t jaegerTrace) []string {
	server, p := serverSpan(t, searchRoute)
	if !server.isError() {
		p = append(p, "server span of a 5xx is not marked as an error")
	}
	// An HTTP 500 without JSON has no Spine statusCode to record.
	p = append(p, needSpine(t, "spine.interaction", "http.response.status_code", "spine.retries")...)
	for _, s := range spansWithPrefix(t, spinePrefix) {
		if !s.isError() {
			p = append(p, fmt.Sprintf("span %s of a failed Spine call is not an error", s.OperationName))
		}
		if got := tagOr(s, "http.response.status_code"); got != "500" {
			p = append(p, fmt.Sprintf("span %s http.response.status_code = %q, want 500", s.OperationName, got))
		}
		break
	}
	return p
}
