package mapping

import (
	"reflect"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// keySample is a Source with every pointer set and every slice holding one element, so that every
// field Expand could read is reachable.
func keySample() Source {
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	org := tracker.Organisation{ODS: "FA565", Name: "Pharmacy", Address: "1 Street, Town", Phone: "01234"}
	return Source{
		Prescription: &tracker.Prescription{
			ID: "ABC", PatientNHSNumber: "9691003120", TreatmentType: "0001", IssueDate: at, SigningDate: at,
			LastEventDate: at, CurrentIssueNumber: 1, Issues: []tracker.Issue{{
				Number: 1, Date: at, Status: "0001", Dispenser: org, LastDispenseDate: at,
				LineItems: []tracker.LineItem{{Ordinal: 1, ID: "LI", Status: "0007"}},
			}},
			Type: tracker.PrescriptionType{Code: "0101", Text: "GP"}, Prescriber: org, NominatedDispenser: org,
			DaysSupply: 28, Fetched: at,
		},
		Full: true, IssueNumber: 1, IssueDate: at,
		Detail: &tracker.PrescriptionDetail{
			ID: "ABC", PatientNHSNumber: "9691003120", Version: "R2", TreatmentType: "0001", Status: "0001",
			IssueDate: at, LastEventDate: at, DownloadDate: at, DispensedDate: at, ClaimedDate: at,
			LastIssueDispensedDate: at, CurrentIssue: 1, TotalAuthorised: 1, Prescriber: org,
			NominatedPharmacy: org, DispensingPharmacy: org,
			Items: []tracker.MedicationItem{{LineItemID: "LI", Code: "123456", Description: "Tablets",
				Quantity: "28", Unit: "tablet", Dosage: "one daily", Status: "0007"}},
			Fetched: at,
		},
		Summary: &tracker.ItemSummary{
			ID: "ABC", PatientNHSNumber: "9691003120", Version: "R2", TreatmentType: "0001", Status: "0001",
			IssueDate: at, LastEventDate: at, CurrentIssue: 1, TotalAuthorised: 1,
			DispenseHistory: []tracker.Dispense{{IssueNumber: 1, Date: at, Dispenser: org}},
			Medications:     []tracker.MedicationName{{LineItemID: "LI", Name: "Tablets"}},
		},
	}
}

// leaves calls f with the path and value of every field a Source's Key must cover: strings, ints,
// bools and times, through pointers and slices. Only Fetched, when Spine answered, is left out.
func leaves(v reflect.Value, path string, f func(string, reflect.Value)) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		f(path, v)
	case v.Kind() == reflect.Pointer:
		leaves(v.Elem(), path, f)
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			f(path+"[] (empty: give the sample an element)", reflect.Value{})
		}
		for i := range v.Len() {
			leaves(v.Index(i), path+"[]", f)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if name := v.Type().Field(i).Name; name != "Fetched" {
				leaves(v.Field(i), path+"."+name, f)
			}
		}
	default:
		f(path, v)
	}
}

// change gives a leaf another value of its kind.
func change(t *testing.T, path string, v reflect.Value) {
	if !v.IsValid() {
		t.Fatalf("%s: the sample must reach every field", path)
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Nanosecond)))
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Int:
		v.SetInt(v.Int() + 1)
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	default:
		t.Fatalf("%s: a %s: teach Key (and this test) the new kind of field", path, v.Kind())
	}
}

// TestKeyCoversEveryField changes each field of a Source in turn: the Key must change every time, or
// a changed Spine record could be answered with what an older one mapped to.
func TestKeyCoversEveryField(t *testing.T) {
	base := keySample()
	if got := keySample().Key(); got != base.Key() {
		t.Fatal("the same Source gave two keys")
	}
	var paths []string
	leaves(reflect.ValueOf(&base).Elem(), "Source", func(path string, _ reflect.Value) { paths = append(paths, path) })
	if len(paths) < 60 {
		t.Fatalf("only %d fields found: the sample misses some", len(paths))
	}
	for n, path := range paths {
		src := keySample()
		i := 0
		leaves(reflect.ValueOf(&src).Elem(), "Source", func(p string, v reflect.Value) {
			if i == n {
				change(t, p, v)
			}
			i++
		})
		if src.Key() == base.Key() {
			t.Errorf("changing %s leaves the key unchanged", path)
		}
	}
}

func TestKeyIgnoresWhenSpineAnswered(t *testing.T) {
	a, b := keySample(), keySample()
	b.Prescription.Fetched = b.Prescription.Fetched.Add(time.Hour)
	b.Detail.Fetched = b.Detail.Fetched.Add(time.Hour)
	if a.Key() != b.Key() {
		t.Error("the key changed with Fetched alone")
	}
}

// TestKeyTellsNilFromEmpty: an absent detail is not a detail with every field empty.
func TestKeyTellsNilFromEmpty(t *testing.T) {
	a := Source{Prescription: &tracker.Prescription{}}
	b := a
	b.Detail = &tracker.PrescriptionDetail{}
	c := a
	c.Summary = &tracker.ItemSummary{}
	if a.Key() == b.Key() || a.Key() == c.Key() || b.Key() == c.Key() {
		t.Error("a nil and an empty part give the same key")
	}
	// Field boundaries: moving a character from one string to the next changes the key.
	x := Source{Prescription: &tracker.Prescription{ID: "AB", PatientNHSNumber: "C"}}
	y := Source{Prescription: &tracker.Prescription{ID: "A", PatientNHSNumber: "BC"}}
	if x.Key() == y.Key() {
		t.Error("strings run into each other")
	}
}
