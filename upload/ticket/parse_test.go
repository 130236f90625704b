package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

func testWire(exp time.Time) wire {
	put := func(n string) upload.PresignedPut {
		return upload.PresignedPut{Method: "PUT", URL: "https://storage.googleapis.com/b/p/u1/" + n + "?X-Goog-Signature=abc"}
	}
	return wire{V: 1, UUID: "u1", Dest: "gs://b/p", Expires: exp.UTC().Format(time.RFC3339), Puts: map[string]upload.PresignedPut{
		layout.PayloadObject: put(layout.PayloadObject), layout.KeyObject: put(layout.KeyObject), layout.InfoObject: put(layout.InfoObject),
	}}
}

func mustEncode(t *testing.T, w wire) string {
	t.Helper()
	s, err := encode(w)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseExpired(t *testing.T) {
	exp := time.Now().Add(-time.Minute).Truncate(time.Second)
	_, err := Parse(mustEncode(t, testWire(exp)))
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("Parse of an expired ticket: err = %v, want ErrExpired", err)
	}
	for _, want := range []string{"expired at " + exp.Local().Format("2006-01-02 15:04"), "ask support for a new one", "dump ticket --to gs://b/p"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestParseDamaged(t *testing.T) {
	good := mustEncode(t, testWire(time.Now().Add(time.Hour)))
	if _, err := Parse(good); err != nil {
		t.Fatalf("Parse of a good ticket: %v", err)
	}
	mid := len(prefix) + (len(good)-len(prefix))/2
	flip := func(c byte) byte {
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}
	cases := map[string]struct {
		s    string
		want error
	}{
		"one character changed": {good[:mid] + string(flip(good[mid])) + good[mid+1:], ErrCorrupt},
		"cut short":             {good[:len(good)-10], ErrCorrupt},
		"not base64":            {good[:mid] + "!" + good[mid+1:], ErrCorrupt},
		"other text":            {"https://example.com/upload", ErrNotTicket},
		"newer version":         {"dumpticket2." + good[len(prefix):], ErrNotTicket},
		"empty":                 {"", ErrNotTicket},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(c.s)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			t.Log(err)
		})
	}
}

// A ticket that passed through a mail program comes back wrapped.
func TestParseWrapped(t *testing.T) {
	good := mustEncode(t, testWire(time.Now().Add(time.Hour)))
	var b strings.Builder
	for i := 0; i < len(good); i += 60 {
		b.WriteString(good[i:min(i+60, len(good))] + "\r\n  ")
	}
	tk, err := Parse(b.String())
	if err != nil || tk.UUID != "u1" {
		t.Fatalf("Parse of a wrapped ticket = %+v, %v", tk, err)
	}
}

// A well-formed ticket that lacks what an upload needs is refused up front.
func TestParseIncomplete(t *testing.T) {
	w := testWire(time.Now().Add(time.Hour))
	delete(w.Puts, layout.InfoObject)
	if _, err := Parse(mustEncode(t, w)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ticket without info.json URL: err = %v, want ErrCorrupt", err)
	}
	w = testWire(time.Now().Add(time.Hour))
	w.Puts[layout.KeyObject] = upload.PresignedPut{Method: "PUT", URL: "file:///etc/passwd"}
	if _, err := Parse(mustEncode(t, w)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ticket with a file: URL: err = %v, want ErrCorrupt", err)
	}
}
