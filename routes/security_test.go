package routes_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func TestEveryPatientDataRouteNeedsABearerToken(t *testing.T) {
	a := start(t, setup{})
	for _, path := range []string{
		search(sandbox.PatientAcuteAndRepeat),
		"/MedicationRequest/48A894-C86002-00009E-1-1",
		"/MedicationDispense/d-48A894-C86002-00009E-1-1",
		"/Patient/" + sandbox.PatientAcuteAndRepeat,
		"/Organization/A83008",
		"/AuditEvent?patient=" + sandbox.PatientAcuteAndRepeat,
	} {
		t.Run(path, func(t *testing.T) {
			for name, header := range map[string]string{
				"no token": "", "not a bearer token": "Basic dXNlcjpwYXNz", "a forged token": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
			} {
				got := a.get(t, path, "Authorization", header)
				if got.Status != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401: %s", name, got.Status, got.Body)
				}
				if h := got.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", name, h)
				}
				if code := issue(t, got)["code"]; code != "login" && code != "security" {
					t.Errorf("%s: issue code %v, want login or security", name, code)
				}
			}
		})
	}
	t.Run("the CapabilityStatement and SMART discovery need none", func(t *testing.T) {
		for _, path := range []string{"/metadata", "/.well-known/smart-configuration"} {
			if got := a.get(t, path, "Authorization", ""); got.Status != http.StatusOK {
				t.Errorf("%s: %d", path, got.Status)
			}
		}
	})
}

func TestRolesAndScopesDecideWhoSeesPatientData(t *testing.T) {
	a := start(t, setup{})
	path := search(sandbox.PatientAcuteAndRepeat)
	for _, tc := range []struct {
		user string
		want int
	}{
		{prescriber, http.StatusOK},
		{pharmacist, http.StatusOK},
		{administrator, http.StatusForbidden}, // no clinical activity code
		{auditor, http.StatusForbidden},       // the audit trail only
		{patientApp, http.StatusForbidden},    // end users are never patients
	} {
		got := a.get(t, path, "Authorization", "Bearer "+a.tokenFor(t, tc.user))
		if got.Status != tc.want {
			t.Errorf("user %s: status %d, want %d: %.300s", tc.user, got.Status, tc.want, got.Body)
			continue
		}
		if tc.want == http.StatusForbidden {
			if code := issue(t, got)["code"]; code != "forbidden" {
				t.Errorf("user %s: issue code %v, want forbidden", tc.user, code)
			}
		}
	}
	t.Run("a read-only scope may read but not search", func(t *testing.T) {
		tok := "Bearer " + a.tokenFor(t, prescriber, "user/MedicationRequest.r")
		if got := a.get(t, path, "Authorization", tok); got.Status != http.StatusForbidden {
			t.Errorf("search with .r: %d, want 403", got.Status)
		}
		if got := a.get(t, "/MedicationRequest/48A894-C86002-00009E-1-1", "Authorization", tok); got.Status == http.StatusForbidden || got.Status == http.StatusUnauthorized {
			t.Errorf("read with .r: %d", got.Status)
		}
	})
}

func TestTheTokensIdentityReachesSpine(t *testing.T) {
	a := start(t, setup{detailed: true})
	a.Spine.Sandbox.ResetCalls()
	a.get(t, "/MedicationRequest?group-identifier=A3B4D9-Z42475-11E6B%2B", "Authorization", "Bearer "+a.tokenFor(t, pharmacist))
	calls, total := a.Spine.Sandbox.Calls()
	if total == 0 {
		t.Fatal("no Spine call")
	}
	for _, c := range calls {
		if c.UserID != pharmacist || c.RoleProfileID != "666666666667" {
			t.Errorf("%s call carried user %q role %q, want the token's %s / 666666666667", c.Interaction, c.UserID, c.RoleProfileID, pharmacist)
		}
		if c.TraceID == "" {
			t.Errorf("%s call carried no Eps-TraceId", c.Interaction)
		}
	}
}

