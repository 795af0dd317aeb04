package tracker

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The 111 interactions carry display text only.

func (c *conv) prescriptionStatusText(field string, v text) PrescriptionStatus {
	return fromDisplay(c, field, v, PrescriptionStatusFromText, "prescription status")
}

func (c *conv) lineItemStatusText(field string, v text) LineItemStatus {
	return fromDisplay(c, field, v, LineItemStatusFromText, "line-item status")
}

func (c *conv) treatmentTypeText(field string, v text) TreatmentType {
	return fromDisplay(c, field, v, TreatmentTypeFromText, "treatment type")
}

// version reads epsVersion, or tells it from the ID's shape when Spine leaves it out.
func (c *conv) version(id string, v text) Version {
	switch strings.ToUpper(string(v)) {
	case "":
		return VersionOf(id)
	case "R1", "1":
		return VersionR1
	case "R2", "2":
		return VersionR2
	}
	c.fail("epsVersion", v, "not R1 or R2")
	return ""
}

// The 111 interactions' wire shapes (SPEC 2.4).

type wireRepeat struct {
	CurrentIssue    text                    `json:"currentIssue"`
	TotalAuthorised text                    `json:"totalAuthorised"`
	DispenseHistory map[string]wireDispense `json:"dispenseHistory"`
}

type wireDispense struct {
	Date    text `json:"dispenseDate"`
	OrgName text `json:"dispensingOrgName"`
	OrgCode text `json:"dispensingOrgCode"`
}

type wireItemSummary struct {
	TreatmentType        text            `json:"prescriptionTreatmentType"`
	Status               text            `json:"prescriptionStatus"`
	IssueDate            text            `json:"prescriptionIssueDate"`
	LastEventDate        text            `json:"lastEventDate"`
	PendingCancellations text            `json:"pendingCancellations"`
	EPSVersion           text            `json:"epsVersion"`
	PatientNHSNumber     text            `json:"patientNhsNumber"`
	CurrentIssueNumber   text            `json:"currentIssueNumber"` // the swagger example's variant of repeatInstance
	RepeatInstance       wireRepeat      `json:"repeatInstance"`
	LineItems            map[string]text `json:"lineItems"`
}

// wireOrg is a 111 organisation. Spine's null sentinels ("False", "") are accepted in place of the
// object (SPEC 2.1: "False" or empty string where not present).
type wireOrg struct {
	ODS     text `json:"ods"`
	Name    text `json:"name"`
	Address text `json:"address"`
	Phone   text `json:"phone"`
}

func (o *wireOrg) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '{' {
		var t text
		if err := t.UnmarshalJSONFrom(dec); err != nil {
			return err
		}
		if absent(t) != "" {
			return fmt.Errorf("organisation %q is not an object", t)
		}
		*o = wireOrg{}
		return nil
	}
	type plain wireOrg // without this method
	return jsonv2.UnmarshalDecode(dec, (*plain)(o))
}

func (o wireOrg) organisation() Organisation {
	return Organisation{ODS: absent(o.ODS), Name: orgName(o.Name), Address: absent(o.Address), Phone: absent(o.Phone)}
}

type wireMedication struct {
	Code        text `json:"code"`
	Description text `json:"description"`
	Quantity    text `json:"quantity"`
	Unit        text `json:"uom"`
	Dosage      text `json:"dosage"`
	Status      text `json:"itemStatus"`
}

type wireDetail struct {
	TreatmentType          text                      `json:"prescriptionTreatmentType"`
	Status                 text                      `json:"prescriptionStatus"`
	IssueDate              text                      `json:"prescriptionIssueDate"`
	LastEventDate          text                      `json:"lastEventDate"`
	DownloadDate           text                      `json:"prescriptionDownloadDate"`
	DispensedDate          text                      `json:"prescriptionDispensedDate"`
	ClaimedDate            text                      `json:"prescriptionClaimedDate"`
	LastIssueDispensedDate text                      `json:"prescriptionLastIssueDispensedDate"`
	PendingCancellations   text                      `json:"pendingCancellations"`
	EPSVersion             text                      `json:"epsVersion"`
	PatientNHSNumber       text                      `json:"patientNhsNumber"`
	CurrentIssueNumber     text                      `json:"currentIssueNumber"`
	RepeatInstance         wireRepeat                `json:"repeatInstance"`
	Prescriber             wireOrg                   `json:"prescriber"`
	NominatedPharmacy      wireOrg                   `json:"nominatedPharmacy"`
	DispensingPharmacy     wireOrg                   `json:"dispensingPharmacy"`
	LineItems              map[string]wireMedication `json:"lineItems"`
}

