package tracker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// The interaction names an *Error reports.
const (
	interactionSearch      = "search"
	interactionRetrieve    = "retrieve"
	interactionItemSummary = "nhs111itemsummary"
	interactionItemDetails = "nhs111itemdetails"
)

// basicStatusKinds maps the statusCodes of the basic interactions (SPEC 3) to error kinds. 50
// ("query parameters not provided") is the adapter's own fault, never the client's: the adapter
// always sends every parameter Spine needs, so a 50 means it built a wrong request.
var basicStatusKinds = map[int]error{
	1: ErrNotFound, 2: ErrUpstream, 3: ErrIssueNotFound, 4: ErrUpstream, 5: ErrUpstream,
	50: ErrRejected, 51: ErrInvalidRequest,
	52: ErrRejected, 53: ErrRejected, 54: ErrRejected, 55: ErrRejected, 56: ErrRejected,
	57: ErrInvalidRequest, 59: ErrInvalidRequest, 60: ErrInvalidRequest, 61: ErrInvalidRequest,
}

// detailStatusKinds maps the statusCodes of the 111 interactions. Their swagger numbers 1 to 8
// differently from the basic table, while the 111 pages still show the basic 5x codes (SPEC 3).
var detailStatusKinds = map[int]error{
	1: ErrNotFound, 2: ErrInvalidRequest, 5: ErrUpstream, 6: ErrNotFound, 7: ErrNotFound, 8: ErrIssueNotFound,
	50: ErrRejected, 51: ErrInvalidRequest,
	52: ErrRejected, 53: ErrRejected, 54: ErrRejected, 55: ErrRejected, 56: ErrRejected,
	57: ErrInvalidRequest, 59: ErrInvalidRequest, 60: ErrInvalidRequest, 61: ErrInvalidRequest,
}

// statusKind tells the error kind of a non-zero statusCode. Codes Spine has not documented are an
// upstream failure: the request may have been fine, the answer is unusable either way.
func statusKind(interaction string, code int) error {
	table := basicStatusKinds
	if interaction == interactionItemSummary || interaction == interactionItemDetails {
		table = detailStatusKinds
	}
	if kind, ok := table[code]; ok {
		return kind
	}
	return ErrUpstream
}

// text is a Spine scalar. Spine sends every value as a JSON string; text also takes a bare number,
// boolean or null, so that a quoting difference does not cost a whole reply. Surrounding space is
// trimmed.
type text string

func (t *text) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if k := dec.PeekKind(); k == '{' || k == '[' {
		return errors.New("want a string, got an object or array")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '"':
		*t = text(strings.TrimSpace(tok.String()))
	case 'n':
		*t = ""
	default: // a number, true or false, as sent
		*t = text(tok.String())
	}
	return nil
}

// absent turns Spine's null sentinels ("False", "") into the empty string.
func absent(t text) string {
	if strings.EqualFold(string(t), "False") {
		return ""
	}
	return string(t)
}

// orgName is absent for names, which Spine also gives as "Not Found" when its ODS lookup failed.
func orgName(t text) string {
	if strings.EqualFold(string(t), "Not Found") {
		return ""
	}
	return absent(t)
}

// conv converts Spine's strings into typed values. It keeps the first failure, so a record is
// converted in one straight run and checked once at the end (as bufio.Scanner does).
type conv struct{ err error }

func (c *conv) fail(field string, v text, why string) {
	if c.err == nil {
		c.err = fmt.Errorf("%s %q: %s", field, v, why)
	}
}

// time reads a timestamp: YYYYMMDDHHMMSS or a prefix of it down to YYYYMMDD, right-padded with
// zeros as NHS England's own tracker does; always UTC (SPEC 2.1). "False" and "" are the zero time.
func (c *conv) time(field string, v text) time.Time {
	s := absent(v)
	if s == "" {
		return time.Time{}
	}
	if len(s) < 8 || len(s) > 14 || strings.Trim(s, "0123456789") != "" {
		c.fail(field, v, "not a Spine timestamp")
		return time.Time{}
	}
	t, err := time.ParseInLocation("20060102150405", s+strings.Repeat("0", 14-len(s)), time.UTC)
	if err != nil {
		c.fail(field, v, "not a real date")
		return time.Time{}
	}
	return t
}

