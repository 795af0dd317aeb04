package tracker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Spine calls: one deadline, bounded retries, the breaker and the concurrency limit around each
// attempt, and errors that never carry the URL (it holds the NHS number).

// call makes one Spine GET under one deadline, retrying connection failures and HTTP 5xx with
// exponential backoff and full jitter. Spine's own error answers (HTTP 200 with a statusCode) are
// final: they come from Spine having looked, and asking again would give the same answer.
//
// Each attempt goes through the circuit breaker and then takes one of MaxConcurrency slots. A retry
// the breaker or the limiter refuses ends the call with the failure before it, which says more.
func (c *Client) call(ctx context.Context, rec *callRecord, who Caller, interaction, path string, params url.Values) ([]byte, error) {
	headers, err := c.headers(interaction, who)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ctx = context.WithValue(ctx, routeKey{}, spineRoutes[interaction])
	target := c.cfg.BaseURL + path + "?" + params.Encode()

	var last error
	for attempt := 0; ; attempt++ {
		rec.retries = attempt
		var retry bool
		body, err := c.breaker.run(interaction, func() ([]byte, error) {
			release, err := c.limit.acquire(ctx, interaction)
			if err != nil {
				return nil, err
			}
			defer release()
			body, status, again, err := c.attempt(ctx, interaction, target, headers)
			rec.httpStatus, retry = status, again
			return body, err
		})
		if err == nil {
			return body, nil
		}
		if last != nil && (errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrOverloaded)) {
			return nil, last
		}
		last = err
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

// attempt makes one request. status is the HTTP status, if any; retry says whether the failure is
// worth another attempt.
func (c *Client) attempt(ctx context.Context, interaction, target string, headers http.Header) (body []byte, status int, retry bool, err error) {
	if ctx.Err() != nil {
		return nil, 0, false, contextError(ctx, interaction)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, false, &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "building request"}
	}
	// The attempts of a call share its headers: a RoundTripper must not change a request, and none
	// here does (otelhttp would clone it before adding a header, and propagates none to Spine).
	req.Header = headers
	sent := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			e := contextError(ctx, interaction)
			// A caller giving up on a request Spine has left unanswered this long is a sign of Spine
			// not answering, whatever the caller's patience: it counts, as a timeout does.
			e.spineDown = e.Kind == ErrCanceled && time.Since(sent) >= c.cfg.UnansweredAfter
			return nil, 0, false, e
		}
		// A *url.Error names the URL, and the URL holds the NHS number: keep only the cause, so that
		// the error can be logged.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if tlsRefused(err) {
			// A certificate one side does not trust is a configuration fault, not an outage: the
			// same handshake fails again, so it is neither retried nor counted against Spine.
			return nil, 0, false, &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "TLS handshake refused", Err: err}
		}
		return nil, 0, true, &Error{Kind: ErrUpstream, Interaction: interaction, Reason: "connection failed", Err: err, spineDown: true}
	}
	defer func() {
		// Drain a little so that the connection can be reused; a bigger leftover is not worth it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()

	status = resp.StatusCode
	body, err = c.readBody(resp.Body, c.cfg.MaxResponseBytes+1)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status, false, contextError(ctx, interaction)
		}
		return nil, status, true, &Error{Kind: ErrUpstream, Interaction: interaction, HTTPStatus: resp.StatusCode, Reason: "reading reply", Err: err, spineDown: true}
	}
	if int64(len(body)) > c.cfg.MaxResponseBytes {
		return nil, status, false, &Error{Kind: ErrUpstream, Interaction: interaction, HTTPStatus: resp.StatusCode,
			Reason: fmt.Sprintf("reply larger than %d bytes", c.cfg.MaxResponseBytes)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, status, resp.StatusCode >= 500, httpError(interaction, resp.StatusCode, body)
	}
	if ctx.Err() != nil {
		// An answer that arrives as the caller gives up is not trusted: a server cut short may send
		// an empty 200.
		return nil, status, false, contextError(ctx, interaction)
	}
	return body, status, false, nil
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

// maxPooledReply keeps a rare huge reply's buffer out of the pool.
const maxPooledReply = 1 << 20

// readBody reads at most limit bytes of r and returns exactly what it read, in a slice of its own. The
// reply is read into a pooled buffer and copied out: io.ReadAll grows its slice step by step, and the
// steps of a search's reply were 4% of what a flood of cache misses allocated.
func (c *Client) readBody(r io.Reader, limit int64) ([]byte, error) {
	buf, _ := c.replies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r, limit))
	body := append([]byte{}, buf.Bytes()...)
	if buf.Cap() <= maxPooledReply {
		c.replies.Put(buf)
	}
	return body, err
}

// tlsRefused reports whether err is a certificate one side of the handshake refused: Spine's, which
// the configured CA does not verify (or which names another host), or the adapter's, which Spine
// refuses with a certificate alert. crypto/tls reports an alert it receives as a net.OpError whose
// Op is "remote error" and whose text is the alert's ("tls: unknown certificate authority", "tls:
// certificate required", ...); other alerts (an internal error, say) may be an outage and are not
// matched.
func tlsRefused(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		op       *net.OpError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || (errors.As(err, &op) && op.Op == "remote error" &&
		(strings.Contains(op.Err.Error(), "certificate") || strings.Contains(op.Err.Error(), "access denied")))
}
