package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/aws/smithy-go"
	"google.golang.org/api/googleapi"

	"github.com/dumptool/dump/upload"
)

// Transient reports whether err may go away by trying again: server errors
// (5xx), throttling (429, SlowDown), request timeouts (408), connections that
// were refused, reset or cut short, and network timeouts. Missing or existing
// objects, other 4xx answers (refused credentials, no such bucket) and a
// cancelled context are permanent, as is anything not recognised.
func Transient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, upload.ErrNotExist),
		errors.Is(err, upload.ErrExists),
		errors.Is(err, context.Canceled):
		return false
	}
	if status := httpStatus(err); status != 0 {
		return status >= 500 || status == 429 || status == 408
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
			"TooManyRequests", "RequestTimeout", "InternalError", "ServiceUnavailable":
			return true
		}
		return false
	}
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
	// which do checks first) and other failed network operations.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// httpStatus finds the HTTP status of an error answer from the AWS or Google
// client libraries; 0 if there was none.
func httpStatus(err error) int {
	var aws interface{ HTTPStatusCode() int }
	if errors.As(err, &aws) {
		if code := aws.HTTPStatusCode(); code != 0 {
			return code
		}
	}
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g.Code
	}
	return 0
}

// answered reports whether an operation's outcome came from the store.
func answered(err error) bool {
	return err == nil || httpStatus(err) != 0 ||
		errors.Is(err, upload.ErrNotExist) || errors.Is(err, upload.ErrExists)
}

// isDialError reports a connection that could not be made at all: refused,
// unroutable or a name that does not resolve.
func isDialError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
