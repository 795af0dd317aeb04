package routes_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func TestPatientSearch(t *testing.T) {
	a := start(t, setup{})
	base := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if base.Status != http.StatusOK {
		t.Fatalf("status %d: %s", base.Status, base.Body)
	}
	want := ids(base.JSON, "match")
	if len(want) == 0 {
		t.Fatal("the acute-and-repeat patient has no matches in the default window")
	}

	t.Run("every spelling of the patient finds the same entries", func(t *testing.T) {
		for _, q := range []string{
			"patient:identifier=" + sandbox.PatientAcuteAndRepeat,
			"subject:identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+sandbox.PatientAcuteAndRepeat),
			"patient.identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+sandbox.PatientAcuteAndRepeat),
			"patient=Patient/" + sandbox.PatientAcuteAndRepeat,
			"patient=" + sandbox.PatientAcuteAndRepeat,
		} {
			got := a.get(t, "/MedicationRequest?"+q)
			if got.Status != http.StatusOK || !slices.Equal(ids(got.JSON, "match"), want) {
				t.Errorf("%s: status %d, ids %v, want %v", q, got.Status, ids(got.JSON, "match"), want)
			}
		}
	})

	t.Run("the bundle is a searchset with total and absolute fullUrls, in the full form by default", func(t *testing.T) {
		for _, e := range entries(base.JSON, "match") {
			r := resource(e)
			if meta, _ := r["meta"].(map[string]any); meta["tag"] != nil {
				t.Errorf("%v: the default form is tagged %v", r["id"], meta["tag"])
			}
			if _, ok := r["requester"]; !ok {
				t.Errorf("%v: the full form names no requester", r["id"])
			}
		}
	})

	t.Run("_summary=true gives the summary form, tagged SUBSETTED, from the one Spine search", func(t *testing.T) {
		a.Spine.Sandbox.ResetCalls()
		summary := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_summary=true"))
		if n, all := a.Spine.Sandbox.CallCount("search"), a.Spine.Sandbox.CallCount(""); n != 1 || all != 1 {
			t.Errorf("_summary=true made %d searches and %d calls in all, want 1 and 1", n, all)
		}
		if got := ids(summary.JSON, "match"); !slices.Equal(got, want) {
			t.Errorf("summary ids %v, want %v", got, want)
		}
		if self := link(summary.JSON, "self"); !strings.Contains(self, "_summary=true") {
			t.Errorf("self link %s does not say _summary=true", self)
		}
		b := summary.JSON
		if b["type"] != "searchset" || total(b) != len(want) {
			t.Errorf("type %v total %d, want searchset %d", b["type"], total(b), len(want))
		}
		for _, e := range entries(b, "match") {
			r := resource(e)
			if got, want := e["fullUrl"], a.URL+"/MedicationRequest/"+r["id"].(string); got != want {
				t.Errorf("fullUrl %v, want %v", got, want)
			}
			tags, _ := r["meta"].(map[string]any)["tag"].([]any)
			if len(tags) == 0 || tags[0].(map[string]any)["code"] != "SUBSETTED" {
				t.Errorf("%v: summary form is not tagged SUBSETTED", r["id"])
			}
			if _, ok := r["requester"]; ok {
				t.Errorf("%v: summary form names a requester, which a search does not give", r["id"])
			}
		}
	})

	t.Run("entries are in authoredOn descending order", func(t *testing.T) {
		var last string
		for i, e := range entries(base.JSON, "match") {
			got, _ := resource(e)["authoredOn"].(string)
			if i > 0 && got > last {
				t.Errorf("entry %d authored %s after the one before it (%s)", i, got, last)
			}
			last = got
		}
	})

	t.Run("the default window is applied, shown in the self link and explained", func(t *testing.T) {
		self := link(base.JSON, "self")
		if !strings.Contains(self, "authoredon=ge2026-10-26") || !strings.Contains(self, "authoredon=le2026-11-23") {
			t.Errorf("self link does not carry the applied window: %s", self)
		}
		outcomes := entries(base.JSON, "outcome")
		if len(outcomes) != 1 || !strings.Contains(resource(outcomes[0])["issue"].([]any)[0].(map[string]any)["diagnostics"].(string), "28 days") {
			t.Errorf("want one informational outcome about the 28-day default, got %v", outcomes)
		}
	})

	t.Run("a patient with only old prescriptions finds them only with a wider window", func(t *testing.T) {
		def := a.get(t, search(sandbox.PatientOnlyOld))
		if total(def.JSON) != 0 {
			t.Errorf("default window found %d, want 0", total(def.JSON))
		}
		wide := a.get(t, search(sandbox.PatientOnlyOld, "authoredon=ge2026-09-01", "authoredon=le2026-11-23"))
		if total(wide.JSON) == 0 {
			t.Errorf("a window from September found nothing: %s", wide.Body)
		}
		for _, e := range entries(wide.JSON, "match") {
			if !strings.HasPrefix(resource(e)["id"].(string), sandbox.RxOldClaimed) {
				t.Errorf("unexpected entry %v", resource(e)["id"])
			}
		}
	})

	t.Run("authoredon filters exactly within the days sent to Spine", func(t *testing.T) {
		all := a.get(t, search(sandbox.PatientAcuteAndRepeat, "authoredon=ge2026-09-01"))
		dates := map[string]bool{}
		for _, e := range entries(all.JSON, "match") {
			dates[resource(e)["authoredOn"].(string)] = true
		}
		for d := range dates {
			day := d[:10]
			got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "authoredon=eq"+day))
			for _, e := range entries(got.JSON, "match") {
				if ao := resource(e)["authoredOn"].(string); ao[:10] != day {
					t.Errorf("authoredon=eq%s returned an entry authored %s", day, ao)
				}
			}
			if total(got.JSON) == 0 {
				t.Errorf("authoredon=eq%s found nothing, but an entry was authored then", day)
			}
			exact := a.get(t, search(sandbox.PatientAcuteAndRepeat, "authoredon=gt"+url.QueryEscape(d)))
			for _, e := range entries(exact.JSON, "match") {
				if ao := resource(e)["authoredOn"].(string); ao <= d {
					t.Errorf("authoredon=gt%s returned an entry authored %s", d, ao)
				}
			}
		}
	})

	t.Run("business-status keeps only prescriptions in that status", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAllStatuses, "authoredon=ge2026-01-01", "business-status=0003"))
		if total(got.JSON) == 0 {
			t.Fatalf("no prescriptions With Dispenser - Active: %s", got.Body)
		}
		for _, e := range entries(got.JSON, "match") {
			if code := businessStatus(resource(e)); code != "0003" {
				t.Errorf("%v has business status %s", resource(e)["id"], code)
			}
		}
	})

	t.Run("status keeps only line items whose mapped status matches", func(t *testing.T) {
		all := a.get(t, search(sandbox.PatientAllStatuses, "authoredon=ge2026-01-01"))
		byStatus := groupedBy(entries(all.JSON, "match"), func(e map[string]any) string { return resource(e)["status"].(string) })
		if len(byStatus) < 3 {
			t.Fatalf("want several statuses in the all-statuses data, got %v", len(byStatus))
		}
		for status, es := range byStatus {
			got := a.get(t, search(sandbox.PatientAllStatuses, "authoredon=ge2026-01-01", "status="+status))
			if total(got.JSON) != len(es) {
				t.Errorf("status=%s: total %d, want %d", status, total(got.JSON), len(es))
			}
		}
		two := a.get(t, search(sandbox.PatientAllStatuses, "authoredon=ge2026-01-01", "status=active,completed"))
		if got, want := total(two.JSON), len(byStatus["active"])+len(byStatus["completed"]); got != want {
			t.Errorf("status=active,completed: total %d, want %d", got, want)
		}
	})

	t.Run("prescription-version R1 keeps only long-form prescription IDs", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "prescription-version=R1"))
		if total(got.JSON) == 0 {
			t.Fatal("no R1 prescriptions")
		}
		for _, e := range entries(got.JSON, "match") {
			if g := groupIdentifier(resource(e)); len(g) != 37 {
				t.Errorf("R1 search returned %s", g)
			}
		}
		r2 := a.get(t, search(sandbox.PatientAcuteAndRepeat, "prescription-version=R2"))
		if total(r2.JSON)+total(got.JSON) != total(base.JSON) {
			t.Errorf("R1 %d + R2 %d != all %d", total(got.JSON), total(r2.JSON), total(base.JSON))
		}
	})

	t.Run("a repeat-dispensing search shows the current issue", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientRepeatDispensing))
		for _, e := range entries(got.JSON, "match") {
			r := resource(e)
			if groupIdentifier(r) == sandbox.RxRepeatDispensing && !strings.HasPrefix(r["id"].(string), sandbox.RxRepeatDispensing[:19]+".-3-") {
				t.Errorf("eRD entry %v is not issue 3, the current one", r["id"])
			}
			if r["intent"] != "reflex-order" {
				t.Errorf("eRD intent %v, want reflex-order", r["intent"])
			}
		}
	})

	t.Run("a patient with no prescriptions gets an empty searchset that says why", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientNoPrescriptions))
		if got.Status != http.StatusOK || total(got.JSON) != 0 || len(entries(got.JSON, "match")) != 0 {
			t.Errorf("status %d total %d: %s", got.Status, total(got.JSON), got.Body)
		}
		if len(entries(got.JSON, "outcome")) == 0 {
			t.Error("no informational outcome")
		}
	})

	t.Run("_summary=count gives the total and no entries", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_summary=count"))
		if total(got.JSON) != len(want) || len(entries(got.JSON, "match")) != 0 {
			t.Errorf("total %d, %d entries", total(got.JSON), len(entries(got.JSON, "match")))
		}
	})

	t.Run("unknown parameters are ignored and left out of the self link", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "colour=blue"))
		if got.Status != http.StatusOK || !slices.Equal(ids(got.JSON, "match"), want) {
			t.Errorf("status %d", got.Status)
		}
		if strings.Contains(link(got.JSON, "self"), "colour") {
			t.Errorf("self link keeps the unknown parameter: %s", link(got.JSON, "self"))
		}
	})

	t.Run("Prefer handling=strict turns unknown parameters into a 400", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "colour=blue"), "Prefer", "handling=strict")
		if got.Status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", got.Status)
		}
		if is := issue(t, got); is["code"] != "invalid" {
			t.Errorf("issue %v", is)
		}
	})

	t.Run("the self link, followed, gives the same answer", func(t *testing.T) {
		again := a.get(t, link(base.JSON, "self"))
		if !slices.Equal(ids(again.JSON, "match"), want) {
			t.Errorf("self link gave %v, want %v", ids(again.JSON, "match"), want)
		}
	})
}

