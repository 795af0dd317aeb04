package mapping

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// searchParser reads the parameters of one search into a Search, collecting every problem rather
// than stopping at the first, so that a client learns all of them from one 400.
type searchParser struct {
	s      *Search
	strict bool
	errs   []error

	patientGiven, groupGiven bool
	issueKey                 string
	dates                    []dateBound
	dateErr, statusErr       bool
	statusSets               [][]string
	businessStatusGiven      bool
	versionGiven             bool
	authoredKey              string
}

func (p *searchParser) fail(param, format string, args ...any) {
	p.errs = append(p.errs, &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)})
}

func (p *searchParser) param(key string, vals []string) {
	switch key {
	case "_format", "_pretty", "_page":
		return
	case "patient:identifier", "subject:identifier", "patient.identifier", "subject.identifier":
		p.patientIdentifier(key, vals)
	case "patient", "subject", "patient:Patient", "subject:Patient":
		p.patientReference(key, vals)
	case "group-identifier":
		p.groupIdentifier(key, vals)
	case "issue":
		p.issue(key, vals)
	case "authoredon":
		p.authoredOn(key, vals)
	case "business-status":
		p.businessStatus(key, vals)
	case "status":
		p.status(key, vals)
	case "prescription-version":
		p.version(key, vals)
	case "_count":
		p.count(key, vals)
	case "_summary":
		p.summary(key, vals)
	case "_include", "_include:iterate", "_revinclude", "_revinclude:iterate":
		p.include(key, vals)
	default:
		base := key
		if i := strings.IndexAny(base, ":."); i >= 0 {
			base = base[:i]
		}
		if searchParams[base] {
			p.fail(key, "this modifier or chain is not supported on %s", base)
			return
		}
		p.ignore(key, "unknown search parameter")
	}
}

// ignore drops what lenient handling ignores; strict handling makes it an error. Ignored stays in
// parameter-name order: parameters are read in that order, but finish may ignore one afterwards.
func (p *searchParser) ignore(item, why string) {
	param := ignoredParam(item)
	if p.strict {
		p.fail(param, "%s (Prefer: handling=strict)", why)
		return
	}
	i := len(p.s.Ignored)
	for i > 0 && ignoredParam(p.s.Ignored[i-1]) > param {
		i--
	}
	p.s.Ignored = slices.Insert(p.s.Ignored, i, item)
}

// ignoredParam is the parameter name of an Ignored item, "name" or "name=value".
func ignoredParam(item string) string {
	name, _, _ := strings.Cut(item, "=")
	return name
}

// single returns the one value of a parameter that takes one, or false after recording the error.
func (p *searchParser) single(key string, vals []string) (string, bool) {
	if len(vals) > 1 {
		p.fail(key, "give one value only")
		return "", false
	}
	if strings.Contains(vals[0], ",") {
		p.fail(key, "give one value only: a comma list (OR) is not supported")
		return "", false
	}
	return strings.TrimSpace(vals[0]), true
}

// searchToken splits a token search value into its system and code. hasSystem is true when a '|' is
// present, even with an empty system.
func searchToken(v string) (system, code string, hasSystem bool) {
	if i := strings.IndexByte(v, '|'); i >= 0 {
		return strings.TrimSpace(v[:i]), v[i+1:], true
	}
	return "", v, false
}

// checkSystem records an error unless the token's system is absent or want.
func (p *searchParser) checkSystem(key, system string, hasSystem bool, want string) bool {
	if hasSystem && system != want {
		p.fail(key, "the system must be %s (or be left out)", want)
		return false
	}
	return true
}

func (p *searchParser) patientIdentifier(key string, vals []string) {
	p.patientGiven = true
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			system, code, hasSystem := searchToken(item)
			if !p.checkSystem(key, system, hasSystem, fhir.SystemNHSNumber) {
				continue
			}
			p.addPatient(key, strings.TrimSpace(code))
		}
	}
}

func (p *searchParser) patientReference(key string, vals []string) {
	p.patientGiven = true
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			nhs, typed := strings.CutPrefix(item, "Patient/")
			switch {
			case !typed && strings.Contains(item, "/"):
				p.fail(key, "give a reference as Patient/{NHS number}")
				continue
			case !typed && strings.HasPrefix(key, "subject") && key != "subject:Patient":
				p.fail(key, "subject may be a Group: give subject=Patient/{NHS number} or patient={NHS number}")
				continue
			}
			p.addPatient(key, nhs)
		}
	}
}

func (p *searchParser) addPatient(key, nhs string) {
	if !tracker.ValidNHSNumber(nhs) {
		p.fail(key, "not a valid NHS number (10 digits, the last a modulus 11 check digit)")
		return
	}
	switch p.s.NHSNumber {
	case "":
		p.s.NHSNumber = nhs
	case nhs:
	default:
		p.fail(key, "one patient per search: two different NHS numbers were given")
	}
}

func (p *searchParser) groupIdentifier(key string, vals []string) {
	p.groupGiven = true
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			system, code, hasSystem := searchToken(item)
			if !p.checkSystem(key, system, hasSystem, fhir.SystemPrescriptionID) {
				continue
			}
			id, ok := tracker.NormalisePrescriptionID(restorePlus(code))
			if !ok {
				p.fail(key, "%s", prescriptionIDProblem(id))
				continue
			}
			switch p.s.PrescriptionID {
			case "":
				p.s.PrescriptionID = id
			case id:
			default:
				p.fail(key, "one prescription per search: two different prescription IDs were given")
			}
		}
	}
}

