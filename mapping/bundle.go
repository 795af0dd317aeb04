package mapping

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	mdpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_dispense_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Match is one MedicationRequest a search found, with what its includes need and the keys that give
// a search its stable order.
type Match struct {
	Request    *mrpb.MedicationRequest
	Dispenses  []*mdpb.MedicationDispense
	Prescriber tracker.Organisation // known in the full form only
	NHSNumber  string

	// BusinessStatus is the issue's prescription status (the business-status extension), which a
	// search's business-status filter compares.
	BusinessStatus tracker.PrescriptionStatus
	AuthoredOn     time.Time
	PrescriptionID string
	Issue          int
	Ordinal        int

	// Source is the position, among the sources Keep was given, of the one the match was expanded
	// from (0 from Expand).
	Source int
}

// Collect maps each source to its MedicationRequests, keeps those the search matches exactly
// (authoredOn, status and business status) and returns them in the search's stable order: authoredOn descending, then
// prescription ID, issue and line.
func Collect(srcs []Source, s *Search) ([]Match, error) {
	expanded := make([][]Match, len(srcs))
	for i, src := range srcs {
		ms, err := Expand(src)
		if err != nil {
			return nil, err
		}
		expanded[i] = ms
	}
	return Keep(expanded, s), nil
}

// Keep is Collect for sources already expanded: the matches the search keeps, in its stable order,
// in a new slice (expanded is only read, so that it may be shared).
func Keep(expanded [][]Match, s *Search) []Match {
	n := 0
	for _, ms := range expanded {
		n += len(ms)
	}
	out := make([]Match, 0, n)
	for i, ms := range expanded {
		for _, m := range ms {
			if s.Matches(m) {
				m.Source = i
				out = append(out, m)
			}
		}
	}
	SortMatches(out)
	return out
}

// Expand maps one source to all its MedicationRequests, unfiltered, in line order, each with the
// MedicationDispenses that point at it (full form): what a search shows for a prescription.
func Expand(src Source) ([]Match, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	reqs := v.requests()
	dispenses := v.dispenses()
	var prescriber tracker.Organisation
	if v.full {
		prescriber = v.prescriber()
	}
	out := make([]Match, len(reqs))
	for i, r := range reqs {
		li := &v.issue.LineItems[i]
		m := Match{
			Request:        r,
			Prescriber:     prescriber,
			NHSNumber:      v.p.PatientNHSNumber,
			BusinessStatus: v.issue.Status,
			AuthoredOn:     authoredOn(r),
			PrescriptionID: v.p.ID,
			Issue:          v.issue.Number,
			Ordinal:        li.Ordinal,
		}
		// A dispense shares its line's ordinal; both lists are in line order.
		for _, d := range dispenses {
			if d.GetAuthorizingPrescription()[0].GetMedicationRequestId().GetValue() == r.GetId().GetValue() {
				m.Dispenses = []*mdpb.MedicationDispense{d}
				break
			}
		}
		out[i] = m
	}
	return out, nil
}

// SortMatches puts matches in the search's stable order.
func SortMatches(ms []Match) {
	slices.SortStableFunc(ms, func(a, b Match) int {
		if c := b.AuthoredOn.Compare(a.AuthoredOn); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.PrescriptionID, b.PrescriptionID), cmp.Compare(a.Issue, b.Issue),
			cmp.Compare(a.Ordinal, b.Ordinal))
	})
}

// RequestStatus is a MedicationRequest's status as its FHIR code ("active", "on-hold"...).
func RequestStatus(r *mrpb.MedicationRequest) string {
	if c, ok := requestStatusCode[r.GetStatus().GetValue()]; ok {
		return c
	}
	return strings.ToLower(strings.ReplaceAll(r.GetStatus().GetValue().String(), "_", "-"))
}

func authoredOn(r *mrpb.MedicationRequest) time.Time {
	if a := r.GetAuthoredOn(); a != nil {
		return time.UnixMicro(a.GetValueUs()).UTC()
	}
	return time.Time{}
}

// Page is one page of a searchset: the matches it shows and what surrounds them.
type Page struct {
	BaseURL  string // absolute FHIR base, for fullUrl
	Total    int
	Matches  []Match
	Self     string
	Next     string
	Previous string
	// Includes, as the search asked for them.
	IncludePatient, IncludeRequester, RevIncludeDispense bool
	// Outcomes are informational or warning notes for the client (a default applied, a partial result).
	Outcomes []*oopb.OperationOutcome
	// Now, when set, is the Bundle's timestamp. The adapter leaves it out, so that an unchanged
	// answer keeps its ETag.
	Now time.Time
	// MatchesElsewhere leaves the matches' own entries out of the Bundle, which then holds the
	// includes and the notes alone: for a caller that already holds each match's entry, and puts
	// them first, in page order, where SearchBundle would have.
	MatchesElsewhere bool
}

var searchsetType = &bcrpb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_SEARCHSET}

// entrySearch is each entry's search mode, shared (see codes.go).
var entrySearch = map[c4pb.SearchEntryModeCode_Value]*bcrpb.Bundle_Entry_Search{
	c4pb.SearchEntryModeCode_MATCH:   {Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_MATCH}},
	c4pb.SearchEntryModeCode_INCLUDE: {Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_INCLUDE}},
	c4pb.SearchEntryModeCode_OUTCOME: {Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_OUTCOME}},
}

