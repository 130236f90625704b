// Package s3 is the upload.Store for Amazon S3 and S3-compatible servers
// (s3://bucket/prefix).
//
// Open configures itself from the standard AWS environment (credential chain,
// AWS_REGION, AWS_PROFILE); AWS_ENDPOINT_URL_S3 points it at another server
// such as MinIO, with path-style addressing. Large objects go up as multipart
// uploads with concurrent parts read straight from the source, resumed after
// a failure; every write carries If-None-Match: * so an
// object, once complete, is never replaced, and a multipart object only
// appears when it is completed.
package s3

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

const (
	// PartSize is the size of a multipart upload's parts, Concurrency how
	// many go up at once. Parts are read straight from the source: an upload
	// holds no part buffers.
	PartSize    = 16 << 20
	Concurrency = 4
)

// Store keeps objects in one bucket under an optional key prefix.
type Store struct {
	client *s3.Client
	bucket string
	prefix string // without slashes at either end; "" for the bucket's root
}

// Open returns the store for an s3://bucket/prefix URL, configured from the
// environment. It does not contact the server; the first operation does.
func Open(ctx context.Context, u *url.URL) (*Store, error) {
	if u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an s3://bucket/prefix URL", u.Redacted())
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithHTTPClient(httpClient()),
		config.WithRetryer(fastRetryer),
		// Checksums: see checksum.go for why these are the defaults.
		config.WithRequestChecksumCalculation(requestChecksums),
		config.WithResponseChecksumValidation(responseChecksums),
		// The SDK's own notes ("falling back to IMDSv1", ...) are for
		// --verbose; what the user must know comes back as an error.
		config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			slog.Debug("aws: "+fmt.Sprintf(format, v...), "sdk_level", c)
		})),
	)
	if err != nil {
		return nil, fmt.Errorf("s3://%s: load AWS configuration: %w", u.Host, err)
	}
	if cfg.Region == "" {
		// S3-compatible servers mostly ignore the region but SigV4 needs one;
		// on AWS a wrong guess is reported as "set AWS_REGION" (see errors.go).
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
		o.DisableLogOutputChecksumValidationSkipped = true
		o.APIOptions = append(o.APIOptions, addRetrySpans)
	})
	return New(client, u.Host, u.Path), nil
}

// New returns a store on an existing client, for callers that configure the
// client themselves.
func New(client *s3.Client, bucket, prefix string) *Store {
	return &Store{client: client, bucket: bucket, prefix: strings.Trim(prefix, "/")}
}

func (s *Store) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

// key maps an object name (or a name prefix) to an S3 key.
func (s *Store) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// fastRetryer keeps the SDK's own retries short, so a wrong endpoint fails
// within seconds; package retry adds the patient retries around a whole
// operation. The client-side retry quota is off for the same reason: when the
// network is bad we want attempts, not "retry quota exceeded".
func fastRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.MaxBackoff = time.Second
		o.RateLimiter = ratelimit.None
	})
}

// httpClient bounds connecting and waiting for response headers, so an
// endpoint that drops packets fails instead of hanging; bodies stream freely.
func httpClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(t *http.Transport) {
			// CompleteMultipartUpload of a large object may take a while.
			t.ResponseHeaderTimeout = 2 * time.Minute
			t.MaxIdleConnsPerHost = 2 * Concurrency
		})
}
