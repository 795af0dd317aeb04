package auth

import (
	"net/http"
	"testing"
	"time"
)

func TestUserInfoMode(t *testing.T) {
	p := newProvider(t)
	full := p.claims()
	p.userInfo = map[string]any{"sub": "sub-1"}
	for _, k := range []string{"nhsid_useruid", "selected_roleid", "nhsid_nrbac_roles"} {
		p.userInfo[k] = full[k]
	}
	c := p.config()
	c.UserInfo = true
	v := newVerifier(t, c)
	// The access token carries no CIS2 claims, as with CIS2 itself.
	token := p.sign(t, with(full, map[string]any{"nhsid_useruid": nil, "selected_roleid": nil, "nhsid_nrbac_roles": nil}), "at+jwt")

	for range 2 {
		id, err := v.Authenticate(t.Context(), "Bearer "+token)
		if err != nil {
			t.Fatal(err)
		}
		if id.UserID != "555555555555" || id.RoleProfileID != "666666666666" {
			t.Fatalf("identity from UserInfo = %q/%q, want 555555555555/666666666666", id.UserID, id.RoleProfileID)
		}
		if err := v.Authorize(id, "MedicationRequest", Search); err != nil {
			t.Errorf("Authorize: %v", err)
		}
	}
	if got, want := p.infoHits.Load(), int32(1); got != want {
		t.Errorf("UserInfo called %d times for one token, want %d (cached until expiry)", got, want)
	}

	t.Run("UserInfo cannot widen the token's scopes", func(t *testing.T) {
		p.mu.Lock()
		p.userInfo["scope"] = "user/*.rs"
		p.mu.Unlock()
		narrow := p.sign(t, with(full, map[string]any{"scope": "user/Patient.rs", "nhsid_nrbac_roles": nil}), "at+jwt")
		id, err := v.Authenticate(t.Context(), "Bearer "+narrow)
		if err != nil {
			t.Fatal(err)
		}
		err = v.Authorize(id, "MedicationRequest", Search)
		if got := refusalOf(t, err); got == nil || got.bearerCode != InsufficientScope {
			t.Errorf("refusal = %+v, want insufficient_scope: UserInfo must not widen a user/Patient.rs token", got)
		}
	})

	t.Run("a UserInfo answer for another subject is refused", func(t *testing.T) {
		other := p.sign(t, with(full, map[string]any{"sub": "sub-2", "jti": "2"}), "at+jwt")
		_, err := v.Authenticate(t.Context(), "Bearer "+other)
		if got := refusalOf(t, err); got == nil || got.status != http.StatusUnauthorized {
			t.Errorf("refusal = %+v, want 401", got)
		}
	})

	t.Run("a token UserInfo refuses is refused", func(t *testing.T) {
		p.mu.Lock()
		p.userInfo = nil
		p.mu.Unlock()
		fresh := p.sign(t, with(full, map[string]any{"jti": "3"}), "at+jwt")
		_, err := v.Authenticate(t.Context(), "Bearer "+fresh)
		if got := refusalOf(t, err); got == nil || got.status != http.StatusUnauthorized {
			t.Errorf("refusal = %+v, want 401", got)
		}
	})
}

func TestUserInfoCacheIsBounded(t *testing.T) {
	u := newUserInfoClient(http.DefaultClient, "http://unused.invalid", 2)
	now := time.Now()
	for i := range 5 {
		u.put([32]byte{byte(i)}, userInfoEntry{expires: now.Add(time.Hour)}, now)
	}
	if got := len(u.entries); got > 2 {
		t.Errorf("cache holds %d entries, want at most 2", got)
	}
}