func TestAPagingLinkBelongsToItsUser(t *testing.T) {
	a := start(t, setup{})
	first := a.get(t, search(sandbox.PatientManyItems, "_count=5"))
	next := link(first.JSON, "next")
	if next == "" {
		t.Fatal("no next link")
	}
	if got := a.get(t, next); got.Status != http.StatusOK {
		t.Fatalf("own link: %d", got.Status)
	}
	got := a.get(t, next, "Authorization", "Bearer "+a.tokenFor(t, pharmacist))
	if got.Status != http.StatusForbidden || issue(t, got)["code"] != "forbidden" {
		t.Errorf("another user's link: %d %s, want 403 forbidden", got.Status, got.Body)
	}
}

func TestBrokenPercentEncodingIsRefusedNeverDropped(t *testing.T) {
	a := start(t, setup{})
	nhs := sandbox.PatientAcuteAndRepeat
	for _, tc := range []struct{ query, param string }{
		{"patient=" + nhs + "&status=completed%ZZ", "status"},
		{"patient=" + nhs + "&business-status=0006%", "business-status"},
		{"patient=" + nhs + "&authoredon=ge2026-11-29%G", "authoredon"},
		{"patient=" + nhs + "&bad%zzname=1", "bad%zzname"},
		{"patient=" + nhs + "&patient%3Aidentifier=%ZZ", "patient:identifier"},
		// A name that is no valid FHIR string is named as sent, so that the OperationOutcome is valid R4.
		{"patient=" + nhs + "&a%00b=%", "a%00b"},
		{"patient=" + nhs + "&%FF=%", "%FF"},
	} {
		for _, strict := range []bool{false, true} {
			headers := []string{}
			if strict {
				headers = append(headers, "Prefer", "handling=strict")
			}
			got := a.get(t, "/MedicationRequest?"+tc.query, headers...)
			if got.Status != http.StatusBadRequest {
				t.Errorf("%s (strict %v): status %d, want 400", tc.query, strict, got.Status)
				continue
			}
			is := issue(t, got)
			if expr, _ := is["expression"].([]any); len(expr) == 0 || expr[0] != tc.param {
				t.Errorf("%s: expression %v, want %s", tc.query, is["expression"], tc.param)
			}
		}
	}
	t.Run("on every FHIR route, not only the search", func(t *testing.T) {
		for _, tc := range []struct{ path, param string }{
			{"/MedicationRequest/3AF2CB-C86002-0000BX-1-1?_pretty=%zz", "_pretty"},
			{"/MedicationDispense/d-3AF2CB-C86002-0000BX-1-1?x=%zz", "x"},
			{"/Patient/" + nhs + "?x=%zz", "x"},
			{"/metadata?_pretty=%zz", "_pretty"},
			{"/metadata?_format=json%zz", "_format"},
			{"/SearchParameter/MedicationRequest-issue?x=%", "x"},
		} {
			got := a.get(t, tc.path)
			if got.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", tc.path, got.Status)
				continue
			}
			if expr, _ := issue(t, got)["expression"].([]any); len(expr) == 0 || expr[0] != tc.param {
				t.Errorf("%s: expression %v, want %s", tc.path, expr, tc.param)
			}
		}
	})
	t.Run("on a patient-data route it is audited, and without a token it is a 401", func(t *testing.T) {
		path := "/MedicationRequest?patient=" + nhs + "&x=%zz"
		got := a.get(t, path, "X-Request-ID", "broken-encoding")
		if got.Status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", got.Status)
		}
		if r := a.lastRecord(t); r.RequestID != "broken-encoding" || r.Status != http.StatusBadRequest {
			t.Errorf("the 400 is not audited: last record %+v", r.Event)
		}
		if got := a.get(t, path, "Authorization", ""); got.Status != http.StatusUnauthorized {
			t.Errorf("without a token: status %d, want 401", got.Status)
		}
	})
	t.Run("a ';' stays in the value, where the parameter's rules judge it", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?patient="+nhs+"&status=completed;active")
		if got.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400 for status=completed;active", got.Status)
		}
	})
}

