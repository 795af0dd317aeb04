package audit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

func TestAuditEvent(t *testing.T) {
	ctx := context.Background()
	s := open(t, Config{DSN: backends(t)[0].dsn(t), Keys: []Key{newKey(t, "k1")}})
	at := time.Date(2026, 11, 3, 10, 30, 0, 123456000, time.UTC)
	search := event("9990000001", "alice", at)
	read := event("9990000001", "alice", at.Add(time.Second))
	read.Interaction, read.Query, read.PrescriptionIDs = "read", "/FHIR/R4/MedicationRequest/24F5DA-A83008-7EFE6Z-1", []string{"24F5DA-A83008-7EFE6Z"}
	refused := Event{Time: at.Add(2 * time.Second), RequestID: "r3", Interaction: "search", ResourceType: "MedicationRequest",
		Query: "/FHIR/R4/MedicationRequest?patient=9990000001", Status: 401, Outcome: "login"}
	failed := event("9990000002", "bob", at.Add(3*time.Second))
	failed.Status, failed.Outcome, failed.PrescriptionIDs = 503, "transient", nil
	for _, e := range []Event{search, read, refused, failed} {
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(ctx, at.Add(500*time.Millisecond)); err != nil { // leaves a retention record
		t.Fatal(err)
	}
	recs, err := allRecords(ctx, s)
	if err != nil {
		t.Fatal(err)
	}

	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct{ name, action, outcome, subtype string }{
		2: {"a read follows the Read pattern", "R", "0", "read"},
		3: {"a refused search is a minor failure", "E", "4", "search-type"},
		4: {"a search that failed upstream is a serious failure", "E", "8", "search-type"},
		5: {"a retention record is a deletion", "D", "0", ""},
	}
	for _, r := range recs {
		w := want[r.Seq]
		t.Run(w.name+" and passes R4 validation", func(t *testing.T) {
			ae, err := AuditEvent(r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.MarshalResource(ae)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Unmarshal(b); err != nil {
				t.Fatalf("R4 validation: %v\n%s", err, b)
			}
			var got struct {
				ResourceType, Action, Outcome, Recorded string
				Subtype                                 []struct{ Code string }
				Entity                                  []struct {
					What  struct{ Reference string }
					Type  struct{ System, Code string }
					Query string
				}
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.ResourceType != "AuditEvent" || got.Action != w.action || got.Outcome != w.outcome {
				t.Errorf("resourceType, action, outcome = %s, %s, %s; want AuditEvent, %s, %s", got.ResourceType, got.Action, got.Outcome, w.action, w.outcome)
			}
			if w.subtype != "" && (len(got.Subtype) != 1 || got.Subtype[0].Code != w.subtype) {
				t.Errorf("subtype = %+v, want %s", got.Subtype, w.subtype)
			}
			if r.PatientNHS != "" && (len(got.Entity) == 0 || got.Entity[0].What.Reference != "Patient/"+r.PatientNHS) {
				t.Errorf("first entity = %+v, want the patient", got.Entity)
			}
			if r.RequestID != "" {
				found := false
				for _, e := range got.Entity {
					if e.Type.Code == "XrequestId" {
						found = e.Type.System == "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
					}
				}
				if !found {
					t.Errorf("no X-Request-Id entity typed with BALP's code system (%+v)", got.Entity)
				}
			}
			if got.Recorded != r.Time.Format("2006-01-02T15:04:05.000000Z") {
				t.Errorf("recorded = %s, want %s", got.Recorded, r.Time)
			}
		})
	}
	if len(recs) != len(want) {
		t.Errorf("%d records, want %d", len(recs), len(want))
	}
	t.Run("an unsealed record is refused", func(t *testing.T) {
		if _, err := AuditEvent(Record{Event: search}); err == nil {
			t.Error("AuditEvent of an unsealed record succeeded")
		}
	})
}

// allRecords reads the whole trail, retention records included, in chain order.
func allRecords(ctx context.Context, s *Store) ([]Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM audit_records ORDER BY chain, seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}