// restorePlus reads a prescription ID whose check character arrived as a space as ending in '+': an
// unencoded '+' in a query string decodes to a space, and a space is never valid there.
func restorePlus(v string) string {
	v = strings.TrimLeft(v, " \t\r\n")
	core := strings.TrimRight(v, " \t\r\n")
	if (len(core) == 19 || len(core) == 36) && len(v) > len(core) && v[len(core)] == ' ' {
		return core + "+"
	}
	return core
}

// prescriptionIDProblem says what is wrong with an upper-cased prescription ID that failed
// validation. It never says what the check character should be: a wrong check character usually
// means a mistyped ID, and "correcting" it would name another prescription.
func prescriptionIDProblem(id string) string {
	if prescriptionIDShape(id) {
		return "the prescription ID's check character is wrong (is the ID mistyped?)"
	}
	return "not a prescription ID: expected XXXXXX-XXXXXX-XXXXXC (R2) or a GUID followed by its check character (R1)"
}

// prescriptionIDShape reports whether id has a prescription ID's shape whatever its check character:
// the ID with its check character recomputed is valid. tracker holds the rules; they are not spelled
// again here.
func prescriptionIDShape(id string) bool {
	if id == "" {
		return false
	}
	payload, check := id[:len(id)-1], id[len(id)-1:]
	// A check character is '+' or a character a payload may hold (0-9, A-Z).
	if _, ok := tracker.CheckCharacter(check); !ok && check != "+" {
		return false
	}
	c, ok := tracker.CheckCharacter(payload)
	return ok && tracker.ValidPrescriptionID(payload+string(c))
}

func (p *searchParser) issue(key string, vals []string) {
	p.issueKey = key
	v, ok := p.single(key, vals)
	if !ok {
		return
	}
	// issue is a number parameter whose SearchParameter declares the eq comparator only; eq is
	// also the default, so eq2 and 2 are the same search.
	if len(v) >= 2 && isLetter(v[0]) && isLetter(v[1]) {
		switch prefix := strings.ToLower(v[:2]); prefix {
		case "eq":
			v = v[2:]
		case "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap":
			p.fail(key, "the prefix %s is not supported: issue takes only eq (or no prefix) and an integer from 1", prefix)
			return
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || strings.TrimLeft(v, "0123456789") != "" {
		p.fail(key, "the issue number is an integer from 1")
		return
	}
	p.s.Issue = n
}

func (p *searchParser) businessStatus(key string, vals []string) {
	p.businessStatusGiven = true
	v, ok := p.single(key, vals)
	if !ok {
		return
	}
	system, code, hasSystem := searchToken(v)
	if !p.checkSystem(key, system, hasSystem, fhir.SystemBusinessStatus) {
		return
	}
	st := tracker.PrescriptionStatus(strings.TrimSpace(code))
	if !st.Valid() {
		p.fail(key, "not an EPS prescription status code (four digits, e.g. 0001)")
		return
	}
	p.s.BusinessStatus = st
}

func (p *searchParser) status(key string, vals []string) {
	// Each repetition is one OR list; repetitions are AND, so the codes that apply are their
	// intersection.
	for _, v := range vals {
		var set []string
		for _, item := range strings.Split(v, ",") {
			system, code, hasSystem := searchToken(item)
			if !p.checkSystem(key, system, hasSystem, fhir.SystemRequestStatus) {
				p.statusErr = true
				continue
			}
			code = strings.TrimSpace(code)
			if !slices.Contains(requestStatuses, code) {
				p.statusErr = true
				p.fail(key, "%q is not a MedicationRequest status (%s)", code, strings.Join(requestStatuses, ", "))
				continue
			}
			if !slices.Contains(set, code) {
				set = append(set, code)
			}
		}
		p.statusSets = append(p.statusSets, set)
	}
}

func (p *searchParser) version(key string, vals []string) {
	p.versionGiven = true
	v, ok := p.single(key, vals)
	if !ok {
		return
	}
	switch v = strings.ToUpper(v); v {
	case "1", "2", "R1", "R2":
		p.s.Version = v
	default:
		p.fail(key, "the prescription version is 1, 2, R1 or R2")
	}
}

func (p *searchParser) count(key string, vals []string) {
	v, ok := p.single(key, vals)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
		p.fail(key, "_count is an integer from 0")
		return
	}
	p.s.Count = min(n, MaxCount)
}

func (p *searchParser) summary(key string, vals []string) {
	v, ok := p.single(key, vals)
	if !ok {
		return
	}
	switch v {
	case "count":
		p.s.SummaryCount = true
	case "true":
		p.s.Summary = true
	case "false":
	case "text", "data":
		p.ignore(key+"="+v, "only _summary=true, count and false are supported")
	default:
		p.fail(key, "_summary is one of true, text, data, count or false")
	}
}

func (p *searchParser) include(key string, vals []string) {
	rev := strings.HasPrefix(key, "_revinclude")
	param := strings.TrimSuffix(key, ":iterate")
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case !rev && (v == includePatient || v == "MedicationRequest:patient:Patient" ||
			v == "MedicationRequest:subject" || v == "MedicationRequest:subject:Patient"):
			p.s.IncludePatient = true
		case !rev && (v == includeRequester || v == "MedicationRequest:requester:Organization"):
			p.s.IncludeRequester = true
		case rev && (v == revIncludeDispense || v == "MedicationDispense:prescription:MedicationRequest"):
			p.s.RevIncludeDispense = true
		default:
			p.ignore(param+"="+v, "this include is not supported")
		}
	}
}
