package mapping

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Version names this mapping: change it whenever the FHIR a Source maps to changes. A Source's Key
// holds it, so that a key names what one version of the mapping made. The routes' entry memo lives in
// memory and dies with the process (and so with its mapping); the version matters to anything that
// keeps entries beyond it.
const Version = "eps-fhir-tracker/mapping 1"

// Key is a digest of everything Expand reads from a Source, and of the mapping's Version: two
// Sources with the same Key map to the same resources. It leaves out when Spine answered (Fetched),
// which the resources do not show.
//
// Every field of the Source and of the tracker types it holds is written here, each with its length
// or its place fixed, so that no two different Sources encode alike; a test changes each field in
// turn and checks that the Key changes with it.
func (src Source) Key() [sha256.Size]byte {
	var buf [1024]byte
	b := appendString(buf[:0], Version)
	b = appendBool(b, src.Full)
	b = appendInt(b, src.IssueNumber)
	b = appendTime(b, src.IssueDate)
	b = appendInt(b, src.SearchedIssues)
	b = appendBool(b, src.DetailFailed)
	b = appendPrescription(b, src.Prescription)
	b = appendDetail(b, src.Detail)
	b = appendSummary(b, src.Summary)
	return sha256.Sum256(b)
}

func appendPrescription(b []byte, p *tracker.Prescription) []byte {
	if b = appendBool(b, p != nil); p == nil {
		return b
	}
	b = appendString(b, p.ID)
	b = appendString(b, p.PatientNHSNumber)
	b = appendString(b, string(p.TreatmentType))
	b = appendTime(b, p.IssueDate)
	b = appendTime(b, p.SigningDate)
	b = appendTime(b, p.LastEventDate)
	b = appendInt(b, p.CurrentIssueNumber)
	b = appendBool(b, p.PendingCancellations)
	b = appendInt(b, len(p.Issues))
	for i := range p.Issues {
		is := &p.Issues[i]
		b = appendInt(b, is.Number)
		b = appendTime(b, is.Date)
		b = appendString(b, string(is.Status))
		b = appendOrganisation(b, is.Dispenser)
		b = appendTime(b, is.LastDispenseDate)
		b = appendBool(b, is.AppliedCancellations)
		b = appendInt(b, len(is.LineItems))
		for _, li := range is.LineItems {
			b = appendInt(b, li.Ordinal)
			b = appendString(b, li.ID)
			b = appendString(b, string(li.Status))
		}
	}
	b = appendString(b, p.Type.Code)
	b = appendString(b, p.Type.Text)
	b = appendOrganisation(b, p.Prescriber)
	b = appendOrganisation(b, p.NominatedDispenser)
	return appendInt(b, p.DaysSupply)
}

func appendDetail(b []byte, d *tracker.PrescriptionDetail) []byte {
	if b = appendBool(b, d != nil); d == nil {
		return b
	}
	b = appendString(b, d.ID)
	b = appendString(b, d.PatientNHSNumber)
	b = appendString(b, string(d.Version))
	b = appendString(b, string(d.TreatmentType))
	b = appendString(b, string(d.Status))
	for _, t := range [...]time.Time{d.IssueDate, d.LastEventDate, d.DownloadDate, d.DispensedDate,
		d.ClaimedDate, d.LastIssueDispensedDate} {
		b = appendTime(b, t)
	}
	b = appendBool(b, d.PendingCancellations)
	b = appendInt(b, d.CurrentIssue)
	b = appendInt(b, d.TotalAuthorised)
	b = appendOrganisation(b, d.Prescriber)
	b = appendOrganisation(b, d.NominatedPharmacy)
	b = appendOrganisation(b, d.DispensingPharmacy)
	b = appendInt(b, len(d.Items))
	for _, it := range d.Items {
		for _, s := range [...]string{it.LineItemID, it.Code, it.Description, it.Quantity, it.Unit, it.Dosage, string(it.Status)} {
			b = appendString(b, s)
		}
	}
	return b
}

func appendSummary(b []byte, s *tracker.ItemSummary) []byte {
	if b = appendBool(b, s != nil); s == nil {
		return b
	}
	b = appendString(b, s.ID)
	b = appendString(b, s.PatientNHSNumber)
	b = appendString(b, string(s.Version))
	b = appendString(b, string(s.TreatmentType))
	b = appendString(b, string(s.Status))
	b = appendTime(b, s.IssueDate)
	b = appendTime(b, s.LastEventDate)
	b = appendBool(b, s.PendingCancellations)
	b = appendInt(b, s.CurrentIssue)
	b = appendInt(b, s.TotalAuthorised)
	b = appendInt(b, len(s.DispenseHistory))
	for _, d := range s.DispenseHistory {
		b = appendInt(b, d.IssueNumber)
		b = appendTime(b, d.Date)
		b = appendOrganisation(b, d.Dispenser)
	}
	b = appendInt(b, len(s.Medications))
	for _, m := range s.Medications {
		b = appendString(b, m.LineItemID)
		b = appendString(b, m.Name)
	}
	return b
}

func appendOrganisation(b []byte, o tracker.Organisation) []byte {
	b = appendString(b, o.ODS)
	b = appendString(b, o.Name)
	b = appendString(b, o.Address)
	return appendString(b, o.Phone)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendInt(b []byte, n int) []byte { return binary.AppendVarint(b, int64(n)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendTime writes the instant and its zone offset: a mapping may show either.
func appendTime(b []byte, t time.Time) []byte {
	_, offset := t.Zone()
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendVarint(b, int64(t.Nanosecond()))
	return binary.AppendVarint(b, int64(offset))
}
