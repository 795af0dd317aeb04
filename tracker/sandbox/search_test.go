package sandbox

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestSearchesFilterAsSpineDoes(t *testing.T) {
	e := startEnv(t, Options{}) // testNow is 2025-03-14
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"the default window is the last 28 days", searchPath(PatientAcuteAndRepeat),
			[]string{RxAcuteDispensed, RxRepeatPrescribingClaimed, RxAcuteToBeDispensed, RxR1AcuteWithDispenser, RxR1RepeatWithDispenser}},
		{"an explicit earliest date reaches older prescriptions", searchPath(PatientAcuteAndRepeat, "&earliestDate=20250101"),
			[]string{RxAcuteOldClaimed, RxAcuteDispensed, RxRepeatPrescribingClaimed, RxAcuteToBeDispensed, RxR1AcuteWithDispenser, RxR1RepeatWithDispenser}},
		{"an explicit range includes the whole latest day", searchPath(PatientAcuteAndRepeat, "&earliestDate=20250311&latestDate=20250311"),
			[]string{RxAcuteDispensed}},
		{"latest before earliest finds nothing", searchPath(PatientAcuteAndRepeat, "&earliestDate=20250310&latestDate=20250301"), nil},
		{"only a latest date older than 28 days finds nothing", searchPath(PatientAcuteAndRepeat, "&latestDate=20250201"), nil},
		{"a patient with only old prescriptions finds nothing by default", searchPath(PatientOnlyOld), nil},
		{"a patient with only old prescriptions finds them with an earliest date", searchPath(PatientOnlyOld, "&earliestDate=20241201"),
			[]string{RxOldClaimed, "2E9B90-ZC2D5C-11E39A"}},
		{"a patient without prescriptions finds nothing", searchPath(PatientNoPrescriptions), nil},
		{"an unknown patient finds nothing", searchPath("9434765919"), nil},
		{"a post-dated prescription is outside the default window", searchPath(PatientAllStatuses, "&prescriptionStatus=9001"), nil},
		{"a post-dated prescription is found with a future latest date", searchPath(PatientAllStatuses, "&prescriptionStatus=9001&latestDate=20250331"),
			[]string{RxFutureDated}},
		{"the status filter matches the current issue", searchPath(PatientAllStatuses, "&prescriptionStatus=0005"),
			[]string{RxCancelled, RxRepeatDispensingCancelled}},
		{"the status filter ignores past issues", searchPath(PatientRepeatDispensing, "&prescriptionStatus=0008"), nil},
		{"version R1 keeps long-form IDs", searchPath(PatientAcuteAndRepeat, "&prescriptionVersion=R1"),
			[]string{RxR1AcuteWithDispenser, RxR1RepeatWithDispenser}},
		{"version 1 is R1", searchPath(PatientAcuteAndRepeat, "&prescriptionVersion=1"),
			[]string{RxR1AcuteWithDispenser, RxR1RepeatWithDispenser}},
		{"version 2 keeps short-form IDs", searchPath(PatientAcuteAndRepeat, "&prescriptionVersion=2"),
			[]string{RxAcuteDispensed, RxRepeatPrescribingClaimed, RxAcuteToBeDispensed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.get(t, tt.path, nil)
			if got := res.str("statusCode"); got != "0" {
				t.Fatalf("statusCode %q %q, want 0", got, res.str("reason"))
			}
			list, ok := res.body["prescriptionList"].(map[string]any)
			if !ok {
				t.Fatalf("no prescriptionList object in %v", keys(res.body))
			}
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if got := keys(list); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("found %v\nwant  %v", got, want)
			}
		})
	}
}

func TestASearchListsEveryRepeatDispensingIssue(t *testing.T) {
	e := startEnv(t, Options{})
	res := e.get(t, searchPath(PatientRepeatDispensing), nil)
	rx := res.obj("prescriptionList")[RxRepeatDispensing].(map[string]any)
	if got := rx["currentIssueNumber"]; got != "3" {
		t.Errorf("currentIssueNumber = %v, want 3", got)
	}
	issues := rx["issues"].(map[string]any)
	if got := keys(issues); strings.Join(got, ",") != "1,2,3,4,5,6" {
		t.Fatalf("issues %v, want 1 to 6", got)
	}
	for n, want := range map[string]string{"1": "0008", "2": "0006", "3": "0003", "4": "9000", "5": "9000", "6": "9000"} {
		is := issues[n].(map[string]any)
		if got := is["prescriptionStatus"].(map[string]any)["statusCode"]; got != want {
			t.Errorf("issue %s status %v, want %s", n, got, want)
		}
		if want != "9000" {
			continue
		}
		if got := is["issueDate"]; got != "False" {
			t.Errorf("future issue %s issueDate %v, want False", n, got)
		}
		for ln, item := range is["lineItems"].(map[string]any) {
			if got := item.(map[string]any)["status"].(map[string]any)["statusCode"]; got != "0007" {
				t.Errorf("future issue %s line %s status %v, want 0007", n, ln, got)
			}
		}
	}
}

