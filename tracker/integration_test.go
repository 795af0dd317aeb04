package tracker_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// The real client against the sandbox over real mutual TLS: what the unit tests check against
// fixtures, checked here end to end against the sandbox's documented data set.

// testNow is the sandbox's clock: its data set is dated relative to this day.
var testNow = time.Date(2025, 3, 14, 10, 30, 0, 0, time.UTC)

const (
	testASID          = "200000000946"
	testUserID        = "313175813564"
	testRoleProfileID = "562926913100"
	unknownRx         = "7D9625-Z72BF2-11E3AC" // well formed, check character right, in no data set
)

func daysAgo(n int) time.Time { return testNow.Truncate(24*time.Hour).AddDate(0, 0, -n) }

// startSandbox serves a sandbox on a real listener, as a deployment would reach Spine.
func startSandbox(t *testing.T, o sandbox.Options) *sandbox.Server {
	t.Helper()
	o.Now = func() time.Time { return testNow }
	srv, err := sandbox.Start(o, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the sandbox: %v", err)
		}
	})
	return srv
}

// newClient is the real client holding the sandbox's client certificate; change adjusts its config.
func newClient(t *testing.T, baseURL string, certs *sandbox.Certs, change func(*tracker.Config)) *tracker.Client {
	t.Helper()
	tlsConfig, err := tracker.TLSConfigFromPEM(certs.ClientCertPEM, certs.ClientKeyPEM, certs.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tracker.Config{BaseURL: baseURL, ASID: testASID, UserID: testUserID, RoleProfileID: testRoleProfileID,
		Timeout: 5 * time.Second, RetryBackoff: time.Millisecond}
	if change != nil {
		change(&cfg)
	}
	hc := tracker.NewHTTPClient(tlsConfig)
	t.Cleanup(hc.CloseIdleConnections)
	c, err := tracker.New(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// observedSpine serves a sandbox itself, over the same mutual TLS, to see what reaches it: requests,
// new connections, and the trace id sent and echoed.
type observedSpine struct {
	URL      string
	Certs    *sandbox.Certs
	Sandbox  *sandbox.Sandbox
	requests atomic.Int32
	conns    atomic.Int32

	mu                   sync.Mutex
	traceSent, traceEcho string
}

// observeSpine starts an observedSpine; onRequest, if not nil, runs as each request arrives.
func observeSpine(t *testing.T, o sandbox.Options, onRequest func()) *observedSpine {
	t.Helper()
	o.Now = func() time.Time { return testNow }
	certs, err := sandbox.GenerateCerts()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := certs.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := &observedSpine{Certs: certs, Sandbox: sandbox.New(o)}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if onRequest != nil {
			onRequest()
		}
		s.Sandbox.ServeHTTP(w, r)
		s.mu.Lock()
		s.traceSent, s.traceEcho = r.Header.Get("Eps-TraceId"), w.Header().Get("Eps-TraceId")
		s.mu.Unlock()
		if r.Context().Err() != nil {
			// The client has gone (a hang it gave up on). The sandbox then returns without writing,
			// which net/http sends as "200 OK" with an empty body, and a client closing its TLS
			// connection can still read that in the instant between its close_notify and the close:
			// a malformed reply instead of its own timeout, in about 5% of runs under -race. Spine
			// sends nothing: abort, so that neither does this server. (Sandbox bug, reported.)
			panic(http.ErrAbortHandler)
		}
	}))
	ts.TLS = serverTLS
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

func (s *observedSpine) trace() (sent, echoed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.traceSent, s.traceEcho
}

// pluck is one field of every element.
func pluck[T, V any](list []T, field func(T) V) []V {
	out := make([]V, 0, len(list))
	for _, x := range list {
		out = append(out, field(x))
	}
	return out
}

func TestIntegrationSearch(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, srv.URL, srv.Certs, nil)
	r2 := []string{sandbox.RxAcuteDispensed, sandbox.RxRepeatPrescribingClaimed, sandbox.RxAcuteToBeDispensed}
	r1 := []string{sandbox.RxR1AcuteWithDispenser, sandbox.RxR1RepeatWithDispenser}

	tests := []struct {
		name        string
		q           tracker.SearchQuery
		want        []string
		wantVersion tracker.Version // "" = any
	}{
		{"a default search finds the patient's prescriptions of the last 28 days",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}, append(slices.Clone(r2), r1...), ""},
		{"a status filter keeps the prescriptions whose current issue has that status",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, Status: tracker.StatusWithDispenser}, r1, ""},
		{"a version filter of R1 keeps the long-form IDs",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, Version: "R1"}, r1, tracker.VersionR1},
		{"a version filter of 2 keeps the short-form IDs",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, Version: "2"}, r2, tracker.VersionR2},
		{"an earlier earliest date reaches the old claimed prescription",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, EarliestDate: daysAgo(50)},
			append([]string{sandbox.RxAcuteOldClaimed}, append(slices.Clone(r2), r1...)...), ""},
		{"a latest date leaves out what was issued after that day",
			tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, LatestDate: daysAgo(4)},
			[]string{sandbox.RxRepeatPrescribingClaimed, sandbox.RxR1AcuteWithDispenser, sandbox.RxR1RepeatWithDispenser}, ""},
		{"a patient with only old prescriptions finds none by default",
			tracker.SearchQuery{NHSNumber: sandbox.PatientOnlyOld}, []string{}, ""},
		{"a patient without prescriptions finds none, without an error",
			tracker.SearchQuery{NHSNumber: sandbox.PatientNoPrescriptions}, []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Search(t.Context(), tracker.Caller{}, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := pluck(res.Prescriptions, func(p tracker.Prescription) string { return p.ID })
			want := slices.Sorted(slices.Values(tt.want))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("prescription IDs, in order (-want +got):\n%s", diff)
			}
			for _, p := range res.Prescriptions {
				if got, want := p.PatientNHSNumber, tt.q.NHSNumber; got != want {
					t.Errorf("%s: patient = %s, want %s", p.ID, got, want)
				}
				cur := p.CurrentIssue()
				if cur == nil {
					t.Errorf("%s: no current issue (current number %d, %d issues)", p.ID, p.CurrentIssueNumber, len(p.Issues))
					continue
				}
				if tt.q.Status != "" && cur.Status != tt.q.Status {
					t.Errorf("%s: current issue status = %s, want %s", p.ID, cur.Status, tt.q.Status)
				}
				if tt.wantVersion != "" && p.Version() != tt.wantVersion {
					t.Errorf("%s: version = %s, want %s", p.ID, p.Version(), tt.wantVersion)
				}
				if got, want := len(p.ID) == 37, p.Version() == tracker.VersionR1; got != want {
					t.Errorf("%s: 37 characters long = %v, but R1 = %v", p.ID, got, want)
				}
				if p.IssueDate.IsZero() || p.IssueDate.After(testNow) {
					t.Errorf("%s: issue date = %v, want a past date", p.ID, p.IssueDate)
				}
			}
		})
	}
}