func TestGroupIdentifierSearch(t *testing.T) {
	a := start(t, setup{detailed: true})

	t.Run("a prescription's line items come in full form with medication", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?group-identifier="+url.QueryEscape("https://fhir.nhs.uk/Id/prescription-order-number|"+sandbox.RxAcuteDispensed))
		if got.Status != http.StatusOK || total(got.JSON) == 0 {
			t.Fatalf("status %d: %s", got.Status, got.Body)
		}
		for _, e := range entries(got.JSON, "match") {
			r := resource(e)
			if groupIdentifier(r) != sandbox.RxAcuteDispensed {
				t.Errorf("entry of %s", groupIdentifier(r))
			}
			med := r["medicationCodeableConcept"].(map[string]any)
			if _, ok := med["coding"]; !ok {
				t.Errorf("%v: no medication coding in full form with details on: %v", r["id"], med)
			}
			if _, ok := r["requester"]; !ok {
				t.Errorf("%v: full form has no requester", r["id"])
			}
			if meta, _ := r["meta"].(map[string]any); meta["tag"] != nil {
				t.Errorf("%v: full form is tagged %v", r["id"], meta["tag"])
			}
		}
	})

	t.Run("an unencoded plus sign is read as the check character", func(t *testing.T) {
		id := sandbox.RxRepeatDispensing                           // ends in '+'
		got := a.get(t, "/MedicationRequest?group-identifier="+id) // '+' sent raw: the server sees a space
		if got.Status != http.StatusOK || total(got.JSON) == 0 {
			t.Fatalf("status %d: %s", got.Status, got.Body)
		}
		if g := groupIdentifier(resource(entries(got.JSON, "match")[0])); g != id {
			t.Errorf("groupIdentifier %s, want %s", g, id)
		}
	})

	t.Run("issue picks a past issue of a repeat-dispensing prescription", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?group-identifier="+url.QueryEscape(sandbox.RxRepeatDispensing)+"&issue=1")
		if got.Status != http.StatusOK || total(got.JSON) == 0 {
			t.Fatalf("status %d: %s", got.Status, got.Body)
		}
		for _, e := range entries(got.JSON, "match") {
			if id := resource(e)["id"].(string); !strings.Contains(id, ".-1-") {
				t.Errorf("issue=1 gave %s", id)
			}
		}
	})

	t.Run("an issue that does not exist is an empty searchset", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?group-identifier="+url.QueryEscape(sandbox.RxRepeatDispensing)+"&issue=99")
		if got.Status != http.StatusOK || total(got.JSON) != 0 || len(entries(got.JSON, "outcome")) == 0 {
			t.Errorf("status %d total %d: %s", got.Status, total(got.JSON), got.Body)
		}
	})

	t.Run("a well-formed prescription ID Spine does not know is an empty searchset", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?group-identifier=7D9625-Z72BF2-11E3AC")
		if got.Status != http.StatusOK || total(got.JSON) != 0 {
			t.Errorf("status %d total %d: %s", got.Status, total(got.JSON), got.Body)
		}
	})
}

