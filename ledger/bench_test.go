package ledger

import (
	"context"
	"crypto/rand"
	"mpg/domain"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkDedupeRecord measures what one inbound SMS's dedupe record costs on disk (the
// record and its index entry) and per job, as the engine writes it: a 16-byte keyed MAC and
// a small repeat record. Memory does not grow with the window: records live in the file.
//
//	go test -run '^$' -bench DedupeRecord -benchtime 200000x ./ledger
func BenchmarkDedupeRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "d.db")
	l, err := Create(path, &Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	result := []byte(`{"k":"paid","a":1250,"p":"Corner Shop","r":"7QX2K9"}`)
	ctx := context.Background()
	before := fileSize(b, path)
	b.ResetTimer()
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				var key [16]byte
				rand.Read(key[:])
				if _, err := l.Submit(ctx, domain.Job{Dedupe: &domain.Dedupe{Key: string(key[:]), TTL: 6 * time.Hour, Result: result}}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for range b.N {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	b.StopTimer()
	var used int
	l.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktDedupe, bktDedupeIdx} {
			st := tx.Bucket(name).Stats()
			used += st.LeafInuse + st.BranchInuse
		}
		return nil
	})
	l.Close()
	b.ReportMetric(float64(used)/float64(b.N), "stored_bytes/msg")
	b.ReportMetric(float64(fileSize(b, path)-before)/float64(b.N), "file_bytes/msg")
}

// BenchmarkEmptyJob is the same load with jobs that hold one outbox message and no dedupe
// record: the difference is what the dedupe record costs the writer.
func BenchmarkEmptyJob(b *testing.B) {
	l, err := Create(filepath.Join(b.TempDir(), "e.db"), &Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if _, err := l.Submit(context.Background(), domain.Job{Messages: []domain.Message{{To: "+33611110001", Text: "x"}}}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for range b.N {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