func TestIntegrationSearchRepeatDispensing(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, srv.URL, srv.Certs, nil)
	res, err := c.Search(t.Context(), tracker.Caller{}, tracker.SearchQuery{
		NHSNumber: sandbox.PatientRepeatDispensing, EarliestDate: daysAgo(90)})
	if err != nil {
		t.Fatal(err)
	}
	const (
		claimed   = tracker.StatusClaimed
		dispensed = tracker.StatusDispensed
		future    = tracker.StatusRepeatDispenseFuture
	)
	tests := []struct {
		name         string
		id           string
		wantCurrent  int
		wantStatuses []tracker.PrescriptionStatus // issues 1, 2, ...
	}{
		{"the weekly prescription lists its done, current and future issues in order", sandbox.RxRepeatDispensing, 3,
			[]tracker.PrescriptionStatus{claimed, dispensed, tracker.StatusWithDispenserActive, future, future, future}},
		{"the 28-day prescription lists its done, current and future issues in order", sandbox.RxRepeatDispensingOld, 3,
			[]tracker.PrescriptionStatus{claimed, dispensed, tracker.StatusToBeDispensed, future, future, future}},
	}
	if got, want := len(res.Prescriptions), len(tests); got != want {
		t.Fatalf("found %d prescriptions, want %d", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := slices.IndexFunc(res.Prescriptions, func(p tracker.Prescription) bool { return p.ID == tt.id })
			if i < 0 {
				t.Fatalf("%s not found", tt.id)
			}
			p := res.Prescriptions[i]
			if got, want := p.TreatmentType, tracker.TreatmentRepeatDispensing; got != want {
				t.Errorf("treatment type = %s, want %s", got, want)
			}
			if got, want := p.CurrentIssueNumber, tt.wantCurrent; got != want {
				t.Errorf("current issue = %d, want %d", got, want)
			}
			if got, want := len(p.Issues), len(tt.wantStatuses); got != want {
				t.Fatalf("%d issues, want %d", got, want)
			}
			for n, is := range p.Issues {
				if got, want := is.Number, n+1; got != want {
					t.Errorf("issue %d is numbered %d", want, got)
				}
				if got, want := is.Status, tt.wantStatuses[n]; got != want {
					t.Errorf("issue %d status = %s, want %s", is.Number, got, want)
				}
				// A future issue has no date ("False"); one already dispensed has.
				if got, want := is.Date.IsZero(), is.Status == future || is.Status == tracker.StatusToBeDispensed; got != want {
					t.Errorf("issue %d (%s): date %v, want zero = %v", is.Number, is.Status, is.Date, want)
				}
			}
		})
	}
}

