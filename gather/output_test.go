package gather

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestTailBufferKeepsWholeLastLines(t *testing.T) {
	t.Run("in memory", func(t *testing.T) { testTailBuffer(t, "") })
	// The same, with everything past 1000 bytes kept in a file.
	t.Run("spilled", func(t *testing.T) {
		defer func(old int64) { spillAt = old }(spillAt)
		spillAt = 1000
		testTailBuffer(t, t.TempDir())
	})
}

func testTailBuffer(t *testing.T, spillDir string) {
	var all strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&all, "line %d %s\n", i, strings.Repeat("x", i%37))
	}
	data := all.String()
	for _, max := range []int64{1, 100, 4096, 10000, int64(len(data)), int64(len(data)) + 10} {
		tb := newTailBuffer(max)
		tb.spillDir = spillDir
		for rest := data; rest != ""; {
			n := min(len(rest), 1+rand.IntN(300))
			tb.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		var out bytes.Buffer
		tb.WriteTo(&out)
		got := out.String()
		if int64(len(got)) > max || !strings.HasSuffix(data, got) {
			t.Fatalf("max %d: kept %d bytes, not a tail", max, len(got))
		}
		if int64(len(data)) <= max {
			if got != data || tb.Truncated() {
				t.Errorf("max %d: data under the cap changed", max)
			}
			continue
		}
		if !tb.Truncated() {
			t.Errorf("max %d: not marked truncated", max)
		}
		if got != "" && !strings.HasPrefix(data[len(data)-len(got)-1:], "\n") {
			t.Errorf("max %d: first kept line is cut: %q", max, got[:min(20, len(got))])
		}
		if int64(cap(tb.mem)) > min(max, spillAt) {
			t.Errorf("max %d: memory grew to %d", max, cap(tb.mem))
		}
		if max > 1 && tb.Empty() { // max 1 keeps the last newline
			t.Errorf("max %d: kept lines reported empty", max)
		}
		tb.Close()
	}
	if spillDir != "" {
		if left, _ := os.ReadDir(spillDir); len(left) != 0 {
			t.Errorf("spill files left in %s: %v", spillDir, left)
		}
	}
}

// A cap raised far above what memory should hold (a 400 MiB output cap,
// as a spec may set) costs memory only up to spillAt: a 300 MiB output
// goes through spillAt of memory into a file. Measured by the heap the
// buffer keeps and by all it allocated on the way, not by time.
func TestTailBufferLargeCapBoundsMemory(t *testing.T) {
	const capped, written = 400 << 20, 300 << 20
	dir := t.TempDir()
	line := []byte(strings.Repeat("0123456789abcdef", 7) + "\n") // 113 bytes
	chunk := bytes.Repeat(line, 64<<10/len(line))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tb := newTailBuffer(capped)
	tb.spillDir = dir
	var n int
	for n < written {
		m, err := tb.Write(chunk)
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MiB written: heap kept %d KiB, allocated %d KiB in all", n>>20, kept>>10, allocated>>10)
	if kept > 2*spillAt || allocated > 4*uint64(spillAt) {
		t.Errorf("%d MiB written under a %d MiB cap: the buffer keeps %d KiB of heap and allocated %d KiB; want at most %d MiB",
			n>>20, capped>>20, kept>>10, allocated>>10, 4*spillAt>>20)
	}
	if tb.Len() != int64(n) || tb.Truncated() {
		t.Errorf("kept %d of %d bytes, truncated %v; want all of them", tb.Len(), n, tb.Truncated())
	}
	h := sha256.New()
	if m, err := tb.WriteTo(h); err != nil || m != int64(n) {
		t.Fatalf("WriteTo: %d bytes, %v", m, err)
	}
	want := sha256.New()
	for i := 0; i < n; i += len(chunk) {
		want.Write(chunk)
	}
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Errorf("the spilled output differs from what was written")
	}
	tb.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spill files left in %s: %v", dir, left)
	}
}
