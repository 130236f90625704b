package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/s3"
)

// partCounter counts the parts a client uploads and can cancel a context
// once some have gone up, as a crash or ^C half way would.
type partCounter struct {
	parts       atomic.Int64
	heads       atomic.Int64
	cancelAfter int64
	cancel      context.CancelFunc
}

func (c *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodHead {
		c.heads.Add(1)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && r.URL.Query().Has("partNumber") && resp.StatusCode == http.StatusOK {
		if n := c.parts.Add(1); n == c.cancelAfter && c.cancel != nil {
			c.cancel()
		}
	}
	return resp, err
}

func countingStore(t *testing.T, bucket string, c *partCounter) *s3.Store {
	client := sdk.New(sdk.Options{
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Region:       srv.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		HTTPClient:   &http.Client{Transport: c},
	})
	return s3.New(client, bucket, "")
}

func randomFile(t *testing.T, size int64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 9))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func putFrom(ctx context.Context, t *testing.T, s *s3.Store, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := upload.FileSource(f)
	if err != nil {
		t.Fatal(err)
	}
	return s.Put(ctx, name, src)
}

func checkObject(t *testing.T, s *s3.Store, name string, data []byte) {
	t.Helper()
	rc, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	want := sha256.Sum256(data)
	if err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("read back %d of %d bytes (%v), not byte-identical", n, len(data), err)
	}
}

