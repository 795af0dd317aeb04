// Command nhsnumbers prints the NHS numbers of the embedded sandbox's generated patients, one a line,
// for load tests that spread their requests over many patients (see load/README.md).
//
// The generated set depends only on its size and seed (tracker/sandbox), so the numbers printed here
// are those of an adapter started with EPS_SANDBOX_PATIENTS=-patients (the adapter uses seed 1).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func main() {
	patients := flag.Int("patients", 100000, "size of the generated set, as EPS_SANDBOX_PATIENTS")
	n := flag.Int("n", 1000, "how many NHS numbers to print, from patient 0 on")
	seed := flag.Int64("seed", 1, "the generated set's seed (the adapter's embedded sandbox uses 1)")
	flag.Parse()
	if *n < 0 || *n > *patients {
		fmt.Fprintf(os.Stderr, "nhsnumbers: -n must be between 0 and -patients (%d)\n", *patients)
		os.Exit(2)
	}
	sb := sandbox.New(sandbox.Options{Patients: *patients, Seed: *seed})
	w := bufio.NewWriter(os.Stdout)
	for i := range *n {
		fmt.Fprintln(w, sb.GeneratedNHSNumber(i))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "nhsnumbers:", err)
		os.Exit(1)
	}
}
