package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// When the key set is an hour old and the issuer's JWKS endpoint hangs, a request whose token is
// signed by a key the adapter already holds waits at most staleGrace for the refresh another request
// started, and is then verified with the set in hand: it waited for the whole fetch (up to 10 s),
// past its own deadline, and was then refused as if its token were bad.
func TestAHungKeyRefreshDoesNotHoldUpKnownKeys(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	tok := "Bearer " + p.sign(t, p.claims(), "at+jwt")
	if _, err := v.Authenticate(t.Context(), tok); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	var once sync.Once
	hit := make(chan struct{}, 16)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		<-release
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer hang.Close()
	defer once.Do(func() { close(release) })

	// The issuer's JWKS endpoint now hangs, and the set is older than keysMaxAge.
	v.keys.mu.Lock()
	v.keys.url = hang.URL
	v.keys.fetched = time.Now().Add(-2 * keysMaxAge)
	v.keys.lastRefresh = time.Time{}
	v.keys.mu.Unlock()

	go v.Authenticate(context.Background(), tok) // this one refreshes, and waits on the issuer
	select {
	case <-hit:
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh started")
	}
	go func() { time.Sleep(3 * time.Second); once.Do(func() { close(release) }) }()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Authenticate(ctx, tok)
	took := time.Since(start)
	if took > 2*time.Second {
		t.Errorf("a caller with a 200 ms deadline waited %v (%v) for another request's hung key refresh", took, err)
	}
	slow, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start = time.Now()
	if _, err := v.Authenticate(slow, tok); err != nil || time.Since(start) > 2*time.Second {
		t.Errorf("a patient caller: %v after %v, want it verified after at most staleGrace", err, time.Since(start))
	}
}
