package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

// Keygen writes a new support identity file in the format of age-keygen and
// returns its recipient ("age1..."). With a passphrase the file is itself
// encrypted with it and armored, as `age -p -a` does, so the stock
// `age -d -i FILE` asks for the passphrase and uses it.
func Keygen(w io.Writer, passphrase string) (recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	body := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n",
		time.Now().Format(time.RFC3339), id.Recipient(), id)
	if passphrase == "" {
		_, err = io.WriteString(w, body)
	} else {
		err = writeProtected(w, body, passphrase)
	}
	if err != nil {
		return "", fmt.Errorf("keygen: write identity: %w", err)
	}
	return id.Recipient().String(), nil
}

// writeProtected writes body encrypted with a passphrase, armored.
func writeProtected(w io.Writer, body, passphrase string) error {
	sr, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return err
	}
	aw := armor.NewWriter(w)
	ew, err := age.Encrypt(aw, sr)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(ew, body); err != nil {
		return err
	}
	if err := ew.Close(); err != nil {
		return err
	}
	return aw.Close()
}

// WriteKeyFile creates path (0600) with a new identity from [Keygen]. It
// never overwrites an existing file: that could destroy the only key able
// to open customers' dumps.
func WriteKeyFile(path string, passphrase string) (recipient string, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("keygen: %s already exists; it may be the key for existing dumps, so choose another --out", path)
	}
	if err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	recipient, err = Keygen(f, passphrase)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("keygen: write %s: %w", path, err)
	}
	return recipient, nil
}

// maxIdentityFileSize bounds identity files, as age itself does.
const maxIdentityFileSize = 16 << 20

// LoadIdentities reads the support identities in path: an age identity file
// (plain, or passphrase-protected as written by [Keygen] or `age -p`,
// armored or binary) or an OpenSSH/PEM ed25519 or RSA private key, possibly
// passphrase-protected. passphrase is called only for protected files.
func LoadIdentities(path string, passphrase func() (string, error)) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if len(data) > maxIdentityFileSize {
		return nil, fmt.Errorf("load identity: %s is not an age identity or an ssh private key (larger than 16 MiB)", path)
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte(armor.Header)):
		return loadProtected(path, armor.NewReader(bytes.NewReader(data)), passphrase)
	case bytes.HasPrefix(data, []byte("age-encryption.org/")):
		return loadProtected(path, bytes.NewReader(data), passphrase)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) && bytes.Contains(trimmed, []byte("PRIVATE KEY-----")):
		return loadSSH(path, data, passphrase)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		hint := ""
		if bytes.HasPrefix(trimmed, []byte("age1")) || bytes.HasPrefix(trimmed, []byte("ssh-")) {
			hint = "; this looks like a public key, give the private key file instead"
		}
		return nil, fmt.Errorf("load identity: %s is not an age identity or an ssh private key (%v)%s", path, err, hint)
	}
	return ids, nil
}

// loadProtected decrypts a passphrase-protected age identity file.
func loadProtected(path string, r io.Reader, passphrase func() (string, error)) ([]age.Identity, error) {
	if passphrase == nil {
		return nil, fmt.Errorf("load identity: %s is passphrase-protected and no passphrase can be asked for; run in a terminal", path)
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("load identity %s: read passphrase: %w", path, err)
	}
	sid, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	dr, err := age.Decrypt(r, sid)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("load identity: wrong passphrase for %s (or it is encrypted to a key, not a passphrase); try again", path)
		}
		return nil, fmt.Errorf("load identity: %s is damaged (%v)", path, err)
	}
	ids, err := age.ParseIdentities(io.LimitReader(dr, maxIdentityFileSize))
	if err != nil {
		return nil, fmt.Errorf("load identity: %s decrypts, but not to an age identity (%v)", path, err)
	}
	return ids, nil
}

// loadSSH parses an ssh-ed25519 or ssh-rsa private key.
func loadSSH(path string, data []byte, passphrase func() (string, error)) ([]age.Identity, error) {
	key, err := ssh.ParseRawPrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == nil {
			return nil, fmt.Errorf("load identity: %s is passphrase-protected and no passphrase can be asked for; run in a terminal", path)
		}
		pass, perr := passphrase()
		if perr != nil {
			return nil, fmt.Errorf("load identity %s: read passphrase: %w", path, perr)
		}
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(data, []byte(pass))
		if err != nil {
			return nil, fmt.Errorf("load identity: cannot decrypt ssh key %s (wrong passphrase?): %v", path, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load identity: %s is not an age identity or an ssh private key (%v)", path, err)
	}
	var id age.Identity
	switch k := key.(type) {
	case *ed25519.PrivateKey:
		id, err = agessh.NewEd25519Identity(*k)
	case ed25519.PrivateKey:
		id, err = agessh.NewEd25519Identity(k)
	case *rsa.PrivateKey:
		id, err = agessh.NewRSAIdentity(k)
	default:
		return nil, fmt.Errorf("load identity: %s is a %T ssh key; only ed25519 and rsa keys can be used with age", path, key)
	}
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	return []age.Identity{id}, nil
}