// A parameter name that decodes to control characters or invalid UTF-8 is named in the 400 as it was
// sent (percent-encoded), so that the OperationOutcome is valid R4, whichever check refuses it.
func TestOddParameterNamesAreNamedAsSent(t *testing.T) {
	a := start(t, setup{})
	nhs := sandbox.PatientAcuteAndRepeat
	for _, tc := range []struct {
		query, param string
		strict       bool
	}{
		{"patient=" + nhs + "&patient%3A%00=1", "patient:%00", false},
		{"patient=" + nhs + "&status%3A%FF=1", "status:%FF", false},
		{"patient=" + nhs + "&a%00b=1", "a%00b", true},
		{"patient=" + nhs + "&%FF=1", "%FF", true},
	} {
		var headers []string
		if tc.strict {
			headers = []string{"Prefer", "handling=strict"}
		}
		got := a.get(t, "/MedicationRequest?"+tc.query, headers...) // every answer is checked as R4
		if got.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.query, got.Status)
			continue
		}
		if expr, _ := issue(t, got)["expression"].([]any); len(expr) == 0 || expr[0] != tc.param {
			t.Errorf("%s: expression %v, want %s", tc.query, expr, tc.param)
		}
	}
}

func TestCORSForConfiguredOrigins(t *testing.T) {
	a := start(t, setup{configure: func(c *routes.Config) { c.CORSOrigins = []string{"https://app.example.nhs.uk"} }})
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, a.URL+"/MedicationRequest?patient=9691003120", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := pre("https://app.example.nhs.uk")
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.nhs.uk" ||
		!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight from the configured origin: %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed")
	}
	if res := pre("https://evil.example"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin allowed: %v", res.Header)
	}
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat), "Origin", "https://app.example.nhs.uk")
	if exp := got.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "ETag") || !strings.Contains(exp, "Location") {
		t.Errorf("exposed headers %q", exp)
	}
	// An answer without CORS headers must say it depends on Origin too, or a shared cache could serve
	// it to the allowed origin (the discovery document is public and kept for an hour).
	for _, origin := range []string{"", "https://evil.example", "https://app.example.nhs.uk"} {
		got := a.get(t, "/.well-known/smart-configuration", "Origin", origin)
		if !slices.Contains(got.Header.Values("Vary"), "Origin") {
			t.Errorf("Origin %q: Vary %v, want Origin", origin, got.Header.Values("Vary"))
		}
	}
}

func TestSMARTDiscovery(t *testing.T) {
	a := start(t, setup{})
	t.Run("JSON whatever the Accept header", func(t *testing.T) {
		for _, accept := range []string{"application/fhir+xml", "text/html", "application/json"} {
			got := a.get(t, "/.well-known/smart-configuration", "Accept", accept)
			if got.Status != http.StatusOK || !strings.HasPrefix(got.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Accept %s: %d %s", accept, got.Status, got.Header.Get("Content-Type"))
			}
		}
	})
	res, err := http.Get(a.URL + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cfg map[string]any
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.URL)
	for _, k := range []string{"authorization_endpoint", "token_endpoint"} {
		if v, _ := cfg[k].(string); !strings.HasPrefix(v, u.Scheme+"://"+u.Host+"/oauth2") {
			t.Errorf("%s = %v", k, cfg[k])
		}
	}
	methods, _ := cfg["code_challenge_methods_supported"].([]any)
	if !slices.Contains(methods, any("S256")) {
		t.Errorf("code_challenge_methods_supported %v", methods)
	}
}

