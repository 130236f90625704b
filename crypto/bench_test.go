package crypto

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

var (
	benchOnce  sync.Once
	benchDir   string
	benchBytes int64
)

func TestMain(m *testing.M) {
	// Pack warns about the symlinks and fifo of every test tree; TestPackWarns
	// checks those warnings, the rest would only be noise.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// logTree generates (once per process, outside any timer) a dump-like tree of
// DUMP_BENCH_MB (default 256) MiB of journal-style log text in 16 files.
func logTree(b *testing.B) (string, int64) {
	benchOnce.Do(func() {
		mb := 256
		if v, err := strconv.Atoi(os.Getenv("DUMP_BENCH_MB")); err == nil && v > 0 {
			mb = v
		}
		dir, err := os.MkdirTemp("", "dump-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		rng := rand.New(rand.NewPCG(1, 2))
		const files = 16
		per := int64(mb) << 20 / files
		for i := range files {
			p := filepath.Join(dir, "systemd", "host-1", fmt.Sprintf("unit-%02d", i), "log.txt")
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				b.Fatal(err)
			}
			n, err := writeLog(p, per, rng)
			if err != nil {
				b.Fatal(err)
			}
			benchBytes += n
		}
	})
	if benchDir == "" {
		b.Fatal("bench tree generation failed")
	}
	return benchDir, benchBytes
}

var (
	logLevels = []string{"info", "info", "info", "info", "debug", "debug", "warn", "error"}
	logUnits  = []string{"k3s", "containerd", "teleport", "kubelet", "etcd"}
	logMsgs   = []string{
		`msg="request completed" method=GET path=/v1/nodes/%d status=200 latency=%dms`,
		`msg="lease renewed" lease=kube-node-lease/host-%d holder=%08x`,
		`msg="failed to pull image" image=registry.example.com/app:%d err="context deadline exceeded" retry=%d`,
		`msg="reconciled object" kind=Pod namespace=default name=web-%d generation=%d`,
		`msg="heartbeat" peer=10.0.%d.%d rtt=1.2ms`,
		`msg="certificate expires soon" subject="CN=node-%d" days=%d`,
		`{"level":"info","ts":"%d","caller":"server/handler.go:%d","msg":"accepted connection"}`,
	}
)

func writeLog(path string, size int64, rng *rand.Rand) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: w}
	t := time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC)
	for cw.n < size {
		t = t.Add(time.Duration(rng.IntN(50_000)) * time.Microsecond)
		fmt.Fprintf(cw, "%s host-1 %s[%d]: level=%s id=%016x ", t.Format("2006-01-02T15:04:05.000000Z07:00"),
			logUnits[rng.IntN(len(logUnits))], 1000+rng.IntN(50), logLevels[rng.IntN(len(logLevels))], rng.Uint64())
		fmt.Fprintf(cw, logMsgs[rng.IntN(len(logMsgs))]+"\n", rng.IntN(5000), rng.IntN(900))
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

// peakHeap samples the heap until stop is called and returns the peak.
func peakHeap() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak
	}
}

// BenchmarkPack measures tar+zstd of realistic log text. Run with
// go test -run '^$' -bench BenchmarkPack -benchtime 1x ./crypto/
func BenchmarkPack(b *testing.B) {
	dir, size := logTree(b)
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		for _, n := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/conc%d", lvl, n), func(b *testing.B) {
				runtime.GC()
				var ms0 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				stop := peakHeap()
				b.SetBytes(size)
				b.ResetTimer()
				var st PackStats
				for b.Loop() {
					var err error
					st, err = Pack(context.Background(), io.Discard, dir, PackOptions{Level: lvl, Concurrency: n})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				peak := stop()
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(st.Bytes)/float64(st.Compressed), "ratio")
			})
		}
	}
}

// BenchmarkOpen measures age+zstd decoding of a sealed log tree.
func BenchmarkOpen(b *testing.B) {
	dir, _ := logTree(b)
	// The payload is read from a file so that the heap measures the decoder only.
	session, _ := age.GenerateX25519Identity()
	path := filepath.Join(b.TempDir(), "payload.age")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w, _ := age.Encrypt(f, session.Recipient())
	if _, err := Pack(context.Background(), w, dir, PackOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	open := func(b *testing.B) *os.File {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	pf := open(b)
	rc, _ := OpenPayload(pf, session)
	tarSize, _ := io.Copy(io.Discard, rc)
	rc.Close()
	pf.Close()

	b.Run("OpenPayload", func(b *testing.B) {
		runtime.GC()
		stop := peakHeap()
		b.SetBytes(tarSize)
		for b.Loop() {
			pf := open(b)
			rc, err := OpenPayload(pf, session)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				b.Fatal(err)
			}
			pf.Close()
		}
		b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
	})
	// For comparison: the zstd decoder with async block decoding.
	for _, n := range []int{2, 4} {
		b.Run(fmt.Sprintf("zstd-conc%d", n), func(b *testing.B) {
			runtime.GC()
			stop := peakHeap()
			b.SetBytes(tarSize)
			for b.Loop() {
				pf := open(b)
				dr, err := age.Decrypt(pf, session)
				if err != nil {
					b.Fatal(err)
				}
				zr, _ := zstd.NewReader(dr, zstd.WithDecoderConcurrency(n), zstd.WithDecoderMaxWindow(maxWindow))
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
				zr.Close()
				pf.Close()
			}
			b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
		})
	}
}
