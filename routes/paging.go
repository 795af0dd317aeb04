package routes

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
)

// pager makes the opaque _page tokens of next and previous links: the canonical search and an offset,
// signed, so that a client can follow them but not forge or alter them. They hold nothing the self
// link does not already show.
type pager struct{ key []byte }

const macBytes = 12

var errBadToken = errors.New("paging token is not one this server issued")

func (p pager) token(q url.Values, offset int) string {
	payload := binary.AppendUvarint(nil, uint64(offset))
	payload = append(payload, q.Encode()...)
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
	q, err := url.ParseQuery(string(payload[n:]))
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
