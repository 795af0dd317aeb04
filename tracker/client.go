package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Config is what a Client needs to reach Spine. Zero durations and sizes take the defaults below.
type Config struct {
	BaseURL          string        // Spine host root, e.g. https://msg.int.spine2.ncrs.nhs.uk ; paths /mm/... are appended
	ASID             string        // Spine-From-Asid, 12 digits
	UserID           string        // default Spine-UserId when Caller.UserID is empty ("" = not sent)
	RoleProfileID    string        // default Spine-RoleProfileId
	Timeout          time.Duration // deadline for a whole call including retries; default 10s
	MaxRetries       int           // default 2; negative for none
	RetryBackoff     time.Duration // base backoff, default 100ms, exponential with full jitter
	MaxResponseBytes int64         // default 4 MiB; bigger reply -> ErrUpstream

	// MaxConcurrency bounds the Spine requests in flight from this instance (SPINE_MAX_CONCURRENCY,
	// default 64). Spine sees instances × MaxConcurrency at most.
	MaxConcurrency int
	// MaxWaiting bounds the calls waiting for a slot (SPINE_MAX_WAITING, default 16 × MaxConcurrency);
	// more fail at once with ErrOverloaded. Below that bound a call is shed only when it could not be
	// served before its deadline: a bound too tight sheds calls that would have been served in
	// well under a second, and every client it refuses comes straight back.
	MaxWaiting int
	// BreakerFailures is how many consecutive connection failures or timeouts open the circuit
	// breaker (SPINE_BREAKER_FAILURES, default 5; negative for no breaker).
	BreakerFailures int
	// BreakerOpenFor is how long an open breaker refuses calls before one trial call
	// (SPINE_BREAKER_OPEN_FOR, default 10s).
	BreakerOpenFor time.Duration
	// UnansweredAfter is how long a request sent to Spine may go without an answer before its
	// caller giving up counts against Spine, as a timeout does (default half of Timeout, 5s):
	// clients whose own timeouts are shorter than Timeout must not keep a hung Spine from opening
	// the breaker, and a Spine merely slow must not be declared down by impatient ones.
	UnansweredAfter time.Duration

	Logger         *slog.Logger         // breaker state changes; nil = discard
	TracerProvider trace.TracerProvider // nil = no spans
	MeterProvider  metric.MeterProvider // nil = no metrics
}

// The defaults for Config's zero values.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxRetries       = 2
	DefaultRetryBackoff     = 100 * time.Millisecond
	DefaultMaxResponseBytes = 4 << 20
	DefaultMaxConcurrency   = 64
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 10 * time.Second
)

