package tracker

import (
	"errors"
	"fmt"
	"time"
)

// The kinds of failure a tracker call can end in. Callers test for them with errors.Is; an *Error
// carries the detail.
var (
	// ErrNotFound: Spine found no such prescription, or no prescriptions for the search
	// (statusCode 1; 111 codes 1, 6 and 7).
	ErrNotFound = errors.New("not found")
	// ErrIssueNotFound: the prescription exists but the issue asked for does not (3; 111 code 8).
	ErrIssueNotFound = errors.New("issue not found")
	// ErrInvalidRequest: Spine refused a parameter the end user chose (50, 51, 57, 59, 60, 61;
	// 111 code 2).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrRejected: Spine refused this system's own configuration: ASID, version, trace id, user or
	// role (52 to 56).
	ErrRejected = errors.New("request rejected by Spine")
	// ErrUpstream: Spine failed or answered something unusable: statusCode 2 (no unique prescription),
	// 4 or 5, an HTTP error, a malformed reply, a TLS or connection failure.
	ErrUpstream = errors.New("upstream failure")
	// ErrTimeout: Spine did not answer within the call's deadline.
	ErrTimeout = errors.New("timeout")
	// ErrCanceled: the caller gave up (its context was cancelled) before Spine answered.
	ErrCanceled = errors.New("canceled")
	// ErrOverloaded: this instance already has as many Spine calls as it may make and waiting for
	// one to finish would not fit in the call's deadline, or too many calls wait already. Spine was
	// not called. Error.RetryAfter says when to try again.
	ErrOverloaded = errors.New("overloaded")
	// ErrCircuitOpen: Spine has failed to answer repeatedly (connection failures, timeouts), so
	// calls fail at once until a trial call shows it is back. Spine was not called. Error.RetryAfter
	// says when the next trial call may be made.
	ErrCircuitOpen = errors.New("circuit open")
)

// Error is a failed tracker call. Kind is one of the Err values above; errors.Is(err, ErrNotFound)
// and friends work through it.
type Error struct {
	Kind        error
	Interaction string        // "search", "retrieve", "nhs111itemsummary", "nhs111itemdetails"
	StatusCode  string        // Spine's statusCode, when Spine answered with one
	Reason      string        // Spine's reason text, or what went wrong
	HTTPStatus  int           // when Spine answered with an HTTP status other than 200
	RetryAfter  time.Duration // ErrOverloaded and ErrCircuitOpen: when trying again may succeed
	Err         error         // the underlying cause, if any

	// spineDown marks a failure that says Spine is not answering (a connection failure, a reply cut
	// off), as opposed to one Spine answered: the circuit breaker counts only these and timeouts.
	spineDown bool
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("tracker %s: %v", e.Interaction, e.Kind)
	if e.StatusCode != "" {
		msg += fmt.Sprintf(" (statusCode %s %q)", e.StatusCode, e.Reason)
	} else if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) and the like match on the kind.
func (e *Error) Is(target error) bool { return e.Kind == target }

// Unwrap exposes the underlying cause.
func (e *Error) Unwrap() error { return e.Err }
