package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Retries rewind the upload body, so the progress wrapper must keep Seek.
func TestProgressKeepsSeeker(t *testing.T) {
	u := &ui{out: io.Discard, err: io.Discard}
	wrap := u.bytes("upload")
	r := wrap("dump.tar.zst.age", strings.NewReader("0123456789"), 10)
	s, ok := r.(interface {
		io.ReadSeeker
		io.ReaderAt
	})
	if !ok {
		t.Fatalf("the wrapped reader of a file lost Seek or ReadAt (retries and multipart resume need them)")
	}
	first, _ := io.ReadAll(s)
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	again, _ := io.ReadAll(s)
	if !bytes.Equal(first, again) || string(first) != "0123456789" {
		t.Fatalf("read %q then %q after rewinding", first, again)
	}
	if _, ok := wrap("x", io.MultiReader(strings.NewReader("a")), 1).(io.Seeker); ok {
		t.Fatalf("a stream that cannot seek was made to look seekable")
	}
}

// Progress is the union of the ranges read: a part read twice (signed, then
// sent) or a rewind for a retry does not count twice.
func TestProgressCountsRangesOnce(t *testing.T) {
	var last int64
	m := &meter{r: strings.NewReader(""), report: func(c int64) { last = c }}
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
