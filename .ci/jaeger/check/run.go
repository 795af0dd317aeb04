package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// What the wired adapter's traces must hold. The names are those routes, cache and tracker use;
// change them here and in docs/telemetry.md together.
const (
	searchRoute  = "/FHIR/R4/MedicationRequest"
	readRoute    = "/FHIR/R4/MedicationRequest/:id"
	cachePrefix  = "cache."       // cache.Search, cache.Retrieve...: tag cache.result
	spinePrefix  = "spine."       // spine.<interaction>: the tags in spineTags
	mappingSpan  = "mapping."     // mapping.collect, mapping.bundle
	marshalSpan  = "fhir.marshal" // FHIR JSON
	epsTraceID   = "eps.trace_id" // on the server span
	faultPatient = sandbox.PatientFaultHTTP500
)

var spineTags = []string{"spine.interaction", "http.response.status_code", "spine.status_code", "spine.retries"}

// prescriptionIDs finds short- and long-form prescription IDs in an answer, to forbid them too.
var prescriptionIDs = regexp.MustCompile(`[0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{5}[0-9A-Z+]|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}[0-9A-Z+]`)

type step struct {
	name     string
	path     string
	route    string
	traceID  string
	status   int
	problems func(t jaegerTrace) []string
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fhirURL := fs.String("fhir", "", "the adapter's base URL, e.g. http://127.0.0.1:8080")
	jaegerURL := fs.String("jaeger", "", "Jaeger's query API, e.g. http://127.0.0.1:16686")
	service := fs.String("service", "", "OTEL_SERVICE_NAME the adapter runs with")
	token := fs.String("token", "", "bearer token, when the adapter requires one")
	timeout := fs.Duration("timeout", 60*time.Second, "how long traces may take to arrive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	patient := sandbox.PatientAcuteAndRepeat
	forbidden := []string{patient, faultPatient}

	search := searchRoute + "?patient=" + patient
	steps := []*step{
		{name: "search (cache miss)", path: search, route: searchRoute, problems: expectMiss},
		{name: "same search (cache hit)", path: search, route: searchRoute, problems: expectHit},
		{name: "read", route: readRoute, problems: expectRead},
		{name: "fault patient (Spine HTTP 500)", path: searchRoute + "?patient=" + faultPatient, route: searchRoute, problems: expectFault},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var problems []string
	for _, s := range steps {
		if s.route == readRoute {
			if s.path == "" {
				return fmt.Errorf("no MedicationRequest id in the search answer to read")
			}
		}
		body, problem, err := send(ctx, client, *fhirURL, *token, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if problem != "" {
			problems = append(problems, s.name+": "+problem)
		}
		fmt.Printf("  %-32s HTTP %d trace %s\n", s.name, s.status, s.traceID)
		if s.route == searchRoute && s.status == http.StatusOK && steps[2].path == "" {
			ids := prescriptionIDs.FindAllString(string(body), -1)
			forbidden = append(forbidden, ids...)
			if id := firstMedicationRequestID(body); id != "" {
				steps[2].path = searchRoute + "/" + url.PathEscape(id)
				forbidden = append(forbidden, id)
			}
		}
	}
	wantStatus := []func(int) bool{is(200), is(200), is(200), func(c int) bool { return c >= 500 }}
	for i, s := range steps {
		if !wantStatus[i](s.status) {
			problems = append(problems, fmt.Sprintf("%s: HTTP %d", s.name, s.status))
		}
	}

	j := jaeger{base: *jaegerURL, client: client}
	deadline := time.Now().Add(*timeout)
	var raw [][]byte
	for _, s := range steps {
		t, body, err := j.awaitTrace(ctx, s, deadline)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		raw = append(raw, body)
		fmt.Printf("  %-32s %s\n", s.name, spanSummary(t))
		for _, p := range s.problems(t) {
			problems = append(problems, fmt.Sprintf("%s (trace %s): %s", s.name, s.traceID, p))
		}
	}
	listed, body, err := j.serviceTraces(ctx, *service)
	if err != nil {
		problems = append(problems, err.Error())
	}
	raw = append(raw, body)
	for _, s := range steps {
		if !listed[s.traceID] {
			problems = append(problems, fmt.Sprintf("%s: trace %s not listed by /api/traces?service=%s", s.name, s.traceID, *service))
		}
	}
	for _, p := range leaks(raw, forbidden) {
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Printf("  all %d traces arrived with the expected spans; no identifier (%d checked, every encoding) in them\n", len(steps), len(forbidden))
	return nil
}

func is(want int) func(int) bool { return func(got int) bool { return got == want } }

// send makes one request with its own sampled traceparent, so the trace can be fetched by id, and
// checks the traceresponse header names the same trace.
func send(ctx context.Context, client *http.Client, base, token string, s *step) (body []byte, problem string, err error) {
	var tid [16]byte
	var sid [8]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	s.traceID = hex.EncodeToString(tid[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+s.path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("traceparent", "00-"+s.traceID+"-"+hex.EncodeToString(sid[:])+"-01")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	s.status = resp.StatusCode
	if tr := resp.Header.Get("traceresponse"); !strings.HasPrefix(tr, "00-"+s.traceID+"-") {
		problem = fmt.Sprintf("traceresponse %q does not continue trace %s", tr, s.traceID)
	}
	return body, problem, err
}

func firstMedicationRequestID(bundle []byte) string {
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(bundle, &b) != nil {
		return ""
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == "MedicationRequest" {
			return e.Resource.ID
		}
	}
	return ""
}

// leaks looks for every spelling of every identifier in the raw JSON Jaeger returned: plain, lower
// case, percent-encoded (+ as %2B, | as %7C before it), a read id's '.' for '+', and the ID without
// its check character.
func leaks(raw [][]byte, ids []string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, id := range ids {
		forms := []string{id, strings.ToLower(id), url.QueryEscape(id), url.PathEscape(id), "%7C" + url.QueryEscape(id),
			strings.ReplaceAll(id, "+", "."), id[:len(id)-1]}
		for _, f := range forms {
			if seen[f] {
				continue
			}
			seen[f] = true
			for _, b := range raw {
				if strings.Contains(strings.ToLower(string(b)), strings.ToLower(f)) {
					problems = append(problems, fmt.Sprintf("identifier %q (as %q) appears in Jaeger's traces", redact(id), redact(f)))
					break
				}
			}
		}
	}
	return problems
}

// redact keeps the check script's own output free of whole identifiers.
func redact(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return s[:2] + strings.Repeat("*", len(s)-4) + s[len(s)-2:]
}

// epsTraceIDOf is the Eps-TraceId the adapter must derive from a trace id.
func epsTraceIDOf(traceID string) string {
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return ""
	}
	return telemetry.EpsTraceID(tid)
}

// spanSummary lists a trace's span names as a tree, so the log shows what a trace looks like.
func spanSummary(t jaegerTrace) string {
	children := map[string][]jaegerSpan{}
	ids := map[string]bool{}
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var roots []jaegerSpan
	for _, s := range t.Spans {
		if p := s.parent(); p != "" && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s jaegerSpan)
	walk = func(s jaegerSpan) {
		b.WriteString(s.OperationName)
		if kids := children[s.SpanID]; len(kids) > 0 {
			b.WriteString(" [")
			for i, k := range kids {
				if i > 0 {
					b.WriteString(", ")
				}
				walk(k)
			}
			b.WriteString("]")
		}
	}
	for i, r := range roots {
		if i > 0 {
			b.WriteString("; ")
		}
		walk(r)
	}
	return b.String()
}
