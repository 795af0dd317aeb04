package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestVerifiedTokensAreRememberedOnlyWhileTheirKeysAndLifetimeLast(t *testing.T) {
	now := time.Now()
	setA, setB := jwk.NewSet(), jwk.NewSet()
	v := newVerified()
	id := Identity{UserID: "555555555555", Expires: now.Add(time.Hour)}
	v.put("token-1", id, now, setA)

	if got, ok := v.get("token-1", now, setA); !ok || got.UserID != id.UserID {
		t.Errorf("with the same key set: %v %v", got, ok)
	}
	if _, ok := v.get("token-1", now, setB); ok {
		t.Error("remembered across a change of key set")
	}
	if _, ok := v.get("token-1", now.Add(2*time.Hour), setA); ok {
		t.Error("remembered past the token's expiry")
	}
	if _, ok := v.get("token-2", now, setA); ok {
		t.Error("another token found")
	}
	for k := range v.c.Items() {
		if strings.Contains(k, "token-1") {
			t.Error("the store holds the token itself")
		}
	}
	v.put("expired", Identity{Expires: now.Add(-time.Second)}, now, setA)
	if v.c.ItemCount() != 1 {
		t.Errorf("an expired token was stored (%d entries)", v.c.ItemCount())
	}
}
