package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEExamplesAreTheSandboxs checks that each example answer in README.md (a ```json block
// after an `<!-- example: PATH -->` line) shows the ids and total that the sandbox really gives for
// PATH, so that the README cannot drift from what a newcomer sees.
func TestREADMEExamplesAreTheSandboxs(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := regexp.MustCompile("(?s)<!-- example: (\\S+) -->\n```json\n(.*?)\n```").FindAllSubmatch(readme, -1)
	if len(examples) == 0 {
		t.Fatal("README.md has no checked example")
	}
	base, out, _ := startRun(t, testEnv(t))
	token := strings.TrimPrefix(welcomeValue(out.String(), "Token:"), "TOKEN=")
	idPattern := regexp.MustCompile(`"resourceType": "MedicationRequest", "id": "([^"]+)"`)
	totalPattern := regexp.MustCompile(`"total": (\d+)`)
	for _, ex := range examples {
		path, shown := string(ex[1]), string(ex[2])
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var b struct {
				Total int
				Entry []struct {
					Search   struct{ Mode string }
					Resource struct{ ID string }
				}
			}
			if err := json.NewDecoder(res.Body).Decode(&b); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %v", res.StatusCode, err)
			}
			var got []string
			for _, e := range b.Entry {
				if e.Search.Mode == "match" {
					got = append(got, e.Resource.ID)
				}
			}
			var want []string
			for _, m := range idPattern.FindAllStringSubmatch(shown, -1) {
				want = append(want, m[1])
			}
			if !slices.Equal(got, want) {
				t.Errorf("the README shows ids %v, the sandbox answers %v", want, got)
			}
			if m := totalPattern.FindStringSubmatch(shown); m == nil || m[1] != strconv.Itoa(b.Total) {
				t.Errorf("the README shows total %v, the sandbox answers %d", m, b.Total)
			}
		})
	}
}