// maxBackoff caps one wait between attempts, whatever the attempt number.
const maxBackoff = 5 * time.Second

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("base URL %q must be an absolute https URL without query", c.BaseURL))
	}
	if !ValidASID(c.ASID) {
		errs = append(errs, fmt.Errorf("ASID %q must be 12 digits", c.ASID))
	}
	if c.UserID != "" && !ValidUserID(c.UserID) {
		errs = append(errs, fmt.Errorf("user ID %q must be 12 digits", c.UserID))
	}
	if c.RoleProfileID != "" && !ValidRoleProfileID(c.RoleProfileID) {
		errs = append(errs, fmt.Errorf("role profile ID %q must be 12 digits", c.RoleProfileID))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v must not be negative", c.Timeout))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retry backoff %v must not be negative", c.RetryBackoff))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("max response bytes %d must not be negative", c.MaxResponseBytes))
	}
	if c.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("max concurrency %d must not be negative", c.MaxConcurrency))
	}
	if c.MaxWaiting < 0 {
		errs = append(errs, fmt.Errorf("max waiting %d must not be negative", c.MaxWaiting))
	}
	if c.BreakerOpenFor < 0 {
		errs = append(errs, fmt.Errorf("breaker open time %v must not be negative", c.BreakerOpenFor))
	}
	if c.UnansweredAfter < 0 {
		errs = append(errs, fmt.Errorf("unanswered-after %v must not be negative", c.UnansweredAfter))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0 // the zero value means the default, so "none" is spelt negative
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 16 * c.MaxConcurrency
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.BreakerOpenFor == 0 {
		c.BreakerOpenFor = DefaultBreakerOpenFor
	}
	if c.UnansweredAfter == 0 {
		c.UnansweredAfter = c.Timeout / 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Client calls Spine's EPS Tracker interactions. It is safe for concurrent use.
type Client struct {
	cfg     Config
	hc      *http.Client
	in      *instruments
	limit   *limiter
	breaker *breaker  // nil when disabled
	replies sync.Pool // *bytes.Buffer: the buffers replies are read into
}

// New returns a Client for cfg. hc carries the mutual TLS Spine requires (see NewHTTPClient); it is
// required, because a default client has no certificate and could only fail later.
func New(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tracker: invalid config: %w", err)
	}
	if hc == nil {
		return nil, errors.New("tracker: nil *http.Client: Spine needs one carrying its client certificate")
	}
	cfg = cfg.withDefaults()
	in, err := newInstruments(cfg.TracerProvider, cfg.MeterProvider)
	if err != nil {
		return nil, fmt.Errorf("tracker: telemetry: %w", err)
	}
	c := &Client{cfg: cfg, hc: instrumentHTTP(hc, cfg.TracerProvider), in: in}
	c.limit = newLimiter(cfg.MaxConcurrency, cfg.MaxWaiting, func(ctx context.Context, d int64) { in.active.Add(ctx, d) })
	if cfg.BreakerFailures > 0 {
		c.breaker = newBreaker(cfg.BreakerFailures, cfg.BreakerOpenFor, cfg.Logger, func(to string) {
			in.transitions.Add(context.Background(), 1, metric.WithAttributes(attrState.String(to)))
		})
	}
	return c, nil
}

// Search finds a patient's prescriptions (Spine's basic prescription search).
func (c *Client) Search(ctx context.Context, who Caller, q SearchQuery) (_ *SearchResult, err error) {
	ctx, rec := c.begin(ctx, interactionSearch, who)
	defer func() { rec.end(err) }()
	params, err := searchParams(interactionSearch, q)
	if err != nil {
		return nil, err
	}
	params.Set("format", "trace-summary")
	body, err := c.call(ctx, rec, who, interactionSearch, "/mm/prescriptions", params)
	if err != nil {
		return nil, err
	}
	res, err := parseSearch(body)
	if err != nil {
		return nil, err
	}
	for _, p := range res.Prescriptions {
		if p.PatientNHSNumber != "" && p.PatientNHSNumber != q.NHSNumber {
			return nil, wrongPatient(interactionSearch)
		}
	}
	res.Fetched = time.Now()
	return res, nil
}

// Retrieve fetches one prescription with one issue: the one asked for, or the current one.
func (c *Client) Retrieve(ctx context.Context, who Caller, q RetrieveQuery) (_ *Prescription, err error) {
	ctx, rec := c.begin(ctx, interactionRetrieve, who)
	defer func() { rec.end(err) }()
	if !ValidPrescriptionID(q.PrescriptionID) {
		return nil, invalid(interactionRetrieve, "invalid prescription ID")
	}
	if q.IssueNumber < 0 {
		return nil, invalid(interactionRetrieve, "negative issue number")
	}
	params := url.Values{"format": {"trace"}}
	if q.IssueNumber > 0 {
		params.Set("issueNumber", strconv.Itoa(q.IssueNumber))
	}
	body, err := c.call(ctx, rec, who, interactionRetrieve, "/mm/prescriptions/"+escapeSegment(q.PrescriptionID), params)
	if err != nil {
		return nil, err
	}
	p, err := parseRetrieve(body)
	if err != nil {
		return nil, err
	}
	// Answering for another prescription, or another issue, would show a clinician the wrong record.
	if !strings.EqualFold(p.ID, q.PrescriptionID) {
		return nil, &Error{Kind: ErrUpstream, Interaction: interactionRetrieve, Reason: "reply is for another prescription"}
	}
	if q.IssueNumber > 0 && len(p.Issues) > 0 && p.Issues[0].Number != q.IssueNumber {
		return nil, &Error{Kind: ErrUpstream, Interaction: interactionRetrieve, Reason: "reply is for another issue"}
	}
	p.Fetched = time.Now()
	return p, nil
}

// ItemSummary finds a patient's prescriptions with their medication names (the 111 item summary).
func (c *Client) ItemSummary(ctx context.Context, who Caller, q SearchQuery) (_ *ItemSummaryResult, err error) {
	ctx, rec := c.begin(ctx, interactionItemSummary, who)
	defer func() { rec.end(err) }()
	params, err := searchParams(interactionItemSummary, q)
	if err != nil {
		return nil, err
	}
	body, err := c.call(ctx, rec, who, interactionItemSummary, "/mm/nhs111itemsummary", params)
	if err != nil {
		return nil, err
	}
	res, err := parseItemSummary(body)
	if err != nil {
		return nil, err
	}
	for _, p := range res.Prescriptions {
		if p.PatientNHSNumber != "" && p.PatientNHSNumber != q.NHSNumber {
			return nil, wrongPatient(interactionItemSummary)
		}
	}
	res.Fetched = time.Now()
	return res, nil
}

// ItemDetails fetches what was prescribed on one prescription (the 111 item details).
func (c *Client) ItemDetails(ctx context.Context, who Caller, q DetailQuery) (_ *PrescriptionDetail, err error) {
	ctx, rec := c.begin(ctx, interactionItemDetails, who)
	defer func() { rec.end(err) }()
	if !ValidPrescriptionID(q.PrescriptionID) {
		return nil, invalid(interactionItemDetails, "invalid prescription ID")
	}
	if q.IssueNumber < 0 {
		return nil, invalid(interactionItemDetails, "negative issue number")
	}
	if q.LineItemID != "" && !ValidLineItemID(q.LineItemID) {
		return nil, invalid(interactionItemDetails, "invalid line item ID")
	}
	params := url.Values{"prescriptionId": {q.PrescriptionID}}
	if q.IssueNumber > 0 {
		params.Set("issueNumber", strconv.Itoa(q.IssueNumber))
	}
	if q.LineItemID != "" {
		params.Set("lineitemid", strings.ToUpper(q.LineItemID))
	}
	body, err := c.call(ctx, rec, who, interactionItemDetails, "/mm/nhs111itemdetails", params)
	if err != nil {
		return nil, err
	}
	d, err := parseItemDetails(body, q.PrescriptionID)
	if err != nil {
		return nil, err
	}
	d.Fetched = time.Now()
	return d, nil
}

// searchParams checks a search and turns it into Spine's query parameters.
func searchParams(interaction string, q SearchQuery) (url.Values, error) {
	if !ValidNHSNumber(q.NHSNumber) {
		return nil, invalid(interaction, "invalid NHS number")
	}
	if q.Status != "" && !q.Status.Valid() {
		return nil, invalid(interaction, "unknown prescription status")
	}
	switch q.Version {
	case "", "1", "2", "R1", "R2":
	default:
		return nil, invalid(interaction, "prescription version must be 1, 2, R1 or R2")
	}
	params := url.Values{"nhsNumber": {q.NHSNumber}}
	if !q.EarliestDate.IsZero() {
		params.Set("earliestDate", q.EarliestDate.UTC().Format("20060102"))
	}
	if !q.LatestDate.IsZero() {
		params.Set("latestDate", q.LatestDate.UTC().Format("20060102"))
	}
	if q.Status != "" {
		params.Set("prescriptionStatus", string(q.Status))
	}
	if q.Version != "" {
		params.Set("prescriptionVersion", q.Version)
	}
	return params, nil
}

// escapeSegment escapes a prescription ID for the URL path. url.PathEscape leaves '+' alone, which is
// legal in a path, but a '+' read as a space anywhere on the way would name another prescription.
func escapeSegment(id string) string {
	return strings.ReplaceAll(url.PathEscape(id), "+", "%2B")
}

func invalid(interaction, reason string) *Error {
	return &Error{Kind: ErrInvalidRequest, Interaction: interaction, Reason: reason}
}

func wrongPatient(interaction string) *Error {
	return &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "reply holds another patient's prescription"}
}
