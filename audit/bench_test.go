package audit

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRecordParallel measures durable records per second under concurrency on SQLite (and
// PostgreSQL when EPS_TEST_POSTGRES_URL is set), reporting how many records each commit carried.
func BenchmarkRecordParallel(b *testing.B) {
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			dsn := be.dsn(b)
			s, err := Open(context.Background(), Config{DSN: dsn, Keys: []Key{{ID: "k1", Secret: []byte("benchmark key, not a secret....")}}, Instance: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetParallelism(16)
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
