package redact

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

const keySize = 32

// LoadOrCreateKey reads a redaction key file, or creates it (0600, 32 random
// bytes) on first use. Keeping the file makes tokens consistent across dumps
// (--redaction-key-file).
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make redaction key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path) // another run created it first
	}
	if err != nil {
		return nil, fmt.Errorf("create redaction key file %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write redaction key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write redaction key file %s: %w", path, err)
	}
	return key, nil
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("redaction key file %s is readable by others: run chmod 600 %s", path, path)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read redaction key file %s: %w", path, err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("redaction key file %s holds %d bytes, want %d: remove it to make a new one", path, len(key), keySize)
	}
	return key, nil
}
