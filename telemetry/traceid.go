package telemetry

import (
	"encoding/base32"

	"go.opentelemetry.io/otel/trace"
)

// epsTraceEncoding is unpadded base32: 16 bytes become 26 characters of [A-Z2-7], within Spine's
// 30-character Eps-TraceId of [A-Za-z0-9-], where neither a UUID (36) nor a hex trace id (32) fits.
var epsTraceEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// EpsTraceID derives Spine's Eps-TraceId from a trace id, so that a Spine-side search can be joined
// to the trace the adapter recorded. It returns "" for the invalid (all-zero) trace id.
func EpsTraceID(id trace.TraceID) string {
	if !id.IsValid() {
		return ""
	}
	return epsTraceEncoding.EncodeToString(id[:])
}
