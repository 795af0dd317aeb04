// Package fhir owns the adapter's wire format: FHIR R4 JSON through google/fhir's jsonformat,
// content negotiation, OperationOutcome and the CapabilityStatement.
//
// It knows nothing of HTTP frameworks: routes asks it which format a request wants, hands it a
// resource proto and gets bytes back to write with ContentType. Marshalling happens before the
// status line is written, so a marshalling failure can still become a 500.
package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
)

// indent is what both the pretty marshaller and Pretty use, so that a re-indented cached answer is
// byte for byte what marshalling it pretty would have produced.
const indent = "  "

// Encoder turns FHIR R4 resource protos into FHIR JSON. Build one at start-up and share it.
//
// Concurrency: an Encoder is safe for concurrent use without a lock or a pool. jsonformat's
// Marshaller keeps mutable state only in its depth counters, which exist for the analytics formats
// alone (its depths map is nil for the pure FHIR format used here); its field-name caches are a
// sync.Map and an RWMutex-guarded map, and every Marshal call renders into its own buffer.
// TestEncoderConcurrentMarshal holds this under -race.
type Encoder struct {
	compact *jsonformat.Marshaller
	pretty  *jsonformat.Marshaller
}

// NewEncoder builds the compact and pretty R4 marshallers.
func NewEncoder() (*Encoder, error) {
	compact, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: compact marshaller: %w", err)
	}
	pretty, err := jsonformat.NewMarshaller(true, "", indent, fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: pretty marshaller: %w", err)
	}
	return &Encoder{compact: compact, pretty: pretty}, nil
}

// Marshal returns the FHIR JSON of res, a resource proto (Bundle, OperationOutcome,
// MedicationRequest...) or a ContainedResource wrapping one; indented when pretty is set.
func (e *Encoder) Marshal(res proto.Message, pretty bool) ([]byte, error) {
	if res == nil || !res.ProtoReflect().IsValid() {
		return nil, errors.New("fhir: marshal: nil resource")
	}
	m := e.compact
	if pretty {
		m = e.pretty
	}
	var (
		b   []byte
		err error
	)
	// MarshalResource on a ContainedResource would name the wrapper as the resourceType.
	if res.ProtoReflect().Descriptor().Name() == "ContainedResource" {
		b, err = m.Marshal(res)
	} else {
		b, err = m.MarshalResource(res)
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: marshal %s: %w", res.ProtoReflect().Descriptor().Name(), err)
	}
	return b, nil
}

// Pretty re-indents JSON that Marshal produced compact, so that a cached compact answer can be
// served to a client asking for _pretty=true without marshalling the resource again. The result
// equals Marshal(res, true).
func (e *Encoder) Pretty(compact []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(compact) + len(compact)/2)
	if err := json.Indent(&buf, compact, "", indent); err != nil {
		return nil, fmt.Errorf("fhir: pretty: %w", err)
	}
	return buf.Bytes(), nil
}
