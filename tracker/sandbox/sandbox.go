// Package sandbox is a stand-in for NHS Spine's EPS Tracker API, for everyone who cannot reach Spine.
//
// It speaks the real Tracker JSON (SPEC.md section 2, checked against the real payloads in testdata/):
// the basic search and retrieve under /mm/prescriptions and the two 111 calls, every value a string,
// errors as HTTP 200 with a statusCode. Its data set is documented (see Patients and the Rx
// constants) and dated relative to the clock, so the documented patients always have recent and old
// prescriptions; Options.Patients adds a generated set for load tests. Faults (latency, HTTP 500,
// malformed JSON, statusCode 5, hang, connection reset) come from fault patients, a request header or
// SetFault. Start serves it over mutual TLS with freshly generated certificates.
//
// The sandbox is faithful to Spine, not to any client: where SPEC leaves behaviour open, the choice is
// marked GUESS in the code.
package sandbox

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Sandbox.
type Options struct {
	Now      func() time.Time // clock; default time.Now. All data dates are relative to it.
	Patients int              // size of the generated large data set (beyond the documented patients); 0 = none
	Seed     int64            // for the generated set; default 1
	Strict   bool             // require Spine-UserId and Spine-RoleProfileId on the basic interactions too (the 111 ones always do)
	Logger   *slog.Logger     // nil = discard. Never log NHS numbers unredacted.
	// ControlFile, if set, names a file whose contents set the fault for every request while the
	// sandbox runs, or rotate its certificates ("rotate"); see control.
	ControlFile string
}

// Sandbox is the simulated Spine. It is an http.Handler; Start serves it over mTLS.
type Sandbox struct {
	now    func() time.Time
	strict bool
	log    *slog.Logger
	gen    generator
	fault  atomic.Pointer[Fault]
	hangs  atomic.Int32 // requests hanging now (for tests and logs)
	calls  callLog

	control control

	stop     chan struct{} // closed by shutdown: ends hangs and latencies
	stopOnce sync.Once

	mu       sync.Mutex
	day      time.Time // the day data and genCache were built for
	data     *dataset
	genCache map[int][]*prescription
}

// genCacheSize bounds the generated patients kept for reuse. It only needs to hold the patients of
// the requests in progress, whose searches, retrieves and item details come together: a flood over
// thousands of patients comes back to each one long after any affordable cache let it go, and 4,096
// kept some 100,000 objects alive that the adapter's collector marked on every cycle (a flood over
// 10,000 patients served 7 to 17% fewer requests than with 256).
const genCacheSize = 256