// int reads a non-negative integer; "" is 0 (absent).
func (c *conv) int(field string, v text) int {
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		c.fail(field, v, "not a count")
		return 0
	}
	return n
}

// bool reads "True" or "False" in any case; "" is false.
func (c *conv) bool(field string, v text) bool {
	switch {
	case v == "", strings.EqualFold(string(v), "False"):
		return false
	case strings.EqualFold(string(v), "True"):
		return true
	}
	c.fail(field, v, "not True or False")
	return false
}

// codeType is a Spine code with a display table: PrescriptionStatus, LineItemStatus, TreatmentType.
type codeType interface {
	~string
	Valid() bool
}

// coded reads a code, falling back to its display text only when Spine leaves the code out.
// Unknown codes and text are faults, never guesses (FHIR-API 4).
func coded[T codeType](c *conv, field string, code, display text, fromText func(string) (T, bool), what string) T {
	if code == "" {
		return fromDisplay(c, field, display, fromText, what)
	}
	if v := T(code); v.Valid() {
		return v
	}
	c.fail(field, code, "unknown "+what)
	var zero T
	return zero
}

// fromDisplay reads a code from its display text, as the 111 interactions send it.
func fromDisplay[T codeType](c *conv, field string, display text, fromText func(string) (T, bool), what string) T {
	v, ok := fromText(string(display))
	if !ok {
		c.fail(field, display, "unknown "+what+" text")
	}
	return v
}

func (c *conv) prescriptionStatus(field string, w wireStatus) PrescriptionStatus {
	return coded(c, field, w.Code, w.Text, PrescriptionStatusFromText, "prescription status")
}

func (c *conv) lineItemStatus(field string, w wireStatus) LineItemStatus {
	return coded(c, field, w.Code, w.Text, LineItemStatusFromText, "line-item status")
}

func (c *conv) treatmentType(field string, w wireTreatment) TreatmentType {
	return coded(c, field, w.Code, w.Text, TreatmentTypeFromText, "treatment type")
}

// Basic interactions' wire shapes (SPEC 2.2, 2.3).

type wireStatus struct {
	Code text `json:"statusCode"`
	Text text `json:"statusText"`
}

type wireTreatment struct {
	Code text `json:"prescriptionTreatmentTypeCode"`
	Text text `json:"prescriptionTreatmentTypeText"`
}

type wirePrescriptionType struct {
	Code text `json:"prescriptionTypeCode"`
	Text text `json:"prescriptionTypeText"`
}

type wireLineItem struct {
	ID     text       `json:"id"`
	Status wireStatus `json:"status"`
}

// wireSummary is one prescription of a search's prescriptionList, keyed there by its ID.
type wireSummary struct {
	TreatmentType        wireTreatment               `json:"prescriptionTreatmentType"`
	IssueDate            text                        `json:"prescriptionIssueDate"`
	LastEventDate        text                        `json:"lastEventDate"`
	PendingCancellations text                        `json:"pendingCancellations"`
	CurrentIssueNumber   text                        `json:"currentIssueNumber"`
	PatientNHSNumber     text                        `json:"patientNhsNumber"`
	Issues               map[string]wireSummaryIssue `json:"issues"`
}

type wireSummaryIssue struct {
	IssueDate text                    `json:"issueDate"`
	Status    wireStatus              `json:"prescriptionStatus"`
	LineItems map[string]wireLineItem `json:"lineItems"`
}

