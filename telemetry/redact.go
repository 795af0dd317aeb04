package telemetry

import "log/slog"

// The identifier types below redact themselves wherever they are printed: slog (LogValue), fmt (%v,
// %s, %+v and %#v through String and GoString) and encoding/json and text encoders (MarshalText).
// Convert explicitly, string(id), where the real value is needed, such as the Spine request; a
// conversion is visible in review, whereas remembering not to log a plain string is not.

const redacted = "[redacted]"

// NHSNumber is a patient's NHS number.
type NHSNumber string

// LogValue implements slog.LogValuer.
func (NHSNumber) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (NHSNumber) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (NHSNumber) GoString() string { return redacted }

// MarshalText implements encoding.TextMarshaler.
func (NHSNumber) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// PrescriptionID is an EPS prescription ID (short or long form), or a read id that embeds one.
type PrescriptionID string

// LogValue implements slog.LogValuer.
func (PrescriptionID) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (PrescriptionID) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (PrescriptionID) GoString() string { return redacted }

// MarshalText implements encoding.TextMarshaler.
func (PrescriptionID) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Token is a bearer token, client assertion or any other credential.
type Token string

// LogValue implements slog.LogValuer.
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (Token) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (Token) GoString() string { return redacted }

// MarshalText implements encoding.TextMarshaler.
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
