package s3_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload/s3"
	"github.com/dumptool/dump/upload/ticket"
)

// benchFile returns $DUMP_BENCH_FILE (scripts/bench-s3.sh passes the file it
// also gives awscli) or a random file of size bytes.
func benchFile(b *testing.B, size int64) (string, int64) {
	b.Helper()
	if p := os.Getenv("DUMP_BENCH_FILE"); p != "" {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		return p, fi.Size()
	}
	return tempFile(b, size), size
}

// tempFile makes a random file of size bytes for one benchmark.
func tempFile(b *testing.B, size int64) string {
	p := filepath.Join(b.TempDir(), "payload")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, randReader{rand.New(rand.NewPCG(5, 6))}, size); err != nil {
		b.Fatal(err)
	}
	return p
}

type randReader struct{ r *rand.Rand }

func (r randReader) Read(p []byte) (int, error) {
	for i := 0; i+8 <= len(p); i += 8 {
		v := r.r.Uint64()
		for j := range 8 {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p) &^ 7, nil
}

func benchStore(b *testing.B) *s3.Store {
	miniotest.Need(b, srv)
	return open(b, "s3://"+newBucket(b))
}

var benchObjects atomic.Int64

func putFile(b *testing.B, s *s3.Store, path string, size int64) string {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	name := fmt.Sprintf("bench/%d", benchObjects.Add(1))
	if err := s.Put(context.Background(), name, io.NewSectionReader(f, 0, size)); err != nil {
		b.Fatal(err)
	}
	return name
}

// BenchmarkS3Upload puts a 256 MiB file (Put: multipart, 16 MiB parts, 4 at a time).
func BenchmarkS3Upload(b *testing.B) {
	s := benchStore(b)
	path, size := benchFile(b, 256<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		putFile(b, s, path, size)
	}
}

// BenchmarkS3Download reads a 256 MiB object back in one stream (Get).
func BenchmarkS3Download(b *testing.B) {
	s := benchStore(b)
	path, size := benchFile(b, 256<<20)
	name := putFile(b, s, path, size)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rc, err := s.Get(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		rc.Close()
	}
}

// BenchmarkS3DownloadRanges reads it as 16 MiB ranges, 4 at a time, as a
// concurrent download through GetRange can.
func BenchmarkS3DownloadRanges(b *testing.B) {
	s := benchStore(b)
	path, size := benchFile(b, 256<<20)
	name := putFile(b, s, path, size)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		var g errgroup.Group
		g.SetLimit(s3.Concurrency)
		for off := int64(0); off < size; off += s3.PartSize {
			g.Go(func() error {
				rc, err := s.GetRange(context.Background(), name, off, min(s3.PartSize, size-off))
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = io.Copy(io.Discard, rc)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkS3Upload1GiBMemory puts 1 GiB generated on the fly (no file, no
// page cache) and reports the peak Go heap in use and the memory the process
// obtained from the OS; /usr/bin/time -v on the test binary gives the RSS
// (scripts/bench-s3.sh).
func BenchmarkS3Upload1GiBMemory(b *testing.B) {
	s := benchStore(b)
	const size = 1 << 30
	b.SetBytes(size)
	for b.Loop() {
		measureMemory(b, func() error {
			name := fmt.Sprintf("bench/%d", benchObjects.Add(1))
			return s.Put(context.Background(), name, zeros(size))
		})
	}
}

// BenchmarkS3Upload1GiBFileMemory does the same from a 1 GiB file, the way
// dump uploads a sealed payload (parts read from the file, resumable).
func BenchmarkS3Upload1GiBFileMemory(b *testing.B) {
	s := benchStore(b)
	const size = 1 << 30
	path := tempFile(b, size)
	b.SetBytes(size)
	for b.Loop() {
		measureMemory(b, func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return s.Put(context.Background(), fmt.Sprintf("bench/%d", benchObjects.Add(1)), io.NewSectionReader(f, 0, size))
		})
	}
}

func measureMemory(b *testing.B, f func() error) {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	err := f()
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
}

// BenchmarkNodeTicket signs one node's ticket of a cluster dump (two
// presigned PUTs), the initiator's per-node signing cost: local work, no
// request to the bucket.
func BenchmarkNodeTicket(b *testing.B) {
	client := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://s3.example.com"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", "")})
	store := s3.New(client, "support", "dumps")
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		if _, err := ticket.CreateNode(ctx, store, "s3://support/dumps", "0f1e2d3c-0000-4000-8000-000000000001", fmt.Sprintf("node-%d", i), 2*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