func TestIntegrationRetrieve(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, srv.URL, srv.Certs, nil)
	tests := []struct {
		name           string
		q              tracker.RetrieveQuery
		wantPatient    string
		wantIssue      int
		wantStatus     tracker.PrescriptionStatus
		wantPrescriber tracker.Organisation
		wantNominated  tracker.Organisation
		wantDispenser  tracker.Organisation
		wantItems      []tracker.LineItemStatus
		wantLineIDs    []string // nil: generated IDs, only checked for shape
	}{
		{
			name:           "the current issue of a repeat-prescribing prescription with an owing item",
			q:              tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive},
			wantPatient:    sandbox.PatientRepeatPrescribing,
			wantIssue:      1,
			wantStatus:     tracker.StatusWithDispenserActive,
			wantPrescriber: tracker.Organisation{ODS: "Y90206", Name: "XXX DO NOT USE XXX TEST GP PRACTICE 14"},
			wantNominated:  tracker.Organisation{ODS: "FX012"},
			wantDispenser:  tracker.Organisation{ODS: "FRN79", Name: "ALLISON RL", Phone: "0113 397 4320"},
			wantItems:      []tracker.LineItemStatus{tracker.ItemNotDispensedOwing, tracker.ItemFullyDispensed},
			wantLineIDs:    []string{"9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", "9BA2F6BD-1529-6F8B-E050-D20AE3A254FD"},
		},
		{
			name:           "an earlier issue of a repeat-dispensing prescription, asked for by number",
			q:              tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing, IssueNumber: 1},
			wantPatient:    sandbox.PatientRepeatDispensing,
			wantIssue:      1,
			wantStatus:     tracker.StatusClaimed,
			wantPrescriber: tracker.Organisation{ODS: "M12345", Name: "EveryDay Surgery", Phone: "01234098765"},
			wantNominated:  tracker.Organisation{ODS: "FF123", Name: "ACME Pharmacy"},
			wantDispenser:  tracker.Organisation{ODS: "FB444", Name: "Freds Pharmacy", Phone: "01234567999"},
			wantItems:      []tracker.LineItemStatus{tracker.ItemFullyDispensed, tracker.ItemFullyDispensed},
		},
		{
			name:           "a Release 1 prescription without a nominated dispenser",
			q:              tracker.RetrieveQuery{PrescriptionID: sandbox.RxR1Acute},
			wantPatient:    sandbox.PatientR1,
			wantIssue:      1,
			wantStatus:     tracker.StatusWithDispenser,
			wantPrescriber: tracker.Organisation{ODS: "B81001", Name: "DR ME AHMED'S PRACTICE", Phone: "01482711112"},
			wantDispenser:  tracker.Organisation{ODS: "FRN79", Name: "ALLISON RL", Phone: "0113 397 4320"},
			wantItems:      []tracker.LineItemStatus{tracker.ItemWithDispenser, tracker.ItemWithDispenser},
			wantLineIDs:    []string{"9C18AE6F-511F-F7A3-E050-D20AE3A231C8", "9C18AE6F-5124-F7A3-E050-D20AE3A231C8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Retrieve(t.Context(), tracker.Caller{}, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.ID, tt.q.PrescriptionID; got != want {
				t.Errorf("ID = %s, want %s", got, want)
			}
			if got, want := p.PatientNHSNumber, tt.wantPatient; got != want {
				t.Errorf("patient = %s, want %s", got, want)
			}
			if got, want := p.Prescriber, tt.wantPrescriber; got != want {
				t.Errorf("prescriber = %+v, want %+v", got, want)
			}
			if got, want := p.NominatedDispenser, tt.wantNominated; got != want {
				t.Errorf("nominated dispenser = %+v, want %+v", got, want)
			}
			// Only R2 prescriptions are signed.
			if got, want := p.SigningDate.IsZero(), p.Version() == tracker.VersionR1; got != want {
				t.Errorf("signing date = %v for a %s prescription", p.SigningDate, p.Version())
			}
			if got, want := len(p.Issues), 1; got != want {
				t.Fatalf("%d issues, want %d", got, want)
			}
			is := p.Issues[0]
			if got, want := is.Number, tt.wantIssue; got != want {
				t.Errorf("issue number = %d, want %d", got, want)
			}
			if got, want := is.Status, tt.wantStatus; got != want {
				t.Errorf("issue status = %s, want %s", got, want)
			}
			if got, want := is.Dispenser, tt.wantDispenser; got != want {
				t.Errorf("dispenser = %+v, want %+v", got, want)
			}
			if diff := cmp.Diff(tt.wantItems, pluck(is.LineItems, func(l tracker.LineItem) tracker.LineItemStatus { return l.Status })); diff != "" {
				t.Errorf("line item statuses (-want +got):\n%s", diff)
			}
			lineIDs := pluck(is.LineItems, func(l tracker.LineItem) string { return l.ID })
			if diff := cmp.Diff(tt.wantLineIDs, lineIDs); tt.wantLineIDs != nil && diff != "" {
				t.Errorf("line item IDs (-want +got):\n%s", diff)
			}
			for _, id := range lineIDs {
				if !tracker.ValidLineItemID(id) {
					t.Errorf("line item ID %q is not a UUID", id)
				}
			}
		})
	}
}

