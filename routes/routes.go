// Package routes is the adapter's HTTP surface: the FHIR R4 endpoints, on Gin, over a Spine tracker.
//
// Every route is listed in New. Handlers are thin: they parse the request, hand it to the service
// (service.go), which asks the tracker and package mapping, and render the answer through package
// fhir. Every route that touches patient data authenticates the caller (auth), checks its role and
// scopes, and writes an audit record that is committed before a byte of the answer leaves
// (audit.go): a hit in the answer cache, a 304 and a refusal alike.
package routes

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Tracker is what the routes need of Spine: the tracker client, or a decorator of it.
type Tracker interface {
	Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error)
	Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error)
	ItemDetails(ctx context.Context, who tracker.Caller, q tracker.DetailQuery) (*tracker.PrescriptionDetail, error)
	ItemSummary(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.ItemSummaryResult, error)
}

// Authenticator verifies bearer tokens and applies role-based access control.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (auth.Identity, error)
	Authorize(id auth.Identity, resourceType, interaction string) error
	SMARTConfiguration() map[string]any
	AuthorizationEndpoint() string
	TokenEndpoint() string
}

// Auditor commits an answer's audit records durably, all or none; an error means the answer must not
// be sent.
type Auditor interface {
	Record(ctx context.Context, evs ...audit.Event) error
}

// AuditTrail is what the AuditEvent search needs of the audit store.
type AuditTrail interface {
	Search(ctx context.Context, q audit.Query) ([]audit.Record, int, error)
}

// Answers keeps whole marshalled answers for a short while (cache.Answers).
type Answers interface {
	Get(key string) (cache.Answer, bool)
	Put(key string, a cache.Answer)
}

// Config is what the routes are told at start-up.
type Config struct {
	BaseURL string // the public FHIR base, e.g. http://127.0.0.1:8080/FHIR/R4
	// Detailed turns on Spine's 111 detail calls for medication; with DetailedNeedsSmartcard (a real
	// Spine) only for users whose token shows smartcard authentication, as Spine requires.
	Detailed               bool
	DetailedNeedsSmartcard bool
	FanOut                 int           // concurrent retrieves a patient search may make for its includes; default 4
	PageKeys               [][]byte      // sign paging tokens, the first signing; random when empty (tokens then die with the process)
	PageTTL                time.Duration // how long a paging link lives; default 1h
	MaxURLBytes            int           // longer request URIs get a 414; default 4096
	// RequestTimeout bounds the whole of a request's work with Spine (a read is two calls, a fan-out
	// several rounds); default 25s. The server's WriteTimeout must be longer.
	RequestTimeout time.Duration
	// ShareAnswersAcrossUsers lets one user's cached read serve another (EPS_CACHE_SHARE_ACROSS_USERS).
	// A search's answer is always its user's own: its paging links are bound to that user.
	ShareAnswersAcrossUsers bool
	CORSOrigins             []string // EPS_CORS_ORIGINS: browser origins allowed to call the API
	RateLimit               Rate     // per authenticated client (EPS_RATE_LIMIT); zero is off
	// MaxActive bounds the patient-data requests in progress (EPS_MAX_ACTIVE_REQUESTS); the rest
	// wait their turn, within RequestTimeout, and get a 503 after a quarter of it. Zero is no bound.
	MaxActive            int
	UnauthenticatedLimit Rate   // per client address, for requests without a valid token
	SecurityDescription  string // the CapabilityStatement's rest.security text
	SoftwareVersion      string
	Now                  func() time.Time
	Ready                func(context.Context) error // readiness check; nil means ready
}

// Deps are the adapter's collaborators, made in main.
type Deps struct {
	Tracker    Tracker
	Encoder    *fhir.Encoder
	Auth       Authenticator
	Audit      Auditor
	Trail      AuditTrail // nil: no AuditEvent search
	Answers    Answers    // nil: no answer cache
	Orgs       *Organizations
	Memo       *EntryMemo // nil: no entry memo
	Logger     *slog.Logger
	Tracing    trace.TracerProvider // nil: no spans
	Meters     metric.MeterProvider // nil: no metrics
	Propagator propagation.TextMapPropagator
}

