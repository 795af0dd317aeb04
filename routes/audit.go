package routes

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// auditEntry is the audit record of one request to a patient-data route, filled in as the request
// learns who asked, about which patient, and what was answered. The renderer commits it before the
// first byte of the answer is written, whatever the answer: data, a 304, a refusal or an error. The
// patient may be known only after parsing, opening a paging token, or Spine's answer (reads and
// group-identifier searches), so the record is written after mapping, not in a middleware.
type auditEntry struct {
	mu    sync.Mutex
	event audit.Event
	// others are the further patients an answer is about, each recorded in a record of its own (an
	// auditor's page of the trail: BALP's one AuditEvent per patient in the result).
	others  []subject
	done    bool // recorded, or deliberately not (a throttled request that attempted nothing)
	skipped bool
	// asked is the prescription a search asked for, as the handler read it (a paging link's
	// included): what a refusal of it names (nameIfUnnamed).
	asked string
}

type auditKey struct{}

func newAuditEntry(c *gin.Context, resourceType, interaction string) *auditEntry {
	ids := idsFrom(c.Request.Context())
	return &auditEntry{event: audit.Event{
		RequestID:    ids.RequestID,
		TraceID:      ids.TraceID,
		ClientAddr:   clientAddress(c),
		Interaction:  interaction,
		ResourceType: resourceType,
		Query:        withoutCredentials(c.Request.URL.RequestURI()),
	}}
}

// credentialParams are query parameters that carry a credential: RFC 6750 2.3's access_token, which
// this server does not take but a client may send anyway. Their values never reach the trail, where
// an auditor could read and replay them: a parameter whose name holds one of these, in any case and
// however oddly encoded around it (access_token%, access_token[]), is redacted.
var credentialParams = []string{"access_token"}

// withoutCredentials is a request URI with the value of every credential parameter replaced by
// "redacted"; everything else stays as sent, byte for byte.
func withoutCredentials(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	// Pairs are split at "&" and, since some clients still separate them so, at ";" too.
	pairs := strings.Split(query, "&")
	changed := false
	for i, pair := range pairs {
		parts := strings.Split(pair, ";")
		for j, part := range parts {
			rawKey, _, _ := strings.Cut(part, "=")
			key := strings.ToLower(decodeLeniently(rawKey))
			for _, cred := range credentialParams {
				if strings.Contains(key, cred) {
					parts[j], changed = rawKey+"=redacted", true
				}
			}
		}
		pairs[i] = strings.Join(parts, ";")
	}
	if !changed {
		return uri
	}
	return path + "?" + strings.Join(pairs, "&")
}

func withAuditEntry(ctx context.Context, e *auditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// auditEntryFrom returns the request's audit entry, or nil on a route that keeps none. Every method
// of *auditEntry accepts a nil receiver.
func auditEntryFrom(ctx context.Context) *auditEntry {
	e, _ := ctx.Value(auditKey{}).(*auditEntry)
	return e
}

func (e *auditEntry) setIdentity(id auth.Identity) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.event.UserID, e.event.RoleProfileID = id.UserID, id.RoleProfileID
	e.event.OrgCode, e.event.ClientID = id.OrgCode, id.ClientID
}

// setSubject records which patient and prescriptions the answer is about.
func (e *auditEntry) setSubject(nhsNumber string, prescriptionIDs []string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if nhsNumber != "" {
		e.event.PatientNHS = nhsNumber
	}
	if prescriptionIDs != nil {
		e.event.PrescriptionIDs = prescriptionIDs
	}
}

