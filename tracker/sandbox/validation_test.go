package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRequestsAreValidatedAsSpineDoes(t *testing.T) {
	e := startEnv(t, Options{})
	strict := startEnv(t, Options{Strict: true})
	tests := []struct {
		name     string
		env      *env
		path     string
		hdr      map[string]string
		wantCode string
		wantKey  string
	}{
		{"a missing ASID is 52", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-From-Asid": ""}, "52", "prescriptions"},
		{"an eleven-digit ASID is 52", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-From-Asid": "20000000094"}, "52", "prescriptions"},
		{"a bad ASID is reported before a bad NHS number", e, searchPath("123"), map[string]string{"Spine-From-Asid": "x"}, "52", "prescriptions"},
		{"a bad user id is 55", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-UserId": "31317581356"}, "55", "prescriptions"},
		{"a bad role profile id is 56", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-RoleProfileId": "abc"}, "56", "prescriptions"},
		{"a missing user id is accepted when not strict", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-UserId": "", "Spine-RoleProfileId": ""}, "0", "prescriptionList"},
		{"a missing user id is 55 when strict", strict, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-UserId": ""}, "55", "prescriptions"},
		{"a missing role profile id is 56 when strict", strict, searchPath(PatientAcuteAndRepeat), map[string]string{"Spine-RoleProfileId": ""}, "56", "prescriptions"},
		{"a 111 summary without a user id is 55 even when not strict", e, "/mm/nhs111itemsummary?nhsNumber=" + PatientAcuteAndRepeat, map[string]string{"Spine-UserId": ""}, "55", "prescriptions"},
		{"a 111 summary without a role profile id is 56 even when not strict", e, "/mm/nhs111itemsummary?nhsNumber=" + PatientAcuteAndRepeat, map[string]string{"Spine-RoleProfileId": ""}, "56", "prescriptions"},
		{"111 details without a user id are 55 even when not strict", e, "/mm/nhs111itemdetails?prescriptionId=" + RxAcuteDispensed, map[string]string{"Spine-UserId": ""}, "55", "prescriptions"},
		{"111 details without a role profile id are 56 even when not strict", e, "/mm/nhs111itemdetails?prescriptionId=" + RxAcuteDispensed, map[string]string{"Spine-RoleProfileId": ""}, "56", "prescriptions"},
		{"a trace id of 31 characters is 54", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Eps-TraceId": strings.Repeat("a", 31)}, "54", "prescriptions"},
		{"a trace id with an underscore is 54", e, searchPath(PatientAcuteAndRepeat), map[string]string{"Eps-TraceId": "a_b"}, "54", "prescriptions"},
		{"a bad trace id is reported before a bad version", e, searchPath(PatientAcuteAndRepeat, "&version=2"), map[string]string{"Eps-TraceId": "a_b"}, "54", "prescriptions"},
		{"version 2 is 53", e, searchPath(PatientAcuteAndRepeat, "&version=2"), nil, "53", "prescriptions"},
		{"version 1.0 is accepted", e, searchPath(PatientAcuteAndRepeat, "&version=1.0"), nil, "0", "prescriptionList"},
		{"a bad version is reported before a bad NHS number", e, searchPath("123", "&version=9"), nil, "53", "prescriptions"},
		{"a search without query parameters is 50", e, "/mm/prescriptions", nil, "50", "prescriptions"},
		{"a retrieve without query parameters is 50", e, "/mm/prescriptions/" + RxAcuteDispensed, nil, "50", "prescription"},
		{"a 111 details call without query parameters is 50", e, "/mm/nhs111itemdetails", nil, "50", "prescriptions"},
		{"an NHS number failing modulus 11 is 61", e, searchPath("9691003121"), nil, "61", "prescriptions"},
		{"a nine-digit NHS number is 61", e, searchPath("969100312"), nil, "61", "prescriptions"},
		{"a missing NHS number is 61", e, "/mm/prescriptions?format=trace-summary", nil, "61", "prescriptions"},
		{"a search without format is 53", e, "/mm/prescriptions?nhsNumber=" + PatientAcuteAndRepeat, nil, "53", "prescriptions"},
		{"a search with format trace is 53", e, "/mm/prescriptions?nhsNumber=" + PatientAcuteAndRepeat + "&format=trace", nil, "53", "prescriptions"},
		{"an impossible earliest date is 57", e, searchPath(PatientAcuteAndRepeat, "&earliestDate=20250230"), nil, "57", "prescriptions"},
		{"a seven-digit latest date is 57", e, searchPath(PatientAcuteAndRepeat, "&latestDate=2025031"), nil, "57", "prescriptions"},
		{"a dashed date is 57", e, searchPath(PatientAcuteAndRepeat, "&earliestDate=2025-03-01"), nil, "57", "prescriptions"},
		{"an unknown prescription status is 59", e, searchPath(PatientAcuteAndRepeat, "&prescriptionStatus=1234"), nil, "59", "prescriptions"},
		{"status 0000 is a valid filter", e, searchPath(PatientAcuteAndRepeat, "&prescriptionStatus=0000"), nil, "0", "prescriptionList"},
		{"prescription version 3 is 60", e, searchPath(PatientAcuteAndRepeat, "&prescriptionVersion=3"), nil, "60", "prescriptions"},
		{"prescription version r1 is 60 (case matters)", e, searchPath(PatientAcuteAndRepeat, "&prescriptionVersion=r1"), nil, "60", "prescriptions"},
		{"dates are checked before the status", e, searchPath(PatientAcuteAndRepeat, "&earliestDate=x&prescriptionStatus=x"), nil, "57", "prescriptions"},
		{"a short prescription id is 51", e, "/mm/prescriptions/3AF2CB-C86002-000?format=trace", nil, "51", "prescription"},
		{"a prescription id with an underscore is 51", e, "/mm/prescriptions/3AF2CB_C86002-0000BX?format=trace", nil, "51", "prescription"},
		{"a retrieve without format is 53", e, "/mm/prescriptions/" + RxAcuteDispensed + "?issueNumber=1", nil, "53", "prescription"},
		{"an unknown prescription is 1", e, retrievePath("7D9625-Z72BF2-11E3AC"), nil, "1", "prescription"},
		{"a wrong check character is not found", e, retrievePath("3AF2CB-C86002-0000BY"), nil, "1", "prescription"},
		{"a lower-case prescription id is not found", e, retrievePath(strings.ToLower(RxAcuteDispensed)), nil, "1", "prescription"},
		{"an id without its check character finds the prescription", e, retrievePath(RxAcuteDispensed[:19]), nil, "0", "prescription"},
		{"an R1 id without its check character finds the prescription", e, retrievePath(RxR1Acute[:36]), nil, "0", "prescription"},
		{"an issue number that does not exist is 3", e, retrievePath(RxRepeatDispensing, "&issueNumber=7"), nil, "3", "prescription"},
		{"an issue number that is not a number is 3", e, retrievePath(RxAcuteDispensed, "&issueNumber=one"), nil, "3", "prescription"},
		{"a 111 summary with a bad NHS number is 61", e, "/mm/nhs111itemsummary?nhsNumber=9691003121", nil, "61", "prescriptions"},
		{"a 111 summary that finds nothing is 1", e, "/mm/nhs111itemsummary?nhsNumber=" + PatientNoPrescriptions, nil, "1", "prescriptions"},
		{"a 111 summary needs no format", e, "/mm/nhs111itemsummary?nhsNumber=" + PatientAcuteAndRepeat, nil, "0", "prescriptions"},
		{"a 111 summary checks dates too", e, "/mm/nhs111itemsummary?nhsNumber=" + PatientAcuteAndRepeat + "&latestDate=1", nil, "57", "prescriptions"},
		{"111 details of a malformed id are 6", e, "/mm/nhs111itemdetails?prescriptionId=nonsense", nil, "6", "prescriptions"},
		{"111 details of an unknown prescription are 6", e, "/mm/nhs111itemdetails?prescriptionId=7D9625-Z72BF2-11E3AC", nil, "6", "prescriptions"},
		{"111 details of repeat dispensing without an issue number are 8", e, "/mm/nhs111itemdetails?prescriptionId=" + RxRepeatDispensingOld, nil, "8", "prescriptions"},
		{"111 details of an issue that does not exist are 8", e, "/mm/nhs111itemdetails?prescriptionId=" + RxAcuteDispensed + "&issueNumber=2", nil, "8", "prescriptions"},
		{"111 details of an acute prescription need no issue number", e, "/mm/nhs111itemdetails?prescriptionId=" + RxAcuteDispensed, nil, "0", RxAcuteDispensed},
		{"111 details of an unknown line item are 7", e, "/mm/nhs111itemdetails?prescriptionId=" + RxR1Acute + "&lineitemid=00000000-0000-0000-0000-000000000000", nil, "7", "prescriptions"},
		{"111 details match a lower-case line item id", e, "/mm/nhs111itemdetails?prescriptionId=" + RxR1Acute + "&lineitemid=9c18ae6f-511f-f7a3-e050-d20ae3a231c8", nil, "0", RxR1Acute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.env.get(t, tt.path, tt.hdr)
			if res.status != http.StatusOK || res.body == nil {
				t.Fatalf("HTTP %d %q, want 200 with JSON", res.status, res.raw)
			}
			if got := res.str("statusCode"); got != tt.wantCode {
				t.Errorf("statusCode = %q (%q), want %q", got, res.str("reason"), tt.wantCode)
			}
			if _, ok := res.body[tt.wantKey]; !ok {
				t.Errorf("body keys %v, want %q", keys(res.body), tt.wantKey)
			}
			if tt.wantCode != "0" && tt.wantCode != "3" {
				if b := res.obj(tt.wantKey); len(b) != 0 {
					t.Errorf("error body %q is not empty", tt.wantKey)
				}
				if res.str("reason") == "" {
					t.Error("error without a reason")
				}
			}
		})
	}
}

func TestErrorReasonsAreSpinesTexts(t *testing.T) {
	e := startEnv(t, Options{})
	tests := []struct{ name, path, reason string }{
		{"search errors say what the docs say", searchPath("123"), "Invalid or missing NHS number"},
		{"retrieve not found says Not found", retrievePath("7D9625-Z72BF2-11E3AC"), "Not found"},
		{"a 111 search that finds nothing says so", "/mm/nhs111itemsummary?nhsNumber=" + PatientNoPrescriptions, "No prescriptions found matching search criteria"},
		{"a missing repeat instance says so", "/mm/nhs111itemdetails?prescriptionId=" + RxRepeatDispensingOld, "Prescription repeat instance not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.get(t, tt.path, nil).str("reason"); got != tt.reason {
				t.Errorf("reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestNonTrackerRequestsGetNoJSON(t *testing.T) {
	e := startEnv(t, Options{})
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"an unknown path is 404", http.MethodGet, "/mm/unknown?nhsNumber=" + PatientAcuteAndRepeat, http.StatusNotFound},
		{"a path below a prescription is 404", http.MethodGet, "/mm/prescriptions/" + RxAcuteDispensed + "/x?format=trace", http.StatusNotFound},
		{"a POST is 405", http.MethodPost, searchPath(PatientAcuteAndRepeat), http.StatusMethodNotAllowed},
		{"a DELETE of a prescription is 405", http.MethodDelete, retrievePath(RxAcuteDispensed), http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			req.Header = spineHeaders()
			res := e.do(t, req)
			if res.status != tt.want {
				t.Errorf("HTTP %d, want %d", res.status, tt.want)
			}
			if json.Valid(res.raw) {
				t.Errorf("body %q is JSON", res.raw)
			}
		})
	}
}

func TestTheTraceIDIsReflected(t *testing.T) {
	e := startEnv(t, Options{})
	res := e.get(t, searchPath(PatientAcuteAndRepeat), map[string]string{"Eps-TraceId": "abc-123"})
	if got := res.header.Get("Eps-TraceId"); got != "abc-123" {
		t.Errorf("Eps-TraceId = %q, want abc-123", got)
	}
}