// SearchBundle builds the searchset Bundle for a page: its matches, each included Patient and
// Organization once, the dispenses that point at its matches, and the outcome notes.
func SearchBundle(p Page) (*bcrpb.Bundle, error) {
	b := &bcrpb.Bundle{
		Type:  searchsetType,
		Total: &d4pb.UnsignedInt{Value: uint32(p.Total)},
	}
	if n := len(p.Outcomes); p.MatchesElsewhere {
		b.Entry = make([]*bcrpb.Bundle_Entry, 0, n)
	} else {
		b.Entry = make([]*bcrpb.Bundle_Entry, 0, n+len(p.Matches))
	}
	if !p.Now.IsZero() {
		b.Timestamp = &d4pb.Instant{ValueUs: p.Now.UnixMicro(), Timezone: "Z", Precision: d4pb.Instant_SECOND}
	}
	for _, l := range []struct{ rel, url string }{{"self", p.Self}, {"next", p.Next}, {"previous", p.Previous}} {
		if l.url != "" {
			b.Link = append(b.Link, &bcrpb.Bundle_Link{
				Relation: &d4pb.String{Value: l.rel},
				Url:      &d4pb.Uri{Value: l.url},
			})
		}
	}
	add := func(res proto.Message, typ, id string, mode c4pb.SearchEntryModeCode_Value) error {
		cr, err := Contain(res)
		if err != nil {
			return err
		}
		e := &bcrpb.Bundle_Entry{Resource: cr, Search: entrySearch[mode]}
		if id != "" {
			e.FullUrl = &d4pb.Uri{Value: p.BaseURL + "/" + typ + "/" + id}
		}
		b.Entry = append(b.Entry, e)
		return nil
	}
	if !p.MatchesElsewhere {
		addMatches(b, p)
	}
	seen := make(map[string]bool)
	for _, m := range p.Matches {
		if p.IncludePatient && m.NHSNumber != "" && !seen["Patient/"+m.NHSNumber] {
			seen["Patient/"+m.NHSNumber] = true
			if err := add(Patient(m.NHSNumber), "Patient", m.NHSNumber, c4pb.SearchEntryModeCode_INCLUDE); err != nil {
				return nil, err
			}
		}
		if ods := m.Prescriber.ODS; p.IncludeRequester && ods != "" && !seen["Organization/"+ods] {
			seen["Organization/"+ods] = true
			if err := add(Organization(m.Prescriber), "Organization", ods, c4pb.SearchEntryModeCode_INCLUDE); err != nil {
				return nil, err
			}
		}
		if p.RevIncludeDispense {
			for _, d := range m.Dispenses {
				key := "MedicationDispense/" + d.GetId().GetValue()
				if seen[key] {
					continue
				}
				seen[key] = true
				if err := add(d, "MedicationDispense", d.GetId().GetValue(), c4pb.SearchEntryModeCode_INCLUDE); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, oo := range p.Outcomes {
		if err := add(oo, "", "", c4pb.SearchEntryModeCode_OUTCOME); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// matchParts is what a match entry is made of, allocated for the whole page at once.
type matchParts struct {
	entry   bcrpb.Bundle_Entry
	cr      bcrpb.ContainedResource
	request bcrpb.ContainedResource_MedicationRequest
	fullURL d4pb.Uri
}

// addMatches adds an entry per match; their fullUrls are cut from one string.
func addMatches(b *bcrpb.Bundle, p Page) {
	const typ = "/MedicationRequest/"
	var size int
	for _, m := range p.Matches {
		size += len(p.BaseURL) + len(typ) + len(m.Request.GetId().GetValue())
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, m := range p.Matches {
		sb.WriteString(p.BaseURL)
		sb.WriteString(typ)
		sb.WriteString(m.Request.GetId().GetValue())
	}
	urls := sb.String()
	parts := make([]matchParts, len(p.Matches))
	for i, m := range p.Matches {
		mp := &parts[i]
		n := len(p.BaseURL) + len(typ) + len(m.Request.GetId().GetValue())
		mp.fullURL.Value, urls = urls[:n], urls[n:]
		mp.request.MedicationRequest = m.Request
		mp.cr.OneofResource = &mp.request
		mp.entry.Resource = &mp.cr
		mp.entry.Search = entrySearch[c4pb.SearchEntryModeCode_MATCH]
		mp.entry.FullUrl = &mp.fullURL
		b.Entry = append(b.Entry, &mp.entry)
	}
}

// Contain wraps a resource for a Bundle entry.
func Contain(res proto.Message) (*bcrpb.ContainedResource, error) {
	cr := &bcrpb.ContainedResource{}
	switch r := res.(type) {
	case *mrpb.MedicationRequest:
		cr.OneofResource = &bcrpb.ContainedResource_MedicationRequest{MedicationRequest: r}
	case *mdpb.MedicationDispense:
		cr.OneofResource = &bcrpb.ContainedResource_MedicationDispense{MedicationDispense: r}
	case *patpb.Patient:
		cr.OneofResource = &bcrpb.ContainedResource_Patient{Patient: r}
	case *orgpb.Organization:
		cr.OneofResource = &bcrpb.ContainedResource_Organization{Organization: r}
	case *oopb.OperationOutcome:
		cr.OneofResource = &bcrpb.ContainedResource_OperationOutcome{OperationOutcome: r}
	default:
		return nil, fmt.Errorf("mapping: cannot put a %T in a Bundle", res)
	}
	return cr, nil
}
