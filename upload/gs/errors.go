package gs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/dumptool/dump/upload"
)

const adcHint = "set up Application Default Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS=key.json)"

// fail describes err from op on the object key in terms a user can act on.
func (s *Store) fail(op, key string, err error) error {
	where := fmt.Sprintf("%s gs://%s/%s", op, s.bucketName, key)
	e := func(cause string, sentinel ...error) error {
		return &upload.Error{Msg: where + ": " + cause, Errs: append(sentinel, err)}
	}
	var gerr *googleapi.Error
	var nerr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		return e("object does not exist", upload.ErrNotExist)
	case errors.Is(err, storage.ErrBucketNotExist):
		return e(s.noBucket())
	case errors.As(err, &gerr):
		msg := firstLine(gerr.Message)
		switch gerr.Code {
		case 412:
			return e("an object with this name already exists (dumps are never overwritten)", upload.ErrExists)
		case 404:
			// Object reads map 404 to ErrObjectNotExist above, so a 404
			// here is about the bucket.
			return e(s.noBucket())
		case 403:
			return e(fmt.Sprintf("permission denied in bucket %q (%s); grant the credentials' account access to the bucket", s.bucketName, msg), upload.ErrPermission)
		case 401:
			return e(fmt.Sprintf("not authenticated (%s); %s", msg, adcHint))
		default:
			return e(fmt.Sprintf("HTTP %d: %s", gerr.Code, msg))
		}
	case errors.As(err, &nerr):
		return e(fmt.Sprintf("cannot reach %s (%s); check the network%s", endpoint(), nerr, emulatorHint()))
	case errors.As(err, &dnsErr):
		return e(fmt.Sprintf("cannot reach %s (%s); check the network%s", endpoint(), dnsErr, emulatorHint()))
	case strings.Contains(err.Error(), "could not find default credentials"):
		return e("no Google credentials found; " + adcHint)
	}
	return e(firstLine(err.Error()))
}

func (s *Store) noBucket() string {
	return fmt.Sprintf("bucket %q does not exist; check the destination URL or create the bucket", s.bucketName)
}

func endpoint() string {
	if h := os.Getenv("STORAGE_EMULATOR_HOST"); h != "" {
		return "the storage emulator at " + h
	}
	return "storage.googleapis.com"
}

func emulatorHint() string {
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		return " and that the emulator is running (STORAGE_EMULATOR_HOST)"
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// IsTemporary: the answers the client library itself would retry (5xx, 429,
// 408, broken connections), which it has already retried a few times per
// request, and the network's own failures.
func (s *Store) IsTemporary(err error) bool {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return upload.StatusTemporary(gerr.Code)
	}
	return storage.ShouldRetry(err) || upload.NetworkTemporary(err)
}
