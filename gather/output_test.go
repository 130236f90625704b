package gather

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestTailBufferKeepsWholeLastLines(t *testing.T) {
	var all strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&all, "line %d %s\n", i, strings.Repeat("x", i%37))
	}
	data := all.String()
	for _, max := range []int64{1, 100, 4096, 10000, int64(len(data)), int64(len(data)) + 10} {
		tb := newTailBuffer(max)
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
		if cap(tb.buf) > int(max) {
			t.Errorf("max %d: buffer grew to %d", max, cap(tb.buf))
		}
	}
}
