package routes

import (
	"bytes"
	"compress/flate"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/url"
	"sync"
)

// pager makes the opaque _page tokens of next and previous links: the canonical search and an offset,
// compressed and signed, so that a client can follow them but not forge or alter them. They hold
// nothing the self link does not already show.
type pager struct {
	key     []byte
	writers *sync.Pool // of *flate.Writer: building one costs about 800 KB, resetting one nothing
}

func newPager(key []byte) pager {
	return pager{key: key, writers: &sync.Pool{New: func() any {
		zw, _ := flate.NewWriterDict(nil, flate.BestCompression, tokenDictionary) // fails only for a bad level
		return zw
	}}}
}

const (
	macBytes = 12
	// maxQueryBytes bounds what a token may inflate to.
	maxQueryBytes = 4096
)

// tokenDictionary primes the compressor with what canonical queries are made of, so that a token for
// a typical search is a few dozen characters rather than a few hundred.
var tokenDictionary = []byte("_include=MedicationRequest%3Arequester&_revinclude=MedicationDispense%3Aprescription" +
	"&_include=MedicationRequest%3Apatient&business-status=https%3A%2F%2Ffhir.nhs.uk%2FCodeSystem%2FEPS-task-business-status%7C" +
	"&group-identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fprescription-order-number%7C&issue=&prescription-version=&status=" +
	"&_count=50&authoredon=ge2026-&authoredon=le2026-&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C")

var errBadToken = errors.New("paging token is not one this server issued")

func (p pager) token(q url.Values, offset int) string {
	var buf bytes.Buffer
	buf.Write(binary.AppendUvarint(nil, uint64(offset)))
	zw := p.writers.Get().(*flate.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write([]byte(q.Encode())) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	p.writers.Put(zw)
	payload := buf.Bytes()
	return base64.RawURLEncoding.EncodeToString(append(p.mac(payload), payload...))
}

func (p pager) open(tok string) (url.Values, int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) <= macBytes {
		return nil, 0, errBadToken
	}
	sig, payload := raw[:macBytes], raw[macBytes:]
	if !hmac.Equal(sig, p.mac(payload)) {
		return nil, 0, errBadToken
	}
	offset, n := binary.Uvarint(payload)
	if n <= 0 || offset > 1<<20 {
		return nil, 0, errBadToken
	}
	raw, err = io.ReadAll(io.LimitReader(flate.NewReaderDict(bytes.NewReader(payload[n:]), tokenDictionary), maxQueryBytes))
	if err != nil {
		return nil, 0, errBadToken
	}
	q, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, 0, errBadToken
	}
	return q, int(offset), nil
}

func (p pager) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(payload)
	return m.Sum(nil)[:macBytes]
}
