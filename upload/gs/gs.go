// Package gs is the upload.Store for Google Cloud Storage (gs://bucket/prefix).
//
// Open reads the standard environment: Application Default Credentials, or
// STORAGE_EMULATOR_HOST for an emulator such as fake-gcs-server. Puts are
// resumable chunked uploads guarded by a does-not-exist precondition, so a
// retried request can never replace an object and an existing dump is never
// overwritten; the client library checksums the stream (CRC32C) and the
// server rejects a corrupted upload. An unfinished resumable upload is never
// visible as an object.
//
// The store also signs V4 URLs (PresignPut) for upload tickets, which needs a
// service account: a key file in GOOGLE_APPLICATION_CREDENTIALS, or a service
// account identity on GCE allowed to call IAM signBlob.
package gs

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
	htransport "google.golang.org/api/transport/http"

	"github.com/dumptool/dump/upload"
)

// DefaultChunkSize is the size of one resumable-upload request. The writer
// buffers one chunk to be able to resend it, so this is also the memory a Put
// holds.
const DefaultChunkSize = 16 << 20

var (
	_ upload.Store       = (*Store)(nil)
	_ upload.RangeReader = (*Store)(nil)
	_ upload.Presigner   = (*Store)(nil)
)

// Store keeps objects in one bucket under a prefix.
type Store struct {
	client     *storage.Client
	bucket     *storage.BucketHandle
	bucketName string
	prefix     string // "" or ends with "/"
	owned      bool   // Open made the client; Close closes it

	// ChunkSize is the resumable-upload chunk size (a multiple of 256 KiB);
	// DefaultChunkSize if zero.
	ChunkSize int

	sign signer
}

// Open returns the store for a gs://bucket/prefix URL.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	if u.Scheme != "gs" || u.Host == "" {
		return nil, fmt.Errorf("destination %q: want gs://bucket/prefix", u.Redacted())
	}
	emulator := os.Getenv("STORAGE_EMULATOR_HOST")
	hc, err := httpClient(ctx, emulator != "")
	if err != nil {
		return nil, openError(u, err)
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if emulator != "" {
		// Emulators serve reads only through the JSON API.
		opts = append(opts, storage.WithJSONReads())
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, openError(u, err)
	}
	s := New(client, u.Host, u.Path)
	s.owned = true
	// An emulator speaks plain HTTP unless its address says https://.
	s.sign.insecure = emulator != "" && !strings.HasPrefix(emulator, "https://")
	if err := s.sign.fromKeyFile(os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")); err != nil {
		client.Close()
		return nil, fmt.Errorf("open gs://%s: %w", u.Host, err)
	}
	return s, nil
}

// httpClient is the client storage.NewClient would make for itself (none
// for an emulator), under the transport that makes the spans of uploads: the
// library has no other way in for a transport, and a client passed to it is
// used as is. The options are storage.NewClient's own defaults (scopes,
// endpoints, universe domain, the new auth library), so credentials, mTLS and
// endpoint choice behave as without the wrapper.
func httpClient(ctx context.Context, emulator bool) (*http.Client, error) {
	if emulator {
		return &http.Client{Transport: spanTransport{http.DefaultTransport}}, nil
	}
	hc, _, err := htransport.NewClient(ctx,
		option.WithScopes(storage.ScopeFullControl, "https://www.googleapis.com/auth/cloud-platform"),
		internaloption.WithDefaultEndpointTemplate("https://storage.UNIVERSE_DOMAIN/storage/v1/"),
		internaloption.WithDefaultMTLSEndpoint("https://storage.mtls.googleapis.com/storage/v1/"),
		internaloption.WithDefaultUniverseDomain("googleapis.com"),
		internaloption.EnableNewAuthLibrary())
	if err != nil {
		return nil, err
	}
	hc.Transport = spanTransport{hc.Transport}
	return hc, nil
}

func openError(u *url.URL, err error) error {
	if strings.Contains(err.Error(), "could not find default credentials") {
		return &upload.Error{Msg: fmt.Sprintf("open gs://%s: no Google credentials found; %s", u.Host, adcHint), Errs: []error{err}}
	}
	return fmt.Errorf("open gs://%s: %w", u.Host, err)
}

// New returns a store for bucket and prefix using client. Its uploads have
// no chunk spans: those come from the transport of Open's client.
func New(client *storage.Client, bucket, prefix string) *Store {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{client: client, bucket: client.Bucket(bucket), bucketName: bucket, prefix: prefix}
}

// Close releases the client made by Open; a client passed to New is left to
// its owner.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

func (s *Store) String() string {
	if s.prefix == "" {
		return "gs://" + s.bucketName
	}
	return "gs://" + s.bucketName + "/" + strings.TrimSuffix(s.prefix, "/")
}

// maxAttempts bounds the tries of one request (one chunk, for uploads), so
// that a wrong endpoint fails within seconds rather than at the caller's
// deadline, while a short network blip is ridden out.
const maxAttempts = 7

// retry is the retry configuration of every request. Every write carries a
// precondition (DoesNotExist, or a generation match for the delete of a
// corrupted upload), which makes it idempotent, so the default policy
// (RetryIdempotent) already retries it safely: a resent request can never
// replace an object. RetryAlways would add nothing here and would be unsafe
// on a write without a precondition, so it is not used.
func retry(shouldRetry func(error) bool) []storage.RetryOption {
	return []storage.RetryOption{
		storage.WithPolicy(storage.RetryIdempotent),
		storage.WithBackoff(gax.Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2}),
		storage.WithMaxAttempts(maxAttempts),
		storage.WithErrorFunc(shouldRetry),
	}
}

// object returns a handle with its own retry configuration. (Retryer on a
// handle that already has one changes the shared configuration in place, so
// the bucket handle carries none.)
func (s *Store) object(key string, shouldRetry func(error) bool) *storage.ObjectHandle {
	if shouldRetry == nil {
		shouldRetry = storage.ShouldRetry
	}
	return s.bucket.Object(key).Retryer(retry(shouldRetry)...)
}

// key maps an object name to the bucket's object key.
func (s *Store) key(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("invalid object name %q", name)
		}
	}
	return s.prefix + name, nil
}
