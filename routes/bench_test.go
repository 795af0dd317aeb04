package routes_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// The benchmarks below send whole requests through the real router, the real tracker client and the
// real sandbox over mutual TLS, over loopback with keep-alive: what a client of the adapter waits for,
// less the network. The sandbox runs in the benchmark's process, so its CPU (building and writing
// Spine's JSON, its side of TLS) is in the figures too; mapping's BenchmarkSearchBundle50 has the
// adapter's own mapping and marshalling alone.

// benchClient keeps enough idle connections for RunParallel's goroutines to reuse theirs.
func benchClient(b *testing.B) *http.Client {
	b.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// startBench starts the adapter as main does (Gin in release mode) and checks once that url answers
// 200 with a FHIR body, so that a benchmark never measures an error path.
func startBench(b *testing.B, path string) (*http.Client, string, int, string) {
	b.Helper()
	prev := gin.Mode()
	gin.SetMode(gin.ReleaseMode)
	b.Cleanup(func() { gin.SetMode(prev) })
	a := start(b, setup{})
	ans := a.get(b, path)
	if ans.Status != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, ans.Status, ans.Body)
	}
	return benchClient(b), a.URL + path, len(ans.Body), a.Token
}

// fetch does one authenticated GET and reads the body to the end, so that the connection goes back
// to the pool.
func fetch(c *http.Client, target, token string) error {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", target, res.StatusCode)
	}
	return nil
}

// runBench measures GET target serially and from RunParallel's goroutines (GOMAXPROCS of them).
func runBench(b *testing.B, path string) {
	c, target, size, token := startBench(b, path)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			if err := fetch(c, target, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := fetch(c, target, token); err != nil {
					b.Error(err) // FailNow may not be called from RunParallel's goroutines
					return
				}
			}
		})
	})
}

// BenchmarkSearchThroughRouter is a summary-form patient search answering a 50-entry page (of 60
// matches): one Spine search, mapping of 60 line items, a 50-MedicationRequest Bundle marshalled, an
// audit record committed.
func BenchmarkSearchThroughRouter(b *testing.B) {
	runBench(b, search(sandbox.PatientManyItems, "_count=50", "_summary=true"))
}

// BenchmarkReadThroughRouter is a MedicationRequest read: one Spine retrieve, one resource marshalled.
func BenchmarkReadThroughRouter(b *testing.B) {
	runBench(b, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
}

// BenchmarkMetadataThroughRouter is the baseline: the CapabilityStatement, no Spine call.
func BenchmarkMetadataThroughRouter(b *testing.B) {
	runBench(b, "/metadata")
}

// BenchmarkCacheHitThroughRouter is a repeated patient search answered from the answer cache, through
// the real router with authentication and audit (SQLite) on: the hit path of load/run.sh.
func BenchmarkCacheHitThroughRouter(b *testing.B) {
	prev := gin.Mode()
	gin.SetMode(gin.ReleaseMode)
	b.Cleanup(func() { gin.SetMode(prev) })
	answers, err := cache.NewAnswers(cache.Config{TTL: time.Hour}, nil)
	if err != nil {
		b.Fatal(err)
	}
	a := start(b, setup{answers: answers})
	path := search(sandbox.PatientManyItems, "_summary=true")
	if ans := a.get(b, path); ans.Status != http.StatusOK {
		b.Fatalf("GET %s: %d", path, ans.Status)
	}
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+a.Token)
			res, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
