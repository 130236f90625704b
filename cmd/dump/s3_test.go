package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dumptool/dump/internal/miniotest"
)

// Customer uploads to a real S3 server (MinIO); support lists and decrypts
// by an 8-character prefix; a nometa dump keeps its key out of the bucket.
func TestS3GatherUploadListDecrypt(t *testing.T) {
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	env := srv.Env()
	identity, recipient := keygen(t)
	dest := "s3://support/dumps"

	r := runDump(t, t.TempDir(), env, "gather-upload", "--to", dest, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload to s3: %s", r)
	}
	id := r.lastLine()
	r = runDump(t, t.TempDir(), env, "gather-upload-nometa", "--to", dest,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload-nometa to s3: %s", r)
	}
	nometa := r.lastLine()

	r = runDump(t, t.TempDir(), env, "list", "--from", dest, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, nometa) {
		t.Fatalf("list --json does not show both dumps: %s", r)
	}
	r = runDump(t, t.TempDir(), env, "decrypt", "--from", dest, "--identity", identity, "--out", t.TempDir(), id[:8])
	if r.code != 0 {
		t.Fatalf("decrypt from s3: %s", r)
	}
	if got := readFile(t, filepath.Join(r.lastLine(), "system", "greeting.txt")); got != "hello from the spec\n" {
		t.Fatalf("greeting.txt = %q", got)
	}
	if _, err := srv.Client().HeadObject(context.Background(), &s3sdk.HeadObjectInput{
		Bucket: aws.String("support"), Key: aws.String("dumps/" + nometa + "/key.age")}); err == nil {
		t.Fatalf("the nometa dump's key is in the bucket")
	}
}