func uploadsOf(t *testing.T, bucket, key string) []types.MultipartUpload {
	out, err := srv.Client().ListMultipartUploads(context.Background(), &sdk.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Uploads
}

// A Put cut off half way leaves its parts; the next Put of the same file
// sends only the missing ones and the object is byte-identical.
func TestResumeAfterInterruptedPut(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	path, data := randomFile(t, 4*s3.PartSize+123) // 5 parts
	const name = "u/dump.tar.zst.age"

	ctx, cancel := context.WithCancel(context.Background())
	first := &partCounter{cancelAfter: 2, cancel: cancel}
	err := putFrom(ctx, t, countingStore(t, bucket, first), name, path)
	cancel()
	if err == nil {
		t.Fatalf("Put survived its context being cancelled")
	}
	s := countingStore(t, bucket, &partCounter{})
	if _, err := s.Stat(context.Background(), name); !errors.Is(err, upload.ErrNotExist) {
		t.Fatalf("interrupted Put left an object: %v", err)
	}
	ups := uploadsOf(t, bucket, name)
	if len(ups) != 1 {
		t.Fatalf("%d unfinished uploads after the interrupted Put, want 1 kept for resuming", len(ups))
	}
	// A part in flight when the first Put was cancelled may still land on the
	// server after the client gave up: count once the number settles.
	stored := settledParts(t, bucket, name, ups[0].UploadId)

	second := &partCounter{}
	if err := putFrom(context.Background(), t, countingStore(t, bucket, second), name, path); err != nil {
		t.Fatalf("resumed Put: %v", err)
	}
	if got, want := second.parts.Load(), int64(5-stored); got != want {
		t.Fatalf("resumed Put sent %d parts, want %d (%d were stored)", got, want, stored)
	}
	t.Logf("first Put stored %d of 5 parts; the second sent %d", stored, second.parts.Load())
	checkObject(t, s, name, data)
	if ups := uploadsOf(t, bucket, name); len(ups) != 0 {
		t.Fatalf("%d unfinished uploads left after completing", len(ups))
	}
}

// A stored part that differs from the file is sent again.
func TestResumeReplacesDifferentParts(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	path, data := randomFile(t, 2*s3.PartSize+5) // 3 parts
	const name = "u/dump.tar.zst.age"
	ctx := context.Background()
	c := srv.Client()
	up, err := c.CreateMultipartUpload(ctx, &sdk.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(name), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Clone(data[s3.PartSize : 2*s3.PartSize])
	wrong[100] ^= 1
	for i, body := range [][]byte{data[:s3.PartSize], wrong} {
		_, err := c.UploadPart(ctx, &sdk.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(name), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pc := &partCounter{}
	s := countingStore(t, bucket, pc)
	if err := putFrom(ctx, t, s, name, path); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n := pc.parts.Load(); n != 2 {
		t.Fatalf("Put sent %d parts, want 2 (part 1 reused, the differing part 2 and part 3 sent)", n)
	}
	checkObject(t, s, name, data)
}

// MinIO dies half way through a Put: the Put fails within seconds naming the
// bucket; once the server is back, the same Put finishes the upload it left,
// sending only the missing parts.
func TestServerKilledMidUpload(t *testing.T) {
	own := miniotest.Start(t) // a server of our own to kill
	own.MakeBucket(t, "killed")
	path, data := randomFile(t, 5*s3.PartSize) // 5 parts
	const name = "u/dump.tar.zst.age"
	store := func(c *partCounter) *s3.Store {
		client := sdk.New(sdk.Options{
			BaseEndpoint: aws.String(own.Endpoint),
			UsePathStyle: true,
			Region:       own.Region,
			Credentials:  credentials.NewStaticCredentialsProvider(own.AccessKey, own.SecretKey, ""),
			HTTPClient:   &http.Client{Transport: c},
		})
		return s3.New(client, "killed", "")
	}

	first := &partCounter{cancelAfter: 2, cancel: func() { go own.Kill() }}
	start := time.Now()
	err := putFrom(context.Background(), t, store(first), name, path)
	if err == nil {
		t.Fatalf("Put succeeded although the server was killed")
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), `bucket "killed"`) {
		t.Errorf("error does not name the bucket: %v", err)
	}
	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	second := &partCounter{}
	s := store(second)
	if err := putFrom(context.Background(), t, s, name, path); err != nil {
		t.Fatalf("Put after the restart: %v", err)
	}
	if n := second.parts.Load(); n >= 5 || n < 1 {
		t.Fatalf("Put after the restart sent %d of 5 parts; want it to resume", n)
	}
	t.Logf("resumed: sent %d of 5 parts after the restart", second.parts.Load())
	checkObject(t, s, name, data)
}

// settledParts is the number of stored parts of an upload once it has not
// changed for half a second.
func settledParts(t *testing.T, bucket, key string, uploadID *string) int {
	t.Helper()
	last, same := -1, 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		parts, err := srv.Client().ListParts(context.Background(), &sdk.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: uploadID})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(parts.Parts); n == last {
			if same++; same == 5 {
				return n
			}
		} else {
			last, same = n, 0
		}
	}
	t.Fatalf("the stored parts of %s never settled", key)
	return 0
}

// Uploading a dump looks at each object once: the HEAD before its put.
func TestOneHeadPerObject(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	c := &partCounter{}
	s := countingStore(t, bucket, c)
	payload, _ := randomFile(t, 2*s3.PartSize+5)
	key, _ := randomFile(t, 200)
	parts := upload.Parts{PayloadPath: payload, KeyPath: key, InfoPath: key}
	const id = "0d000000-0000-4000-8000-0000000000a1"
	if err := upload.PutDump(context.Background(), s, id, parts, nil); err != nil {
		t.Fatal(err)
	}
	if n := c.heads.Load(); n != 3 {
		t.Fatalf("%d HEAD requests for a dump of 3 objects, want 3", n)
	}
}

// An upload made while sealing that stops half way leaves its parts; the Put
// of the sealed file that follows sends only the missing ones.
func TestStreamThenFileResumes(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	path, data := randomFile(t, 4*s3.PartSize+123) // 5 parts
	const name = "u/dump.tar.zst.age"

	ctx, cancel := context.WithCancel(context.Background())
	first := &partCounter{cancelAfter: 2, cancel: cancel}
	err := countingStore(t, bucket, first).PutStream(ctx, name, bytes.NewReader(data))
	cancel()
	if err == nil {
		t.Fatalf("PutStream survived its context being cancelled")
	}
	ups := uploadsOf(t, bucket, name)
	if len(ups) != 1 {
		t.Fatalf("%d unfinished uploads after the stream stopped, want 1 kept for the file's Put", len(ups))
	}
	stored := settledParts(t, bucket, name, ups[0].UploadId)

	second := &partCounter{}
	s := countingStore(t, bucket, second)
	if err := putFrom(context.Background(), t, s, name, path); err != nil {
		t.Fatalf("Put from the file: %v", err)
	}
	if got, want := second.parts.Load(), int64(5-stored); got != want || stored == 0 {
		t.Fatalf("the file's Put sent %d parts, want %d (%d were streamed)", got, want, stored)
	}
	checkObject(t, s, name, data)
}

// A stream whose source fails (the seal failed) keeps nothing: no object, no
// unfinished upload.
func TestFailedSourceStreamKeepsNothing(t *testing.T) {
	miniotest.Need(t, srv)
	bucket := newBucket(t)
	const name = "u/dump.tar.zst.age"
	src := io.MultiReader(bytes.NewReader(make([]byte, 2*s3.PartSize)), iotest.ErrReader(errors.New("seal: disk full")))
	err := countingStore(t, bucket, &partCounter{}).PutStream(context.Background(), name, src)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("PutStream from a failing source: %v", err)
	}
	if ups := uploadsOf(t, bucket, name); len(ups) != 0 {
		t.Fatalf("%d unfinished uploads kept after the source failed", len(ups))
	}
}
