package sandbox

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Rendering into Spine's JSON (SPEC 2). Every scalar is a string; maps keyed by numbers or IDs are Go
// maps, whose key order JSON does not fix (neither does Spine). Absent dates and ODS codes are
// "False"; a few 111 fields use "" instead, as the real payloads do.

type obj = map[string]any

// reply is one answer: the envelope, the body under its key, and the data-driven fault if any.
type reply struct {
	code, reason, version string
	key                   string
	body                  any
	fault                 Fault
	nhsNumber             string // for the (redacted) log
}

func (r reply) encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj{"statusCode": r.code, "reason": r.reason, "version": r.version, r.key: r.body}); err != nil {
		panic("sandbox: encoding a reply: " + err.Error()) // only strings and maps: cannot happen
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func etag(body []byte) string {
	sum := sha1.Sum(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func ok(key string, body any) reply {
	return reply{code: "0", reason: "", version: "1", key: key, body: body}
}

// failure is an error answer: HTTP 200, the statusCode and reason, the body key present but empty.
// The key is "prescription" for a retrieve and "prescriptions" for the others: the real search error
// says "prescriptions", not "prescriptionList" (SPEC 3).
func failure(in interaction, code, reason string) reply {
	r := reply{code: code, reason: reason, version: "1", key: "prescriptions", body: obj{}}
	if in == retrieve {
		// Both real retrieve errors say "1.0" where every other answer says "1".
		r.key, r.version = "prescription", "1.0"
	}
	return r
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "False"
	}
	return t.UTC().Format("20060102150405")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "False"
	}
	return t.UTC().Format("20060102")
}

// orEmpty is a 111 timestamp that is "" when absent (as prescriptionClaimedDate in the examples).
func orEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

func tf(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func odsOrFalse(o org) string {
	if o.ODS == "" {
		return "False"
	}
	return o.ODS
}

func itoa(n int) string { return strconv.Itoa(n) }

func statusObj(code, text string) obj { return obj{"statusCode": code, "statusText": text} }

func treatmentObj(t tracker.TreatmentType) obj {
	return obj{"prescriptionTreatmentTypeCode": string(t), "prescriptionTreatmentTypeText": t.Display()}
}

// searchEntry is one prescription of the basic search (format=trace-summary): every issue, line
// items by ordinal with their status only.
func searchEntry(p *prescription) obj {
	issues := obj{}
	for _, is := range p.Issues {
		items := obj{}
		for n, st := range is.Items {
			items[itoa(n+1)] = obj{"status": statusObj(string(st), st.Display())}
		}
		issues[itoa(is.Number)] = obj{
			"issueDate":          day(is.Released),
			"prescriptionStatus": statusObj(string(is.Status), is.Status.Display()),
			"lineItems":          items,
		}
	}
	return obj{
		"prescriptionTreatmentType": treatmentObj(p.Treatment),
		"prescriptionIssueDate":     ts(p.IssueDate),
		"lastEventDate":             ts(p.LastEvent),
		"pendingCancellations":      tf(p.PendingCancellations),
		"currentIssueNumber":        itoa(p.CurrentIssue),
		"issues":                    issues,
		"patientNhsNumber":          p.NHSNumber,
	}
}

// retrieveBody is the basic retrieve's prescription (format=trace) with one issue. A nil issue gives
// the blank issue details Spine returns with statusCode 3. GUESS: "blank" means every issue field
// present and "" (issueNumber echoing the number asked for), lineItems empty.
func retrieveBody(p *prescription, is *issue, askedIssue string) obj {
	var issueObj obj
	if is == nil {
		issueObj = obj{
			"issueNumber": askedIssue, "prescriptionStatus": statusObj("", ""),
			"dispensingOrganisationODS": "", "dispensingOrganisationName": "", "dispensingOrganisationContact": "",
			"lastDispenseDate": "", "appliedCancellations": "", "lineItems": obj{},
		}
	} else {
		items := obj{}
		for n, st := range is.Items {
			items[itoa(n+1)] = obj{"id": p.Lines[n].ID, "status": statusObj(string(st), st.Display())}
		}
		issueObj = obj{
			"issueNumber":                   itoa(is.Number),
			"prescriptionStatus":            statusObj(string(is.Status), is.Status.Display()),
			"dispensingOrganisationODS":     odsOrFalse(is.Dispenser),
			"dispensingOrganisationName":    is.Dispenser.Name,
			"dispensingOrganisationContact": is.Dispenser.Phone,
			"lastDispenseDate":              day(is.Dispensed),
			"appliedCancellations":          tf(is.AppliedCancellations),
			"lineItems":                     items,
		}
	}
	return obj{
		"prescriptionId":                 p.ID,
		"patientNhsNumber":               p.NHSNumber,
		"prescriptionType":               obj{"prescriptionTypeCode": p.Type.Code, "prescriptionTypeText": p.Type.Text},
		"prescriptionTreatmentType":      treatmentObj(p.Treatment),
		"prescribingOrganisationODS":     p.Prescriber.ODS,
		"prescribingOrganisationName":    p.Prescriber.Name,
		"prescribingOrganisationContact": p.Prescriber.Phone,
		"nominatedDispenserODS":          odsOrFalse(p.Nominated),
		"nominatedDispenserName":         p.Nominated.Name,
		"daysSupply":                     itoa(p.DaysSupply),
		"signingDate":                    ts(p.SigningDate), // "False" for R1: only R2 is signed
		"lastEventDate":                  ts(p.LastEvent),
		"currentIssueNumber":             itoa(p.CurrentIssue),
		"pendingCancellations":           tf(p.PendingCancellations),
		"issue":                          issueObj,
	}
}

// summaryEntry is one prescription of the 111 item summary: display text instead of codes, the
// current issue's status, medication names by line-item UUID, and the dispense history (only when
// some issue has been with a dispenser, as the real examples show it present or absent).
func summaryEntry(p *prescription) obj {
	cur := p.current()
	lines := obj{}
	for _, l := range p.Lines {
		lines[l.ID] = l.Med.Name
	}
	repeat := obj{"currentIssue": itoa(p.CurrentIssue), "totalAuthorised": itoa(len(p.Issues))}
	history := obj{}
	for _, is := range p.Issues {
		if is.Dispenser.ODS != "" {
			history[itoa(is.Number)] = obj{"dispenseDate": day(is.Dispensed), "dispensingOrgName": is.Dispenser.Name, "dispensingOrgCode": is.Dispenser.ODS}
		}
	}
	if len(history) > 0 {
		repeat["dispenseHistory"] = history
	}
	return obj{
		"prescriptionTreatmentType": p.Treatment.Display(),
		"prescriptionIssueDate":     ts(p.IssueDate),
		"lastEventDate":             ts(p.LastEvent),
		"pendingCancellations":      tf(p.PendingCancellations),
		"epsVersion":                string(p.version()),
		"repeatInstance":            repeat,
		"lineItems":                 lines,
		"prescriptionStatus":        cur.Status.Display(),
		"patientNhsNumber":          p.NHSNumber,
	}
}

func orgObj(o org) obj {
	return obj{"ods": o.ODS, "name": o.Name, "address": o.Address, "phone": o.Phone}
}

// detailEntry is the 111 item details of one issue, optionally narrowed to one line.
// GUESS: repeatInstance.currentIssue is the prescription's current issue, not the one asked for (the
// real fixtures answer issueNumber=1 with currentIssue "2").
func detailEntry(p *prescription, is *issue, only *line) obj {
	items := obj{}
	for n, l := range p.Lines {
		if only != nil && l.ID != only.ID {
			continue
		}
		items[l.ID] = obj{
			"code": l.Med.Code, "description": l.Med.Name, "quantity": l.Med.Quantity, "uom": l.Med.Unit,
			"dosage": l.Med.Dosage, "itemStatus": is.Items[n].DetailDisplay(),
		}
	}
	lastIssueDispensed := "False"
	if prev := p.issue(is.Number - 1); prev != nil && p.Treatment == tracker.TreatmentRepeatDispensing {
		lastIssueDispensed = ts(prev.Dispensed)
	}
	return obj{
		"prescriptionStatus":                 is.Status.Display(),
		"prescriptionTreatmentType":          p.Treatment.Display(),
		"prescriptionIssueDate":              ts(p.IssueDate),
		"lastEventDate":                      ts(p.LastEvent),
		"prescriptionDownloadDate":           orEmpty(is.Downloaded),
		"prescriptionDispensedDate":          day(is.Dispensed),
		"prescriptionClaimedDate":            orEmpty(is.Claimed),
		"prescriptionLastIssueDispensedDate": lastIssueDispensed,
		"pendingCancellations":               tf(p.PendingCancellations),
		"epsVersion":                         string(p.version()),
		"patientNhsNumber":                   p.NHSNumber,
		"repeatInstance":                     obj{"currentIssue": itoa(p.CurrentIssue), "totalAuthorised": itoa(len(p.Issues))},
		"prescriber":                         orgObj(p.Prescriber),
		"nominatedPharmacy":                  orgObj(p.Nominated),
		"dispensingPharmacy":                 orgObj(is.Dispenser),
		"lineItems":                          items,
	}
}

// findLine finds a line by UUID, ignoring case (Spine sends upper case; some callers lower-case it).
func findLine(p *prescription, id string) *line {
	for i := range p.Lines {
		if strings.EqualFold(p.Lines[i].ID, id) {
			return &p.Lines[i]
		}
	}
	return nil
}
