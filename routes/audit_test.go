package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// auditDateLimit is the snapshot bound (date=lt...) a first AuditEvent page's self link carries.
func auditDateLimit(t *testing.T, page answer) string {
	t.Helper()
	u, err := url.Parse(link(page.JSON, "self"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range u.Query()["date"] {
		if v, ok := strings.CutPrefix(d, "lt"); ok {
			return v
		}
	}
	t.Fatalf("the self link %s carries no snapshot bound", u)
	return ""
}

// lastRecord is the newest audit record.
func (a *adapter) lastRecord(t *testing.T) audit.Record {
	t.Helper()
	recs := a.auditRecords(t)
	if len(recs) == 0 {
		t.Fatal("no audit record")
	}
	return recs[len(recs)-1]
}

func TestEveryAttemptAtPatientDataIsAudited(t *testing.T) {
	a := start(t, setup{})
	nhs := sandbox.PatientAcuteAndRepeat

	t.Run("an answered search records who, what, the patient and the prescriptions shown", func(t *testing.T) {
		got := a.get(t, search(nhs), "X-Request-ID", "audit-test-1")
		if got.Status != http.StatusOK {
			t.Fatalf("status %d", got.Status)
		}
		r := a.lastRecord(t)
		if r.UserID != prescriber || r.RoleProfileID != "666666666666" || r.OrgCode != "A83008" || r.ClientID == "" {
			t.Errorf("who: %+v", r.Event)
		}
		if r.Interaction != "search" || r.ResourceType != "MedicationRequest" || r.PatientNHS != nhs || r.Status != 200 || r.Outcome != "" {
			t.Errorf("what: %+v", r.Event)
		}
		if r.RequestID != "audit-test-1" || !strings.Contains(r.Query, "patient:identifier=") || r.ClientAddr != "127.0.0.1" {
			t.Errorf("request: id %q query %q addr %q", r.RequestID, r.Query, r.ClientAddr)
		}
		var shown []string
		for _, e := range entries(got.JSON, "match") {
			gi := resource(e)["groupIdentifier"].(map[string]any)["value"].(string)
			if !slices.Contains(shown, gi) {
				shown = append(shown, gi)
			}
		}
		slices.Sort(shown)
		ids := slices.Clone(r.PrescriptionIDs)
		slices.Sort(ids)
		if len(shown) == 0 || !slices.Equal(shown, ids) {
			t.Errorf("prescriptions recorded %v, shown %v", ids, shown)
		}
	})
	t.Run("a 304 is audited", func(t *testing.T) {
		first := a.get(t, search(nhs))
		got := a.get(t, search(nhs), "If-None-Match", first.Header.Get("ETag"))
		if got.Status != http.StatusNotModified {
			t.Fatalf("status %d, want 304", got.Status)
		}
		if r := a.lastRecord(t); r.Status != 304 || r.PatientNHS != nhs {
			t.Errorf("record %+v", r.Event)
		}
	})
	t.Run("a refusal is audited", func(t *testing.T) {
		a.get(t, search(nhs), "Authorization", "")
		if r := a.lastRecord(t); r.Status != 401 || r.Outcome != "login" && r.Outcome != "security" || r.UserID != "" {
			t.Errorf("401 record %+v", r.Event)
		}
		a.get(t, search(nhs), "Authorization", "Bearer "+a.tokenFor(t, administrator))
		if r := a.lastRecord(t); r.Status != 403 || r.Outcome != "forbidden" || r.UserID != administrator {
			t.Errorf("403 record %+v", r.Event)
		}
	})
	t.Run("a refused attempt names the patient or prescription it asked for", func(t *testing.T) {
		admin := "Bearer " + a.tokenFor(t, administrator)
		for _, tc := range []struct {
			path, auth, patient, rx string
		}{
			{search(nhs), "", nhs, ""},
			{search(nhs), admin, nhs, ""},
			{"/Patient/" + nhs, admin, nhs, ""},
			{"/MedicationRequest/48A894-C86002-00009E-1-1", admin, "", "48A894-C86002-00009E"},
			{"/MedicationDispense/d-48A894-C86002-00009E-1-1", "", "", "48A894-C86002-00009E"},
			{"/MedicationRequest?group-identifier=A3B4D9-Z42475-11E6B%2B", admin, "", "A3B4D9-Z42475-11E6B+"},
			{search(nhs) + "&_page=", admin, nhs, ""}, // an empty _page is a new search
			{"/AuditEvent?patient=" + nhs, "", nhs, ""},
		} {
			got := a.get(t, tc.path, "Authorization", tc.auth)
			r := a.lastRecord(t)
			if got.Status != 401 && got.Status != 403 || r.Status != got.Status {
				t.Errorf("%s: status %d, recorded %d; want a refusal recorded", tc.path, got.Status, r.Status)
				continue
			}
			var rx string
			if len(r.PrescriptionIDs) == 1 {
				rx = r.PrescriptionIDs[0]
			}
			if r.PatientNHS != tc.patient || rx != tc.rx {
				t.Errorf("%s: recorded patient %q, prescriptions %v; want %q, %q", tc.path, r.PatientNHS, r.PrescriptionIDs, tc.patient, tc.rx)
			}
		}
	})
	t.Run("a token sent in the query is not kept in the trail", func(t *testing.T) {
		a.get(t, search(nhs)+"&access_token="+a.Token)
		a.get(t, search(nhs)+"&Access_Token="+a.Token, "Authorization", "")
		a.get(t, search(nhs)+"&access_token%="+a.Token, "Authorization", "") // a name that does not decode
		a.get(t, search(nhs)+"&access%5Ftoken="+a.Token, "Authorization", "")
		a.get(t, search(nhs)+"&x=1;access_token="+a.Token, "Authorization", "") // ";" as a separator
		recs := a.auditRecords(t)
		for _, r := range recs[len(recs)-5:] {
			if strings.Contains(r.Query, a.Token) || strings.Contains(r.Query, a.Token[:40]) || !strings.Contains(r.Query, "=redacted") {
				t.Errorf("recorded query %.200q keeps the token", r.Query)
			}
			if !strings.Contains(r.Query, "patient:identifier=") {
				t.Errorf("recorded query %.200q lost the rest of the request", r.Query)
			}
		}
	})
	t.Run("a read learns the patient from Spine", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest/48A894-C86002-00009E-1-1")
		if got.Status != http.StatusOK {
			t.Fatalf("status %d", got.Status)
		}
		r := a.lastRecord(t)
		if r.Interaction != "read" || r.PatientNHS != sandbox.PatientRepeatPrescribing || !slices.Equal(r.PrescriptionIDs, []string{"48A894-C86002-00009E"}) {
			t.Errorf("read record %+v", r.Event)
		}
	})
	t.Run("a group-identifier search learns the patient from Spine", func(t *testing.T) {
		a.get(t, "/MedicationRequest?group-identifier=A3B4D9-Z42475-11E6B%2B")
		if r := a.lastRecord(t); r.PatientNHS == "" || r.Status != 200 {
			t.Errorf("record %+v", r.Event)
		}
	})
	t.Run("a Patient read is audited", func(t *testing.T) {
		a.get(t, "/Patient/"+nhs)
		if r := a.lastRecord(t); r.ResourceType != "Patient" || r.PatientNHS != nhs || r.Status != 200 {
			t.Errorf("record %+v", r.Event)
		}
	})
	t.Run("the chain verifies", func(t *testing.T) {
		rep, err := a.Audit.Verify(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("chain broken: %+v", rep)
		}
	})
}

func TestNoPatientDataWithoutACommittedAuditRecord(t *testing.T) {
	a := start(t, setup{})
	if err := a.Audit.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{search(sandbox.PatientAcuteAndRepeat), "/MedicationRequest/48A894-C86002-00009E-1-1", "/Patient/" + sandbox.PatientAcuteAndRepeat} {
		got := a.get(t, path)
		if got.Status != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", path, got.Status)
			continue
		}
		if code := issue(t, got)["code"]; code != "transient" {
			t.Errorf("%s: issue code %v", path, code)
		}
		for _, leak := range []string{sandbox.PatientAcuteAndRepeat, "48A894", "MedicationRequest\""} {
			if strings.Contains(string(got.Body), leak) {
				t.Errorf("%s: the 503 carries %q: %s", path, leak, got.Body)
			}
		}
	}
}

