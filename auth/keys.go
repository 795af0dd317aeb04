package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"golang.org/x/sync/singleflight"
)

// maxDocument bounds discovery, JWKS and UserInfo answers.
const maxDocument = 1 << 20

var errUnknownKey = errors.New("no key of the issuer matches the token")

// discovery is the part of an OIDC provider's metadata the adapter uses.
type discovery struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserInfoEndpoint      string `json:"userinfo_endpoint"`
}

func discover(ctx context.Context, client *http.Client, issuer string) (discovery, error) {
	var d discovery
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := getJSON(ctx, client, u, "", &d); err != nil {
		return d, fmt.Errorf("OIDC discovery: %w", err)
	}
	// OpenID Connect Discovery 1.0 section 4.3: a document naming another
	// issuer must not be used, or one provider could speak for another.
	if d.Issuer != issuer {
		return d, fmt.Errorf("OIDC discovery at %s names issuer %q, want %q", u, d.Issuer, issuer)
	}
	if d.JWKSURI == "" {
		return d, fmt.Errorf("OIDC discovery at %s has no jwks_uri", u)
	}
	return d, nil
}

// statusError is an answer other than 200 from the issuer.
type statusError struct {
	url    string
	status int
}

func (e *statusError) Error() string { return fmt.Sprintf("GET %s: status %d", e.url, e.status) }

// getJSON fetches u, with a bearer token when one is given, into v.
func getJSON(ctx context.Context, client *http.Client, u, bearer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{url: u, status: resp.StatusCode}
	}
	if raw, ok := v.(*[]byte); ok {
		*raw = body
		return nil
	}
	return json.Unmarshal(body, v)
}

// keysMaxAge is how long a fetched key set is trusted before it is fetched
// again, so that a key the issuer withdraws stops verifying within the hour.
const keysMaxAge = time.Hour

// keySource holds the issuer's public keys. Keys are fetched again when a
// token names a kid the cached set lacks (rotation) or the set is older than
// keysMaxAge, and at most once per minRefresh, so that tokens with made-up
// kids cannot flood the issuer.
type keySource struct {
	client     *http.Client
	url        string // empty for a static set
	minRefresh time.Duration
	logger     *slog.Logger

	refreshes singleflight.Group // one fetch at a time; verifications with known keys do not wait for it

	mu          sync.Mutex
	set         jwk.Set
	fetched     time.Time // when set was fetched
	lastRefresh time.Time // when a refresh was last tried
}

func (k *keySource) fetch(ctx context.Context) (jwk.Set, error) {
	var body []byte
	if err := getJSON(ctx, k.client, k.url, "", &body); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", k.url, err)
	}
	// Only public keys are kept: a JWKS that leaks private or symmetric
	// keys must not turn into something that verifies HMAC tokens.
	return jwk.PublicSetOf(set)
}

func (k *keySource) current() (jwk.Set, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set, k.url != "" && time.Since(k.fetched) > keysMaxAge
}

// refreshTimeout bounds one fetch of the key set, which no request's deadline bounds: requests
// share it, and the one that started it may leave.
const refreshTimeout = 10 * time.Second

// staleGrace is how long a token whose key an hour-old set holds waits for the set's refresh: long
// enough for an issuer that answers to withdraw a key on the hour, short enough that one that is slow
// or down does not hold up users whose keys are known (the set in hand then serves).
const staleGrace = 500 * time.Millisecond

// lookup returns the key named kid (or the only key when the token names none). A set due for its
// hourly refresh is refreshed once for all the requests that find it so, each waiting at most
// staleGrace when it holds their key; a kid the set lacks waits for the refresh, no longer than ctx
// allows.
func (k *keySource) lookup(ctx context.Context, kid string) (jwk.Key, error) {
	set, stale := k.current()
	key, found := find(set, kid)
	switch {
	case found && !stale:
		return key, nil
	case k.url == "":
		return nil, errUnknownKey
	case found:
		grace := time.NewTimer(staleGrace)
		defer grace.Stop()
		select {
		case r := <-k.refreshes.DoChan("refresh", k.refreshIfDue):
			if key, ok := find(r.Val.(jwk.Set), kid); ok {
				return key, nil
			}
			return nil, errUnknownKey // the refreshed set no longer has it: withdrawn
		case <-grace.C:
			return key, nil
		case <-ctx.Done():
			return key, nil
		}
	}
	select {
	case r := <-k.refreshes.DoChan("refresh", k.refreshIfDue):
		set = r.Val.(jwk.Set)
	case <-ctx.Done():
		return nil, errUnknownKey
	}
	if key, ok := find(set, kid); ok {
		return key, nil
	}
	return nil, errUnknownKey
}

// refreshIfDue fetches the key set unless the last try was less than minRefresh ago, and returns the
// set in use after it.
func (k *keySource) refreshIfDue() (any, error) {
	k.mu.Lock()
	set, due := k.set, k.lastRefresh.IsZero() || time.Since(k.lastRefresh) >= k.minRefresh
	k.mu.Unlock()
	if !due {
		return set, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	return k.refresh(ctx, set), nil
}

// refresh fetches the key set; on failure the old set stays in use, so an
// issuer outage does not lock out users whose keys are known.
func (k *keySource) refresh(ctx context.Context, old jwk.Set) jwk.Set {
	now := time.Now()
	set, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastRefresh = now
	if err != nil {
		k.logger.WarnContext(ctx, "refreshing the issuer's keys failed", slog.String("error", err.Error()))
		return old
	}
	k.set, k.fetched = set, now
	k.logger.InfoContext(ctx, "refreshed the issuer's keys", slog.Int("keys", set.Len()))
	return set
}

func find(set jwk.Set, kid string) (jwk.Key, bool) {
	if set == nil {
		return nil, false
	}
	if kid == "" {
		if set.Len() == 1 {
			return set.Key(0)
		}
		return nil, false
	}
	return set.LookupKeyID(kid)
}
