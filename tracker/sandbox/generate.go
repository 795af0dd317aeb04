package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// The generated data set: Options.Patients extra patients for load tests. A patient is built from
// (seed, index) alone, on first request, so start-up costs nothing and any instance with the same
// seed answers the same. NHS numbers are "98" + six digits from the index + a digit chosen so that the
// modulus 11 check digit exists + the check digit; prescription IDs start with the patient's index
// in hex, so a retrieve finds its patient without an index.

const genSpace = 1_000_000 // distinct six-digit blocks, the most patients a seed can have

type generator struct {
	n      int
	seed   int64
	offset int
}

func newGenerator(n int, seed int64) generator {
	n = min(max(n, 0), genSpace)
	return generator{n: n, seed: seed, offset: int((uint64(seed)*104729 + 7919) % genSpace)}
}

// nhsNumber is the NHS number of generated patient i, or "" if there is no such patient.
func (g generator) nhsNumber(i int) string {
	if i < 0 || i >= g.n {
		return ""
	}
	prefix := fmt.Sprintf("98%06d", (g.offset+i)%genSpace)
	sum := 0
	for k := 0; k < 8; k++ {
		sum += int(prefix[k]-'0') * (10 - k)
	}
	// The ninth digit (weight 2) steps the sum through ten different residues: at most one of them
	// has no valid check digit.
	for d := 0; d < 10; d++ {
		check := 11 - (sum+2*d)%11
		if check == 11 {
			check = 0
		}
		if check != 10 {
			return prefix + strconv.Itoa(d) + strconv.Itoa(check)
		}
	}
	panic("unreachable")
}

// index is the inverse of nhsNumber.
func (g generator) index(nhs string) (int, bool) {
	if g.n == 0 || len(nhs) != 10 || !strings.HasPrefix(nhs, "98") {
		return 0, false
	}
	v, err := strconv.Atoi(nhs[2:8])
	if err != nil {
		return 0, false
	}
	i := ((v-g.offset)%genSpace + genSpace) % genSpace
	return i, i < g.n && g.nhsNumber(i) == nhs
}

// indexOfID tells which generated patient a prescription ID would belong to.
func (g generator) indexOfID(id string) (int, bool) {
	var hex string
	switch len(id) {
	case 19, 20:
		hex = id[:6]
	case 36, 37:
		hex = id[:8]
	default:
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v >= uint64(g.n) {
		return 0, false
	}
	return int(v), true
}

var (
	genSingleStatuses = []tracker.PrescriptionStatus{
		tracker.StatusAwaitingReleaseReady, tracker.StatusToBeDispensed, tracker.StatusToBeDispensed,
		tracker.StatusWithDispenser, tracker.StatusWithDispenserActive, tracker.StatusExpired,
		tracker.StatusCancelled, tracker.StatusDispensed, tracker.StatusNotDispensed, tracker.StatusClaimed,
		tracker.StatusClaimed, tracker.StatusClaimed, tracker.StatusNoClaimed,
	}
	genDoneStatuses   = []tracker.PrescriptionStatus{tracker.StatusClaimed, tracker.StatusClaimed, tracker.StatusDispensed, tracker.StatusNoClaimed}
	genActiveStatuses = []tracker.PrescriptionStatus{tracker.StatusToBeDispensed, tracker.StatusWithDispenser, tracker.StatusWithDispenserActive}
)

// patient builds generated patient i's prescriptions for the day starting at today.
func (g generator) patient(i int, today time.Time) []*prescription {
	nhs := g.nhsNumber(i)
	if nhs == "" {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(g.seed), uint64(i)))
	b := &builder{today: today}
	n := 1 + rng.IntN(6)
	out := make([]*prescription, 0, n)
	for j := 0; j < n; j++ {
		b.prescriber = prescribers[rng.IntN(len(prescribers))]
		b.ptype = prescriberTypes[rng.IntN(len(prescriberTypes))]
		b.dispenser = dispensers[rng.IntN(len(dispensers))]
		b.nominated = org{}
		if rng.IntN(10) < 7 {
			b.nominated = b.dispenser
		}
		ms := make([]medication, 1+rng.IntN(4))
		for k := range ms {
			ms[k] = medications[rng.IntN(len(medications))]
		}
		var id string
		if rng.IntN(10) == 0 {
			id = withCheck(fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", i, rng.IntN(0x10000), j, rng.IntN(0x10000), rng.Uint64()&0xFFFFFFFFFFFF))
		} else {
			ods := strings.Repeat("0", max(0, 6-len(b.prescriber.ODS))) + b.prescriber.ODS
			id = withCheck(fmt.Sprintf("%06X-%s-%05X", i, ods, (rng.Uint32()&0xFFFF0)|uint32(j)))
		}
		switch k := rng.IntN(10); {
		case k < 8:
			t := tracker.TreatmentAcute
			if k >= 5 {
				t = tracker.TreatmentRepeatPrescribing
			}
			daysAgo := 1 + rng.IntN(90)
			st := genSingleStatuses[rng.IntN(len(genSingleStatuses))]
			if daysAgo > 28 && !withDispenser(st) {
				st = genDoneStatuses[rng.IntN(len(genDoneStatuses))]
			}
			out = append(out, b.single(id, nhs, t, daysAgo, st, ms))
		default:
			interval := 28 * (1 + rng.IntN(2))
			total := 3 + rng.IntN(4)
			first := 1 + rng.IntN(120)
			started := min(total, (first-1)/interval+1) // issues begun by yesterday
			specs := make([]issueSpec, total)
			for k := range specs {
				switch {
				case k < started-1:
					specs[k] = issueOf(genDoneStatuses[rng.IntN(len(genDoneStatuses))])
				case k == started-1:
					specs[k] = issueOf(genActiveStatuses[rng.IntN(len(genActiveStatuses))])
				default:
					specs[k] = issueOf(tracker.StatusRepeatDispenseFuture)
				}
			}
			out = append(out, b.repeatDispensing(id, nhs, first, interval, ms, specs...))
		}
	}
	return out
}