func TestAuditorsReadTheTrail(t *testing.T) {
	a := start(t, setup{})
	nhs := sandbox.PatientAcuteAndRepeat
	a.get(t, search(nhs))
	a.get(t, search(sandbox.PatientRepeatPrescribing), "Authorization", "Bearer "+a.tokenFor(t, pharmacist))
	audTok := "Bearer " + a.tokenFor(t, auditor)

	for _, tc := range []struct {
		query string
		check func(r map[string]any) bool
	}{
		{"patient=Patient/" + nhs, func(r map[string]any) bool { return strings.Contains(jsonText(r), nhs) }},
		{"patient=" + nhs, func(r map[string]any) bool { return strings.Contains(jsonText(r), nhs) }},
		{"agent=" + pharmacist, func(r map[string]any) bool { return strings.Contains(jsonText(r), pharmacist) }},
		{"date=ge2000-01-01&agent=" + prescriber, func(r map[string]any) bool { return strings.Contains(jsonText(r), prescriber) }},
	} {
		got := a.get(t, "/AuditEvent?"+tc.query, "Authorization", audTok)
		if got.Status != http.StatusOK {
			t.Errorf("%s: status %d %s", tc.query, got.Status, got.Body)
			continue
		}
		es := entries(got.JSON, "match")
		if len(es) == 0 {
			t.Errorf("%s: no AuditEvent", tc.query)
		}
		for _, e := range es {
			if r := resource(e); r["resourceType"] != "AuditEvent" || !tc.check(r) {
				t.Errorf("%s: unexpected %v", tc.query, jsonText(r))
			}
		}
	}
	if r := a.lastRecord(t); r.ResourceType != "AuditEvent" || r.UserID != auditor || r.Status != 200 {
		t.Errorf("the auditor's read is not itself audited: %+v", r.Event)
	}
	// The auditor's record names the patient data the page showed, as any answer's record does.
	var prescriberRx []string
	for _, r := range a.auditRecords(t) {
		if r.UserID == prescriber && r.ResourceType == "MedicationRequest" {
			prescriberRx = append(prescriberRx, r.PrescriptionIDs...)
		}
	}
	a.get(t, "/AuditEvent?agent="+prescriber, "Authorization", audTok)
	if r := a.lastRecord(t); r.PatientNHS != nhs || len(prescriberRx) == 0 || !slices.Equal(r.PrescriptionIDs, prescriberRx) {
		t.Errorf("an auditor's page of one patient's records is recorded with patient %q and prescriptions %v, want %s and %v",
			r.PatientNHS, r.PrescriptionIDs, nhs, prescriberRx)
	}
	// A page of several patients is recorded once per patient (BALP), every record committed before
	// the page is sent, so that "who has seen this patient" finds the auditor's browse.
	before := len(a.auditRecords(t))
	page := a.get(t, "/AuditEvent?date=ge2000-01-01&_count=100", "Authorization", audTok, "X-Request-ID", "auditor-browse")
	wantRx := map[string][]string{} // patient -> prescriptions the page showed of that patient
	for _, e := range entries(page.JSON, "match") {
		r := resource(e)
		var patient string
		var rx []string
		for _, en := range r["entity"].([]any) {
			what, _ := en.(map[string]any)["what"].(map[string]any)
			ref, _ := what["reference"].(string)
			if p, ok := strings.CutPrefix(ref, "Patient/"); ok {
				patient = p
			}
			if id, ok := what["identifier"].(map[string]any); ok && strings.HasSuffix(fmt.Sprint(id["system"]), "prescription-order-number") {
				rx = append(rx, id["value"].(string))
			}
		}
		if patient != "" {
			for _, id := range rx {
				if !slices.Contains(wantRx[patient], id) {
					wantRx[patient] = append(wantRx[patient], id)
				}
			}
			if wantRx[patient] == nil {
				wantRx[patient] = []string{}
			}
		}
	}
	if len(wantRx) < 2 {
		t.Fatalf("the page shows %d patients: the test proves nothing", len(wantRx))
	}
	gotRx := map[string][]string{}
	for _, r := range a.auditRecords(t)[before:] {
		if r.RequestID != "auditor-browse" {
			continue
		}
		if r.UserID != auditor || r.ResourceType != "AuditEvent" || r.Status != 200 {
			t.Errorf("record of the browse %+v", r.Event)
		}
		if _, dup := gotRx[r.PatientNHS]; dup {
			t.Errorf("patient %q recorded twice for one page", r.PatientNHS)
		}
		gotRx[r.PatientNHS] = r.PrescriptionIDs
	}
	for patient, rx := range wantRx {
		got, ok := gotRx[patient]
		if !ok {
			t.Errorf("patient %s is on the page but in no record of the auditor's browse", patient)
			continue
		}
		for _, id := range rx {
			if !slices.Contains(got, id) {
				t.Errorf("patient %s: prescription %s shown but not recorded (recorded %v)", patient, id, got)
			}
		}
	}
	if got := a.get(t, "/AuditEvent?agent="+auditor+"&date=ge2000-01-01&_count=100", "Authorization", audTok); got.Status != http.StatusOK {
		t.Errorf("reading the auditor's own records: %d", got.Status)
	}
	got := a.get(t, "/AuditEvent?patient="+nhs)
	if got.Status != http.StatusForbidden {
		t.Errorf("a clinician reading the trail: %d, want 403", got.Status)
	}
	if r := a.lastRecord(t); r.ResourceType != "AuditEvent" || r.UserID != prescriber || r.Status != 403 {
		t.Errorf("the clinician's attempt is not audited: %+v", r.Event)
	}
	if got := a.get(t, "/AuditEvent?date=ge2000-01-01&_count=1", "Authorization", audTok); link(got.JSON, "next") == "" {
		t.Errorf("no next link over a trail of several records")
	}
	// Paging sees the trail as it was when the search began: records written between two pages (the
	// auditor's own read of page 1 among them) neither shift page 2 nor repeat an entry.
	first := a.get(t, "/AuditEvent?patient="+nhs+"&_count=2", "Authorization", audTok)
	a.get(t, search(nhs)) // a new access to the patient, newer than every record page 1 saw
	second := a.get(t, link(first.JSON, "next"), "Authorization", audTok)
	all := a.get(t, "/AuditEvent?patient="+nhs+"&_count=4&"+"date=lt"+url.QueryEscape(auditDateLimit(t, first)), "Authorization", audTok)
	if second.Status != http.StatusOK || total(second.JSON) != total(first.JSON) {
		t.Errorf("page 2: status %d, total %d; want 200 and page 1's total %d", second.Status, total(second.JSON), total(first.JSON))
	}
	if again := a.get(t, link(second.JSON, "self"), "Authorization", audTok, "Prefer", "handling=strict"); again.Status != http.StatusOK {
		t.Errorf("strict, page 2's own self link: status %d, want 200: %.300s", again.Status, again.Body)
	}
	// The bound comes from the trail alone: following page 1's self link again gives the same page,
	// a 304 for its ETag, and a self link that does not grow.
	selfLink := link(first.JSON, "self")
	again := a.get(t, selfLink, "Authorization", audTok)
	if link(again.JSON, "self") != selfLink || again.Header.Get("ETag") != first.Header.Get("ETag") {
		t.Errorf("page 1 again: self %q (was %q), ETag %q (was %q)", link(again.JSON, "self"), selfLink, again.Header.Get("ETag"), first.Header.Get("ETag"))
	}
	if cond := a.get(t, selfLink, "Authorization", audTok, "If-None-Match", first.Header.Get("ETag")); cond.Status != http.StatusNotModified {
		t.Errorf("page 1's self link with its ETag: status %d, want 304", cond.Status)
	}
	paged := append(ids(first.JSON, "match"), ids(second.JSON, "match")...)
	if want := ids(all.JSON, "match"); len(paged) != len(want) || !slices.Equal(paged, want) {
		t.Errorf("pages 1 and 2 give %v, one page of the same snapshot %v", paged, want)
	}
	// No filter is dropped without a word: a modifier other than :identifier is a 400, and so is an
	// unknown parameter when the client asks for strict handling; lenient, the self link shows it
	// was not applied.
	for query, want := range map[string]int{
		"patient:missing=true":           http.StatusBadRequest,
		"date=ge2000-01-01&subtype=read": http.StatusOK,
	} {
		got := a.get(t, "/AuditEvent?"+query, "Authorization", audTok)
		if got.Status != want {
			t.Errorf("%s: %d, want %d", query, got.Status, want)
		}
		if want == http.StatusOK && strings.Contains(link(got.JSON, "self"), "subtype") {
			t.Errorf("%s: the self link %s shows a parameter that was not applied", query, link(got.JSON, "self"))
		}
		strict := a.get(t, "/AuditEvent?"+query, "Authorization", audTok, "Prefer", "handling=strict")
		if strict.Status != http.StatusBadRequest {
			t.Errorf("%s with Prefer: handling=strict: %d, want 400", query, strict.Status)
		}
	}
}

