package audit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRecordParallel measures durable records per second under concurrency on SQLite (and
// PostgreSQL when EPS_TEST_POSTGRES_URL is set), reporting how many records each commit carried.
// Each backend runs with 8 and with 32 concurrent callers (GOMAXPROCS times 4 and 16 on the 2-core
// machine): fewer callers make smaller group commits, which the INSERTs split differently.
func BenchmarkRecordParallel(b *testing.B) {
	for _, be := range backends(b) {
		for _, per := range []int{4, 16} {
			b.Run(fmt.Sprintf("%s/parallelism=%d", be.name, per), func(b *testing.B) {
				dsn := be.dsn(b)
				s, err := Open(context.Background(), Config{DSN: dsn, Keys: []Key{{ID: "k1", Secret: []byte("benchmark key, not a secret....")}}, Instance: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				b.SetParallelism(per)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Record(context.Background(), event("9990000001", "alice", time.Now())); err != nil {
							b.Error(err)
							return
						}
					}
				})
				st := s.Stats()
				b.ReportMetric(st.PerCommit(), "records/commit")
				b.ReportMetric(float64(st.Largest), "largest-commit")
			})
		}
	}
}
