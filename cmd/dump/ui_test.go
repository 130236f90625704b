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
	s, ok := r.(io.ReadSeeker)
	if !ok {
		t.Fatalf("the wrapped reader of a seekable file is not an io.Seeker")
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