// jsonText is a resource as JSON text, for substring checks.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEveryAuditedRequestAnnouncesItsRecord: a patient-data request announces its audit record to
// the store while it runs (so that a group commit may wait for it), and every announcement ends,
// whatever the answer: data, a refusal, a failure, or a record never written.
func TestEveryAuditedRequestAnnouncesItsRecord(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	a := start(t, setup{tracker: fakeTracker{search: func(ctx context.Context, _ tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
		if q.NHSNumber == "9691003120" {
			entered <- struct{}{}
			<-release
		}
		return &tracker.SearchResult{}, nil
	}}, configure: func(c *routes.Config) { c.UnauthenticatedLimit = routes.Rate{PerSecond: 0.001, Burst: 1} }})
	done := make(chan answer)
	go func() {
		done <- a.get(t, "/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9691003120")
	}()
	<-entered
	if n := a.Audit.Stats().Announced; n != 1 {
		t.Errorf("%d records announced while a search runs, want 1", n)
	}
	close(release)
	if r := <-done; r.Status != http.StatusOK {
		t.Fatalf("search answered %d", r.Status)
	}
	for _, tc := range []struct {
		path    string
		noToken bool
		want    int
	}{
		{"/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", false, http.StatusOK},
		{"/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", true, http.StatusUnauthorized},
		// Throttled before anything was attempted: no record is written, the announcement still ends.
		{"/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", true, http.StatusTooManyRequests},
		{"/MedicationRequest?status=nonsense", false, http.StatusBadRequest},
		{"/MedicationRequest/3AF2CB-C86002-0000BX-1-1", false, http.StatusNotFound},
	} {
		var headers []string
		if tc.noToken {
			headers = []string{"Authorization", ""}
		}
		if r := a.get(t, tc.path, headers...); r.Status != tc.want {
			t.Errorf("GET %s answered %d, want %d", tc.path, r.Status, tc.want)
		}
	}
	if n := a.Audit.Stats().Announced; n != 0 {
		t.Errorf("%d records still announced after every request ended, want 0", n)
	}
}

