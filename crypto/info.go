package crypto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// InfoSchema is the version of [Info] this package writes and reads.
const InfoSchema = 1

// Info is the plaintext description of a sealed dump (dump-<uuid>.json or
// info.json in a bucket). It holds nothing secret: it lets support list and
// check dumps without any key.
type Info struct {
	Schema        int       `json:"schema"`
	ToolVersion   string    `json:"tool_version"`
	UUID          string    `json:"uuid"`
	Created       time.Time `json:"created"` // UTC, whole seconds: RFC 3339
	PayloadSize   int64     `json:"payload_size"`
	PayloadSHA256 string    `json:"payload_sha256"` // hex, of the .tar.zst.age file
	Parts         int       `json:"parts"`
	Recipients    []string  `json:"recipients"` // fingerprints, see [Fingerprint]
	KeyIncluded   bool      `json:"key_included"`
	Compression   string    `json:"compression"` // "zstd"
	Encryption    string    `json:"encryption"`  // "age"
	Files         int       `json:"files"`
	ContentBytes  int64     `json:"content_bytes"`
}

// maxInfoSize bounds what ReadInfo accepts; a real info file is < 4 KiB.
const maxInfoSize = 1 << 20

// ReadInfo decodes and validates an info file.
func ReadInfo(r io.Reader) (Info, error) {
	var info Info
	data, err := io.ReadAll(io.LimitReader(r, maxInfoSize+1))
	if err != nil {
		return info, fmt.Errorf("read dump info: %w", err)
	}
	if len(data) > maxInfoSize {
		return info, errors.New("read dump info: file is larger than 1 MiB; it is not a dump info file")
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("read dump info: not valid JSON: %w", err)
	}
	if info.Schema != InfoSchema {
		return info, fmt.Errorf("read dump info: schema %d is not supported (want %d); use a newer dump release", info.Schema, InfoSchema)
	}
	if err := CheckUUID(info.UUID); err != nil {
		return info, fmt.Errorf("read dump info: %w", err)
	}
	return info, nil
}

// CheckUUID accepts only the canonical lowercase form, because the UUID is
// used in file, directory and object names.
func CheckUUID(s string) error {
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return fmt.Errorf("invalid uuid %q: want the form 123e4567-e89b-12d3-a456-426614174000", s)
	}
	return nil
}

// LocalNames returns the file names of the three parts of a sealed dump
// stored side by side in a directory.
func LocalNames(id string) (payload, key, info string) {
	base := "dump-" + id
	return base + PayloadSuffix, base + KeySuffix, base + InfoSuffix
}

// Suffixes of the local sealed files; see [LocalNames].
const (
	PayloadSuffix = ".tar.zst.age"
	KeySuffix     = ".key.age"
	InfoSuffix    = ".json"
)
