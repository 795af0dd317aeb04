package tracker

import "testing"

func TestPrescriptionStatusFromText(t *testing.T) {
	for _, s := range PrescriptionStatuses {
		t.Run("the display text of "+string(s)+" maps back to it", func(t *testing.T) {
			got, ok := PrescriptionStatusFromText(s.Display())
			if !ok || got != s {
				t.Errorf("PrescriptionStatusFromText(%q) = %q, %v, want %q, true", s.Display(), got, ok, s)
			}
		})
	}
	variants := []struct {
		text string
		want PrescriptionStatus
	}{
		{"With dispenser active", StatusWithDispenserActive},
		{"WITH DISPENSER-ACTIVE", StatusWithDispenserActive},
		{"To be dispensed", StatusToBeDispensed},
		{"To be Dispensed", StatusToBeDispensed},
		{"  with   dispenser ", StatusWithDispenser},
		{"No Claimed", StatusNoClaimed},
		{"Prescription future instance", StatusFutureDatedPrescription},
	}
	for _, v := range variants {
		t.Run("the variant "+v.text+" maps to "+string(v.want), func(t *testing.T) {
			got, ok := PrescriptionStatusFromText(v.text)
			if !ok || got != v.want {
				t.Errorf("PrescriptionStatusFromText(%q) = %q, %v, want %q, true", v.text, got, ok, v.want)
			}
		})
	}
	for _, text := range []string{"", "Lost", "Dispensed partially", "0006"} {
		t.Run("unknown text "+text+" is not guessed", func(t *testing.T) {
			if got, ok := PrescriptionStatusFromText(text); ok {
				t.Errorf("PrescriptionStatusFromText(%q) = %q, true, want ok false", text, got)
			}
		})
	}
}

func TestLineItemStatusFromText(t *testing.T) {
	for _, s := range LineItemStatuses {
		t.Run("both display texts of "+string(s)+" map back to it", func(t *testing.T) {
			for _, text := range []string{s.Display(), s.DetailDisplay()} {
				got, ok := LineItemStatusFromText(text)
				if !ok || got != s {
					t.Errorf("LineItemStatusFromText(%q) = %q, %v, want %q, true", text, got, ok, s)
				}
			}
		})
	}
	variants := []struct {
		text string
		want LineItemStatus
	}{
		{"Item Cancelled", ItemCancelled},
		{"item cancelled", ItemCancelled},
		{"To Be Dispensed", ItemToBeDispensed},
		{"To be Dispensed", ItemToBeDispensed},
		{"Item with dispenser", ItemWithDispenser},
		{"Not Dispensed - Owing", ItemNotDispensedOwing},
		{"Item dispensed-partial", ItemPartialDispensed},
	}
	for _, v := range variants {
		t.Run("the variant "+v.text+" maps to "+string(v.want), func(t *testing.T) {
			got, ok := LineItemStatusFromText(v.text)
			if !ok || got != v.want {
				t.Errorf("LineItemStatusFromText(%q) = %q, %v, want %q, true", v.text, got, ok, v.want)
			}
		})
	}
	for _, text := range []string{"", "Eaten", "Claimed"} {
		t.Run("unknown text "+text+" is not guessed", func(t *testing.T) {
			if got, ok := LineItemStatusFromText(text); ok {
				t.Errorf("LineItemStatusFromText(%q) = %q, true, want ok false", text, got)
			}
		})
	}
}

func TestTreatmentTypeFromText(t *testing.T) {
	tests := []struct {
		text string
		want TreatmentType
	}{
		{TreatmentAcute.Display(), TreatmentAcute},
		{TreatmentRepeatPrescribing.Display(), TreatmentRepeatPrescribing},
		{TreatmentRepeatDispensing.Display(), TreatmentRepeatDispensing},
		{"Acute", TreatmentAcute},
		{"Acute Prescribing", TreatmentAcute},
		{"Repeat Prescribing Prescription", TreatmentRepeatPrescribing},
		{"Repeat Dispensing Prescription", TreatmentRepeatDispensing},
		{"Repeat Dispensing (eRD)", TreatmentRepeatDispensing},
		{"repeat dispensing", TreatmentRepeatDispensing},
	}
	for _, tt := range tests {
		t.Run(tt.text+" maps to "+string(tt.want), func(t *testing.T) {
			got, ok := TreatmentTypeFromText(tt.text)
			if !ok || got != tt.want {
				t.Errorf("TreatmentTypeFromText(%q) = %q, %v, want %q, true", tt.text, got, ok, tt.want)
			}
		})
	}
	for _, text := range []string{"", "Occasional", "Repeat"} {
		t.Run("unknown text "+text+" is not guessed", func(t *testing.T) {
			if got, ok := TreatmentTypeFromText(text); ok {
				t.Errorf("TreatmentTypeFromText(%q) = %q, true, want ok false", text, got)
			}
		})
	}
}

func TestValidItemStatusesUseKnownCodes(t *testing.T) {
	for ps, items := range ValidItemStatuses {
		if !ps.Valid() {
			t.Errorf("ValidItemStatuses has unknown prescription status %q", ps)
		}
		for _, li := range items {
			if !li.Valid() {
				t.Errorf("ValidItemStatuses[%q] has unknown line-item status %q", ps, li)
			}
		}
	}
}