// A client that hangs up while Spine is being asked in its user's name still leaves its record; so
// does one that hangs up while it waits for admission, before anything was asked of anyone.
func TestAClientThatHangsUpIsStillAudited(t *testing.T) {
	hangUp := func(t *testing.T, a *adapter, path string, after time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), after)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("%s answered %d before the client hung up: the test proves nothing", path, res.StatusCode)
		}
	}
	// records waits for the trail to hold n records after before: the handler goes on after the
	// client has gone, and commits when it notices.
	records := func(t *testing.T, a *adapter, before, n int) []audit.Record {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			recs := a.auditRecords(t)[before:]
			if len(recs) >= n || time.Now().After(deadline) {
				return recs
			}
		}
	}

	t.Run("during the Spine call", func(t *testing.T) {
		a := start(t, setup{})
		before := len(a.auditRecords(t))
		const n = 6 // without the fix, each had an even chance of a record
		for range n {
			hangUp(t, a, search(sandbox.PatientFaultLatency), 150*time.Millisecond) // Spine answers after a second
		}
		recs := records(t, a, before, n)
		if len(recs) != n || a.Spine.Sandbox.CallCount("search") < n {
			t.Fatalf("%d Spine searches, %d records, want %d of each", a.Spine.Sandbox.CallCount("search"), len(recs), n)
		}
		for _, r := range recs {
			if r.PatientNHS != sandbox.PatientFaultLatency || r.UserID != prescriber || r.Status != 499 {
				t.Errorf("record %+v, want the patient, the user and 499", r.Event)
			}
		}
	})

	t.Run("waiting for admission", func(t *testing.T) {
		a := start(t, setup{budget: 20 * time.Second, configure: func(c *routes.Config) { c.MaxActive = 1 }})
		busy := make(chan struct{})
		go func() { // holds the one slot for about a second
			defer close(busy)
			req, _ := http.NewRequest(http.MethodGet, a.URL+search(sandbox.PatientFaultLatency), nil)
			req.Header.Set("Authorization", "Bearer "+a.Token)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
		for a.Spine.Sandbox.CallCount("search") == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		before := len(a.auditRecords(t))
		hangUp(t, a, "/Patient/"+sandbox.PatientAcuteAndRepeat, 200*time.Millisecond)
		recs := records(t, a, before, 1)
		<-busy
		if len(recs) == 0 || recs[0].ResourceType != "Patient" || recs[0].Status != 499 || recs[0].UserID != prescriber {
			t.Fatalf("records after the queued request's client hung up: %+v", recs)
		}
	})
}

