package sandbox

import (
	"strings"
	"testing"
)

// The sandbox's answers must look exactly like the real Spine payloads in testdata/: same envelope,
// same keys at every level, strings everywhere.
func TestAnswersHaveTheShapeOfRealSpinePayloads(t *testing.T) {
	e := startEnv(t, Options{})
	tests := []struct {
		name string
		path string
		real string
		// bodyKey, when set, is the 111 details' top-level key (the prescription ID), compared under a
		// common name.
		bodyKey, realKey string
		// spineResponse unwraps EPSAPI's error fixture.
		spineResponse bool
	}{
		{name: "a search for acute and repeat prescriptions looks like the real scenario 1 search",
			path: searchPath(PatientAcuteAndRepeat), real: "search_111branch_scenario1_acute_and_repeat.json"},
		{name: "a search with repeat dispensing issues looks like the real search",
			path: searchPath(PatientRepeatDispensing), real: "search_111branch_scenario1_acute_and_repeat.json"},
		{name: "a search showing every status looks like the real search",
			path: searchPath(PatientAllStatuses, "&latestDate=20251231"), real: "search_111branch_scenario1_acute_and_repeat.json"},
		{name: "a search with an invalid NHS number looks like the real 111-branch error",
			path: searchPath("9691003121"), real: "search_111branch_error_61.json"},
		{name: "a search with a missing NHS number looks like the real gh-pages error",
			path: "/mm/prescriptions?format=trace-summary", real: "search_ghpages_error_61_missing_nhs_number.json"},
		{name: "a retrieve of a repeat prescription with dispenser looks like the real scenario 1 retrieve",
			path: retrievePath(RxRepeatPrescribingActive), real: "retrieve_111branch_scenario1_repeat_prescribing.json"},
		{name: "a retrieve of a claimed acute prescription looks like the real gh-pages retrieve",
			path: retrievePath(RxOldClaimed), real: "retrieve_ghpages_acute_claimed.json"},
		{name: "a retrieve of an unreleased R1 prescription looks like the real retrieve",
			path: retrievePath(RxR1Acute), real: "retrieve_ghpages_acute_claimed.json"},
		{name: "a retrieve of a future repeat-dispensing issue looks like the real retrieve",
			path: retrievePath(RxRepeatDispensing, "&issueNumber=5"), real: "retrieve_ghpages_acute_claimed.json"},
		{name: "a retrieve of a missing issue keeps the real retrieve's shape",
			path: retrievePath(RxAcuteDispensed, "&issueNumber=2"), real: "retrieve_ghpages_acute_claimed.json"},
		{name: "a retrieve of an unknown prescription looks like the real not-found error",
			path: retrievePath("7D9625-Z72BF2-11E3AC"), real: "retrieve_111branch_error_1_not_found.json"},
		{name: "a 111 summary with an invalid NHS number looks like the real 111 error",
			path: "/mm/nhs111itemsummary?nhsNumber=123", real: "nhs111itemsummary_error_61.json"},
		{name: "the 111 details of an R1 acute prescription look like the real scenario 1 details",
			path: "/mm/nhs111itemdetails?prescriptionId=" + RxR1Acute, real: "nhs111itemdetails_scenario1_acute_r1.json",
			bodyKey: RxR1Acute, realKey: "9C18AE6F-510C-F7A3-E050-D20AE3A231C8C"},
		{name: "the 111 details of a repeat-dispensing issue look like the real eRD details",
			path: "/mm/nhs111itemdetails?prescriptionId=" + escapeQuery(RxRepeatDispensing) + "&issueNumber=1",
			real: "nhs111itemdetails_scenario2_erd_issue1.json", bodyKey: RxRepeatDispensing, realKey: "74A4DF-N82668-00005V"},
		{name: "the 111 details of one line look like EPSAPI's detail fixture",
			path: "/mm/nhs111itemdetails?prescriptionId=" + RxRepeatDispensingOld + "&issueNumber=2&lineitemid=30b7e9cf-6f42-40a8-84c1-e61ef638eee2",
			real: "nhs111_detail_success-2-lineItems.json", bodyKey: RxRepeatDispensingOld, realKey: "2D35F7-ZA0448-11E88Z"},
		{name: "the 111 details of repeat dispensing without an issue number look like EPSAPI's error fixture",
			path: "/mm/nhs111itemdetails?prescriptionId=" + RxRepeatDispensingOld, real: "nhs111_detail_error-no-issue-number.json",
			spineResponse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real := readTestdata(t, tt.real)
			if tt.spineResponse {
				real = real["spineResponse"].(map[string]any)
			}
			res := e.get(t, tt.path, nil)
			if res.status != 200 || res.body == nil {
				t.Fatalf("got HTTP %d %q, want 200 with a JSON object", res.status, res.raw)
			}
			got := res.body
			if tt.bodyKey != "" {
				got, real = renameKey(got, tt.bodyKey, "<id>"), renameKey(real, tt.realKey, "<id>")
			}
			for _, d := range shapeDiff("$", real, got) {
				t.Error(d)
			}
			for _, d := range allStrings("$", res.body) {
				t.Errorf("not a string: %s", d)
			}
			if got, want := res.header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if et := res.header.Get("Etag"); len(et) != 42 || !strings.HasPrefix(et, `"`) {
				t.Errorf("Etag = %q, want a quoted sha1", et)
			}
		})
	}
}

// The 111 summary shows the dispense history only where there is one: real examples exist of both.
func TestItemSummaryEntriesHaveTheShapeOfRealEntries(t *testing.T) {
	e := startEnv(t, Options{})
	withHistory := readTestdata(t, "nhs111itemsummary_scenario1_r1.json")["prescriptions"].(map[string]any)["9C18AE6F-510C-F7A3-E050-D20AE3A231C8C"]
	without := readTestdata(t, "nhs111_summary_success.json")["prescriptions"].(map[string]any)["003D4D-A99968-4C5AAJ"]
	seen := map[bool]bool{}
	for _, nhs := range []string{PatientAcuteAndRepeat, PatientRepeatDispensing, PatientR1, PatientAllStatuses} {
		res := e.get(t, "/mm/nhs111itemsummary?nhsNumber="+nhs, nil)
		if got := keys(res.body); strings.Join(got, ",") != "prescriptions,reason,statusCode,version" {
			t.Fatalf("envelope keys %v", got)
		}
		for id, entry := range res.obj("prescriptions") {
			repeat, _ := entry.(map[string]any)["repeatInstance"].(map[string]any)
			_, has := repeat["dispenseHistory"]
			seen[has] = true
			want := without
			if has {
				want = withHistory
			}
			for _, d := range shapeDiff(id, want, entry) {
				t.Error(d)
			}
		}
	}
	if !seen[true] || !seen[false] {
		t.Errorf("want entries with and without dispense history, saw %v", seen)
	}
}

func escapeQuery(s string) string { return strings.ReplaceAll(s, "+", "%2B") }
