package routes_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// references gathers every "reference" string anywhere in v.
func references(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				out[s] = true
			}
			references(val, out)
		}
	case []any:
		for _, e := range x {
			references(e, out)
		}
	}
}

// anotherInstance is a second adapter process behind the same base URL (FHIR-API.md 8): the same
// Spine, issuer and audit store, its own memory (orgs, when given, is its organisation store).
func anotherInstance(t *testing.T, a *adapter, orgs *routes.Organizations) string {
	t.Helper()
	enc, err := fhir.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), a.Issuer.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := routes.New(routes.Config{BaseURL: a.URL, Now: func() time.Time { return now }},
		routes.Deps{Tracker: a.Client, Encoder: enc, Auth: verifier, Audit: a.Audit, Trail: a.Audit, Orgs: orgs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/FHIR/R4"
}

// Every reference an answer carries resolves on every instance, not only on the one that served it
// (or before a restart, or while its organisation store has room): an Organization this instance
// has not been told of by Spine is read as its ODS code alone, SUBSETTED. Before, such a read was a
// 404, though the contract says every reference the server emits resolves.
func TestOrganizationReferencesResolveOnEveryInstance(t *testing.T) {
	a := start(t, setup{})
	other := anotherInstance(t, a, nil)
	full := anotherInstance(t, a, routes.NewOrganizations(1, 0)) // room for one organisation only
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:requester"))
	if got.Status != http.StatusOK {
		t.Fatalf("search: %d", got.Status)
	}
	refs := map[string]bool{}
	references(got.JSON, refs)
	read := a.get(t, full+"/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
	references(read.JSON, refs)
	orgs := 0
	for r := range refs {
		for _, base := range []string{other, full} {
			g := a.get(t, base+"/"+r)
			if g.Status != http.StatusOK {
				t.Errorf("%s read on another instance: %d %.200s", r, g.Status, g.Body)
				continue
			}
			if id, ok := strings.CutPrefix(r, "Organization/"); ok {
				orgs++
				if g.JSON["id"] != id || !strings.Contains(string(g.Body), `"value":"`+id+`"`) {
					t.Errorf("%s: %s, want its id and ODS identifier", r, g.Body)
				}
			}
		}
	}
	if orgs == 0 {
		t.Fatal("no Organization reference: the test proves nothing")
	}
}

// FHIR ids are case-sensitive and a read answers the id asked for (R4 http.html, read):
// Organization/c81007 is not Organization/C81007, whose name it answered before, and, not being an
// ODS code's shape (upper case), it is a 404, as is anything else that cannot be one: it answered a
// made-up Organization for any letters and digits, an NHS number included.
func TestAnOrganizationReadAnswersTheIdAskedFor(t *testing.T) {
	a := start(t, setup{detailed: true})
	got := a.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
	id, ok := strings.CutPrefix(jsonPath(got.JSON, "requester", "reference"), "Organization/")
	if !ok {
		t.Fatalf("no requester: %s", got.Body)
	}
	if org := a.get(t, "/Organization/"+id); org.Status != http.StatusOK || org.JSON["name"] == nil {
		t.Fatalf("Organization/%s: %d %s, want its name", id, org.Status, org.Body)
	}
	for _, notODS := range []string{strings.ToLower(id), "A83-008", "X", sandbox.PatientAcuteAndRepeat, strings.Repeat("A", 11)} {
		if got := a.get(t, "/Organization/"+notODS); got.Status != http.StatusNotFound {
			t.Errorf("Organization/%s: %d %s, want 404", notODS, got.Status, got.Body)
		}
	}
	if got := a.get(t, "/Organization/Q1W2E"); got.Status != http.StatusOK || got.JSON["id"] != "Q1W2E" {
		t.Errorf("Organization/Q1W2E, an ODS code this instance has not seen: %d %s, want the code alone", got.Status, got.Body)
	}
}

// An AuditEvent's agent organisation (the user's, from the token, which Spine never named) resolves.
func TestAnAuditEventsOrganizationResolves(t *testing.T) {
	a := start(t, setup{})
	a.get(t, search(sandbox.PatientAcuteAndRepeat))
	got := a.get(t, "/AuditEvent?patient="+sandbox.PatientAcuteAndRepeat, "Authorization", "Bearer "+a.tokenFor(t, auditor))
	refs := map[string]bool{}
	references(got.JSON, refs)
	n := 0
	for r := range refs {
		if strings.HasPrefix(r, "Organization/") {
			n++
			if g := a.get(t, "/"+r); g.Status != http.StatusOK {
				t.Errorf("%s from an AuditEvent: %d", r, g.Status)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no Organization reference in the AuditEvents: %.400s", got.Body)
	}
}