// A read refused before its handler ran names the prescription or patient it asked for (README, the
// audit trail: "for a refused request, the patient or prescription it named"), whichever check refused
// it: the format and encoding checks recorded nothing but the query.
func TestEveryRefusedReadNamesWhatItAskedFor(t *testing.T) {
	a := start(t, setup{})
	rx := sandbox.RxRepeatPrescribingActive
	for _, tc := range []struct {
		path    string
		headers []string
		want    int
		patient string
		rx      string
	}{
		{"/MedicationRequest/" + rx + "-1-1", []string{"Authorization", "Bearer " + a.tokenFor(t, administrator)}, 403, "", rx},
		{"/MedicationRequest/" + rx + "-1-1?_format=xml", nil, 406, "", rx},
		{"/MedicationRequest/" + rx + "-1-1", []string{"Accept", "application/fhir+xml"}, 406, "", rx},
		{"/MedicationRequest/" + rx + "-1-1?_pretty=%zz", nil, 400, "", rx},
		{"/MedicationDispense/d-" + rx + "-1-1?_format=xml", nil, 406, "", rx},
		{"/Patient/" + sandbox.PatientAcuteAndRepeat + "?_format=xml", nil, 406, sandbox.PatientAcuteAndRepeat, ""},
	} {
		got := a.get(t, tc.path, tc.headers...)
		r := a.lastRecord(t)
		if got.Status != tc.want || r.Status != tc.want {
			t.Errorf("%s: status %d, recorded %d, want %d", tc.path, got.Status, r.Status, tc.want)
			continue
		}
		var gotRx string
		if len(r.PrescriptionIDs) == 1 {
			gotRx = r.PrescriptionIDs[0]
		}
		if r.PatientNHS != tc.patient || gotRx != tc.rx {
			t.Errorf("%s %v -> %d: recorded patient %q, prescriptions %v; want %q, %q", tc.path, tc.headers, got.Status, r.PatientNHS, r.PrescriptionIDs, tc.patient, tc.rx)
		}
	}
}