// wirePrescription is a retrieve's prescription.
type wirePrescription struct {
	ID                   text                 `json:"prescriptionId"`
	PatientNHSNumber     text                 `json:"patientNhsNumber"`
	Type                 wirePrescriptionType `json:"prescriptionType"`
	TreatmentType        wireTreatment        `json:"prescriptionTreatmentType"`
	PrescriberODS        text                 `json:"prescribingOrganisationODS"`
	PrescriberName       text                 `json:"prescribingOrganisationName"`
	PrescriberContact    text                 `json:"prescribingOrganisationContact"`
	NominatedODS         text                 `json:"nominatedDispenserODS"`
	NominatedName        text                 `json:"nominatedDispenserName"`
	DaysSupply           text                 `json:"daysSupply"`
	SigningDate          text                 `json:"signingDate"`
	LastEventDate        text                 `json:"lastEventDate"`
	CurrentIssueNumber   text                 `json:"currentIssueNumber"`
	PendingCancellations text                 `json:"pendingCancellations"`
	Issue                jsontext.Value       `json:"issue"`
}

type wireIssue struct {
	Number               text                    `json:"issueNumber"`
	Status               wireStatus              `json:"prescriptionStatus"`
	DispenserODS         text                    `json:"dispensingOrganisationODS"`
	DispenserName        text                    `json:"dispensingOrganisationName"`
	DispenserContact     text                    `json:"dispensingOrganisationContact"`
	LastDispenseDate     text                    `json:"lastDispenseDate"`
	AppliedCancellations text                    `json:"appliedCancellations"`
	LineItems            map[string]wireLineItem `json:"lineItems"`
}

// parseSearch turns a basic search reply into a SearchResult.
func parseSearch(data []byte) (*SearchResult, error) { return wireJSON.search(data) }

