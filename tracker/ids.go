package tracker

import (
	"regexp"
	"strings"
)

var (
	nhsNumberPattern  = regexp.MustCompile(`^[0-9]{10}$`)
	twelveDigits      = regexp.MustCompile(`^[0-9]{12}$`)
	traceIDPattern    = regexp.MustCompile(`^[A-Za-z0-9-]{1,30}$`)
	shortFormPattern  = regexp.MustCompile(`^[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{5}[A-Z0-9+]$`)
	longFormPattern   = regexp.MustCompile(`^[A-F0-9]{8}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{12}[A-Z0-9+]$`)
	lineItemIDPattern = regexp.MustCompile(`^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$`)
)

// ValidNHSNumber reports whether s is ten digits whose last is the modulus 11 check digit of the first
// nine (SPEC 5.2).
func ValidNHSNumber(s string) bool {
	if !nhsNumberPattern.MatchString(s) {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(s[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(s[9]-'0')
}

// ValidASID reports whether s is a Spine ASID: exactly 12 digits. User and role profile IDs have the
// same shape (SPEC 1.4).
func ValidASID(s string) bool { return twelveDigits.MatchString(s) }

// ValidUserID reports whether s is a Spine user ID (12 digits).
func ValidUserID(s string) bool { return twelveDigits.MatchString(s) }

// ValidRoleProfileID reports whether s is a Spine role profile ID (12 digits).
func ValidRoleProfileID(s string) bool { return twelveDigits.MatchString(s) }

// ValidTraceID reports whether s fits Spine's Eps-TraceId: 1 to 30 letters, digits or hyphens.
func ValidTraceID(s string) bool { return traceIDPattern.MatchString(s) }

// ValidLineItemID reports whether s is a line-item UUID (Spine sends upper case; tests use either).
func ValidLineItemID(s string) bool { return lineItemIDPattern.MatchString(s) }

// checkAlphabet is ISO 7064 MOD 37-2's alphabet with '+' in place of ISO's '*' (SPEC 5.1).
const checkAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"

// CheckCharacter computes the ISO 7064 MOD 37-2 check character of a prescription ID without its
// check character (hyphens are ignored). ok is false if the payload has a character outside 0-9A-Z.
func CheckCharacter(payload string) (c byte, ok bool) {
	t := 0
	for i := 0; i < len(payload); i++ {
		ch := payload[i]
		if ch == '-' {
			continue
		}
		v := strings.IndexByte(checkAlphabet[:36], ch)
		if v < 0 {
			return 0, false
		}
		t = ((t + v) * 2) % 37
	}
	return checkAlphabet[(38-t)%37], true
}

// NormalisePrescriptionID upper-cases id and validates it: short form (R2) or long form (R1) by shape,
// then the check character. It returns the canonical ID and whether it is valid.
func NormalisePrescriptionID(id string) (string, bool) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !shortFormPattern.MatchString(id) && !longFormPattern.MatchString(id) {
		return id, false
	}
	c, ok := CheckCharacter(id[:len(id)-1])
	return id, ok && c == id[len(id)-1]
}

// ValidPrescriptionID reports whether id is a well-formed prescription ID with a correct check
// character. It is case-sensitive, as Spine is: use NormalisePrescriptionID for user input.
func ValidPrescriptionID(id string) bool {
	norm, ok := NormalisePrescriptionID(id)
	return ok && norm == id
}

// VersionOf tells an ID's EPS release by its length: 37 characters (a GUID and its check character)
// is R1, anything else R2.
func VersionOf(id string) Version {
	if len(id) == 37 {
		return VersionR1
	}
	return VersionR2
}
