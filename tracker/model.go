// Package tracker is the client for Spine's EPS Tracker API and its typed model.
//
// Spine answers in its own JSON: every value a string, maps keyed by number, "False" standing in for
// absent values. This package turns those answers into the concrete types below, so that callers never
// see a map or a sentinel. It knows nothing of FHIR.
//
// The Client is a good citizen of a shared national service: at most Config.MaxConcurrency calls in
// flight per instance, calls that could not be served in their deadline refused at once
// (ErrOverloaded), and a circuit breaker that stops calling a Spine that does not answer
// (ErrCircuitOpen); both carry a RetryAfter. ReloadingTLS picks up rotated certificates without a
// restart. Each call is a span (spine.<interaction>) and a duration measurement, neither ever
// holding an NHS number or a prescription ID.
package tracker

import "time"

// Version is the EPS release a prescription was written under.
type Version string

const (
	// VersionR1 prescriptions (EPS Release 1) have long-form, GUID-shaped IDs.
	VersionR1 Version = "R1"
	// VersionR2 prescriptions (EPS Release 2) have short-form IDs.
	VersionR2 Version = "R2"
)

// Organisation is an ODS-coded organisation as Spine describes it: a prescriber, a nominated dispenser
// or the dispenser of an issue. Fields Spine leaves blank or sends as "False" are empty.
type Organisation struct {
	ODS     string
	Name    string
	Address string // the 111 details interaction only, comma-joined as Spine sends it
	Phone   string
}

// IsZero reports whether Spine gave no organisation at all.
func (o Organisation) IsZero() bool { return o == Organisation{} }

// PrescriptionType is the prescriber type (SPEC 4.4), with Spine's display text.
type PrescriptionType struct {
	Code string
	Text string
}

// Prescription is one prescription as the basic interactions describe it.
//
// A search fills the summary fields and lists every issue Spine returned; a retrieve fills the full
// fields and holds exactly the issue asked for (the current one by default).
type Prescription struct {
	ID                   string
	PatientNHSNumber     string
	TreatmentType        TreatmentType
	IssueDate            time.Time // prescriptionIssueDate (search); zero when absent
	SigningDate          time.Time // signingDate (retrieve, R2 only); zero when absent
	LastEventDate        time.Time
	CurrentIssueNumber   int
	PendingCancellations bool
	Issues               []Issue // in issue-number order

	// Retrieve only.
	Type               PrescriptionType
	Prescriber         Organisation
	NominatedDispenser Organisation
	DaysSupply         int       // 0 when absent
	Fetched            time.Time // when Spine answered (retrieve only): a cached answer is this old
}

// Version tells the EPS release from the shape of the prescription ID.
func (p *Prescription) Version() Version { return VersionOf(p.ID) }

// Issue returns the issue with the given number, or nil.
func (p *Prescription) Issue(number int) *Issue {
	for i := range p.Issues {
		if p.Issues[i].Number == number {
			return &p.Issues[i]
		}
	}
	return nil
}

// CurrentIssue returns the issue Spine calls current, falling back to the only issue a retrieve holds.
func (p *Prescription) CurrentIssue() *Issue {
	if is := p.Issue(p.CurrentIssueNumber); is != nil {
		return is
	}
	if len(p.Issues) == 1 {
		return &p.Issues[0]
	}
	return nil
}

// Issue is one issue of a prescription: the only one for acute and repeat-prescribing prescriptions,
// one of several for repeat dispensing.
type Issue struct {
	Number int
	Date   time.Time // issueDate (search); zero for "False", as future repeat-dispensing issues have
	Status PrescriptionStatus
	// Retrieve only.
	Dispenser            Organisation
	LastDispenseDate     time.Time
	AppliedCancellations bool
	LineItems            []LineItem // in ordinal order
}

// LineItem is one medication line of an issue. The basic interactions carry its status only; the
// retrieve adds Spine's line-item UUID.
type LineItem struct {
	Ordinal int    // 1-based, the key Spine uses
	ID      string // upper-case UUID (retrieve only)
	Status  LineItemStatus
}

// SearchQuery is a prescription search. Zero values mean "not sent".
type SearchQuery struct {
	NHSNumber    string
	EarliestDate time.Time // sent as the UTC day yyyymmdd
	LatestDate   time.Time // sent as the UTC day yyyymmdd; Spine includes the whole day
	Status       PrescriptionStatus
	Version      string // "1", "2", "R1" or "R2"
}

// SearchResult is what a prescription search found, in prescription-ID order.
type SearchResult struct {
	Prescriptions []Prescription
	Fetched       time.Time // when Spine answered: a cached result is this old
}

// RetrieveQuery asks for one prescription. IssueNumber 0 means the current issue.
type RetrieveQuery struct {
	PrescriptionID string
	IssueNumber    int
}

// Caller identifies the end user a call is made for, and the trace id Spine records with it.
// Empty fields fall back to the client's configuration (user and role) or are not sent (trace id).
type Caller struct {
	UserID        string
	RoleProfileID string
	TraceID       string
}

// ItemSummary is one prescription from the 111 item summary: display text instead of codes (already
// mapped back to codes here), medication names per line-item UUID, and the repeat information.
type ItemSummary struct {
	ID                   string
	PatientNHSNumber     string
	Version              Version
	TreatmentType        TreatmentType
	Status               PrescriptionStatus
	IssueDate            time.Time
	LastEventDate        time.Time
	PendingCancellations bool
	CurrentIssue         int
	TotalAuthorised      int
	DispenseHistory      []Dispense // in issue order
	Medications          []MedicationName
}

// Dispense is one entry of the 111 summary's dispense history.
type Dispense struct {
	IssueNumber int
	Date        time.Time // zero when Spine sends "False"
	Dispenser   Organisation
}

// MedicationName is the dm+d name Spine gives a line item in the 111 summary.
type MedicationName struct {
	LineItemID string // as Spine sends it; compare case-insensitively
	Name       string
}

// ItemSummaryResult is what a 111 item summary found, in prescription-ID order.
type ItemSummaryResult struct {
	Prescriptions []ItemSummary
	Fetched       time.Time // when Spine answered: a cached result is this old
}

// DetailQuery asks the 111 item details for one prescription. IssueNumber is required by Spine for
// repeat dispensing; LineItemID narrows the answer to one line.
type DetailQuery struct {
	PrescriptionID string
	IssueNumber    int
	LineItemID     string
}

// PrescriptionDetail is the 111 item details of one prescription: the only interaction that says what
// was prescribed.
type PrescriptionDetail struct {
	ID                     string
	PatientNHSNumber       string
	Version                Version
	TreatmentType          TreatmentType
	Status                 PrescriptionStatus
	IssueDate              time.Time
	LastEventDate          time.Time
	DownloadDate           time.Time
	DispensedDate          time.Time
	ClaimedDate            time.Time
	LastIssueDispensedDate time.Time
	PendingCancellations   bool
	CurrentIssue           int
	TotalAuthorised        int
	Prescriber             Organisation
	NominatedPharmacy      Organisation
	DispensingPharmacy     Organisation
	Items                  []MedicationItem // in line-item-ID order
	Fetched                time.Time        // when Spine answered: a cached answer is this old
}

// MedicationItem is one line item of the 111 item details.
type MedicationItem struct {
	LineItemID  string // as Spine sends it; compare case-insensitively
	Code        string // dm+d / SNOMED CT concept id
	Description string
	Quantity    string // decimal, as Spine sends it
	Unit        string
	Dosage      string
	Status      LineItemStatus
}
