package layout

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// maxQuoted bounds how much of one untrusted string a message shows.
const maxQuoted = 200

// Quote makes text from a dump or a bucket (member names, info fields,
// object names) safe to print on a terminal: a string of printable
// characters is returned as is; anything else (escape sequences, bells,
// carriage returns, invalid UTF-8, bidi overrides) is Go-quoted so that it
// shows as \x1b, \a, \r... and cannot drive the terminal. Strings longer
// than 200 bytes are cut, marked with "…".
func Quote(s string) string {
	cut := ""
	if len(s) > maxQuoted {
		s, cut = s[:maxQuoted], "…"
		for !utf8.ValidString(s) && len(s) > maxQuoted-utf8.UTFMax {
			s = s[:len(s)-1]
		}
	}
	if !printable(s) {
		return strconv.Quote(s) + cut
	}
	return s + cut
}

// printable is true when s is valid UTF-8 of graphic characters and spaces
// only, with no formatting characters (Cf: bidi overrides, zero-width).
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