func TestIntegrationItemSummary(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, srv.URL, srv.Certs, nil)
	tests := []struct {
		name        string
		nhsNumber   string
		wantIDs     []string
		rx          string   // the prescription looked at closely
		wantMeds    []string // its medication names, sorted
		wantStatus  tracker.PrescriptionStatus
		wantCurrent int
		wantTotal   int
		wantHistory []int // issue numbers dispensed
	}{
		{
			name:      "a patient's summary names the medication of every prescription",
			nhsNumber: sandbox.PatientAcuteAndRepeat,
			wantIDs: []string{sandbox.RxAcuteDispensed, sandbox.RxRepeatPrescribingClaimed, sandbox.RxAcuteToBeDispensed,
				sandbox.RxR1AcuteWithDispenser, sandbox.RxR1RepeatWithDispenser},
			rx:          sandbox.RxAcuteDispensed,
			wantMeds:    []string{"Oilatum Emollient (GlaxoSmithKline Consumer Healthcare)", "Sodium bicarbonate 5% ear drops"},
			wantStatus:  tracker.StatusDispensed,
			wantCurrent: 1,
			wantTotal:   1,
			wantHistory: []int{1},
		},
		{
			name:        "a repeat-dispensing summary counts its issues and what was dispensed",
			nhsNumber:   sandbox.PatientRepeatDispensing,
			wantIDs:     []string{sandbox.RxRepeatDispensing},
			rx:          sandbox.RxRepeatDispensing,
			wantMeds:    []string{"Metformin 500mg modified-release tablets", "Perindopril erbumine 2mg tablets"},
			wantStatus:  tracker.StatusWithDispenserActive,
			wantCurrent: 3,
			wantTotal:   6,
			wantHistory: []int{1, 2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ItemSummary(t.Context(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: tt.nhsNumber})
			if err != nil {
				t.Fatal(err)
			}
			got := pluck(res.Prescriptions, func(p tracker.ItemSummary) string { return p.ID })
			if diff := cmp.Diff(slices.Sorted(slices.Values(tt.wantIDs)), got); diff != "" {
				t.Errorf("prescription IDs, in order (-want +got):\n%s", diff)
			}
			for _, p := range res.Prescriptions {
				if got, want := p.PatientNHSNumber, tt.nhsNumber; got != want {
					t.Errorf("%s: patient = %s, want %s", p.ID, got, want)
				}
				if len(p.Medications) == 0 {
					t.Errorf("%s: no medication", p.ID)
				}
				for _, m := range p.Medications {
					if m.Name == "" || !tracker.ValidLineItemID(m.LineItemID) {
						t.Errorf("%s: medication %+v, want a name for a line-item UUID", p.ID, m)
					}
				}
			}
			i := slices.IndexFunc(res.Prescriptions, func(p tracker.ItemSummary) bool { return p.ID == tt.rx })
			if i < 0 {
				t.Fatalf("%s not found", tt.rx)
			}
			p := res.Prescriptions[i]
			names := slices.Sorted(slices.Values(pluck(p.Medications, func(m tracker.MedicationName) string { return m.Name })))
			if diff := cmp.Diff(tt.wantMeds, names); diff != "" {
				t.Errorf("medication names (-want +got):\n%s", diff)
			}
			if got, want := p.Status, tt.wantStatus; got != want {
				t.Errorf("status = %s, want %s", got, want)
			}
			if got, want := [2]int{p.CurrentIssue, p.TotalAuthorised}, [2]int{tt.wantCurrent, tt.wantTotal}; got != want {
				t.Errorf("current issue, total authorised = %v, want %v", got, want)
			}
			history := pluck(p.DispenseHistory, func(d tracker.Dispense) int { return d.IssueNumber })
			if diff := cmp.Diff(tt.wantHistory, history); diff != "" {
				t.Errorf("dispense history issues (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntegrationItemDetails(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, srv.URL, srv.Certs, nil)
	perindopril := tracker.MedicationItem{Code: "318896009", Description: "Perindopril erbumine 2mg tablets",
		Quantity: "28", Unit: "tablet", Dosage: "One tablet in the morning", Status: tracker.ItemFullyDispensed}
	metformin := tracker.MedicationItem{Code: "386047000", Description: "Metformin 500mg modified-release tablets",
		Quantity: "56", Unit: "tablet", Dosage: "One tablet twice a day", Status: tracker.ItemNotDispensed}
	atorvastatin := tracker.MedicationItem{LineItemID: "9C18AE6F-5124-F7A3-E050-D20AE3A231C8", Code: "320029006",
		Description: "Atorvastatin 10mg tablets", Quantity: "28", Unit: "tablet", Dosage: "As Directed", Status: tracker.ItemWithDispenser}
	beclometasone := tracker.MedicationItem{LineItemID: "9C18AE6F-511F-F7A3-E050-D20AE3A231C8", Code: "408063002",
		Description: "Beclometasone 100micrograms/dose inhaler CFC free", Quantity: "200", Unit: "dose", Dosage: "As Directed", Status: tracker.ItemWithDispenser}

	tests := []struct {
		name          string
		q             tracker.DetailQuery
		wantVersion   tracker.Version
		wantStatus    tracker.PrescriptionStatus
		wantDispenser string                   // ODS
		wantItems     []tracker.MedicationItem // by code; an empty LineItemID is not checked
	}{
		{"an issue of a repeat-dispensing prescription says what was prescribed and dispensed",
			tracker.DetailQuery{PrescriptionID: sandbox.RxRepeatDispensing, IssueNumber: 2},
			tracker.VersionR2, tracker.StatusDispensed, "FB444", []tracker.MedicationItem{perindopril, metformin}},
		{"a Release 1 prescription needs no issue number",
			tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute},
			tracker.VersionR1, tracker.StatusWithDispenser, "FRN79", []tracker.MedicationItem{atorvastatin, beclometasone}},
		{"a line item ID, in lower case, narrows the answer to that line",
			tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute, LineItemID: strings.ToLower(atorvastatin.LineItemID)},
			tracker.VersionR1, tracker.StatusWithDispenser, "FRN79", []tracker.MedicationItem{atorvastatin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := c.ItemDetails(t.Context(), tracker.Caller{}, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := d.ID, tt.q.PrescriptionID; got != want {
				t.Errorf("ID = %s, want %s", got, want)
			}
			if got, want := d.Version, tt.wantVersion; got != want {
				t.Errorf("version = %s, want %s", got, want)
			}
			if got, want := d.Status, tt.wantStatus; got != want {
				t.Errorf("status = %s, want %s", got, want)
			}
			if got, want := d.DispensingPharmacy.ODS, tt.wantDispenser; got != want {
				t.Errorf("dispensing pharmacy = %+v, want ODS %s", d.DispensingPharmacy, want)
			}
			if d.Prescriber.ODS == "" || d.Prescriber.Name == "" {
				t.Errorf("prescriber = %+v, want an ODS code and a name", d.Prescriber)
			}
			items := slices.Clone(d.Items)
			slices.SortFunc(items, func(a, b tracker.MedicationItem) int { return strings.Compare(a.Code, b.Code) })
			for i, it := range items {
				if !tracker.ValidLineItemID(it.LineItemID) {
					t.Errorf("line item ID %q is not a UUID", it.LineItemID)
				}
				if i < len(tt.wantItems) && tt.wantItems[i].LineItemID == "" {
					items[i].LineItemID = "" // generated: only its shape is known
				}
			}
			if diff := cmp.Diff(tt.wantItems, items); diff != "" {
				t.Errorf("items by code (-want +got):\n%s", diff)
			}
		})
	}
}
