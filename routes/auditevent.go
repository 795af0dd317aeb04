package routes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// searchAuditEvents answers GET AuditEvent?patient=&agent=&date= for auditors: the trail, newest
// first, a page at a time. Reading the trail is itself an access to patient data, and is audited.
func (h *handlers) searchAuditEvents(c *gin.Context) {
	ctx := c.Request.Context()
	id, _ := auth.From(ctx)
	q, err := parseQuery(c.Request.URL.RawQuery)
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	offset := 0
	if tok := q.Get("_page"); tok != "" {
		saved, off, err := h.pager.open(tok, id.UserID, h.cfg.Now())
		if err != nil {
			h.rd.fail(c, pageError(err))
			return
		}
		q, offset = saved, off
	}
	aq, self, err := parseAuditQuery(q)
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
			FullUrl:  &d4pb.Uri{Value: h.cfg.BaseURL + "/AuditEvent/" + ae.GetId().GetValue()},
			Resource: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_AuditEvent{AuditEvent: ae}},
			Search:   &bcrpb.Bundle_Entry_Search{Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_MATCH}},
		})
	}
	h.answer(c, "", b, found{Patient: aq.PatientNHS})
}

// parseAuditQuery reads the AuditEvent search parameters, and returns the canonical query for links.
func parseAuditQuery(q url.Values) (audit.Query, url.Values, error) {
	aq := audit.Query{Count: 50}
	self := url.Values{}
	var errs []error
	bad := func(param, msg string) { errs = append(errs, &mapping.ParamError{Param: param, Msg: msg}) }
	if v := q.Get("patient"); v != "" {
		nhs := strings.TrimPrefix(v, "Patient/")
		nhs = strings.TrimPrefix(nhs, mapping.SystemNHSNumber+"|")
		if !tracker.ValidNHSNumber(nhs) {
			bad("patient", "Want Patient/{NHS number} or a valid NHS number.")
		}
		aq.PatientNHS = nhs
		self.Set("patient", nhs)
	}
	if v := q.Get("agent"); v != "" {
		aq.Agent = strings.TrimPrefix(v, "Practitioner/")
		self.Set("agent", aq.Agent)
	}
	for _, v := range q["date"] {
		prefix, rest := v[:min(2, len(v))], v[min(2, len(v)):]
		if prefix[0] >= '0' && prefix[0] <= '9' {
			prefix, rest = "eq", v
		}
		t, precision, err := parseAuditDate(rest)
		if err != nil {
			bad("date", "Want a date such as ge2026-11-01 or le2026-11-23T12:00:00Z.")
			continue
		}
		switch prefix {
		case "ge":
			aq.Since = t
		case "gt":
			aq.Since = t.Add(precision)
		case "lt":
			aq.Until = t
		case "le":
			aq.Until = t.Add(precision)
		case "eq":
			aq.Since, aq.Until = t, t.Add(precision)
		default:
			bad("date", "Only the prefixes eq, ge, gt, le and lt are supported.")
		}
		self.Add("date", v)
	}
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			bad("_count", "Want a whole number from 1 to 100.")
		}
		aq.Count = n
	}
	self.Set("_count", strconv.Itoa(aq.Count))
	if aq.PatientNHS == "" && aq.Agent == "" && aq.Since.IsZero() && aq.Until.IsZero() {
		bad("patient", "Give at least one of patient, agent or date.")
	}
	if len(errs) > 0 {
		return aq, nil, errors.Join(errs...)
	}
	return aq, self, nil
}

// parseAuditDate reads a day or an instant, and the span it covers.
func parseAuditDate(s string) (time.Time, time.Duration, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, 24 * time.Hour, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, time.Second, err
}
