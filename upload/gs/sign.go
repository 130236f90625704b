package gs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/storage"

	"github.com/dumptool/dump/upload"
)

// signer holds what signing a URL needs beyond the client. Without an
// explicit key the library finds one itself (service-account credentials, or
// IAM signBlob as the GCE service account).
type signer struct {
	accessID string
	key      []byte // PEM
	insecure bool   // http:// URLs, for emulators
}

// SignWith makes PresignPut sign with a service account's e-mail and PEM
// private key instead of detecting them from the credentials.
func (s *Store) SignWith(googleAccessID string, privateKeyPEM []byte) {
	s.sign.accessID, s.sign.key = googleAccessID, privateKeyPEM
}

// fromKeyFile takes the signing key from a service-account key file, the
// kind GOOGLE_APPLICATION_CREDENTIALS names. The library does this too, but
// not against an emulator, where it ignores credentials. Other kinds of
// credentials are left to the library.
func (sg *signer) fromKeyFile(path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read GOOGLE_APPLICATION_CREDENTIALS: %w", err)
	}
	var sa struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &sa); err != nil {
		return fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s is not a credentials file: %w", path, err)
	}
	if sa.Type == "service_account" && sa.ClientEmail != "" && sa.PrivateKey != "" {
		sg.accessID, sg.key = sa.ClientEmail, []byte(sa.PrivateKey)
	}
	return nil
}

// MaxExpires is the longest a V4 signed URL may live.
const MaxExpires = 7 * 24 * time.Hour

// PresignPut returns a V4 signed PUT for name. The header
// x-goog-if-generation-match: 0 is part of the signature, so the URL can only
// create the object, never replace one: a second PUT gets 412.
func (s *Store) PresignPut(ctx context.Context, name string, expires time.Duration) (upload.PresignedPut, error) {
	key, err := s.key(name)
	if err != nil {
		return upload.PresignedPut{}, err
	}
	if expires <= 0 || expires > MaxExpires {
		return upload.PresignedPut{}, fmt.Errorf("sign upload URL for gs://%s/%s: expiry %s is out of range: GCS signed URLs last at most 7 days (168h)", s.bucketName, key, expires)
	}
	opts := &storage.SignedURLOptions{
		Scheme:         storage.SigningSchemeV4,
		Method:         http.MethodPut,
		Expires:        time.Now().Add(expires),
		Headers:        []string{"x-goog-if-generation-match:0"},
		Insecure:       s.sign.insecure,
		GoogleAccessID: s.sign.accessID,
		PrivateKey:     s.sign.key,
	}
	u, err := s.bucket.SignedURL(key, opts)
	if err != nil {
		return upload.PresignedPut{}, fmt.Errorf("sign upload URL for gs://%s/%s: %v; signing needs a service account: set GOOGLE_APPLICATION_CREDENTIALS to its key file, or run as a service account allowed to sign (roles/iam.serviceAccountTokenCreator)", s.bucketName, key, firstLine(err.Error()))
	}
	return upload.PresignedPut{
		Method: http.MethodPut,
		URL:    u,
		Header: http.Header{"X-Goog-If-Generation-Match": {"0"}},
	}, nil
}