// currentIssue reads repeatInstance.currentIssue, or the top-level currentIssueNumber one swagger
// example uses instead.
func (c *conv) currentIssue(r wireRepeat, fallback text) int {
	if r.CurrentIssue == "" {
		return c.int("currentIssueNumber", fallback)
	}
	return c.int("repeatInstance.currentIssue", r.CurrentIssue)
}

// parseItemSummary turns an nhs111itemsummary reply into an ItemSummaryResult.
func parseItemSummary(data []byte) (*ItemSummaryResult, error) { return wireJSON.itemSummary(data) }

func (r wireReader) itemSummary(data []byte) (*ItemSummaryResult, error) {
	env, err := r.envelope(interactionItemSummary, data)
	if err != nil {
		return nil, err
	}
	raw, ok := env.body("prescriptions", "prescriptionList")
	if !ok {
		return nil, malformed(interactionItemSummary, errors.New("no prescriptions"))
	}
	var list map[string]wireItemSummary
	if err := r.unmarshal(raw, &list); err != nil {
		return nil, malformed(interactionItemSummary, err)
	}
	res := &ItemSummaryResult{Prescriptions: make([]ItemSummary, 0, len(list))}
	// In key order, and by position rather than ID in errors, as parseSearch.
	for i, id := range slices.Sorted(maps.Keys(list)) {
		s, err := list[id].summary(strings.TrimSpace(id))
		if err != nil {
			return nil, malformed(interactionItemSummary, fmt.Errorf("prescription %d of %d: %w", i+1, len(list), err))
		}
		res.Prescriptions = append(res.Prescriptions, s)
	}
	slices.SortFunc(res.Prescriptions, func(a, b ItemSummary) int { return strings.Compare(a.ID, b.ID) })
	return res, nil
}

func (w wireItemSummary) summary(id string) (ItemSummary, error) {
	var c conv
	s := ItemSummary{
		ID:                   id,
		PatientNHSNumber:     string(w.PatientNHSNumber),
		Version:              c.version(id, w.EPSVersion),
		TreatmentType:        c.treatmentTypeText("prescriptionTreatmentType", w.TreatmentType),
		Status:               c.prescriptionStatusText("prescriptionStatus", w.Status),
		IssueDate:            c.time("prescriptionIssueDate", w.IssueDate),
		LastEventDate:        c.time("lastEventDate", w.LastEventDate),
		PendingCancellations: c.bool("pendingCancellations", w.PendingCancellations),
		CurrentIssue:         c.currentIssue(w.RepeatInstance, w.CurrentIssueNumber),
		TotalAuthorised:      c.int("repeatInstance.totalAuthorised", w.RepeatInstance.TotalAuthorised),
		Medications:          make([]MedicationName, 0, len(w.LineItems)),
	}
	for _, key := range slices.Sorted(maps.Keys(w.RepeatInstance.DispenseHistory)) { // in order: the same fault reported every time
		d := w.RepeatInstance.DispenseHistory[key]
		s.DispenseHistory = append(s.DispenseHistory, Dispense{
			IssueNumber: c.int("dispenseHistory issue", text(strings.TrimSpace(key))),
			Date:        c.time("dispenseDate", d.Date),
			Dispenser:   Organisation{ODS: absent(d.OrgCode), Name: orgName(d.OrgName)},
		})
	}
	slices.SortFunc(s.DispenseHistory, func(a, b Dispense) int { return a.IssueNumber - b.IssueNumber })
	for _, key := range slices.Sorted(maps.Keys(w.LineItems)) {
		name := w.LineItems[key]
		s.Medications = append(s.Medications, MedicationName{LineItemID: strings.TrimSpace(key), Name: string(name)})
	}
	slices.SortFunc(s.Medications, func(a, b MedicationName) int { return compareIDs(a.LineItemID, b.LineItemID) })
	if id == "" {
		c.fail("prescription ID", "", "empty")
	}
	return s, c.err
}