func TestPaging(t *testing.T) {
	a := start(t, setup{})
	all := a.get(t, search(sandbox.PatientManyItems, "_count=100"))
	want := ids(all.JSON, "match")
	if len(want) < 20 {
		t.Fatalf("want many entries to page through, got %d", len(want))
	}

	for _, size := range []int{7, 25} {
		t.Run("pages of "+itoa(size)+" cover every entry exactly once, in order", func(t *testing.T) {
			var got []string
			next := search(sandbox.PatientManyItems, "_count="+itoa(size))
			pages := 0
			for next != "" {
				page := a.get(t, next)
				if page.Status != http.StatusOK {
					t.Fatalf("page %d: status %d: %s", pages, page.Status, page.Body)
				}
				if total(page.JSON) != len(want) {
					t.Errorf("page %d: total %d, want %d", pages, total(page.JSON), len(want))
				}
				if n := len(entries(page.JSON, "match")); n > size {
					t.Errorf("page %d has %d entries, more than _count", pages, n)
				}
				if pages > 0 && link(page.JSON, "previous") == "" {
					t.Errorf("page %d has no previous link", pages)
				}
				got = append(got, ids(page.JSON, "match")...)
				next = link(page.JSON, "next")
				if pages++; pages > 100 {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("paged ids differ from one big page:\n got %v\nwant %v", got, want)
			}
		})
	}

	t.Run("next links are short and opaque", func(t *testing.T) {
		page := a.get(t, search(sandbox.PatientManyItems, "_count=5"))
		next := link(page.JSON, "next")
		u, err := url.Parse(next)
		if err != nil || next == "" {
			t.Fatalf("next link %q: %v", next, err)
		}
		tok := u.Query().Get("_page")
		if strings.Contains(next, sandbox.PatientManyItems) || len(tok) == 0 || len(tok) > 100 {
			t.Errorf("next link %q: want only a short token", next)
		}
	})

	t.Run("a parameter beside _page is not applied: ignored, or a 400 under strict handling", func(t *testing.T) {
		page := a.get(t, search(sandbox.PatientManyItems, "_count=5"))
		u, _ := url.Parse(link(page.JSON, "next"))
		tok := u.Query().Get("_page")
		plain := a.get(t, "/MedicationRequest?_page="+tok)
		edited := a.get(t, "/MedicationRequest?_page="+tok+"&status=cancelled")
		if edited.Status != http.StatusOK || !slices.Equal(ids(edited.JSON, "match"), ids(plain.JSON, "match")) {
			t.Errorf("lenient: status %d, ids %v; want the page as its link gives it, %v", edited.Status, ids(edited.JSON, "match"), ids(plain.JSON, "match"))
		}
		if self := link(edited.JSON, "self"); strings.Contains(self, "cancelled") {
			t.Errorf("the self link %q shows a filter that was not applied", self)
		}
		strict := a.get(t, "/MedicationRequest?_page="+tok+"&status=cancelled", "Prefer", "handling=strict")
		if strict.Status != http.StatusBadRequest {
			t.Fatalf("strict: status %d, want 400: %s", strict.Status, strict.Body)
		}
		if is := issue(t, strict); !slices.Contains(toStrings(is["expression"]), "status") {
			t.Errorf("issue %v does not name status", is)
		}
		if ok := a.get(t, "/MedicationRequest?_page="+tok+"&_pretty=true", "Prefer", "handling=strict"); ok.Status != http.StatusOK {
			t.Errorf("strict with _pretty: status %d, want 200", ok.Status)
		}
		// A page's own self link repeats its search beside _page: that is the search applied.
		self := link(plain.JSON, "self")
		if !strings.Contains(self, "_page=") || !strings.Contains(self, "_count=") {
			t.Fatalf("page 2's self link %q does not repeat its search beside _page: the test proves nothing", self)
		}
		if again := a.get(t, self, "Prefer", "handling=strict"); again.Status != http.StatusOK || !slices.Equal(ids(again.JSON, "match"), ids(plain.JSON, "match")) {
			t.Errorf("strict, page 2's own self link: status %d, want 200 and the same page", again.Status)
		}
	})

	t.Run("a paged search keeps its ETag, so If-None-Match gives a 304", func(t *testing.T) {
		clock := time.Now().Truncate(10 * time.Minute).Add(time.Minute) // away from a token's expiry step
		b := start(t, setup{configure: func(c *routes.Config) { c.Now = func() time.Time { return clock } }})
		path := search(sandbox.PatientManyItems, "_count=5")
		first := b.get(t, path)
		if link(first.JSON, "next") == "" {
			t.Fatal("the first page has no next link: the test proves nothing")
		}
		clock = clock.Add(3 * time.Second) // the page's next link is made again, seconds later
		if again := b.get(t, path, "If-None-Match", first.Header.Get("ETag")); again.Status != http.StatusNotModified {
			t.Errorf("status %d, want 304: the same page's ETag changed", again.Status)
		}
	})

	t.Run("an altered paging token is a 400", func(t *testing.T) {
		page := a.get(t, search(sandbox.PatientManyItems, "_count=5"))
		next := link(page.JSON, "next")
		u, _ := url.Parse(next)
		tok := u.Query().Get("_page")
		bad := a.get(t, "/MedicationRequest?_page="+tok[:len(tok)-2]+"AA")
		if bad.Status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", bad.Status)
		}
		if is := issue(t, bad); !slices.Contains(toStrings(is["expression"]), "_page") {
			t.Errorf("issue %v does not name _page", is)
		}
	})
}