// An AuditEvent entry's fullUrl does not point at a read this server does not offer (it was
// {base}/AuditEvent/{id}, a 404): it is a urn:uuid made from the entry's id, stable across pages.
func TestAuditEventFullURLsAreURNsOfTheirIDs(t *testing.T) {
	a := start(t, setup{})
	a.get(t, search(sandbox.PatientAcuteAndRepeat))
	got := a.get(t, "/AuditEvent?patient="+sandbox.PatientAcuteAndRepeat, "Authorization", "Bearer "+a.tokenFor(t, auditor))
	es := entries(got.JSON, "match")
	if got.Status != http.StatusOK || len(es) == 0 {
		t.Fatalf("%d with %d entries", got.Status, len(es))
	}
	urn := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, e := range es {
		full, _ := e["fullUrl"].(string)
		id, _ := resource(e)["id"].(string)
		if !urn.MatchString(full) || strings.ReplaceAll(strings.TrimPrefix(full, "urn:uuid:"), "-", "") != id {
			t.Errorf("fullUrl %q for id %q, want urn:uuid of the id", full, id)
		}
	}
}

// AuditEvent's patient and agent are references held as identifiers (an NHS number, an SDS user id),
// so R4's :identifier modifier finds them, as patient= and agent= with system|value do: it was a 400.
func TestAuditEventsPatientAndAgentTakeTheIdentifierModifier(t *testing.T) {
	a := start(t, setup{})
	a.get(t, search(sandbox.PatientAcuteAndRepeat))
	tok := "Bearer " + a.tokenFor(t, auditor)
	for query, value := range map[string]string{
		"patient:identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+sandbox.PatientAcuteAndRepeat): sandbox.PatientAcuteAndRepeat,
		"agent:identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/sds-user-id|"+prescriber):                     prescriber,
	} {
		got := a.get(t, "/AuditEvent?"+query, "Authorization", tok)
		es := entries(got.JSON, "match")
		if got.Status != http.StatusOK || len(es) == 0 {
			t.Errorf("%s: %d with %d entries", query, got.Status, len(es))
		}
		for _, e := range es {
			if b, _ := json.Marshal(resource(e)); !strings.Contains(string(b), `"value":"`+value+`"`) {
				t.Errorf("%s: an entry not about %s: %s", query, value, b)
			}
		}
	}
	if got := a.get(t, "/AuditEvent?agent:identifier="+url.QueryEscape("https://example.org/other|"+prescriber), "Authorization", tok); got.Status != http.StatusBadRequest {
		t.Errorf("agent:identifier with another system: %d, want 400", got.Status)
	}
}