// TestDetailedInteractionsNeedASmartcardAgainstARealSpine: Spine answers its 111 detail calls (the
// only source of medication) only for a smartcard-authenticated user, so against a real Spine a
// password-authenticated user's answers carry no medication and no detail call is made.
func TestDetailedInteractionsNeedASmartcardAgainstARealSpine(t *testing.T) {
	a := start(t, setup{detailed: true, configure: func(c *routes.Config) { c.DetailedNeedsSmartcard = true }})
	read := "/MedicationRequest/3AF2CB-C86002-0000BX-1-1"
	medication := func(got answer) map[string]any {
		m, _ := got.JSON["medicationCodeableConcept"].(map[string]any)
		return m
	}

	a.Spine.Sandbox.ResetCalls()
	got := a.get(t, read) // the prescriber: smartcard (assurance level 3)
	if n := a.Spine.Sandbox.CallCount("nhs111itemdetails"); n != 1 {
		t.Errorf("smartcard user: %d detail calls, want 1", n)
	}
	if m := medication(got); m["coding"] == nil {
		t.Errorf("smartcard user: no medication coding: %v", m)
	}

	a.Spine.Sandbox.ResetCalls()
	got = a.get(t, read, "Authorization", "Bearer "+a.tokenFor(t, nurse))
	if got.Status != http.StatusOK {
		t.Fatalf("password user: status %d", got.Status)
	}
	if n := a.Spine.Sandbox.CallCount("nhs111itemdetails"); n != 0 {
		t.Errorf("password user: %d detail calls, want none", n)
	}
	if m := medication(got); m["coding"] != nil || !strings.Contains(jsonText(m), "data-absent-reason") {
		t.Errorf("password user: medication %v, want data-absent-reason only", m)
	}
}

// A search's _include and _revinclude need a read scope for each type they add: a token scoped to
// MedicationRequest alone, refused MedicationDispense, Patient and Organization reads, is refused a
// search that would send them beside its MedicationRequests (it was sent them), and the refusal names
// the missing scope and is audited; the same search with those scopes is answered with them.
func TestIncludesNeedTheirOwnTypesScopes(t *testing.T) {
	a := start(t, setup{})
	only := "Bearer " + a.tokenFor(t, prescriber, "user/MedicationRequest.rs")
	for _, path := range []string{"/MedicationDispense/d-48A894-C86002-00009E-1-1", "/Patient/" + sandbox.PatientAcuteAndRepeat} {
		if got := a.get(t, path, "Authorization", only); got.Status != http.StatusForbidden {
			t.Fatalf("precondition: %s with a MedicationRequest-only scope: %d, want 403", path, got.Status)
		}
	}
	for _, tc := range []struct{ include, scope string }{
		{"_revinclude=MedicationDispense:prescription", "user/MedicationDispense.rs"},
		{"_include=MedicationRequest:patient", "user/Patient.rs"},
		{"_include=MedicationRequest:requester", "user/Organization.rs"},
	} {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, tc.include), "Authorization", only)
		if got.Status != http.StatusForbidden || issue(t, got)["code"] != "forbidden" {
			t.Errorf("%s with a MedicationRequest-only scope: %d %.300s, want 403 forbidden", tc.include, got.Status, got.Body)
			continue
		}
		if h := got.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, tc.scope) {
			t.Errorf("%s: WWW-Authenticate %q, want insufficient_scope naming %s", tc.include, h, tc.scope)
		}
		if r := a.lastRecord(t); r.Status != http.StatusForbidden || r.PatientNHS != sandbox.PatientAcuteAndRepeat || len(r.PrescriptionIDs) != 0 {
			t.Errorf("%s: audit record %+v, want the refusal naming the patient and no prescription", tc.include, r.Event)
		}
		with := "Bearer " + a.tokenFor(t, prescriber, "user/MedicationRequest.rs "+tc.scope)
		ok := a.get(t, search(sandbox.PatientAcuteAndRepeat, tc.include), "Authorization", with)
		if ok.Status != http.StatusOK || len(entries(ok.JSON, "include")) == 0 {
			t.Errorf("%s with %s: %d, %d included, want 200 with them", tc.include, tc.scope, ok.Status, len(entries(ok.JSON, "include")))
		}
	}
}
