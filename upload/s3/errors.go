package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"

	"github.com/dumptool/dump/upload"
)

func (s *Store) fail(op, name string, err error) error {
	cause, kind := s.explain(err)
	if name != "" {
		op += " " + name
	}
	e := &upload.Error{Msg: fmt.Sprintf("%s: %s: %s", s, op, cause), Errs: []error{err}}
	if kind != nil {
		e.Errs = append(e.Errs, kind)
	}
	return e
}

const credentialsHint = "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

// explain turns an SDK error into a short cause and, for missing or existing
// objects, the matching upload sentinel.
func (s *Store) explain(err error) (string, error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err.Error(), nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch code := ae.ErrorCode(); code {
		case "NoSuchKey", "NotFound": // NotFound: HEAD responses have no body
			return "object does not exist", upload.ErrNotExist
		case "PreconditionFailed", "ConditionalRequestConflict":
			return "object already exists", upload.ErrExists
		case "NoSuchBucket":
			return fmt.Sprintf("bucket %q does not exist: create it or fix the destination URL", s.bucket), nil
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
			return fmt.Sprintf("the server refused the credentials for bucket %q (%s): %s", s.bucket, code, credentialsHint), nil
		case "AccessDenied", "Forbidden":
			return fmt.Sprintf("access to bucket %q denied: %s and the bucket's policy", s.bucket, credentialsHint), upload.ErrPermission
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "MovedPermanently":
			return fmt.Sprintf("bucket %q is in another region: set AWS_REGION to its region", s.bucket), nil
		default:
			return fmt.Sprintf("%s: %s", code, ae.ErrorMessage()), nil
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("cannot resolve %s: check AWS_ENDPOINT_URL_S3 and the network", dns.Name), nil
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		why := "cannot connect"
		if errors.Is(err, syscall.ECONNREFUSED) {
			why = "connection refused"
		} else if op.Timeout() {
			why = "connection timed out"
		}
		return fmt.Sprintf("cannot reach the server for bucket %q at %v (%s): check AWS_ENDPOINT_URL_S3 and that the server is up", s.bucket, op.Addr, why), nil
	}
	if errors.As(err, &op) {
		return fmt.Sprintf("network error talking to the server for bucket %q at %v: %v", s.bucket, op.Addr, op.Err), nil
	}
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(ue.Err, io.EOF) {
		return fmt.Sprintf("the server for bucket %q closed the connection without answering", s.bucket), nil
	}
	if msg := err.Error(); strings.Contains(msg, "get identity:") || strings.Contains(msg, "retrieve credentials") {
		return fmt.Sprintf("no usable AWS credentials for bucket %q: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE", s.bucket), nil
	}
	return err.Error(), nil
}

// IsTemporary: throttling, server errors and timeouts the server reports,
// and the network's own failures.
func (s *Store) IsTemporary(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
			"TooManyRequests", "RequestTimeout", "InternalError", "ServiceUnavailable":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		return upload.StatusTemporary(re.HTTPStatusCode())
	}
	if ae != nil {
		return false
	}
	return upload.NetworkTemporary(err)
}
