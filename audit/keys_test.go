package audit

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	k2 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	k1 := base64.RawURLEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	t.Run("the first key signs and every key is kept for verification", func(t *testing.T) {
		keys, err := ParseKeys("k2:" + k2 + ", k1:" + k1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(keys), 2; got != want {
			t.Fatalf("got %d keys, want %d", got, want)
		}
		if got, want := keys[0].ID, "k2"; got != want {
			t.Errorf("signing key = %q, want %q", got, want)
		}
		if got, want := string(keys[1].Secret), "fedcba9876543210fedcba9876543210"; got != want {
			t.Errorf("second secret = %q, want %q", got, want)
		}
	})
	for _, tc := range []struct{ name, spec string }{
		{"an empty setting is refused", ""},
		{"a key without an id is refused", k2},
		{"a secret that is not base64 is refused", "k1:not*base64!"},
		{"a secret shorter than 16 bytes is refused", "k1:" + base64.StdEncoding.EncodeToString([]byte("short"))},
		{"an id used twice is refused", "k1:" + k2 + ",k1:" + k1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeys(tc.spec)
			if err == nil {
				t.Fatal("ParseKeys succeeded, want an error")
			}
			if strings.Contains(err.Error(), k2) || strings.Contains(err.Error(), k1) {
				t.Errorf("error %q quotes a secret", err)
			}
		})
	}
	t.Run("a key prints without its secret", func(t *testing.T) {
		k := Key{ID: "k1", Secret: []byte("0123456789abcdef")}
		if got := fmt.Sprintf("%v %+v %#v %s", k, k, k, []Key{k}); strings.Contains(got, "0123456789abcdef") {
			t.Errorf("Key prints as %q", got)
		}
	})
}