func (r wireReader) search(data []byte) (*SearchResult, error) {
	env, err := r.envelope(interactionSearch, data)
	if err != nil {
		return nil, err
	}
	// T-GH's error example names the body `prescriptions`; accept it on success too.
	raw, ok := env.body("prescriptionList", "prescriptions")
	if !ok {
		return nil, malformed(interactionSearch, errors.New("no prescriptionList"))
	}
	var list map[string]wireSummary
	if err := r.unmarshal(raw, &list); err != nil {
		return nil, malformed(interactionSearch, err)
	}
	res := &SearchResult{Prescriptions: make([]Prescription, 0, len(list))}
	// In key order, so that a reply with several bad prescriptions is always reported the same way;
	// the error names the prescription by position, never by ID (errors are logged).
	for i, id := range slices.Sorted(maps.Keys(list)) {
		p, err := list[id].prescription(strings.TrimSpace(id))
		if err != nil {
			return nil, malformed(interactionSearch, fmt.Errorf("prescription %d of %d: %w", i+1, len(list), err))
		}
		res.Prescriptions = append(res.Prescriptions, p)
	}
	slices.SortFunc(res.Prescriptions, func(a, b Prescription) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

func (w wireSummary) prescription(id string) (Prescription, error) {
	var c conv
	p := Prescription{
		ID:                   id,
		PatientNHSNumber:     string(w.PatientNHSNumber),
		TreatmentType:        c.treatmentType("prescriptionTreatmentType", w.TreatmentType),
		IssueDate:            c.time("prescriptionIssueDate", w.IssueDate),
		LastEventDate:        c.time("lastEventDate", w.LastEventDate),
		CurrentIssueNumber:   c.int("currentIssueNumber", w.CurrentIssueNumber),
		PendingCancellations: c.bool("pendingCancellations", w.PendingCancellations),
		Issues:               make([]Issue, 0, len(w.Issues)),
	}
	// Spine's maps are walked in key order, so that a reply with several faults reports the same one
	// every time.
	for _, key := range slices.Sorted(maps.Keys(w.Issues)) {
		wi := w.Issues[key]
		p.Issues = append(p.Issues, Issue{
			Number:    c.int("issue number", text(strings.TrimSpace(key))),
			Date:      c.time("issueDate", wi.IssueDate),
			Status:    c.prescriptionStatus("prescriptionStatus", wi.Status),
			LineItems: c.lineItems(wi.LineItems),
		})
	}
	slices.SortFunc(p.Issues, func(a, b Issue) int { return a.Number - b.Number })
	if id == "" {
		c.fail("prescription ID", "", "empty")
	}
	return p, c.err
}

func (c *conv) lineItems(m map[string]wireLineItem) []LineItem {
	items := make([]LineItem, 0, len(m))
	for _, key := range slices.Sorted(maps.Keys(m)) {
		w := m[key]
		items = append(items, LineItem{
			Ordinal: c.int("line item ordinal", text(strings.TrimSpace(key))),
			ID:      string(w.ID),
			Status:  c.lineItemStatus("line item status", w.Status),
		})
	}
	slices.SortFunc(items, func(a, b LineItem) int { return a.Ordinal - b.Ordinal })
	return items
}

// parseRetrieve turns a basic retrieve reply into a Prescription holding the one issue returned.
func parseRetrieve(data []byte) (*Prescription, error) { return wireJSON.retrieve(data) }

func (r wireReader) retrieve(data []byte) (*Prescription, error) {
	env, err := r.envelope(interactionRetrieve, data)
	if err != nil {
		return nil, err
	}
	raw, ok := env.body("prescription")
	if !ok || isEmptyObject(raw) {
		return nil, malformed(interactionRetrieve, errors.New("no prescription"))
	}
	var w wirePrescription
	if err := r.unmarshal(raw, &w); err != nil {
		return nil, malformed(interactionRetrieve, err)
	}
	p, err := w.prescription(r)
	if err != nil {
		return nil, malformed(interactionRetrieve, err)
	}
	return p, nil
}

func (w wirePrescription) prescription(r wireReader) (*Prescription, error) {
	var c conv
	p := &Prescription{
		ID:                   string(w.ID),
		PatientNHSNumber:     string(w.PatientNHSNumber),
		TreatmentType:        c.treatmentType("prescriptionTreatmentType", w.TreatmentType),
		SigningDate:          c.time("signingDate", w.SigningDate),
		LastEventDate:        c.time("lastEventDate", w.LastEventDate),
		CurrentIssueNumber:   c.int("currentIssueNumber", w.CurrentIssueNumber),
		PendingCancellations: c.bool("pendingCancellations", w.PendingCancellations),
		Type:                 PrescriptionType{Code: string(w.Type.Code), Text: string(w.Type.Text)},
		Prescriber: Organisation{
			ODS:   absent(w.PrescriberODS),
			Name:  orgName(w.PrescriberName),
			Phone: absent(w.PrescriberContact),
		},
		NominatedDispenser: Organisation{ODS: absent(w.NominatedODS), Name: orgName(w.NominatedName)},
		DaysSupply:         c.int("daysSupply", w.DaysSupply),
	}
	if p.ID == "" {
		c.fail("prescriptionId", "", "empty")
	}
	// An issue Spine could not find comes back blank (SPEC 1.2): no issue, not an issue numbered 0.
	if len(w.Issue) > 0 && !isEmptyObject(w.Issue) && string(w.Issue) != "null" {
		var wi wireIssue
		if err := r.unmarshal(w.Issue, &wi); err != nil {
			return nil, fmt.Errorf("issue: %w", err)
		}
		if wi.Number == "" {
			c.fail("issueNumber", "", "empty")
		}
		p.Issues = []Issue{{
			Number: c.int("issueNumber", wi.Number),
			Status: c.prescriptionStatus("prescriptionStatus", wi.Status),
			Dispenser: Organisation{
				ODS:   absent(wi.DispenserODS),
				Name:  orgName(wi.DispenserName),
				Phone: absent(wi.DispenserContact),
			},
			LastDispenseDate:     c.time("lastDispenseDate", wi.LastDispenseDate),
			AppliedCancellations: c.bool("appliedCancellations", wi.AppliedCancellations),
			LineItems:            c.lineItems(wi.LineItems),
		}}
	}
	if c.err != nil {
		return nil, c.err
	}
	return p, nil
}
