package routes

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// readMedicationRequest answers GET MedicationRequest/{id}: the id names the prescription, issue and
// line, so a read is one retrieve (and the details call when enabled). When the details call fails
// the read still answers, with the medication absent because of an error (data-absent-reason
// "error"): the rest of the resource is Spine's current word, and a read has nowhere else to say
// what is missing.
func (h *handlers) readMedicationRequest(c *gin.Context) {
	h.readLine(c, "MedicationRequest", mapping.ParseMedicationRequestID,
		"Ids look like 3AF2CB-C86002-0000BX-1-2: prescription ID (its + written as .), issue, line.",
		func(src mapping.Source, issue, ordinal int) (proto.Message, error) {
			ms, err := mapping.Expand(src)
			for _, m := range ms {
				if m.Issue == issue && m.Ordinal == ordinal {
					return m.Request, nil
				}
			}
			return nil, err
		})
}

// readMedicationDispense answers GET MedicationDispense/{id} from the same Spine data as the
// MedicationRequest it dispenses: there is one only where a pharmacy acted on the line.
func (h *handlers) readMedicationDispense(c *gin.Context) {
	h.readLine(c, "MedicationDispense", mapping.ParseMedicationDispenseID,
		"Ids look like d-3AF2CB-C86002-0000BX-1-2, and exist only for lines a pharmacy has acted on.",
		func(src mapping.Source, issue, ordinal int) (proto.Message, error) {
			d, err := mapping.MedicationDispense(src, ordinal)
			if d == nil {
				return nil, err // a nil *MedicationDispense is no resource: a 404
			}
			return d, err
		})
}

// readLine is a read of one line item's resource: parse the id, retrieve the prescription, map, pick.
func (h *handlers) readLine(c *gin.Context, resourceType string,
	parse func(string) (string, int, int, bool), idHelp string,
	pick func(src mapping.Source, issue, ordinal int) (proto.Message, error)) {
	notFound := func() {
		h.rd.outcome(c, http.StatusNotFound, fhir.Issue{Severity: "error", Code: "not-found",
			Diagnostics: "No " + resourceType + " has this id. " + idHelp})
	}
	ctx := c.Request.Context()
	prescriptionID, issue, ordinal, ok := parse(c.Param("id"))
	if !ok {
		notFound()
		return
	}
	auditEntryFrom(ctx).setSubject("", []string{prescriptionID})
	id, _ := auth.From(ctx)
	who := h.asker(ctx, id)
	key := h.answerKey(who, resourceType, "/", c.Param("id"))
	if h.cached(c, key) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	var f found
	src, err := h.svc.full(ctx, who, tracker.RetrieveQuery{PrescriptionID: prescriptionID, IssueNumber: issue}, searched{}, &f)
	if isNotFound(err) || errors.Is(err, tracker.ErrInvalidRequest) {
		notFound()
		return
	}
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	f.Patient, f.PrescriptionIDs = src.Prescription.PatientNHSNumber, []string{src.Prescription.ID}
	auditEntryFrom(ctx).setSubject(f.Patient, f.PrescriptionIDs)
	res, err := pick(src, issue, ordinal)
	if err != nil {
		h.rd.fail(c, errors.Join(errUnmappable, err))
		return
	}
	if res == nil {
		notFound()
		return
	}
	h.svc.shown(src)
	if m, ok := res.(interface{ GetMeta() *d4pb.Meta }); ok && m.GetMeta().GetLastUpdated() != nil {
		f.LastModified = time.UnixMicro(m.GetMeta().GetLastUpdated().GetValueUs())
	}
	h.answer(c, key, res, f)
}

// readPatient answers GET Patient/{nhs}: the adapter has no demographics, only the NHS number that
// Spine's data is keyed by, so the Patient holds that identifier alone (marked SUBSETTED). It calls
// no one, but it names a patient, so it is audited like any access to patient data.
func (h *handlers) readPatient(c *gin.Context) {
	nhs := c.Param("id")
	if !tracker.ValidNHSNumber(nhs) {
		h.rd.outcome(c, http.StatusNotFound, fhir.Issue{Severity: "error", Code: "not-found",
			Diagnostics: "No Patient has this id: a Patient's id is a valid NHS number."})
		return
	}
	auditEntryFrom(c.Request.Context()).setSubject(nhs, nil)
	b, err := h.rd.marshal(c, mapping.Patient(nhs), memoEntries{})
	if err != nil {
		h.rd.outcome(c, http.StatusInternalServerError, internalIssue)
		return
	}
	h.rd.write(c, http.StatusOK, body{JSON: b})
}

// readOrganization answers GET Organization/{ods} with what Spine said of the organisation in the
// answers this process has served (prescribers and pharmacies), or, for a code it has not seen, the
// code alone: the adapter has no directory of its own, and a reference it emitted on another
// instance, or before a restart, must still resolve. The id answered is the id asked for (FHIR ids
// are case-sensitive).
func (h *handlers) readOrganization(c *gin.Context) {
	id := c.Param("id")
	var res *orgpb.Organization
	if org, ok := h.svc.orgs.get(id); ok && org.ODS == id {
		res = mapping.Organization(org)
	} else {
		res = mapping.OrganizationByCode(id)
	}
	if res == nil {
		h.rd.outcome(c, http.StatusNotFound, fhir.Issue{Severity: "error", Code: "not-found",
			Diagnostics: "No Organization has this id: an Organization's id is its ODS code, 3 to 10 upper-case letters and digits."})
		return
	}
	b, err := h.rd.marshal(c, res, memoEntries{})
	if err != nil {
		h.rd.outcome(c, http.StatusInternalServerError, internalIssue)
		return
	}
	h.rd.write(c, http.StatusOK, body{JSON: b})
}