func TestIncludes(t *testing.T) {
	a := start(t, setup{detailed: true})

	t.Run("_include patient adds the Patient once", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:patient"))
		if inc := ids(got.JSON, "include"); !slices.Equal(inc, []string{"Patient/" + sandbox.PatientAcuteAndRepeat}) {
			t.Errorf("includes %v", inc)
		}
	})

	t.Run("_include requester fans out and adds each prescriber once", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:requester"))
		inc := ids(got.JSON, "include")
		if len(inc) == 0 {
			t.Fatalf("no organisations included: %s", got.Body)
		}
		seen := map[string]bool{}
		for _, id := range inc {
			if !strings.HasPrefix(id, "Organization/") || seen[id] {
				t.Errorf("include %s (repeated: %v)", id, seen[id])
			}
			seen[id] = true
		}
		for _, e := range entries(got.JSON, "match") {
			req, ok := resource(e)["requester"].(map[string]any)
			if !ok {
				t.Errorf("%v has no requester after the fan-out", resource(e)["id"])
				continue
			}
			if !seen[req["reference"].(string)] {
				t.Errorf("requester %v is not included", req["reference"])
			}
		}
	})

	t.Run("_revinclude adds the dispenses of dispensed items", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_revinclude=MedicationDispense:prescription"))
		inc := entries(got.JSON, "include")
		if len(inc) == 0 {
			t.Fatalf("no dispenses included: %s", got.Body)
		}
		matches := map[string]bool{}
		for _, id := range ids(got.JSON, "match") {
			matches[id] = true
		}
		for _, e := range inc {
			r := resource(e)
			if r["resourceType"] != "MedicationDispense" {
				t.Errorf("include of %v", r["resourceType"])
				continue
			}
			ref := r["authorizingPrescription"].([]any)[0].(map[string]any)["reference"].(string)
			if !matches[ref] {
				t.Errorf("dispense %v points at %s, which is not a match", r["id"], ref)
			}
		}
	})

	t.Run("_include on a group-identifier search needs no fan-out", func(t *testing.T) {
		got := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed+"&_include=MedicationRequest:requester&_include=MedicationRequest:patient")
		if inc := ids(got.JSON, "include"); len(inc) != 2 {
			t.Errorf("includes %v, want the patient and the prescriber", inc)
		}
	})
}

