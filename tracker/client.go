package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
}

// The defaults for Config's zero values.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxRetries       = 2
	DefaultRetryBackoff     = 100 * time.Millisecond
	DefaultMaxResponseBytes = 4 << 20
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
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Client calls Spine's EPS Tracker interactions. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
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
	return &Client{cfg: cfg.withDefaults(), hc: hc}, nil
}

// Search finds a patient's prescriptions (Spine's basic prescription search).
func (c *Client) Search(ctx context.Context, who Caller, q SearchQuery) (*SearchResult, error) {
	params, err := searchParams(interactionSearch, q)
	if err != nil {
		return nil, err
	}
	params.Set("format", "trace-summary")
	body, err := c.call(ctx, who, interactionSearch, "/mm/prescriptions", params)
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
func (c *Client) Retrieve(ctx context.Context, who Caller, q RetrieveQuery) (*Prescription, error) {
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
	body, err := c.call(ctx, who, interactionRetrieve, "/mm/prescriptions/"+escapeSegment(q.PrescriptionID), params)
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
func (c *Client) ItemSummary(ctx context.Context, who Caller, q SearchQuery) (*ItemSummaryResult, error) {
	params, err := searchParams(interactionItemSummary, q)
	if err != nil {
		return nil, err
	}
	body, err := c.call(ctx, who, interactionItemSummary, "/mm/nhs111itemsummary", params)
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
	return res, nil
}

// ItemDetails fetches what was prescribed on one prescription (the 111 item details).
func (c *Client) ItemDetails(ctx context.Context, who Caller, q DetailQuery) (*PrescriptionDetail, error) {
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
	body, err := c.call(ctx, who, interactionItemDetails, "/mm/nhs111itemdetails", params)
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

// call makes one Spine GET under one deadline, retrying connection failures and HTTP 5xx with
// exponential backoff and full jitter. Spine's own error answers (HTTP 200 with a statusCode) are
// final: they come from Spine having looked, and asking again would give the same answer.
func (c *Client) call(ctx context.Context, who Caller, interaction, path string, params url.Values) ([]byte, error) {
	headers, err := c.headers(interaction, who)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	target := c.cfg.BaseURL + path + "?" + params.Encode()

	for attempt := 0; ; attempt++ {
		body, retry, err := c.attempt(ctx, interaction, target, headers)
		if err == nil {
			return body, nil
		}
		if !retry || attempt >= c.cfg.MaxRetries {
			return nil, err
		}
		wait := backoff(c.cfg.RetryBackoff, attempt)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, err // another attempt could not finish in time: report what went wrong
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, contextError(ctx, interaction)
		case <-timer.C:
		}
	}
}

// attempt makes one request. retry says whether the failure is worth another attempt.
func (c *Client) attempt(ctx context.Context, interaction, target string, headers http.Header) (body []byte, retry bool, err error) {
	if ctx.Err() != nil {
		return nil, false, contextError(ctx, interaction)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, false, &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "building request"}
	}
	req.Header = headers.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, contextError(ctx, interaction)
		}
		// A *url.Error names the URL, and the URL holds the NHS number: keep only the cause, so that
		// the error can be logged.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, true, &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "connection failed", Err: err}
	}
	defer func() {
		// Drain a little so that the connection can be reused; a bigger leftover is not worth it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()

	body, err = io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, contextError(ctx, interaction)
		}
		return nil, true, &Error{Kind: ErrUpstream, Interaction: interaction, HTTPStatus: resp.StatusCode, Reason: "reading reply", Err: err}
	}
	if int64(len(body)) > c.cfg.MaxResponseBytes {
		return nil, false, &Error{Kind: ErrUpstream, Interaction: interaction, HTTPStatus: resp.StatusCode,
			Reason: fmt.Sprintf("reply larger than %d bytes", c.cfg.MaxResponseBytes)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode >= 500, httpError(interaction, resp.StatusCode, body)
	}
	if ctx.Err() != nil {
		// An answer that arrives as the caller gives up is not trusted: a server cut short may send
		// an empty 200.
		return nil, false, contextError(ctx, interaction)
	}
	return body, false, nil
}

// httpError describes a reply other than 200. Spine may send one "without a json response" (SPEC 3);
// if it does carry a statusCode, that says more than the HTTP status.
func httpError(interaction string, status int, body []byte) *Error {
	if _, err := decodeEnvelope(interaction, body); err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode != "" {
			e.HTTPStatus = status
			return e
		}
	}
	return &Error{Kind: ErrUpstream, Interaction: interaction, HTTPStatus: status,
		Reason: fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))}
}

// contextError tells the caller giving up from the deadline passing. A caller's own deadline is a
// timeout too: either way Spine was too slow for the time allowed.
func contextError(ctx context.Context, interaction string) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: ErrTimeout, Interaction: interaction, Reason: "no answer from Spine in time", Err: ctx.Err()}
	}
	return &Error{Kind: ErrCanceled, Interaction: interaction, Reason: "caller gave up", Err: ctx.Err()}
}

// backoff is the wait before retry number attempt+1: uniformly random up to base*2^attempt ("full
// jitter"), so that many clients failing together do not retry together.
func backoff(base time.Duration, attempt int) time.Duration {
	ceiling := base << min(attempt, 16)
	if ceiling <= 0 || ceiling > maxBackoff {
		ceiling = maxBackoff
	}
	return rand.N(ceiling + 1)
}

// headers builds the request headers of SPEC 1.4. The caller's user and role win over the
// configured defaults; an invalid trace id is left out rather than having Spine reject the call (54).
func (c *Client) headers(interaction string, who Caller) (http.Header, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("Spine-From-Asid", c.cfg.ASID)
	user, role := who.UserID, who.RoleProfileID
	if user == "" {
		user = c.cfg.UserID
	}
	if role == "" {
		role = c.cfg.RoleProfileID
	}
	// Spine would refuse these (55, 56); refusing here saves the round trip and keeps a malformed
	// identity out of a header.
	if user != "" && !ValidUserID(user) {
		return nil, &Error{Kind: ErrRejected, Interaction: interaction, Reason: "invalid Spine user ID"}
	}
	if role != "" && !ValidRoleProfileID(role) {
		return nil, &Error{Kind: ErrRejected, Interaction: interaction, Reason: "invalid Spine role profile ID"}
	}
	if user != "" {
		h.Set("Spine-UserId", user)
	}
	if role != "" {
		h.Set("Spine-RoleProfileId", role)
	}
	if ValidTraceID(who.TraceID) {
		h.Set("Eps-TraceId", who.TraceID)
	}
	return h, nil
}
