package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// minKeyBytes is the shortest HMAC key accepted: 128 bits, so a key cannot be guessed offline.
const minKeyBytes = 16

// Key is one HMAC key with the id stored beside every record it signs, so keys can rotate while
// records signed by a retired key still verify.
type Key struct {
	ID     string
	Secret []byte
}

// String keeps the secret out of logs and error messages, which print a Key through it.
func (k Key) String() string { return "audit key " + k.ID }

// GoString keeps the secret out of %#v too.
func (k Key) GoString() string { return "audit.Key{ID: " + strconv.Quote(k.ID) + "}" }

// ParseKeys reads EPS_AUDIT_KEY: comma-separated id:base64secret pairs, e.g. "k2:...,k1:...". The
// first key signs new records; all of them verify. To rotate, put the new key first and keep the old
// ones for as long as records they signed are retained.
func ParseKeys(s string) ([]Key, error) {
	var (
		keys []Key
		errs []error
		seen = map[string]bool{}
	)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" {
			errs = append(errs, fmt.Errorf("key %d: want id:base64secret", i+1))
			continue
		}
		if strings.ContainsAny(id, " \t") {
			errs = append(errs, fmt.Errorf("key %q: the id must not contain spaces", id))
			continue
		}
		secret, err := decodeSecret(b64)
		if err != nil {
			// The error of a base64 decoder quotes no input, so it cannot leak the secret.
			errs = append(errs, fmt.Errorf("key %q: secret is not base64: %w", id, err))
			continue
		}
		if len(secret) < minKeyBytes {
			errs = append(errs, fmt.Errorf("key %q: secret has %d bytes, want at least %d", id, len(secret), minKeyBytes))
			continue
		}
		if seen[id] {
			errs = append(errs, fmt.Errorf("key %q: id used twice", id))
			continue
		}
		seen[id] = true
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no key: EPS_AUDIT_KEY must hold at least one id:base64secret"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("audit: EPS_AUDIT_KEY: %w", err)
	}
	return keys, nil
}

// decodeSecret accepts standard or URL-safe base64, padded or not, as key generators differ.
func decodeSecret(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

// macVersion starts every MAC input so that a future encoding can never collide with this one.
const macVersion = "eps-audit-record/1"

// sign returns the hex HMAC-SHA256 of the record's content and its PrevMAC under key.
func sign(key Key, r Record) string {
	m := hmac.New(sha256.New, key.Secret)
	m.Write(canonical(r))
	return hex.EncodeToString(m.Sum(nil))
}

// canonical encodes every stored field of r, each prefixed by its length, so that no two different
// records share an encoding (moving text from one field to the next changes the lengths).
func canonical(r Record) []byte {
	ids, det := r.texts()
	fields := []string{
		macVersion,
		r.Chain, strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.Time.UnixNano(), 10), r.Kind,
		r.RequestID, r.TraceID, r.ClientAddr,
		r.UserID, r.RoleProfileID, r.OrgCode, r.ClientID,
		r.Interaction, r.ResourceType, r.Query, r.PatientNHS, ids,
		strconv.Itoa(r.Status), r.Outcome, det,
		r.KeyID, r.PrevMAC,
	}
	var b []byte
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// texts returns the stored text of the prescription IDs and the retention detail: as read from the
// database when r was, else encoded from r.
func (r Record) texts() (ids, det string) {
	if r.stored != nil {
		return r.stored.ids, r.stored.detail
	}
	b, _ := json.Marshal(nonNil(r.PrescriptionIDs))
	return string(b), detail(r.Pruned)
}

// detail is the stored form of a retention record's Pruned ("" on access records).
func detail(p *Pruned) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// keyring finds verification keys by id.
type keyring map[string]Key

func newKeyring(keys []Key) keyring {
	kr := keyring{}
	for _, k := range keys {
		kr[k.ID] = k
	}
	return kr
}

// check reports why r's MAC is wrong, or "" when it is right.
func (kr keyring) check(r Record) string {
	k, ok := kr[r.KeyID]
	if !ok {
		return fmt.Sprintf("signed with unknown key %q", r.KeyID)
	}
	want, err := hex.DecodeString(sign(k, r))
	got, err2 := hex.DecodeString(r.MAC)
	if err != nil || err2 != nil || !hmac.Equal(got, want) {
		return "HMAC does not match the record's content: the record was altered"
	}
	return ""
}
