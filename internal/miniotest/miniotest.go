// Package miniotest runs a real MinIO server for tests of the s3:// store.
//
// Each test binary gets its own server (own port, own throwaway data dir) from
// the binary cached by scripts/minio.sh, which builds it once when missing:
//
//	var srv *miniotest.Server
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Main(m, &srv)) }
//
//	func TestPut(t *testing.T) {
//		miniotest.Need(t, srv)
//		srv.MakeBucket(t, "b")
//		...
//	}
//
// MINIOTEST_ENDPOINT=http://127.0.0.1:PORT makes Main use a server started by
// scripts/minio.sh instead (scripts/bench-s3.sh does, to compare with awscli
// on the same server); Kill and Restart do not work on it.
//
// Failing to start MinIO fails the tests. Only DUMP_SKIP_MINIO=1 turns them
// into loud skips (for machines without Go module proxy access; CI never sets it).
package miniotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Test-only root credentials, the same scripts/minio.sh uses.
const (
	AccessKey = "dumptest"
	SecretKey = "dumptest-not-a-secret"
	Region    = "us-east-1"
)

const skipMessage = "MinIO tests SKIPPED because DUMP_SKIP_MINIO=1: the s3:// store is NOT tested"

// Server is one running MinIO.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string

	bin  string
	addr string
	dir  string // data dir, removed by Stop
	log  *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Skipped reports whether DUMP_SKIP_MINIO=1 asks to skip MinIO tests.
func Skipped() bool { return os.Getenv("DUMP_SKIP_MINIO") == "1" }

// Main starts a server into *srv, runs the tests and stops it; use it as
// os.Exit(miniotest.Main(m, &srv)). With DUMP_SKIP_MINIO=1 *srv stays nil and
// Need skips.
func Main(m *testing.M, srv **Server) int {
	if Skipped() {
		fmt.Fprintln(os.Stderr, "!!! "+skipMessage)
		return m.Run()
	}
	if ep := os.Getenv("MINIOTEST_ENDPOINT"); ep != "" {
		*srv = &Server{Endpoint: ep, AccessKey: AccessKey, SecretKey: SecretKey, Region: Region}
		return m.Run()
	}
	s, err := StartServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "miniotest: %v\n(set DUMP_SKIP_MINIO=1 only if MinIO cannot be built here)\n", err)
		return 1
	}
	*srv = s
	defer s.Stop()
	return m.Run()
}

// Need skips t when Main left srv nil because of DUMP_SKIP_MINIO=1.
func Need(t testing.TB, srv *Server) {
	t.Helper()
	if srv == nil {
		t.Skip(skipMessage)
	}
}

// Start runs a server for one test, stopped at its end.
func Start(t testing.TB) *Server {
	t.Helper()
	if Skipped() {
		t.Skip(skipMessage)
	}
	s, err := StartServer()
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartServer runs a server; the caller must Stop it.
func StartServer() (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "miniotest-")
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{AccessKey: AccessKey, SecretKey: SecretKey, Region: Region, bin: bin, dir: dir, log: log}
	// A port picked by the kernel can be taken again before MinIO binds it.
	for range 3 {
		port, perr := freePort()
		if perr != nil {
			err = perr
			break
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.Endpoint = "http://" + s.addr
		if err = s.run(); err == nil {
			return s, nil
		}
	}
	s.Stop()
	return nil, err
}

// binary returns the cached MinIO, building it through scripts/minio.sh.
func binary() (string, error) {
	cache := os.Getenv("DUMP_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "dump")
	}
	bin := filepath.Join(cache, "minio", "bin", "minio")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "minio.sh"), "build")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build MinIO with scripts/minio.sh build: %w", err)
	}
	return bin, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the repository (go env GOMOD): %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("find the repository: not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts MinIO on s.addr and waits until it is ready.
func (s *Server) run() error {
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.addr, filepath.Join(s.dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// Its own process group, so a test's ^C does not race our Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start MinIO: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("MinIO on %s exited during start: %s", s.addr, s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.Kill()
	return fmt.Errorf("MinIO on %s not ready after 60s: %s", s.addr, s.logTail())
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Kill stops the server abruptly (SIGKILL), keeping its data, as a crash or a
// network cut would.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts a killed server again on the same port with the same data.
func (s *Server) Restart() error {
	if s.bin == "" {
		return errors.New("cannot restart a server miniotest did not start (MINIOTEST_ENDPOINT)")
	}
	s.Kill()
	// The old listener's port can take a moment to become free again.
	var err error
	for range 20 {
		if err = s.run(); err == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

// Stop kills the server and deletes its data.
func (s *Server) Stop() {
	s.Kill()
	s.log.Close()
	os.RemoveAll(s.dir)
}

// Env is the environment a child process needs to reach the server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}
}

// Setenv sets Env in this process for the rest of the test.
func (s *Server) Setenv(t testing.TB) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Client is an S3 client for the server with root credentials.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// MakeBucket creates a bucket, failing the test if it cannot.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, s.Endpoint, err)
	}
}
