package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

// The UserInfo cache keeps only the claims the verifier reads, and is bounded in bytes as well as in
// entries: it kept each whole answer, and a CIS2 answer lists every role of the user with names,
// activities and workgroups (10,000 entries of a 5.7 KB answer held 172 MiB, against a 192 MiB heap
// limit).
func TestUserInfoCacheKeepsWhatItReadsWithinABound(t *testing.T) {
	roles := make([]any, 12)
	for i := range roles {
		roles[i] = map[string]any{"person_roleid": fmt.Sprintf("%012d", 100000000000+i), "org_code": "A83008",
			"activity_codes": []any{"B0570", "B0278"}, "activities": []any{"Perform Prescription Preparation", "View Patient Medication"},
			"workgroups": []any{"Workgroup one", "Workgroup two"}, "org_name": "SOME SURGERY, SOME TOWN"}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"sub": r.Header.Get("Authorization"), "nhsid_useruid": "555555555555",
			"selected_roleid": "100000000000", "nhsid_nrbac_roles": roles, "name": "A USER", "email": "a.user@nhs.net",
			"address": strings.Repeat("x", 4096)})
	}))
	defer srv.Close()
	u := newUserInfoClient(srv.Client(), srv.URL, 10_000, "nhsid_useruid", "selected_roleid", "nhsid_nrbac_roles", "authentication_assurance_level")
	u.maxBytes = 64 << 10
	exp := time.Now().Add(time.Hour)
	for i := range 200 {
		claims, err := u.get(t.Context(), fmt.Sprintf("eyToken%06d", i), exp)
		if err != nil {
			t.Fatal(err)
		}
		if claims["nhsid_nrbac_roles"] == nil || claims["sub"] == nil {
			t.Fatalf("claims %v lack the roles or sub", claims)
		}
	}
	total := 0
	for _, e := range u.entries {
		total += e.size
		for k := range e.claims {
			if k == "name" || k == "email" || k == "address" {
				t.Fatalf("an entry keeps the %s claim, which nothing reads", k)
			}
		}
	}
	if total != u.bytes || u.bytes > u.maxBytes || len(u.entries) == 0 || len(u.entries) == 200 {
		t.Errorf("%d entries of %d bytes (counted %d), want between 1 and 199 within %d", len(u.entries), total, u.bytes, u.maxBytes)
	}
}
