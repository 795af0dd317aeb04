package fhir

import (
	"fmt"
	"strings"
	"unicode/utf8"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
)

// Issue is one OperationOutcome issue, in the FHIR codes a caller already knows.
type Issue struct {
	// Severity is fatal, error, warning or information; anything else is treated as error.
	Severity string
	// Code is an issue-type code (http://hl7.org/fhir/R4/valueset-issue-type.html): invalid,
	// value, not-supported, not-found, exception, transient, timeout, informational, login,
	// security, forbidden, throttled, processing...; anything else is treated as exception, the
	// one code that claims nothing about the cause.
	Code string
	// Diagnostics is free text for the person reading the response: never internals.
	Diagnostics string
	// Expression names what the issue is about, e.g. the search parameter at fault ("authoredon").
	Expression []string
	// Details optionally codes the issue more precisely, e.g. a Spine-ErrorOrWarningCode.
	Details *Coding
}

// Coding is a code from a code system, as FHIR's Coding.
type Coding struct {
	System, Code, Display string
}

// Outcome builds an OperationOutcome carrying issues in order. R4 requires at least one issue, so
// with none it carries a single informational one.
func Outcome(issues ...Issue) *oopb.OperationOutcome {
	if len(issues) == 0 {
		issues = []Issue{{Severity: "information", Code: "informational"}}
	}
	oo := &oopb.OperationOutcome{Issue: make([]*oopb.OperationOutcome_Issue, 0, len(issues))}
	for _, is := range issues {
		oo.Issue = append(oo.Issue, is.proto())
	}
	return oo
}

func (is Issue) proto() *oopb.OperationOutcome_Issue {
	pb := &oopb.OperationOutcome_Issue{
		Severity: &oopb.OperationOutcome_Issue_SeverityCode{Value: issueSeverity(is.Severity)},
		Code:     &oopb.OperationOutcome_Issue_CodeType{Value: issueType(is.Code)},
	}
	if is.Diagnostics != "" {
		pb.Diagnostics = &d4pb.String{Value: validString(is.Diagnostics)}
	}
	for _, e := range is.Expression {
		if e != "" {
			pb.Expression = append(pb.Expression, &d4pb.String{Value: validString(e)})
		}
	}
	if c := is.Details.proto(); c != nil {
		pb.Details = &d4pb.CodeableConcept{Coding: []*d4pb.Coding{c}}
	}
	return pb
}

func (c *Coding) proto() *d4pb.Coding {
	if c == nil || *c == (Coding{}) {
		return nil
	}
	pb := &d4pb.Coding{}
	if c.System != "" {
		pb.System = &d4pb.Uri{Value: c.System}
	}
	if c.Code != "" {
		pb.Code = &d4pb.Code{Value: c.Code}
	}
	if c.Display != "" {
		pb.Display = &d4pb.String{Value: c.Display}
	}
	return pb
}

// issueSeverity maps a FHIR issue-severity code to its enum; unknown codes are errors.
func issueSeverity(s string) c4pb.IssueSeverityCode_Value {
	if v, ok := enumValue(c4pb.IssueSeverityCode_Value_value, s); ok {
		return c4pb.IssueSeverityCode_Value(v)
	}
	return c4pb.IssueSeverityCode_ERROR
}

// issueType maps a FHIR issue-type code to its enum; unknown codes are exceptions.
func issueType(s string) c4pb.IssueTypeCode_Value {
	if v, ok := enumValue(c4pb.IssueTypeCode_Value_value, s); ok {
		return c4pb.IssueTypeCode_Value(v)
	}
	return c4pb.IssueTypeCode_EXCEPTION
}

// enumValue looks a FHIR code up in a google/fhir enum's name map: the enum names are the codes
// upper-cased with "-" written "_" ("not-supported" is NOT_SUPPORTED). Zero, the enums'
// INVALID_UNINITIALIZED, is never a match.
func enumValue(names map[string]int32, code string) (int32, bool) {
	code = strings.TrimSpace(code)
	if code == "" || strings.Contains(code, "_") {
		return 0, false
	}
	v, ok := names[strings.ToUpper(strings.ReplaceAll(code, "-", "_"))]
	return v, ok && v != 0
}

// validString is s as a valid FHIR string: an issue may name what a client sent (a parameter's
// name, decoded), and a FHIR string holds no control character but tab, carriage return and line
// feed, and only valid UTF-8. Any other byte is written as its percent-encoding, as it was sent.
func validString(s string) string {
	clean := func(r rune, n int) bool {
		return !(r == utf8.RuneError && n == 1) && (r >= ' ' || r == '\t' || r == '\r' || r == '\n') && r != 0x7f
	}
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !clean(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if clean(r, n) {
			b.WriteString(s[i : i+n])
		} else {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		i += n
	}
	return b.String()
}