// compareIDs orders line-item UUIDs case-insensitively, as Spine's upper case and some fixtures'
// lower case are the same IDs.
func compareIDs(a, b string) int {
	if c := strings.Compare(strings.ToUpper(a), strings.ToUpper(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// parseItemDetails turns an nhs111itemdetails reply into a PrescriptionDetail. The body's key is the
// prescription ID itself; wantID, when given, picks it out, otherwise the reply must hold exactly one
// non-empty object besides the envelope.
func parseItemDetails(data []byte, wantID string) (*PrescriptionDetail, error) {
	return wireJSON.itemDetails(data, wantID)
}

func (r wireReader) itemDetails(data []byte, wantID string) (*PrescriptionDetail, error) {
	env, err := r.envelope(interactionItemDetails, data)
	if err != nil {
		return nil, err
	}
	id, raw, err := env.detailBody(wantID)
	if err != nil {
		return nil, malformed(interactionItemDetails, err)
	}
	var w wireDetail
	if err := r.unmarshal(raw, &w); err != nil {
		return nil, malformed(interactionItemDetails, err)
	}
	d, err := w.detail(id)
	if err != nil {
		return nil, malformed(interactionItemDetails, err)
	}
	return d, nil
}

func (env *envelope) detailBody(wantID string) (string, jsontext.Value, error) {
	var ids []string
	for _, key := range slices.Sorted(maps.Keys(env.fields)) { // in order: the same key chosen every time
		v := env.fields[key]
		if wantID != "" && strings.EqualFold(key, wantID) {
			return key, v, nil
		}
		if v = bytes.TrimSpace(v); len(v) > 0 && v[0] == '{' && !isEmptyObject(v) {
			ids = append(ids, key)
		}
	}
	switch {
	case wantID != "":
		return "", nil, errors.New("no body for the prescription asked for")
	case len(ids) != 1:
		return "", nil, fmt.Errorf("want one prescription in the reply, got %d", len(ids))
	}
	return ids[0], env.fields[ids[0]], nil
}

func (w wireDetail) detail(id string) (*PrescriptionDetail, error) {
	var c conv
	d := &PrescriptionDetail{
		ID:                     id,
		PatientNHSNumber:       string(w.PatientNHSNumber),
		Version:                c.version(id, w.EPSVersion),
		TreatmentType:          c.treatmentTypeText("prescriptionTreatmentType", w.TreatmentType),
		Status:                 c.prescriptionStatusText("prescriptionStatus", w.Status),
		IssueDate:              c.time("prescriptionIssueDate", w.IssueDate),
		LastEventDate:          c.time("lastEventDate", w.LastEventDate),
		DownloadDate:           c.time("prescriptionDownloadDate", w.DownloadDate),
		DispensedDate:          c.time("prescriptionDispensedDate", w.DispensedDate),
		ClaimedDate:            c.time("prescriptionClaimedDate", w.ClaimedDate),
		LastIssueDispensedDate: c.time("prescriptionLastIssueDispensedDate", w.LastIssueDispensedDate),
		PendingCancellations:   c.bool("pendingCancellations", w.PendingCancellations),
		CurrentIssue:           c.currentIssue(w.RepeatInstance, w.CurrentIssueNumber),
		TotalAuthorised:        c.int("repeatInstance.totalAuthorised", w.RepeatInstance.TotalAuthorised),
		Prescriber:             w.Prescriber.organisation(),
		NominatedPharmacy:      w.NominatedPharmacy.organisation(),
		DispensingPharmacy:     w.DispensingPharmacy.organisation(),
		Items:                  make([]MedicationItem, 0, len(w.LineItems)),
	}
	for _, key := range slices.Sorted(maps.Keys(w.LineItems)) { // in order: the same fault reported every time
		m := w.LineItems[key]
		d.Items = append(d.Items, MedicationItem{
			LineItemID:  strings.TrimSpace(key),
			Code:        string(m.Code),
			Description: string(m.Description),
			Quantity:    string(m.Quantity),
			Unit:        string(m.Unit),
			Dosage:      string(m.Dosage),
			Status:      c.lineItemStatusText("itemStatus", m.Status),
		})
	}
	slices.SortFunc(d.Items, func(a, b MedicationItem) int { return compareIDs(a.LineItemID, b.LineItemID) })
	if c.err != nil {
		return nil, c.err
	}
	return d, nil
}
