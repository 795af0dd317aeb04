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
// is bounded and keyed by the token's hash, never the token itself.
type userInfoClient struct {
	client *http.Client
	url    string
	max    int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]userInfoEntry
}

type userInfoEntry struct {
	claims  map[string]any
	expires time.Time
}

func newUserInfoClient(client *http.Client, url string, max int) *userInfoClient {
	return &userInfoClient{client: client, url: url, max: max, entries: map[[sha256.Size]byte]userInfoEntry{}}
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
	var claims map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return nil, err
	}
	u.put(key, userInfoEntry{claims: claims, expires: expires}, now)
	return copyClaims(claims), nil
}

// put stores e, first dropping expired entries and then, if the cache is
// still full, an arbitrary one: a bound matters more than which one goes.
func (u *userInfoClient) put(key [sha256.Size]byte, e userInfoEntry, now time.Time) {
	if u.max <= 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.entries) >= u.max {
		for k, old := range u.entries {
			if !now.Before(old.expires) {
				delete(u.entries, k)
			}
		}
	}
	for k := range u.entries {
		if len(u.entries) < u.max {
			break
		}
		delete(u.entries, k)
	}
	u.entries[key] = e
}

// copyClaims keeps cached claims immutable: callers merge into their copy.
func copyClaims(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
