package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// userInfoClient fetches the OIDC UserInfo claims with the caller's bearer
// token. CIS2 keeps the national RBAC roles there (under the
// nationalrbacaccess scope) rather than in the access token. Answers are
// cached per token until it expires, so a session costs one call; the cache
// keeps only the claims the verifier reads (a CIS2 answer lists every role
// of the user, with names and workgroups), is bounded in entries and in
// bytes, and is keyed by the token's hash, never the token itself.
type userInfoClient struct {
	client   *http.Client
	url      string
	max      int
	maxBytes int
	keep     []string // the claims kept; "sub" always

	mu      sync.Mutex
	entries map[[sha256.Size]byte]userInfoEntry
	bytes   int // the entries' estimated size
}

type userInfoEntry struct {
	claims  map[string]any
	expires time.Time
	size    int
}

// userInfoMaxBytes bounds what the UserInfo cache holds, as each of the adapter's caches is bounded.
const userInfoMaxBytes = 16 << 20

func newUserInfoClient(client *http.Client, url string, max int, keep ...string) *userInfoClient {
	return &userInfoClient{client: client, url: url, max: max, maxBytes: userInfoMaxBytes,
		keep: append([]string{"sub"}, keep...), entries: map[[sha256.Size]byte]userInfoEntry{}}
}

func (u *userInfoClient) get(ctx context.Context, token string, expires time.Time) (map[string]any, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	u.mu.Lock()
	e, ok := u.entries[key]
	u.mu.Unlock()
	if ok && now.Before(e.expires) {
		return copyClaims(e.claims), nil
	}
	var body []byte
	if err := getJSON(ctx, u.client, u.url, token, &body); err != nil {
		return nil, err
	}
	var all map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&all); err != nil {
		return nil, err
	}
	claims := make(map[string]any, len(u.keep))
	for _, k := range u.keep {
		if v, ok := all[k]; ok {
			claims[k] = v
		}
	}
	size := len(body) // an upper bound on what is kept, which is a part of it
	if kept, err := json.Marshal(claims); err == nil {
		size = len(kept)
	}
	u.put(key, userInfoEntry{claims: claims, expires: expires, size: size}, now)
	return copyClaims(claims), nil
}

// put stores e, first dropping expired entries and then, if the cache is
// still full, an arbitrary one: a bound matters more than which one goes.
func (u *userInfoClient) put(key [sha256.Size]byte, e userInfoEntry, now time.Time) {
	if u.max <= 0 || e.size > u.maxBytes {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if old, ok := u.entries[key]; ok {
		u.remove(key, old)
	}
	full := func() bool { return len(u.entries) >= u.max || u.bytes+e.size > u.maxBytes }
	if full() {
		for k, old := range u.entries {
			if !now.Before(old.expires) {
				u.remove(k, old)
			}
		}
	}
	for k, old := range u.entries {
		if !full() {
			break
		}
		u.remove(k, old)
	}
	u.entries[key] = e
	u.bytes += e.size
}

// remove drops one entry; mu is held.
func (u *userInfoClient) remove(key [sha256.Size]byte, e userInfoEntry) {
	delete(u.entries, key)
	u.bytes -= e.size
}

// copyClaims keeps cached claims immutable: callers merge into their copy.
func copyClaims(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