func TestRead(t *testing.T) {
	a := start(t, setup{detailed: true})
	found := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxRepeatPrescribingActive)
	es := entries(found.JSON, "match")
	if len(es) == 0 {
		t.Fatalf("nothing found: %s", found.Body)
	}

	t.Run("an id from a search reads the same resource", func(t *testing.T) {
		for _, e := range es {
			id := resource(e)["id"].(string)
			got := a.get(t, "/MedicationRequest/"+id)
			if got.Status != http.StatusOK || got.JSON["id"] != id || got.JSON["resourceType"] != "MedicationRequest" {
				t.Errorf("read %s: status %d, id %v", id, got.Status, got.JSON["id"])
			}
		}
	})

	t.Run("the ETag lets a client revalidate", func(t *testing.T) {
		id := resource(es[0])["id"].(string)
		first := a.get(t, "/MedicationRequest/"+id)
		etag := first.Header.Get("ETag")
		if etag == "" || !strings.Contains(first.Header.Get("Cache-Control"), "private") {
			t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header.Get("Cache-Control"))
		}
		again := a.get(t, "/MedicationRequest/"+id, "If-None-Match", etag)
		if again.Status != http.StatusNotModified || len(again.Body) != 0 {
			t.Errorf("status %d with %d bytes, want 304 and no body", again.Status, len(again.Body))
		}
	})

	for _, tc := range []struct{ name, id string }{
		{"a line that does not exist is a 404", sandbox.RxRepeatPrescribingActive + "-1-9"},
		{"an issue that does not exist is a 404", sandbox.RxRepeatPrescribingActive + "-7-1"},
		{"a prescription Spine does not know is a 404", "7D9625-Z72BF2-11E3AC-1-1"},
		{"a wrong check character is a 404", "7D9625-Z72BF2-11E3AD-1-1"},
		{"a malformed id is a 404", "not-an-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := a.get(t, "/MedicationRequest/"+tc.id)
			if got.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404: %s", got.Status, got.Body)
			}
			if is := issue(t, got); is["code"] != "not-found" {
				t.Errorf("issue %v", is)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	a := start(t, setup{})
	got := a.get(t, "/metadata")
	if got.Status != http.StatusOK || got.JSON["resourceType"] != "CapabilityStatement" || got.JSON["fhirVersion"] != "4.0.1" {
		t.Fatalf("status %d: %.300s", got.Status, got.Body)
	}
	rest := got.JSON["rest"].([]any)[0].(map[string]any)
	var params []string
	for _, r := range rest["resource"].([]any) {
		rm := r.(map[string]any)
		if rm["type"] != "MedicationRequest" {
			continue
		}
		for _, p := range rm["searchParam"].([]any) {
			params = append(params, p.(map[string]any)["name"].(string))
		}
		for _, p := range rm["searchParam"].([]any) {
			def, _ := p.(map[string]any)["definition"].(string)
			if strings.HasPrefix(def, a.URL) {
				t.Run("the definition of "+p.(map[string]any)["name"].(string)+" is served", func(t *testing.T) {
					sp := a.get(t, def)
					if sp.Status != http.StatusOK || sp.JSON["resourceType"] != "SearchParameter" {
						t.Errorf("GET %s: status %d", def, sp.Status)
					}
				})
			}
		}
	}
	for _, want := range []string{"patient", "authoredon", "status", "business-status", "prescription-version", "group-identifier", "issue"} {
		if !slices.Contains(params, want) {
			t.Errorf("CapabilityStatement does not declare %s (has %v)", want, params)
		}
	}
}

func businessStatus(r map[string]any) string {
	for _, e := range r["extension"].([]any) {
		em := e.(map[string]any)
		if strings.HasSuffix(em["url"].(string), "Extension-EPS-TaskBusinessStatus") {
			return em["valueCoding"].(map[string]any)["code"].(string)
		}
	}
	return ""
}

func groupIdentifier(r map[string]any) string {
	g, _ := r["groupIdentifier"].(map[string]any)
	v, _ := g["value"].(string)
	return v
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTheSummaryFormNamesMedicationFromOneItemSummaryCall: with the detail interactions allowed, a
// _summary=true search makes one 111 item summary call for the whole search, and a single-line
// prescription's medication is named from it (several lines cannot be joined without Spine's
// line-item ids, and are never guessed).
func TestTheSummaryFormNamesMedicationFromOneItemSummaryCall(t *testing.T) {
	a := start(t, setup{detailed: true})
	a.Spine.Sandbox.ResetCalls()
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_summary=true"))
	if got.Status != http.StatusOK {
		t.Fatalf("status %d", got.Status)
	}
	if n, all := a.Spine.Sandbox.CallCount("nhs111itemsummary"), a.Spine.Sandbox.CallCount(""); n != 1 || all != 2 {
		t.Errorf("%d item summary calls and %d calls in all, want 1 and 2 (search and item summary)", n, all)
	}
	named := 0
	for _, e := range entries(got.JSON, "match") {
		if med, _ := resource(e)["medicationCodeableConcept"].(map[string]any); med["text"] != nil || med["coding"] != nil {
			named++
		}
	}
	if named == 0 {
		t.Error("no entry names its medication from the item summary")
	}

	t.Run("without the detail interactions no item summary is asked", func(t *testing.T) {
		b := start(t, setup{})
		b.Spine.Sandbox.ResetCalls()
		b.get(t, search(sandbox.PatientAcuteAndRepeat, "_summary=true"))
		if n := b.Spine.Sandbox.CallCount("nhs111itemsummary"); n != 0 {
			t.Errorf("%d item summary calls", n)
		}
	})
}

// A repeat-dispensing prescription's full form keeps the number of repeats its summary form shows:
// the search listed every issue, and the fan-out carries that count to the retrieve, which shows one,
// so numberOfRepeatsAllowed is there without the 111 calls.
func TestTheFullFormKeepsTheRepeatsAllowed(t *testing.T) {
	a := start(t, setup{}) // no 111 calls, as against a real Spine
	path := search(sandbox.PatientRepeatDispensing, "authoredon=ge2026-01-01")
	repeats := func(b map[string]any) map[string]any {
		out := map[string]any{}
		for _, e := range entries(b, "match") {
			r := resource(e)
			if dr, _ := r["dispenseRequest"].(map[string]any); dr != nil {
				out[r["id"].(string)] = dr["numberOfRepeatsAllowed"]
			}
		}
		return out
	}
	full, summary := repeats(a.get(t, path).JSON), repeats(a.get(t, path+"&_summary=true").JSON)
	if len(summary) == 0 {
		t.Fatal("no dispenseRequest in the summary form: the test proves nothing")
	}
	for id, n := range summary {
		if n == nil || full[id] != n {
			t.Errorf("%s: numberOfRepeatsAllowed %v in the full form, %v in the summary form", id, full[id], n)
		}
	}
}

// What Spine said of the organisations a retrieve names (their names) is kept for Organization reads
// only when an answer shows them: after a group-identifier search for another patient's prescription
// (answered as unknown) or a read of a line that does not exist, another user reading them learns
// only the code they asked with (a SUBSETTED Organization, as for any code this server has not
// described), and after an answer shows them, what Spine said of them.
func TestOnlyOrganisationsShownCanBeRead(t *testing.T) {
	read := "/MedicationRequest/" + sandbox.RxAcuteDispensed + "-1-1"
	shown := start(t, setup{}).get(t, read)
	var orgs []string
	for _, ref := range []string{jsonPath(shown.JSON, "requester", "reference"), jsonPath(shown.JSON, "dispenseRequest", "performer", "reference")} {
		if strings.HasPrefix(ref, "Organization/") {
			orgs = append(orgs, ref)
		}
	}
	if len(orgs) == 0 {
		t.Fatalf("the read names no organisation: the test proves nothing: %s", shown.Body)
	}

	a := start(t, setup{})
	other := "Bearer " + a.tokenFor(t, pharmacist)
	unknown := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed+"&patient=9691003139")
	if unknown.Status != http.StatusOK || len(entries(unknown.JSON, "match")) != 0 {
		t.Fatalf("another patient's prescription: %d with %d matches", unknown.Status, len(entries(unknown.JSON, "match")))
	}
	if got := a.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-9"); got.Status != http.StatusNotFound {
		t.Fatalf("a line that does not exist: %d", got.Status)
	}
	// The prescription's own search, by its ID, answering no entry: a count, or a status filter no
	// line meets.
	for _, q := range []string{"_summary=count", "status=entered-in-error"} {
		got := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed+"&"+q)
		if got.Status != http.StatusOK || len(entries(got.JSON, "match")) != 0 {
			t.Fatalf("%s: %d with %d matches", q, got.Status, len(entries(got.JSON, "match")))
		}
	}
	for _, org := range orgs {
		got := a.get(t, "/"+org, "Authorization", other)
		if got.Status != http.StatusOK || got.JSON["name"] != nil || !strings.Contains(string(got.Body), `"code":"SUBSETTED"`) {
			t.Errorf("%s after answers that showed it to no one: %d %s, want the code alone, SUBSETTED", org, got.Status, got.Body)
		}
	}
	a.get(t, read)
	for _, org := range orgs {
		if got := a.get(t, "/"+org, "Authorization", other); got.Status != http.StatusOK || strings.Contains(string(got.Body), `"code":"SUBSETTED"`) {
			t.Errorf("%s after a read that showed it: %d %s, want 200 with what Spine said of it", org, got.Status, got.Body)
		}
	}
	t.Run("a search by prescription ID that shows its lines keeps them", func(t *testing.T) {
		b := start(t, setup{})
		if got := b.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed); len(entries(got.JSON, "match")) == 0 {
			t.Fatalf("no matches: %s", got.Body)
		}
		for _, org := range orgs {
			if got := b.get(t, "/"+org, "Authorization", "Bearer "+b.tokenFor(t, pharmacist)); got.Status != http.StatusOK || strings.Contains(string(got.Body), `"code":"SUBSETTED"`) {
				t.Errorf("%s after a search that showed it: %d %s, want 200 with what Spine said of it", org, got.Status, got.Body)
			}
		}
	})
}

