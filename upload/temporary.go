package upload

import (
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
)

// NetworkTemporary reports the failures of talking to a server that may go
// away by trying again: connections refused, reset or cut short, names that
// did not resolve for now, and network timeouts. Backends speaking HTTP call
// it from IsTemporary after classifying their own answers.
func NetworkTemporary(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTemporary || dns.IsTimeout
	}
	// The server closed the connection without an answer.
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(ue.Err, io.EOF) {
		return true
	}
	// Timeouts of the HTTP client or of a dial (not of the caller's context,
	// which callers check first) and other failed network operations.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// StatusTemporary reports the HTTP answers worth trying again for: server
// errors, throttling and request timeouts.
func StatusTemporary(code int) bool {
	return code >= 500 || code == 429 || code == 408
}
