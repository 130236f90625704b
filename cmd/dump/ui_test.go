package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The progress wrapper passes the source's bytes through unchanged, at any
// offset, and keeps its size.
func TestProgressKeepsTheSource(t *testing.T) {
	u := &ui{out: io.Discard, err: io.Discard}
	src := u.uploadProgress()("dump.tar.zst.age", strings.NewReader("0123456789"))
	if src.Size() != 10 {
		t.Fatalf("Size() = %d, want 10", src.Size())
	}
	for range 2 { // a retry reads again
		got, err := io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
		if err != nil || !bytes.Equal(got, []byte("0123456789")) {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	part := make([]byte, 3)
	if n, err := src.ReadAt(part, 6); n != 3 || err != nil || string(part) != "678" {
		t.Fatalf("ReadAt(6) = %d %q %v", n, part, err)
	}
}

// Progress is the union of the ranges read: a part read twice (signed, then
// sent) or a rewind for a retry does not count twice.
func TestProgressCountsRangesOnce(t *testing.T) {
	var last int64
	m := &meter{src: strings.NewReader(""), report: func(c int64) { last = c }}
	m.mark(0, 4)
	m.mark(8, 2)
	m.mark(0, 4) // read again
	if last != 6 {
		t.Fatalf("covered %d bytes, want 6", last)
	}
	m.mark(3, 6) // bridges both ranges
	if last != 10 {
		t.Fatalf("covered %d bytes, want 10", last)
	}
}
