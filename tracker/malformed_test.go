package tracker

import (
	"errors"
	"strings"
	"testing"
)

// TestMalformedRepliesNameNoIdentifier: Spine keys its lists by prescription ID (a search's
// prescriptionList, the 111 pages), and the JSON parser's errors quote the path to a fault, so a
// reply broken inside one would put the ID into an error the routes log. The error says where and
// what kind of fault, never the path.
func TestMalformedRepliesNameNoIdentifier(t *testing.T) {
	const (
		rx  = "9C18AE6F-510C-F7A3-E050-D20AE3A231C8C"
		nhs = "9691003139"
	)
	head := `{"statusCode":"0","reason":"","version":"1",`
	summary := `{"prescriptionTreatmentType":{"prescriptionTreatmentTypeCode":"0001"},"patientNhsNumber":"` + nhs + `",`
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		reply string
	}{
		{"search cut short", search, head + `"prescriptionList":{"` + rx + `":` + summary + `"issues":{"1":{"lineItems":{"1":{"id":"a`},
		{"search with issues as an array", search, head + `"prescriptionList":{"` + rx + `":` + summary + `"issues":[1]}}}`},
		{"search with line items as an array", search, head + `"prescriptionList":{"` + rx + `":` + summary + `"issues":{"1":{"lineItems":[]}}}}}`},
		{"search with an ID key sent twice", search, head + `"prescriptionList":{"` + rx + `":` + summary + `"issues":{}},"` + rx + `":` + summary + `"issues":1}}}`},
		{"item summary with line items as an array", itemSummary, head + `"prescriptions":{"` + rx + `":{"patientNhsNumber":"` + nhs + `","lineItems":[]}}}`},
		{"item summary cut short", itemSummary, head + `"prescriptions":{"` + rx + `":{"patientNhsNumber":"` + nhs + `","lineItems":{"A":{"code`},
		{"item details cut short", itemDetails(rx), head + `"` + rx + `":{"patientNhsNumber":"` + nhs + `","lineItems":{"A":{"code":"1`},
		{"item details with the ID key sent twice", itemDetails(rx), head + `"` + rx + `":{},"` + rx + `":{}}`},
		{"item details with a wrong type", itemDetails(rx), head + `"` + rx + `":{"patientNhsNumber":{"x":"` + nhs + `"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse([]byte(tc.reply))
			if err == nil || !errors.Is(err, ErrUpstream) {
				t.Fatalf("got %v, want a malformed reply", err)
			}
			for _, id := range []string{rx, strings.ToLower(rx), nhs} {
				if strings.Contains(err.Error(), id) {
					t.Errorf("%q names %q", err, id)
				}
			}
		})
	}
}

func search(b []byte) error { _, err := parseSearch(b); return err }

func itemSummary(b []byte) error { _, err := parseItemSummary(b); return err }

func itemDetails(id string) func([]byte) error {
	return func(b []byte) error { _, err := parseItemDetails(b, id); return err }
}