// jsonPath is the string at path in b, "" when there is none.
func jsonPath(b map[string]any, path ...string) string {
	var v any = b
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// A group-identifier search naming another patient is answered as for an unknown prescription, an
// issue number included: Spine's "no such issue" says the prescription exists, and the answer said so
// ("Spine has the prescription but not the issue asked for") for another patient's prescription.
func TestAnotherPatientsPrescriptionWithAnIssueIsAnsweredAsUnknown(t *testing.T) {
	a := start(t, setup{})
	// 3AF2CB-C86002-0000BX is 9691003120's, not 9691003139's; 7D9625-Z72BF2-11E3AC is no one's.
	other := a.get(t, "/MedicationRequest?group-identifier=3AF2CB-C86002-0000BX&issue=9&patient="+sandbox.PatientRepeatPrescribing)
	unknown := a.get(t, "/MedicationRequest?group-identifier=7D9625-Z72BF2-11E3AC&issue=9&patient="+sandbox.PatientRepeatPrescribing)
	if other.Status != http.StatusOK || unknown.Status != http.StatusOK || total(other.JSON) != 0 {
		t.Fatalf("status %d / %d, total %d", other.Status, unknown.Status, total(other.JSON))
	}
	if got, want := outcomeTexts(other.JSON), outcomeTexts(unknown.JSON); !slices.Equal(got, want) {
		t.Errorf("another patient's prescription: %q, an unknown one: %q; want the same", got, want)
	}
	// Without a patient filter the prescription's existence is the searcher's to know.
	own := a.get(t, "/MedicationRequest?group-identifier=3AF2CB-C86002-0000BX&issue=9")
	if got := outcomeTexts(own.JSON); !anyContains(got, "not the issue asked for") {
		t.Errorf("no patient filter: %q, want the issue named as missing", got)
	}
}

// count111 counts the 111 calls a request makes.
type count111 struct {
	routes.Tracker
	summaries, details atomic.Int32
}

func (c *count111) ItemSummary(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	c.summaries.Add(1)
	return c.Tracker.ItemSummary(ctx, who, q)
}

func (c *count111) ItemDetails(ctx context.Context, who tracker.Caller, q tracker.DetailQuery) (*tracker.PrescriptionDetail, error) {
	c.details.Add(1)
	return c.Tracker.ItemDetails(ctx, who, q)
}

// An answer that shows no entry (_summary=count, _count=0) names no medication, so it makes none of
// Spine's 111 calls (it made them, a load on a shared national service for nothing), and the same
// searches with entries still do.
func TestATotalOnlyAnswerMakesNo111Calls(t *testing.T) {
	ct := &count111{}
	a := start(t, setup{detailed: true, tracker: ct})
	ct.Tracker = a.Client
	for _, tc := range []struct {
		query   string
		want111 bool
	}{
		{search(sandbox.PatientAcuteAndRepeat, "_summary=true", "_count=0"), false},
		{search(sandbox.PatientAcuteAndRepeat, "_summary=count"), false},
		{"/MedicationRequest?group-identifier=3AF2CB-C86002-0000BX&_summary=count", false},
		{"/MedicationRequest?group-identifier=3AF2CB-C86002-0000BX&_count=0", false},
		{search(sandbox.PatientAcuteAndRepeat, "_summary=true", "_count=1"), true},
		{"/MedicationRequest?group-identifier=3AF2CB-C86002-0000BX", true},
	} {
		ct.summaries.Store(0)
		ct.details.Store(0)
		r := a.get(t, tc.query)
		if r.Status != http.StatusOK || total(r.JSON) == 0 {
			t.Fatalf("%s: %d, total %d", tc.query, r.Status, total(r.JSON))
		}
		if calls := ct.summaries.Load() + ct.details.Load(); (calls > 0) != tc.want111 {
			t.Errorf("%s: %d 111 calls, want them: %v", tc.query, calls, tc.want111)
		}
	}
}

// Under Prefer: handling=strict an empty parameter beside _page is ignored, as it is in a new search
// (FHIR ignores empty parameters); it was a 400.
func TestAnEmptyParameterBesidePageIsIgnoredUnderStrictHandling(t *testing.T) {
	a := start(t, setup{})
	first := a.get(t, search(sandbox.PatientManyItems, "_count=5", "_summary=true"))
	u, err := url.Parse(link(first.JSON, "next"))
	if err != nil || u.Query().Get("_page") == "" {
		t.Fatalf("next link %q", link(first.JSON, "next"))
	}
	tok := url.QueryEscape(u.Query().Get("_page"))
	if got := a.get(t, "/MedicationRequest?_page="+tok+"&status=", "Prefer", "handling=strict"); got.Status != http.StatusOK {
		t.Errorf("strict _page with an empty status=: %d %.300s, want 200", got.Status, got.Body)
	}
	if got := a.get(t, "/MedicationRequest?_page="+tok+"&status=active", "Prefer", "handling=strict"); got.Status != http.StatusBadRequest {
		t.Errorf("strict _page with status=active: %d, want 400", got.Status)
	}
}

// The CapabilityStatement declares exactly the includes that work: each declared spelling is served
// under strict handling with what it includes, and a spelling not declared is a 400 there. It
// declared only the plain forms while the search also served the ones naming their target type and
// subject for patient.
func TestTheDeclaredIncludesAreTheOnesServed(t *testing.T) {
	a := start(t, setup{})
	cs := a.get(t, "/metadata", "Authorization", "")
	var mr map[string]any
	for _, r := range cs.JSON["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		if r.(map[string]any)["type"] == "MedicationRequest" {
			mr = r.(map[string]any)
		}
	}
	for _, k := range []string{"searchInclude", "searchRevInclude"} {
		declared, _ := mr[k].([]any)
		if len(declared) == 0 {
			t.Fatalf("no %s declared", k)
		}
		param := "_include="
		if k == "searchRevInclude" {
			param = "_revinclude="
		}
		for _, d := range declared {
			got := a.get(t, search(sandbox.PatientAcuteAndRepeat, param+d.(string)), "Prefer", "handling=strict")
			if got.Status != http.StatusOK || len(entries(got.JSON, "include")) == 0 {
				t.Errorf("declared %s%s: %d with %d included", param, d, got.Status, len(entries(got.JSON, "include")))
			}
		}
	}
	if got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:medication"), "Prefer", "handling=strict"); got.Status != http.StatusBadRequest {
		t.Errorf("an include not declared, under strict handling: %d, want 400", got.Status)
	}
}
