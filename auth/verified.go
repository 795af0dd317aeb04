package auth

import (
	"crypto/sha256"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	gocache "github.com/patrickmn/go-cache"
)

// verified remembers tokens already verified, so that a client sending the same token with every
// request (as EHRs and SMART apps do) pays for one signature check, not one per request. An entry
// lives until the token expires, and at most maxVerifiedAge; it counts only while the key set that
// verified it is the current one and fresh, so that a key the issuer withdraws stops verifying as
// soon as the set is fetched again. The store is bounded in entries.
type verified struct {
	c   *gocache.Cache
	max int
}

const (
	maxVerifiedAge     = 5 * time.Minute
	maxVerifiedEntries = 20_000
)

func newVerified() *verified {
	return &verified{c: gocache.New(maxVerifiedAge, time.Minute), max: maxVerifiedEntries}
}

// key is a digest of the token: the store never holds a bearer token itself.
func (v *verified) key(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return string(sum[:])
}

type verifiedEntry struct {
	id   Identity
	keys jwk.Set // the key set that verified the token
}

// get returns the identity of a token verified before, if keys (the current set) verified it and it
// has not expired since.
func (v *verified) get(raw string, now time.Time, keys jwk.Set) (Identity, bool) {
	x, ok := v.c.Get(v.key(raw))
	if !ok {
		return Identity{}, false
	}
	e := x.(verifiedEntry)
	if e.keys != keys || !now.Before(e.id.Expires) {
		return Identity{}, false // verify again: with the new keys, or to fail as expired
	}
	return e.id, true
}

func (v *verified) put(raw string, id Identity, now time.Time, keys jwk.Set) {
	ttl := min(id.Expires.Sub(now), maxVerifiedAge)
	if ttl <= 0 || v.c.ItemCount() >= v.max {
		return
	}
	v.c.Set(v.key(raw), verifiedEntry{id: id, keys: keys}, ttl)
}
