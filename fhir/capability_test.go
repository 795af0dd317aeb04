package fhir

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const testBase = "http://127.0.0.1:8080/FHIR/R4"

// capabilityJSON is the part of a CapabilityStatement the tests look at.
type capabilityJSON struct {
	ResourceType, Status, Kind, FhirVersion, Date string
	Format                                        []string
	Software                                      struct{ Name, Version string }
	Implementation                                struct{ Description, URL string }
	Rest                                          []struct {
		Mode     string
		Security struct{ Description string }
		Resource []struct {
			Type        string
			Interaction []struct{ Code string }
			SearchParam []struct {
				Name, Type, Definition, Documentation string
			}
			SearchInclude    []string
			SearchRevInclude []string
		}
	}
}

func TestCapabilityStatement(t *testing.T) {
	enc := newEncoder(t)
	for _, detailed := range []bool{false, true} {
		name := "without detail calls"
		if detailed {
			name = "with detail calls"
		}
		t.Run(name+" it passes R4 validation and declares exactly what works", func(t *testing.T) {
			cs := CapabilityStatement(CapabilityOptions{
				BaseURL:              testBase,
				SoftwareName:         "eps-fhir-tracker",
				SoftwareVersion:      "0.1.0",
				Now:                  time.Date(2025, 11, 23, 23, 8, 0, 0, time.UTC),
				DetailedInteractions: detailed,
			})
			var got capabilityJSON
			if err := json.Unmarshal(roundTrip(t, enc, cs), &got); err != nil {
				t.Fatal(err)
			}
			if got.ResourceType != "CapabilityStatement" || got.Status != "active" ||
				got.Kind != "instance" || got.FhirVersion != "4.0.1" {
				t.Errorf("resourceType, status, kind, fhirVersion = %q %q %q %q",
					got.ResourceType, got.Status, got.Kind, got.FhirVersion)
			}
			if got, want := got.Date, "2025-11-23T23:08:00Z"; got != want {
				t.Errorf("date = %q, want %q", got, want)
			}
			if want := []string{"application/fhir+json", "json"}; !slices.Equal(got.Format, want) {
				t.Errorf("format = %q, want %q", got.Format, want)
			}
			if got.Software.Name != "eps-fhir-tracker" || got.Software.Version != "0.1.0" {
				t.Errorf("software = %+v", got.Software)
			}
			if got.Implementation.URL != testBase || got.Implementation.Description == "" {
				t.Errorf("implementation = %+v, want url %s and a description", got.Implementation, testBase)
			}
			if len(got.Rest) != 1 || got.Rest[0].Mode != "server" {
				t.Fatalf("rest = %+v, want one server", got.Rest)
			}
			if got.Rest[0].Security.Description != defaultSecurity {
				t.Errorf("security.description = %q, want the default text", got.Rest[0].Security.Description)
			}

			var types []string
			for _, r := range got.Rest[0].Resource {
				types = append(types, r.Type)
				var interactions []string
				for _, i := range r.Interaction {
					interactions = append(interactions, i.Code)
				}
				if r.Type != "MedicationRequest" {
					// Read by id (every reference the server emits resolves), never searched.
					if !slices.Equal(interactions, []string{"read"}) || len(r.SearchParam) > 0 {
						t.Errorf("%s declares %q and %d search parameters; want read only", r.Type, interactions, len(r.SearchParam))
					}
					continue
				}
				if want := []string{"read", "search-type"}; !slices.Equal(interactions, want) {
					t.Errorf("MedicationRequest interactions = %q, want %q", interactions, want)
				}
				if want := []string{"MedicationRequest:patient", "MedicationRequest:patient:Patient", "MedicationRequest:subject",
					"MedicationRequest:subject:Patient", "MedicationRequest:requester", "MedicationRequest:requester:Organization"}; !slices.Equal(r.SearchInclude, want) {
					t.Errorf("searchInclude = %q, want %q", r.SearchInclude, want)
				}
				if want := []string{"MedicationDispense:prescription", "MedicationDispense:prescription:MedicationRequest"}; !slices.Equal(r.SearchRevInclude, want) {
					t.Errorf("searchRevInclude = %q, want %q", r.SearchRevInclude, want)
				}
				params := map[string]string{}
				for _, p := range r.SearchParam {
					params[p.Name+" "+p.Type] = p.Definition
				}
				want := map[string]string{
					"patient reference":          "http://hl7.org/fhir/SearchParameter/clinical-patient",
					"subject reference":          "http://hl7.org/fhir/SearchParameter/MedicationRequest-subject",
					"authoredon date":            "http://hl7.org/fhir/SearchParameter/MedicationRequest-authoredon",
					"status token":               "http://hl7.org/fhir/SearchParameter/medications-status",
					"business-status token":      testBase + "/SearchParameter/MedicationRequest-business-status",
					"prescription-version token": testBase + "/SearchParameter/MedicationRequest-prescription-version",
					"group-identifier token":     testBase + "/SearchParameter/MedicationRequest-group-identifier",
					"issue number":               testBase + "/SearchParameter/MedicationRequest-issue",
					"_count number":              "",
					"_summary token":             "",
				}
				for k, def := range want {
					if got, ok := params[k]; !ok || got != def {
						t.Errorf("search parameter %s: definition %q (declared %v), want %q", k, got, ok, def)
					}
				}
				if len(params) != len(want) {
					t.Errorf("search parameters %v, want exactly %d", params, len(want))
				}
			}
			if want := []string{"MedicationRequest", "MedicationDispense", "Patient", "Organization", "SearchParameter"}; !slices.Equal(types, want) {
				t.Errorf("resources = %q, want %q", types, want)
			}
		})
	}
}