// A patient given with :identifier is applied on every page: the self and next links dropped it,
// so page 2 was the whole trail, other patients' records included, under a search for one patient.
func TestAuditEventIdentifierFilterHoldsOnEveryPage(t *testing.T) {
	a := start(t, setup{})
	a.get(t, search(sandbox.PatientAcuteAndRepeat))
	a.get(t, search(sandbox.PatientRepeatPrescribing))
	a.get(t, search(sandbox.PatientAcuteAndRepeat))
	tok := "Bearer " + a.tokenFor(t, auditor)
	first := a.get(t, "/AuditEvent?_count=1&patient:identifier="+url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+sandbox.PatientAcuteAndRepeat), "Authorization", tok)
	if first.Status != http.StatusOK {
		t.Fatalf("%d %s", first.Status, first.Body)
	}
	self := link(first.JSON, "self")
	if !strings.Contains(self, "patient") {
		t.Errorf("self link %q does not show the patient filter applied", self)
	}
	n := total(first.JSON)
	next := link(first.JSON, "next")
	if next == "" {
		t.Fatalf("no next link; total %d", n)
	}
	page2 := a.get(t, next, "Authorization", tok)
	if total(page2.JSON) != n {
		t.Errorf("page 1 total %d, page 2 total %d", n, total(page2.JSON))
	}
	for _, e := range entries(page2.JSON, "match") {
		b, _ := json.Marshal(resource(e))
		if !strings.Contains(string(b), sandbox.PatientAcuteAndRepeat) {
			t.Errorf("page 2 of a search for patient %s shows a record not about them: %.300s", sandbox.PatientAcuteAndRepeat, b)
		}
	}
}

// A paging link of a group-identifier search, refused (here for its include), is audited with the
// prescription it asked for: the handler opens the link (it is the user's own) and knows it, but
// named only the patient, which a group-identifier search has not. An answered search with nothing
// to show still names no prescription as shown.
func TestARefusedPageOfAGroupIdentifierSearchNamesItsPrescription(t *testing.T) {
	a := start(t, setup{})
	rx := sandbox.RxWithDispenserActive
	first := a.get(t, "/MedicationRequest?group-identifier="+url.QueryEscape(rx)+"&_count=1&_include=MedicationRequest:requester")
	next := link(first.JSON, "next")
	if first.Status != http.StatusOK || next == "" {
		t.Fatalf("first page: %d, next %q", first.Status, next)
	}
	only := "Bearer " + a.tokenFor(t, prescriber, "user/MedicationRequest.rs")
	got := a.get(t, next, "Authorization", only)
	if got.Status != http.StatusForbidden {
		t.Fatalf("page 2 with a MedicationRequest-only token: %d", got.Status)
	}
	r := a.lastRecord(t)
	if len(r.PrescriptionIDs) != 1 || r.PrescriptionIDs[0] != rx {
		t.Errorf("refused page 2 of a search for %s recorded patient %q, prescriptions %v: who tried to see %s misses it", rx, r.PatientNHS, r.PrescriptionIDs, rx)
	}
	unknown := a.get(t, "/MedicationRequest?group-identifier="+url.QueryEscape(rx)+"&patient=9691003139")
	if r := a.lastRecord(t); unknown.Status != http.StatusOK || len(r.PrescriptionIDs) != 0 {
		t.Errorf("another patient's prescription, answered as unknown: %d, recorded prescriptions %v, want none", unknown.Status, r.PrescriptionIDs)
	}
}
