package routes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"github.com/google/uuid"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
)

// searchAuditEvents answers GET AuditEvent?patient=&agent=&date= for auditors: the trail, newest
// first, a page at a time. Reading the trail is itself an access to patient data, and is audited.
func (h *handlers) searchAuditEvents(c *gin.Context) {
	ctx := c.Request.Context()
	id, _ := auth.From(ctx)
	strict := strictHandling(c.Request.Header.Values("Prefer"))
	q, offset, err := h.searchQuery(c, id.UserID, strict)
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	aq, self, err := parseAuditQuery(q, strict)
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	aq.Offset = offset
	auditEntryFrom(ctx).setSubject(aq.PatientNHS, nil)
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	recs, total, err := h.trail.Search(ctx, aq)
	if err != nil {
		h.rd.fail(c, fmt.Errorf("%w: %w", errAuditRead, err))
		return
	}
	if offset == 0 && len(recs) > 0 {
		// The search saw the trail up to its newest match; so do the pages its links lead to, which
		// carry that bound (applied, so in the self link too): records written meanwhile, this read's
		// own among them, neither shift a later page nor repeat an entry. The store stamps records as
		// it commits them, in order, so none can appear below the bound afterwards. The bound follows
		// from the trail alone: the same search over an unchanged trail gives the same page (and
		// ETag), and following its self link adds nothing.
		if bound := recs[0].Time.Add(time.Nanosecond); aq.Until.IsZero() || bound.Before(aq.Until) {
			self.Add("date", "lt"+bound.UTC().Format(time.RFC3339Nano))
		}
	}
	b := &bcrpb.Bundle{
		Type:  &bcrpb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_SEARCHSET},
		Total: &d4pb.UnsignedInt{Value: uint32(total)},
	}
	link := func(rel, u string) {
		b.Link = append(b.Link, &bcrpb.Bundle_Link{Relation: &d4pb.String{Value: rel}, Url: &d4pb.Uri{Value: u}})
	}
	selfURL := h.cfg.BaseURL + "/AuditEvent?" + self.Encode()
	if offset > 0 {
		selfURL += "&_page=" + h.pager.token(self, offset, id.UserID, h.cfg.Now())
	}
	link("self", selfURL)
	if offset+aq.Count < total {
		link("next", h.cfg.BaseURL+"/AuditEvent?_page="+h.pager.token(self, offset+aq.Count, id.UserID, h.cfg.Now()))
	}
	if offset > 0 {
		link("previous", h.cfg.BaseURL+"/AuditEvent?_page="+h.pager.token(self, max(0, offset-aq.Count), id.UserID, h.cfg.Now()))
	}
	for _, r := range recs {
		ae, err := audit.AuditEvent(r)
		if err != nil {
			h.rd.fail(c, fmt.Errorf("%w: %w", errAuditRead, err))
			return
		}
		b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{
			FullUrl:  &d4pb.Uri{Value: auditEventURN(ae.GetId().GetValue())},
			Resource: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_AuditEvent{AuditEvent: ae}},
			Search:   &bcrpb.Bundle_Entry_Search{Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_MATCH}},
		})
	}
	patient, ids, others := shown(aq.PatientNHS, recs)
	auditEntryFrom(ctx).alsoAbout(others)
	h.answer(c, "", b, found{Patient: patient, PrescriptionIDs: ids})
}

// auditEventURN is an AuditEvent entry's fullUrl. The trail is searched, never read by id (a read
// would need an index on every record, paid by every audited answer), so an AuditEvent has no URL
// on this server: its fullUrl is a urn:uuid (R4 Bundle.entry.fullUrl allows one for a resource
// without a RESTful location), made from its id, the first 32 hex digits of its MAC, so that it is
// stable and the same for every page and user.
func auditEventURN(id string) string {
	if len(id) != 32 {
		return "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("AuditEvent/"+id)).String()
	}
	return "urn:uuid:" + id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// shown is the patient data a page of the trail shows, for the auditor's own records, as any
// answer's record names what it returned: the patient searched for, or each patient on the page, with
// the prescriptions shown of each. The first patient (and prescriptions of records that name no
// patient) goes in the request's own record, each further patient in a record of its own, as BALP's
// Query pattern asks: "one AuditEvent is created for every Patient identified in the resulting search
// set".
func shown(searched string, recs []audit.Record) (patient string, ids []string, others []subject) {
	if searched != "" {
		return searched, prescriptionsOf(recs, func(audit.Record) bool { return true }), nil
	}
	var order []string
	for _, r := range recs {
		if r.PatientNHS != "" && !slices.Contains(order, r.PatientNHS) {
			order = append(order, r.PatientNHS)
		}
	}
	if len(order) == 0 {
		return "", prescriptionsOf(recs, func(audit.Record) bool { return true }), nil
	}
	patient = order[0]
	ids = prescriptionsOf(recs, func(r audit.Record) bool { return r.PatientNHS == patient || r.PatientNHS == "" })
	for _, nhs := range order[1:] {
		others = append(others, subject{nhs: nhs, ids: prescriptionsOf(recs, func(r audit.Record) bool { return r.PatientNHS == nhs })})
	}
	return patient, ids, others
}

// prescriptionsOf is every prescription the records that keep name, each once, in order.
func prescriptionsOf(recs []audit.Record, keep func(audit.Record) bool) []string {
	seen := make(map[string]bool)
	ids := []string{}
	for _, r := range recs {
		if !keep(r) {
			continue
		}
		for _, id := range r.PrescriptionIDs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// parseAuditQuery reads the AuditEvent search parameters (audit.ParseQuery), as ParamErrors naming
// each bad parameter, and returns the canonical query for the links.
func parseAuditQuery(q url.Values, strict bool) (audit.Query, url.Values, error) {
	aq, err := audit.ParseQuery(q, strict)
	if err != nil {
		var errs []error
		for _, line := range strings.Split(err.Error(), "\n") {
			param, msg, _ := strings.Cut(line, ": ")
			errs = append(errs, &mapping.ParamError{Param: param, Msg: msg})
		}
		return aq, nil, errors.Join(errs...)
	}
	if aq.PatientNHS == "" && aq.Agent == "" && aq.Since.IsZero() && aq.Until.IsZero() {
		return aq, nil, &mapping.ParamError{Param: "patient", Msg: "Give at least one of patient, agent or date."}
	}
	if aq.Count == 0 {
		aq.Count = audit.DefaultCount
	}
	// The links carry the search as applied, in one spelling: a patient or agent given with
	// :identifier, or as Patient/..., keeps its filter on every page.
	self := url.Values{"_count": {strconv.Itoa(aq.Count)}}
	if aq.PatientNHS != "" {
		self.Set("patient", aq.PatientNHS)
	}
	if aq.Agent != "" {
		self.Set("agent", aq.Agent)
	}
	if ds := q["date"]; len(ds) > 0 {
		self["date"] = ds
	}
	return aq, self, nil
}