func TestCapabilityStatementDefaults(t *testing.T) {
	before := time.Now().Add(-time.Second)
	cs := CapabilityStatement(CapabilityOptions{BaseURL: testBase, Security: "Bearer tokens from the IdP."})
	if got := cs.GetSoftware().GetName().GetValue(); got != "eps-fhir-tracker" {
		t.Errorf("software.name = %q, want the default", got)
	}
	if cs.GetSoftware().GetVersion() != nil {
		t.Errorf("software.version = %v, want absent when unknown", cs.GetSoftware().GetVersion())
	}
	if got := time.UnixMicro(cs.GetDate().GetValueUs()); got.Before(before) {
		t.Errorf("date = %v, want now when Now is zero", got)
	}
	if got := cs.GetRest()[0].GetSecurity().GetDescription().GetValue(); got != "Bearer tokens from the IdP." {
		t.Errorf("security.description = %q, want the caller's", got)
	}
	roundTrip(t, newEncoder(t), cs)
}

func TestSearchParameters(t *testing.T) {
	enc := newEncoder(t)
	name := regexp.MustCompile(`^[A-Z][A-Za-z0-9_]{0,254}$`) // R4 spd-0
	id := regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	sps := SearchParameters(testBase + "/") // a trailing slash must not double up
	var codes []string
	for _, sp := range sps {
		code := sp.GetCode().GetValue()
		codes = append(codes, code)
		t.Run(code+" passes R4 validation with every required element", func(t *testing.T) {
			var got struct {
				ResourceType, ID, URL, Name, Status, Description, Code, Type, Expression string
				Base                                                                     []string
			}
			if err := json.Unmarshal(roundTrip(t, enc, sp), &got); err != nil {
				t.Fatal(err)
			}
			if got.ResourceType != "SearchParameter" || got.Status != "active" || got.Description == "" ||
				!slices.Equal(got.Base, []string{"MedicationRequest"}) {
				t.Errorf("got %+v", got)
			}
			if want := testBase + "/SearchParameter/MedicationRequest-" + code; got.URL != want {
				t.Errorf("url = %q, want %q", got.URL, want)
			}
			if !name.MatchString(got.Name) {
				t.Errorf("name %q breaks spd-0", got.Name)
			}
			if !id.MatchString(got.ID) {
				t.Errorf("id %q is not a FHIR id", got.ID)
			}
		})
	}
	if want := []string{"business-status", "prescription-version", "group-identifier", "issue"}; !slices.Equal(codes, want) {
		t.Errorf("codes = %q, want %q", codes, want)
	}
}

func TestCapabilityStatementAdvertisesSMART(t *testing.T) {
	cs := CapabilityStatement(CapabilityOptions{BaseURL: testBase, AuthorizeURL: "https://idp.example/authorize",
		TokenURL: "https://idp.example/token", CORS: true, AuditEvent: true})
	sec := cs.GetRest()[0].GetSecurity()
	if c := sec.GetService()[0].GetCoding()[0]; c.GetSystem().GetValue() != systemRestfulSecurityService || c.GetCode().GetValue() != "SMART-on-FHIR" {
		t.Errorf("service coding %v", c)
	}
	if !sec.GetCors().GetValue() {
		t.Error("cors not declared")
	}
	ext := sec.GetExtension()
	if len(ext) != 1 || ext[0].GetUrl().GetValue() != extensionOAuthURIs {
		t.Fatalf("extensions %v", ext)
	}
	got := map[string]string{}
	for _, e := range ext[0].GetExtension() {
		got[e.GetUrl().GetValue()] = e.GetValue().GetUri().GetValue()
	}
	if got["authorize"] != "https://idp.example/authorize" || got["token"] != "https://idp.example/token" {
		t.Errorf("oauth-uris %v", got)
	}
	var audit bool
	for _, r := range cs.GetRest()[0].GetResource() {
		if r.GetType().GetValue().String() != "AUDIT_EVENT" {
			continue
		}
		audit = true
		// Each parameter's definition is R4's own for AuditEvent: clinical-patient does not list
		// AuditEvent among its bases.
		for _, p := range r.GetSearchParam() {
			if def := p.GetDefinition().GetValue(); def != "" && !strings.HasPrefix(def, "http://hl7.org/fhir/SearchParameter/AuditEvent-") {
				t.Errorf("AuditEvent %s defined by %s", p.GetName().GetValue(), def)
			}
		}
	}
	if !audit {
		t.Error("AuditEvent search not declared")
	}
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, enc, cs) // passes R4 validation, nothing lost
}
