// Package routes is the adapter's HTTP surface: the FHIR R4 endpoints, on Gin, over a Spine tracker.
//
// Every route is listed in New. Handlers are thin: they parse the request, ask the tracker, hand the
// answer to package mapping and render it through package fhir.
package routes

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Tracker is what the routes need of Spine: the tracker client, or a decorator of it.
type Tracker interface {
	Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error)
	Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error)
	ItemDetails(ctx context.Context, who tracker.Caller, q tracker.DetailQuery) (*tracker.PrescriptionDetail, error)
}

// Config is what the routes are told at start-up.
type Config struct {
	BaseURL       string // the public FHIR base, e.g. http://127.0.0.1:8080/FHIR/R4
	Detailed      bool   // call the 111 item details for medication
	UserID        string // Spine-UserId until end users' identities come from tokens
	RoleProfileID string // Spine-RoleProfileId, likewise
	FanOut        int    // concurrent retrieves a patient search may make for its includes; default 4
	PageKey       []byte // signs paging tokens; random when empty (tokens then die with the process)
	MaxURLBytes   int    // longer request URIs get a 414; default 4096
	// RequestTimeout bounds the whole of a request's work with Spine (a read is two calls, a fan-out
	// several rounds); default 25s. The server's WriteTimeout must be longer.
	RequestTimeout  time.Duration
	SoftwareVersion string
	Now             func() time.Time
	Ready           func(context.Context) error // readiness check; nil means ready
}

// New returns the adapter's HTTP handler.
func New(cfg Config, t Tracker, enc *fhir.Encoder, logger *slog.Logger) http.Handler {
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
	if len(cfg.PageKey) == 0 {
		cfg.PageKey = make([]byte, 32)
		_, _ = rand.Read(cfg.PageKey) // crypto/rand.Read never fails on supported platforms
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rend := &renderer{enc: enc, logger: logger}
	srch := &searcher{cfg: cfg, tracker: t, pager: newPager(cfg.PageKey), logger: logger}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(
		withRequestIDs(),
		logRequests(logger),
		recoverPanics(rend),
		limitURL(rend, cfg.MaxURLBytes),
	)

	r.GET("/healthz", handleHealth())
	r.GET("/readyz", handleReady(cfg.Ready, logger))

	base := r.Group("/FHIR/R4", negotiate(rend))
	base.GET("/metadata", handleMetadata(cfg, rend))
	base.GET("/MedicationRequest", handleSearch(srch, rend))
	base.GET("/MedicationRequest/:id", handleRead(srch, rend))
	base.GET("/SearchParameter/:id", handleSearchParameter(cfg, rend))

	r.NoRoute(handleNoRoute(rend))
	r.NoMethod(handleNoMethod(rend))
	return r
}
