// Package fhir owns the adapter's wire format: FHIR R4 JSON byte for byte as google/fhir's
// jsonformat writes it (by a fast planned encoder, jsonformat itself as the fallback), content
// negotiation, OperationOutcome and the CapabilityStatement.
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
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
)

// indent is what Pretty uses, the indent of jsonformat's pretty marshaller as the adapter built it,
// so that a re-indented answer is byte for byte what marshalling it pretty would have produced.
const indent = "  "

// Encoder turns FHIR R4 resource protos into FHIR JSON. Build one at start-up and share it.
//
// Its output is byte for byte google/fhir jsonformat's, written by a fast path (encode.go) from a
// per-message-type plan built once in NewEncoder. A shape the fast path does not cover goes to
// jsonformat, on a copy (jsonformat rewrites references and drops some extensions in place while
// marshalling; the Encoder never changes its input), and is counted in Fallbacks.
//
// Concurrency: an Encoder is safe for concurrent use. The plans are read-only after NewEncoder;
// the zone cache is a sync.Map; counters are atomic. jsonformat's Marshaller keeps mutable state
// only in its depth counters, which exist for the analytics formats alone; every call renders
// into its own buffer. TestEncoderConcurrentMarshal holds this under -race.
type Encoder struct {
	compact *jsonformat.Marshaller
	plans   plans

	bufs      sync.Pool // *encState: the fast path's scratch
	zones     sync.Map  // time zone name -> *time.Location
	zoneCount atomic.Int64
	fallbacks atomic.Uint64
}

// NewEncoder builds the R4 marshaller and the fast path's plans.
func NewEncoder() (*Encoder, error) {
	compact, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: compact marshaller: %w", err)
	}
	return &Encoder{compact: compact, plans: buildPlans()}, nil
}

// Fallbacks is how many values the fast path handed to jsonformat since NewEncoder: zero for
// every shape the adapter emits (the tests hold that), so a rising count means a new shape.
func (e *Encoder) Fallbacks() uint64 { return e.fallbacks.Load() }

// Marshal returns the FHIR JSON of res, a resource proto (Bundle, OperationOutcome,
// MedicationRequest...) or a ContainedResource wrapping one; indented when pretty is set (the
// compact form re-indented, as Pretty does).
func (e *Encoder) Marshal(res proto.Message, pretty bool) ([]byte, error) {
	if res == nil || !res.ProtoReflect().IsValid() {
		return nil, errors.New("fhir: marshal: nil resource")
	}
	b, err := e.marshalCompact(res)
	if err != nil || !pretty {
		return b, err
	}
	return e.Pretty(b)
}

func (e *Encoder) marshalCompact(res proto.Message) ([]byte, error) {
	if p := e.plans[res.ProtoReflect().Descriptor().FullName()]; p != nil {
		rv := reflect.ValueOf(res)
		if b, ok := e.fast(func(e *encState, b []byte) ([]byte, bool) {
			if p.isContainer {
				return e.appendContained(b, rv, p)
			}
			return e.appendMessage(b, rv, p, true, nil)
		}); ok {
			return b, nil
		}
	}
	return e.fallback(res, func(m *jsonformat.Marshaller, c proto.Message) ([]byte, error) {
		// MarshalResource on a ContainedResource would name the wrapper as the resourceType.
		if c.ProtoReflect().Descriptor().Name() == "ContainedResource" {
			return m.Marshal(c)
		}
		return m.MarshalResource(c)
	})
}

// fast runs one fast-path encoding with pooled scratch and returns a copy of its output sized to
// fit: one allocation for the answer, whatever its size, and no spare capacity held by a cache.
func (e *Encoder) fast(write func(*encState, []byte) ([]byte, bool)) ([]byte, bool) {
	st, _ := e.bufs.Get().(*encState)
	if st == nil {
		st = &encState{Encoder: e}
	}
	b, ok := write(st, st.buf[:0])
	var out []byte
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	// The collected keys point into the caller's protos: drop them before pooling.
	clear(st.emits[:cap(st.emits)])
	st.emits = st.emits[:0]
	// Keep the grown buffer for the next call unless it is unusually big.
	if cap(b) <= maxPooledBuffer {
		st.buf = b
		e.bufs.Put(st)
	}
	return out, ok
}

// maxPooledBuffer keeps a rare huge answer from pinning its buffer in the pool.
const maxPooledBuffer = 1 << 20

// fallback marshals a copy of res with jsonformat and counts it. A panic inside jsonformat (it
// has some on malformed protos) becomes an error.
func (e *Encoder) fallback(res proto.Message, marshal func(*jsonformat.Marshaller, proto.Message) ([]byte, error)) (b []byte, err error) {
	e.fallbacks.Add(1)
	name := res.ProtoReflect().Descriptor().Name()
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("fhir: marshal %s: %v", name, r)
		}
	}()
	b, err = marshal(e.compact, proto.Clone(res))
	if err != nil {
		return nil, fmt.Errorf("fhir: marshal %s: %w", name, err)
	}
	return b, nil
}

// Pretty re-indents JSON that Marshal produced compact, so that a cached compact answer can be
// served to a client asking for _pretty=true without marshalling the resource again. The result
// equals jsonformat's pretty marshaller's output for the same resource.
func (e *Encoder) Pretty(compact []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(compact) + len(compact)/2)
	if err := json.Indent(&buf, compact, "", indent); err != nil {
		return nil, fmt.Errorf("fhir: pretty: %w", err)
	}
	return buf.Bytes(), nil
}
