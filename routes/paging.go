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
	"time"
)

// pager makes the opaque _page tokens of next and previous links: the canonical search, an offset,
// an expiry and the user the search was made for, compressed and signed, so that a client can follow
// them but not forge, alter, keep or pass them on. They hold nothing the self link does not already
// show.
//
// Keys rotate: the first key signs, every key verifies (EPS_FHIR_PAGE_KEY holds a list), so that a
// fleet can take a new key without breaking the links already handed out.
type pager struct {
	keys    [][]byte
	ttl     time.Duration
	writers *sync.Pool // of *flate.Writer: building one costs about 800 KB, resetting one 640 KB of clearing
	queries *compressedQueries
}

func newPager(keys [][]byte, ttl time.Duration) pager {
	return pager{keys: keys, ttl: ttl, writers: &sync.Pool{New: func() any {
		zw, _ := flate.NewWriterDict(nil, flate.BestCompression, tokenDictionary) // fails only for a bad level
		return zw
	}}, queries: &compressedQueries{m: make(map[string][]byte)}}
}

// compressedQueries keeps the compressed form of the searches paged recently: compressing a query
// resets a DEFLATE writer, which clears 640 KB of tables, 2 to 4% of a cache miss's CPU, while the
// pages of one search, and a search asked again, share theirs. It holds canonical queries (NHS
// numbers among them) in memory only, at most maxCompressedQueries, emptied whole when full.
type compressedQueries struct {
	mu sync.Mutex
	m  map[string][]byte
}

const maxCompressedQueries = 4096

func (c *compressedQueries) get(q string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	z, ok := c.m[q]
	return z, ok
}

func (c *compressedQueries) put(q string, z []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCompressedQueries {
		clear(c.m)
	}
	c.m[q] = z
}

// compress is q's compressed form, as open inflates it.
func (p pager) compress(q string) []byte {
	if z, ok := p.queries.get(q); ok {
		return z
	}
	var buf bytes.Buffer
	zw := p.writers.Get().(*flate.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write([]byte(q)) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	p.writers.Put(zw)
	p.queries.put(q, buf.Bytes())
	return buf.Bytes()
}

const (
	macBytes   = 12
	ownerBytes = 8
	// maxQueryBytes bounds what a token may inflate to, and maxTokenBytes what is even looked at: a
	// token beyond either is refused, never cut short.
	maxQueryBytes = 4096
	maxTokenBytes = 4096
)

// tokenDictionary primes the compressor with what canonical queries are made of, so that a token for
// a typical search is a few dozen characters rather than a few hundred.
var tokenDictionary = []byte("_include=MedicationRequest%3Arequester&_revinclude=MedicationDispense%3Aprescription" +
	"&_include=MedicationRequest%3Apatient&business-status=https%3A%2F%2Ffhir.nhs.uk%2FCodeSystem%2FEPS-task-business-status%7C" +
	"&group-identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fprescription-order-number%7C&issue=&prescription-version=&status=" +
	"&_count=50&authoredon=ge2026-&authoredon=le2026-&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C")

var (
	errBadToken     = errors.New("paging token is not one this server issued")
	errTokenExpired = errors.New("paging token has expired")
	errTokenOwner   = errors.New("paging token was issued to another user")
)

// tokenExpiryStep is what a token's expiry is rounded up to: every token for one page made within
// the same ten minutes is then the same, and so are the page's bytes and its ETag, so that
// If-None-Match keeps working on a paged search. A token is valid for at least the pager's ttl and
// at most ten minutes more.
const tokenExpiryStep = 10 * time.Minute

// token returns the token for page offset of search q, made for user and valid until now+ttl,
// rounded up to tokenExpiryStep.
func (p pager) token(q url.Values, offset int, user string, now time.Time) string {
	expires := now.Add(p.ttl)
	if rounded := expires.Truncate(tokenExpiryStep); rounded.Before(expires) {
		expires = rounded.Add(tokenExpiryStep)
	}
	var buf bytes.Buffer
	buf.Write(binary.AppendUvarint(nil, uint64(offset)))
	buf.Write(binary.AppendUvarint(nil, uint64(expires.Unix())))
	buf.Write(p.owner(p.keys[0], user))
	buf.Write(p.compress(q.Encode()))
	payload := buf.Bytes()
	return base64.RawURLEncoding.EncodeToString(append(mac(p.keys[0], payload), payload...))
}

// open checks a token and returns its search and offset. A token that was altered, forged or signed
// with a retired key is errBadToken; one past its expiry errTokenExpired; one made for another user
// errTokenOwner.
func (p pager) open(tok, user string, now time.Time) (url.Values, int, error) {
	if len(tok) > maxTokenBytes {
		return nil, 0, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) <= macBytes {
		return nil, 0, errBadToken
	}
	sig, payload := raw[:macBytes], raw[macBytes:]
	var key []byte
	for _, k := range p.keys {
		if hmac.Equal(sig, mac(k, payload)) {
			key = k
			break
		}
	}
	if key == nil {
		return nil, 0, errBadToken
	}
	offset, n := binary.Uvarint(payload)
	if n <= 0 || offset > 1<<20 {
		return nil, 0, errBadToken
	}
	payload = payload[n:]
	expires, n := binary.Uvarint(payload)
	if n <= 0 || len(payload) < n+ownerBytes {
		return nil, 0, errBadToken
	}
	owner, payload := payload[n:n+ownerBytes], payload[n+ownerBytes:]
	raw, err = io.ReadAll(io.LimitReader(flate.NewReaderDict(bytes.NewReader(payload), tokenDictionary), maxQueryBytes+1))
	if err != nil || len(raw) > maxQueryBytes {
		return nil, 0, errBadToken
	}
	q, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, 0, errBadToken
	}
	if !hmac.Equal(owner, p.owner(key, user)) {
		return nil, 0, errTokenOwner
	}
	if now.Unix() > int64(expires) {
		return nil, 0, errTokenExpired
	}
	return q, int(offset), nil
}

// owner binds a token to the user it was made for without putting the user's id in it.
func (p pager) owner(key []byte, user string) []byte {
	return mac(key, []byte("owner\x00"+user))[:ownerBytes]
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:macBytes]
}
