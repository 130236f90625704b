// Package gstest runs fake-gcs-server in process for tests of gs://
// destinations, reached the way users reach GCS: through STORAGE_EMULATOR_HOST.
package gstest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Start runs fake-gcs-server over plain HTTP on 127.0.0.1 with the given
// buckets, and points STORAGE_EMULATOR_HOST at it for the rest of the test
// (t.Setenv: not for parallel tests; child processes inherit it).
func Start(t testing.TB, buckets ...string) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http",
		Host:   "127.0.0.1",
		// Path-style XML requests (signed URLs) are routed by this host.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
	return srv
}

// ServiceAccount writes a service-account key file holding a fresh RSA key
// and sets GOOGLE_APPLICATION_CREDENTIALS to it, so that a store opened
// afterwards can sign URLs. It returns the account's e-mail and PEM key.
func ServiceAccount(t testing.TB) (email string, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	email = "dump-test@dump-test.iam.gserviceaccount.com"
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	data, err := json.Marshal(map[string]string{
		"type":         "service_account",
		"client_email": email,
		"private_key":  string(keyPEM),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	return email, keyPEM
}
