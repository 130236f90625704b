package redact

import (
	"bytes"
	"path/filepath"
	"strings"
)

// secretNames are files that hold nothing but secrets.
var secretNames = map[string]string{
	"id_rsa": "SSH private key", "id_dsa": "SSH private key", "id_ecdsa": "SSH private key",
	"id_ed25519": "SSH private key", "id_ecdsa_sk": "SSH private key", "id_ed25519_sk": "SSH private key",
	"token": "token file", "node-token": "k3s node token", "agent-token": "k3s agent token",
	"server-token": "k3s server token", "join-token": "join token file", "auth_token": "token file",
	"shadow": "password hashes", "gshadow": "password hashes", "shadow-": "password hashes", "gshadow-": "password hashes",
	".netrc": "credentials file", ".pgpass": "credentials file", ".git-credentials": "credentials file",
	"ipsec.psk": "pre-shared key", "passwd.k3s": "k3s credentials",
}

var secretExts = map[string]string{
	".key": "private key file", ".p12": "PKCS#12 key store", ".pfx": "PKCS#12 key store", ".jks": "Java key store",
	".keystore": "key store", ".psk": "pre-shared key", ".token": "token file", ".kdbx": "password database",
}

// SecretFile reports whether a source file holds only secrets and must not be
// copied at all (private keys, token files, credentials files). path is the
// source path, head its first bytes (up to 4 KiB). reason is one line for the
// manifest.
func SecretFile(path string, head []byte) (skip bool, reason string) {
	p := filepath.ToSlash(path)
	base := filepath.Base(p)
	lower := strings.ToLower(base)
	h := bytes.TrimSpace(head)
	switch {
	case bytes.HasPrefix(h, beginMark) && bytes.Contains(h, privMark):
		return true, "holds a PEM private key"
	case bytes.HasPrefix(h, []byte("PuTTY-User-Key-File")):
		return true, "holds a PuTTY private key"
	case bytes.Contains(h, []byte("AGE-SECRET-KEY-1")):
		return true, "holds an age identity"
	case bytes.Contains(h, []byte(`"service_account"`)) && bytes.Contains(h, []byte(`"private_key`)):
		return true, "GCP service-account key file"
	case strings.HasSuffix(p, "/.aws/credentials") || lower == "credentials" && bytes.Contains(h, []byte("aws_secret_access_key")):
		return true, "AWS credentials file"
	case strings.HasSuffix(p, "/.docker/config.json") && bytes.Contains(h, []byte(`"auths"`)):
		return true, "registry credentials file"
	case strings.Contains(p, "/var/lib/rancher/k3s/server/cred/"):
		return true, "k3s credentials directory"
	case strings.HasSuffix(p, "/var/lib/teleport/proc/sqlite.db") || strings.HasSuffix(p, "/var/lib/teleport/backend/sqlite.db") ||
		strings.HasPrefix(base, "sqlite.db") && strings.Contains(p, "/teleport/"):
		return true, "Teleport backend database (holds CA private keys)"
	case strings.HasSuffix(lower, ".pub") || strings.HasSuffix(lower, ".crt") || strings.HasSuffix(lower, "-cert.pem"):
		return false, "" // public halves are useful and not secret
	}
	if why, ok := secretNames[lower]; ok {
		if lower == "token" || lower == "auth_token" {
			// Only a short single-line file is a token; a directory listing named token is not.
			if len(h) > 0 && len(h) < 1024 && !bytes.ContainsAny(h, "\n ") {
				return true, why
			}
			return false, ""
		}
		return true, why
	}
	if why, ok := secretExts[filepath.Ext(lower)]; ok {
		return true, why
	}
	if strings.HasSuffix(lower, ".pem") && bytes.Contains(h, privMark) {
		return true, "PEM file with a private key"
	}
	return false, ""
}