func TestARetrieveShowsTheIssueAskedFor(t *testing.T) {
	e := startEnv(t, Options{})
	tests := []struct {
		name, path, code, issue, status string
	}{
		{"the current issue by default", retrievePath(RxRepeatDispensing), "0", "3", "0003"},
		{"a past issue by number", retrievePath(RxRepeatDispensing, "&issueNumber=1"), "0", "1", "0008"},
		{"a future issue by number", retrievePath(RxRepeatDispensing, "&issueNumber=6"), "0", "6", "9000"},
		{"a missing issue with blank details and statusCode 3", retrievePath(RxRepeatDispensing, "&issueNumber=7"), "3", "7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.get(t, tt.path, nil)
			if got := res.str("statusCode"); got != tt.code {
				t.Fatalf("statusCode %q, want %q", got, tt.code)
			}
			p := res.obj("prescription")
			if got := p["prescriptionId"]; got != RxRepeatDispensing {
				t.Errorf("prescriptionId %v: the rest of the prescription is missing", got)
			}
			if got := p["currentIssueNumber"]; got != "3" {
				t.Errorf("currentIssueNumber %v, want 3", got)
			}
			is := p["issue"].(map[string]any)
			if got := is["issueNumber"]; got != tt.issue {
				t.Errorf("issueNumber %v, want %s", got, tt.issue)
			}
			if got := is["prescriptionStatus"].(map[string]any)["statusCode"]; got != tt.status {
				t.Errorf("status %v, want %q", got, tt.status)
			}
			for _, item := range is["lineItems"].(map[string]any) {
				id, _ := item.(map[string]any)["id"].(string)
				if id != strings.ToUpper(id) || len(id) != 36 {
					t.Errorf("line item id %q is not an upper-case UUID", id)
				}
			}
		})
	}
}

func TestTheDetailsShowMedication(t *testing.T) {
	e := startEnv(t, Options{})
	res := e.get(t, "/mm/nhs111itemdetails?prescriptionId="+RxRepeatDispensingOld+"&issueNumber=3", nil)
	d := res.obj(RxRepeatDispensingOld)
	if d == nil {
		t.Fatalf("no body under the prescription ID: %v", keys(res.body))
	}
	item := d["lineItems"].(map[string]any)["30B7E9CF-6F42-40A8-84C1-E61EF638EEE2"].(map[string]any)
	for k, want := range map[string]string{"code": "318896009", "description": "Perindopril erbumine 2mg tablets",
		"quantity": "28", "uom": "tablet", "dosage": "One tablet in the morning", "itemStatus": "To be Dispensed"} {
		if item[k] != want {
			t.Errorf("%s = %v, want %q", k, item[k], want)
		}
	}
	if got := d["prescriptionStatus"]; got != "To Be Dispensed" {
		t.Errorf("prescriptionStatus = %v", got)
	}
	if got := d["repeatInstance"].(map[string]any)["totalAuthorised"]; got != "6" {
		t.Errorf("totalAuthorised = %v, want 6", got)
	}
}

func TestDocumentedPatientsHaveRecentPrescriptionsWhateverTheDate(t *testing.T) {
	for _, now := range []time.Time{time.Now(), time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(2031, 1, 1, 0, 0, 1, 0, time.UTC)} {
		t.Run("on "+now.Format(time.RFC3339), func(t *testing.T) {
			e := startEnv(t, Options{Now: func() time.Time { return now }})
			for _, nhs := range []string{PatientAcuteAndRepeat, PatientRepeatDispensing, PatientR1, PatientAllStatuses, PatientRepeatPrescribing, PatientManyItems} {
				if got := len(e.get(t, searchPath(nhs), nil).obj("prescriptionList")); got == 0 {
					t.Errorf("%s: nothing in the default window", nhs)
				}
			}
		})
	}
}