// New returns the adapter's HTTP handler. An error means a fixed resource (the CapabilityStatement,
// a SearchParameter) cannot be served: start-up stops rather than every request failing.
func New(cfg Config, d Deps) (http.Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FanOut <= 0 {
		cfg.FanOut = 4
	}
	if cfg.MaxURLBytes <= 0 {
		cfg.MaxURLBytes = 4096
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 25 * time.Second
	}
	if cfg.PageTTL <= 0 {
		cfg.PageTTL = time.Hour
	}
	if len(cfg.PageKeys) == 0 {
		key := make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
		cfg.PageKeys = [][]byte{key}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Orgs == nil {
		d.Orgs = NewOrganizations(0, 0)
	}
	if err := d.Memo.bind(cfg.BaseURL); err != nil {
		return nil, err
	}
	tel := newInstruments(d)
	rend := &renderer{enc: d.Encoder, logger: d.Logger, audit: d.Audit, tel: tel}
	svc := &service{cfg: cfg, tracker: d.Tracker, orgs: d.Orgs, memo: d.Memo, enc: d.Encoder, logger: d.Logger, tel: tel}
	h := &handlers{cfg: cfg, svc: svc, rd: rend, pager: newPager(cfg.PageKeys, cfg.PageTTL),
		answers: d.Answers, trail: d.Trail, auth: d.Auth}
	guard := newGuard(cfg, d.Auth, rend)

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(tel.serverSpans()...)
	r.Use(
		withRequestIDs(),
		logRequests(d.Logger),
		recoverPanics(rend),
		cors(cfg.CORSOrigins),
		limitURL(rend, cfg.MaxURLBytes),
	)

	// Every route answers GET and HEAD alike (RFC 9110 9.3.2): net/http sends a HEAD answer's
	// headers and drops its body, and a HEAD of patient data is authenticated and audited as a GET.
	get := func(g gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
		g.GET(path, handlers...)
		g.HEAD(path, handlers...)
	}
	get(r, "/healthz", handleHealth())
	get(r, "/readyz", handleReady(cfg.Ready, d.Logger))

	metadata, err := handleMetadata(cfg, rend, d)
	if err != nil {
		return nil, err
	}
	searchParameter, err := handleSearchParameter(cfg, rend)
	if err != nil {
		return nil, err
	}
	// SMART discovery is plain JSON whatever the Accept header (SMART App Launch 2: "Responses ... SHALL
	// be JSON, regardless of Accept headers"), so FHIR's content negotiation does not apply to it.
	get(r, "/FHIR/R4/.well-known/smart-configuration", handleSMARTConfiguration(d.Auth))
	// Every FHIR route checks the query and negotiates the format (negotiate); a route of patient data
	// does it after opening its audit record and authenticating, so that a malformed or unacceptable
	// request to one is still audited, and one without a token is still a 401.
	base := r.Group("/FHIR/R4")
	neg := negotiate(rend)
	get(base, "/metadata", neg, metadata)
	get(base, "/SearchParameter/:id", neg, searchParameter)

	// Patient data: each route authenticates, authorises, and is audited.
	get(base, "/MedicationRequest", guard.patientData("MedicationRequest", "search", h.searchMedicationRequests)...)
	get(base, "/MedicationRequest/:id", guard.patientData("MedicationRequest", "read", h.readMedicationRequest)...)
	get(base, "/MedicationDispense/:id", guard.patientData("MedicationDispense", "read", h.readMedicationDispense)...)
	get(base, "/Patient/:id", guard.patientData("Patient", "read", h.readPatient)...)
	// Organisations are not patient data: authenticated and authorised, not audited.
	get(base, "/Organization/:id", guard.authenticated("Organization", "read", h.readOrganization)...)
	if d.Trail != nil {
		get(base, "/AuditEvent", guard.patientData("AuditEvent", "search", h.searchAuditEvents)...)
	}

	r.NoRoute(handleNoRoute(rend))
	r.NoMethod(handleNoMethod(rend))
	return r, nil
}