// New returns a sandbox.
func New(o Options) *Sandbox {
	s := &Sandbox{now: o.Now, strict: o.Strict, log: o.Logger, stop: make(chan struct{}), control: control{path: o.ControlFile}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	s.gen = newGenerator(o.Patients, seed)
	return s
}

// SetFault sets a fault for every request; Fault{} clears it. A request's Sandbox-Fault header
// takes precedence.
func (s *Sandbox) SetFault(f Fault) {
	if f.Kind == "" {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

// GeneratedNHSNumber is the NHS number of generated patient i (0 <= i < Options.Patients), or "".
func (s *Sandbox) GeneratedNHSNumber(i int) string { return s.gen.nhsNumber(i) }

// shutdown ends hung and delayed requests, so that a graceful server shutdown does not wait for them.
func (s *Sandbox) shutdown() { s.stopOnce.Do(func() { close(s.stop) }) }

// snapshot returns the documented data set for the clock's current day, rebuilding it when the day
// changes (its dates are relative to the day).
func (s *Sandbox) snapshot() (*dataset, time.Time) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil || !s.day.Equal(today) {
		s.day, s.data, s.genCache = today, documented(today), map[int][]*prescription{}
	}
	return s.data, now
}

func (s *Sandbox) generated(i int) []*prescription {
	s.mu.Lock()
	ps, ok := s.genCache[i]
	today := s.day
	s.mu.Unlock()
	if ok {
		return ps
	}
	ps = s.gen.patient(i, today)
	s.mu.Lock()
	if len(s.genCache) >= genCacheSize {
		s.genCache = map[int][]*prescription{}
	}
	s.genCache[i] = ps
	s.mu.Unlock()
	return ps
}

// patient returns a patient's prescriptions, documented or generated.
func (s *Sandbox) patient(d *dataset, nhs string) []*prescription {
	if ps, ok := d.byPatient[nhs]; ok {
		return ps
	}
	if i, ok := s.gen.index(nhs); ok {
		return s.generated(i)
	}
	return nil
}

// lookup finds a prescription by ID. A 20- or 37-character ID must match exactly; a 19- or
// 36-character one (no check character) matches on the rest. GUESS: Spine's shared code strips the
// check character only from 20/37-character IDs (SPEC 5.1), which suggests records are keyed without it.
func (s *Sandbox) lookup(d *dataset, id string) *prescription {
	exact := len(id) == 20 || len(id) == 37
	if exact {
		if p, ok := d.byID[id]; ok {
			return p
		}
	} else if p, ok := d.byPayload[id]; ok {
		return p
	}
	if i, ok := s.gen.indexOfID(id); ok {
		for _, p := range s.generated(i) {
			if p.ID == id || (!exact && p.ID[:len(p.ID)-1] == id) {
				return p
			}
		}
	}
	return nil
}

// interaction names a Tracker endpoint.
type interaction string

const (
	search      interaction = "search"
	retrieve    interaction = "retrieve"
	itemSummary interaction = "nhs111itemsummary"
	itemDetails interaction = "nhs111itemdetails"
)

func route(path string) (in interaction, id string, ok bool) {
	switch path {
	case "/mm/prescriptions":
		return search, "", true
	case "/mm/nhs111itemsummary":
		return itemSummary, "", true
	case "/mm/nhs111itemdetails":
		return itemDetails, "", true
	}
	if rest, found := strings.CutPrefix(path, "/mm/prescriptions/"); found && !strings.Contains(rest, "/") {
		return retrieve, rest, true
	}
	return "", "", false
}

// ServeHTTP answers one Tracker request.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, id, ok := route(r.URL.Path)
	if !ok {
		// SPEC 3: an HTTP status > 200 may come without a JSON response.
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.calls.add(Call{Interaction: string(in), UserID: r.Header.Get("Spine-UserId"),
		RoleProfileID: r.Header.Get("Spine-RoleProfileId"), TraceID: r.Header.Get("Eps-TraceId")})
	fault, err := s.requestFault(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep := s.answer(r, in, id)
	if fault.Kind == "" {
		fault = rep.fault
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "sandbox request",
		slog.String("interaction", string(in)), slog.String("statusCode", rep.code),
		slog.Any("nhsNumber", redacted(rep.nhsNumber)), slog.String("fault", fault.String()))
	s.write(w, r, in, rep, fault)
}

func (s *Sandbox) requestFault(r *http.Request) (Fault, error) {
	if h := r.Header.Get(FaultHeader); h != "" {
		return ParseFault(h)
	}
	s.poll(r.Context())
	if f := s.fault.Load(); f != nil {
		return *f, nil
	}
	return Fault{}, nil
}

// write sends rep, or what the fault makes of it.
func (s *Sandbox) write(w http.ResponseWriter, r *http.Request, in interaction, rep reply, f Fault) {
	switch f.Kind {
	case FaultLatency:
		if !s.wait(r, f.Latency) {
			// Cut short: answer nothing. Returning would make net/http send an empty 200.
			panic(http.ErrAbortHandler)
		}
	case FaultHang:
		s.hangs.Add(1)
		defer s.hangs.Add(-1)
		s.wait(r, maxHang)
		panic(http.ErrAbortHandler) // never an answer, not even an empty 200
	case FaultReset:
		reset(w)
		return
	case FaultHTTP500:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	case FaultStatus5:
		rep = failure(in, codeUnexpected, reasonUnexpected)
	}
	body := rep.encode()
	if f.Kind == FaultMalformed {
		body = body[:len(body)/2]
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Etag", etag(body))
	if in == itemSummary || in == itemDetails {
		// As the real 111 responses (SPEC 1.4).
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Pragma", "no-cache")
		h.Set("Cache-Control", "no-store")
	}
	if t := r.Header.Get("Eps-TraceId"); t != "" && rep.code != codeInvalidTraceID {
		// GUESS: the swagger says the trace id is "reflected back in the response" without saying
		// where; a response header of the same name.
		h.Set("Eps-TraceId", t)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// redacted keeps NHS numbers out of logs: a line says whether there was one, never which.
type redacted string

func (n redacted) LogValue() slog.Value {
	if n == "" {
		return slog.StringValue("")
	}
	return slog.StringValue("[redacted]")
}

// compile-time check: the sandbox is a handler.
var _ http.Handler = (*Sandbox)(nil)