// decodeLeniently percent-decodes what it can of s, leaving a malformed escape as it is, and reads
// "+" as a space, as a query does.
func decodeLeniently(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b.WriteByte(' ')
		case s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			v, _ := url.PathUnescape(s[i : i+3])
			b.WriteString(v)
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// nameRequested records, on a request refused before its handler ran (no token, a role or scope
// not allowed, over its rate), the patient or prescription it named, so that "who tried to see this
// patient" finds refused attempts as well as answered ones. What the request names is read as the
// handler would read it; a request too malformed to name one leaves the subject empty.
// nameIfUnnamed names what a request answered with an error asked for, unless its record already
// names a subject: every refusal, whichever check made it (the guard's, the format's, the admission
// bound's, the handler's), is then found by "who tried to see this patient or prescription".
func (e *auditEntry) nameIfUnnamed(c *gin.Context) {
	if e == nil {
		return
	}
	e.mu.Lock()
	named := e.event.PatientNHS != "" || len(e.event.PrescriptionIDs) > 0
	resourceType, interaction := e.event.ResourceType, e.event.Interaction
	if !named && e.asked != "" {
		e.event.PrescriptionIDs, named = []string{e.asked}, true
	}
	e.mu.Unlock()
	if !named {
		e.nameRequested(c, resourceType, interaction)
	}
}

// askedFor keeps the prescription a search asked for, for its record should the search be refused.
func (e *auditEntry) askedFor(prescriptionID string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	e.asked = prescriptionID
	e.mu.Unlock()
}

func (e *auditEntry) nameRequested(c *gin.Context, resourceType, interaction string) {
	if e == nil {
		return
	}
	switch {
	case resourceType == "MedicationRequest" && interaction == "search":
		q, err := parseQuery(c.Request.URL.RawQuery)
		if err != nil || q.Get("_page") != "" {
			return // a paging link's search is opened only for its own user
		}
		if srch, err := mapping.ParseSearch(q, time.Now(), false); err == nil {
			var rx []string
			if srch.PrescriptionID != "" {
				rx = []string{srch.PrescriptionID}
			}
			e.setSubject(srch.NHSNumber, rx)
		}
	case resourceType == "AuditEvent" && interaction == "search":
		q, err := parseQuery(c.Request.URL.RawQuery)
		if err != nil || q.Get("_page") != "" {
			return
		}
		if aq, err := audit.ParseQuery(q, false); err == nil {
			e.setSubject(aq.PatientNHS, nil)
		}
	case resourceType == "Patient" && interaction == "read":
		if nhs := c.Param("id"); tracker.ValidNHSNumber(nhs) {
			e.setSubject(nhs, nil)
		}
	case resourceType == "MedicationRequest" && interaction == "read":
		if rx, _, _, ok := mapping.ParseMedicationRequestID(c.Param("id")); ok {
			e.setSubject("", []string{rx})
		}
	case resourceType == "MedicationDispense" && interaction == "read":
		if rx, _, _, ok := mapping.ParseMedicationDispenseID(c.Param("id")); ok {
			e.setSubject("", []string{rx})
		}
	}
}

// subject is one patient an answer shows, and the prescriptions of that patient it shows.
type subject struct {
	nhs string
	ids []string
}

// alsoAbout records further patients the answer shows: each gets a record of its own, committed
// with the request's before the answer is sent.
func (e *auditEntry) alsoAbout(others []subject) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.others = others
}

// skip marks a request that is refused before it attempted anything (a throttled tokenless flood).
func (e *auditEntry) skip() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done, e.skipped = true, true
}

// commitWait bounds how long a request waits for its audit record to be committed.
const commitWait = 10 * time.Second

// commit writes the record once, with the answer's status and OperationOutcome code. An error means
// the record is not durable and the answer must not be sent.
//
// It is written even when the client has gone (ctx cancelled): Spine may have been asked in the
// user's name already, and the trail must say so. Only commitWait bounds it.
func (e *auditEntry) commit(ctx context.Context, a Auditor, status int, outcome string) error {
	if e == nil || a == nil {
		return nil
	}
	e.mu.Lock()
	if e.done {
		e.mu.Unlock()
		return nil
	}
	e.done = true
	ev, others := e.event, e.others
	e.mu.Unlock()
	ev.Status, ev.Outcome = status, outcome // the store stamps the time
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitWait)
	defer cancel()
	// One record per further patient, committed with the request's in one transaction: all or none.
	evs := []audit.Event{ev}
	for _, o := range others {
		other := ev
		other.PatientNHS, other.PrescriptionIDs = o.nhs, o.ids
		evs = append(evs, other)
	}
	return a.Record(ctx, evs...)
}

// auditUnavailable is what a client gets when its audit record cannot be committed: no data.
var auditUnavailable = fhir.Issue{Severity: "fatal", Code: "transient",
	Diagnostics: "The access could not be recorded in the audit trail, so no data is sent. Try again shortly."}