// A ticket made by support lets a customer with no credentials upload.
func TestS3TicketFlow(t *testing.T) {
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	identity, recipient := keygen(t)
	dest := "s3://support/tickets"

	r := runDump(t, t.TempDir(), srv.Env(), "ticket", "--to", dest, "--expires", "1h")
	if r.code != 0 {
		t.Fatalf("ticket: %s", r)
	}
	tk := r.lastLine()
	// The customer's environment has no AWS variables at all.
	r = runDump(t, t.TempDir(), nil, "gather-upload", "--ticket", tk, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 0 {
		t.Fatalf("gather-upload --ticket without credentials: %s", r)
	}
	id := r.lastLine()
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", dest, "--identity", identity, "--out", t.TempDir(), id)
	if r.code != 0 {
		t.Fatalf("decrypt of the ticket upload: %s", r)
	}
	// The ticket is spent: its uuid is taken.
	r = runDump(t, t.TempDir(), nil, "gather-upload", "--ticket", tk, "--recipient", recipient,
		"--out", t.TempDir(), "--profile", "none", "--spec", writeSpec(t, okSpec))
	if r.code != 1 || !strings.Contains(r.stderr, "already used") {
		t.Fatalf("a reused ticket must fail saying it was used: %s", r)
	}
}

// Wrong endpoint, bad or missing credentials and a missing bucket are found
// before gathering: exit 1 within seconds, one line naming the bucket and what
// to fix, nothing gathered or sealed, and none of the SDK's own log lines
// (WARN falling back to IMDSv1) on the user's terminal.
func TestS3MisconfiguredFailsBeforeGathering(t *testing.T) {
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	_, recipient := keygen(t)
	noCredentials := []string{"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull}
	cases := []struct {
		name, bucket string
		env          []string
		want         string
	}{
		{"closed port", "support", []string{"AWS_ENDPOINT_URL_S3=http://127.0.0.1:9", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_REGION=us-east-1"}, "AWS_ENDPOINT_URL_S3"},
		{"bad secret", "support", append(srv.Env(), "AWS_SECRET_ACCESS_KEY=wrong-secret-key"), "AWS_SECRET_ACCESS_KEY"},
		{"no credentials", "support", noCredentials, "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"no bucket", "nobucket", srv.Env(), "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outbox := filepath.Join(t.TempDir(), "outbox")
			start := time.Now()
			r := runDump(t, t.TempDir(), append(tc.env, "DUMP_QUIET=0"), "gather-upload", "--to", "s3://"+tc.bucket+"/dumps", "--recipient", recipient,
				"--out", outbox, "--profile", "none", "--spec", writeSpec(t, okSpec))
			if r.code != 1 || !strings.Contains(r.stderr, `"`+tc.bucket+`"`) || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit 1 naming the bucket and %s: %s", tc.want, r)
			}
			if strings.Contains(r.stderr, "gathering dump") || strings.Contains(r.stderr, "WARN") || strings.Contains(r.stderr, "IMDS") {
				t.Fatalf("gathered, or the SDK's log reached the user: %s", r)
			}
			if n := strings.Count(r.stderr, "s3://"+tc.bucket+"/dumps"); n > 1 {
				t.Fatalf("the URL is repeated %d times: %s", n, r)
			}
			if _, err := os.Stat(outbox); !os.IsNotExist(err) {
				t.Fatalf("the outbox was made before the check: %v", err)
			}
			t.Logf("%s failed after %s", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// MinIO dies in the middle of a 200 MiB upload: exit 1, sealed files kept;
// after it comes back, the printed `dump upload` completes and the dump
// decrypts byte-identical.
func TestS3ServerKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MiB upload")
	}
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	identity, recipient := keygen(t)
	const id = "7c0e7d1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"

	// Random hex text (hex, unlike base64, never looks like a cloud key to
	// the redactor), enough to seal to more than 200 MiB.
	sysroot := t.TempDir()
	big := filepath.Join(sysroot, "big.log")
	writeRandomText(t, big, 210<<20)
	want := fileSHA(t, big)
	spec := writeSpec(t, `- name: big
  category: system
  kind: copy
  paths: [/big.log]
  output: system/big.log
  max_size: 600000000
`)
	outbox := t.TempDir()
	cmd := exec.Command(dumpBin, "gather-upload", "--to", "s3://support/dumps", "--recipient", recipient, "--uuid", id,
		"--out", outbox, "--profile", "none", "--spec", spec, "--sysroot", sysroot, "--max-size", "1GiB")
	cmd.Env = append(append(baseEnv(t), srv.Env()...), "DUMP_UPLOAD_TIMEOUT=6s", "DUMP_QUIET=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if !waitForParts(srv, "support", "dumps/"+id+"/dump.tar.zst.age", exited) {
		cmd.Process.Kill()
		t.Fatalf("the upload never stored a part:\n%s", stderr.String())
	}
	srv.Kill()
	err := <-exited
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 after the server died, got %v\n%s", err, stderr.String())
	}
	payload := filepath.Join(outbox, "dump-"+id+".tar.zst.age")
	if fi, err := os.Stat(payload); err != nil || fi.Size() < 200<<20 {
		t.Fatalf("sealed payload not kept: %v %v", fi, err)
	}
	if !strings.Contains(stderr.String(), "dump upload --to s3://support/dumps "+payload) {
		t.Fatalf("no retry command in:\n%s", stderr.String())
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	r := runDump(t, t.TempDir(), srv.Env(), "upload", "--to", "s3://support/dumps", payload)
	if r.code != 0 || r.lastLine() != id {
		t.Fatalf("retry upload: %s", r)
	}
	out := t.TempDir()
	r = runDump(t, t.TempDir(), srv.Env(), "decrypt", "--from", "s3://support/dumps", "--identity", identity, "--out", out, id[:8])
	if r.code != 0 {
		t.Fatalf("decrypt after the retry: %s", r)
	}
	if got := fileSHA(t, filepath.Join(r.lastLine(), "system", "big.log")); got != want {
		t.Fatalf("the decrypted log differs from the source")
	}
}

// waitForParts reports whether the multipart upload of key stored a part
// before the uploading process exited (or five minutes passed: the gather
// and seal before it are slow on a loaded machine).
func waitForParts(srv *miniotest.Server, bucket, key string, exited <-chan error) bool {
	c := srv.Client()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ups, err := c.ListMultipartUploads(ctx, &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
		if err == nil {
			for _, u := range ups.Uploads {
				parts, err := c.ListParts(ctx, &s3sdk.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
				if err == nil && len(parts.Parts) > 0 {
					return true
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// writeRandomText writes rawBytes of randomness as lines of 64 hex digits.
func writeRandomText(t *testing.T, path string, rawBytes int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	raw := make([]byte, 32)
	line := make([]byte, 65)
	line[64] = '\n'
	for written := 0; written < rawBytes; written += len(raw) {
		rand.Read(raw)
		hex.Encode(line, raw)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return string(sum[:])
}
