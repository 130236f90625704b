package layout

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Schemas of [Info]. A dump whose payload is split into parts is written as
// schema 2, so that a release that cannot reassemble parts refuses it with
// "use a newer dump release" instead of looking for a payload that is not
// there. A cluster dump (with Nodes) is schema 3 for the same reason: a
// release that knows no node parts would extract the cluster part alone and
// look complete. Every other dump stays schema 1.
const (
	InfoSchema        = 1
	InfoSchemaSplit   = 2
	InfoSchemaCluster = 3
)

// Info is the plaintext description of a sealed dump (dump-<uuid>.json, or
// info.json in a bucket). It holds nothing secret: it lets support list and
// check dumps without any key.
type Info struct {
	Schema        int       `json:"schema"`
	ToolVersion   string    `json:"tool_version"`
	UUID          string    `json:"uuid"`
	Created       time.Time `json:"created"` // UTC, whole seconds: RFC 3339
	PayloadSize   int64     `json:"payload_size"`
	PayloadSHA256 string    `json:"payload_sha256"` // hex, of the whole payload (all parts in order)
	Parts         int       `json:"parts"`          // payload files: 1, or len(PayloadParts)
	// PayloadParts lists the pieces of a payload written with --split, in
	// order (part n is PayloadParts[n-1]); empty for a payload in one file.
	PayloadParts []Part   `json:"payload_parts,omitempty"`
	Recipients   []string `json:"recipients"` // fingerprints of the support recipients
	KeyIncluded  bool     `json:"key_included"`
	Compression  string   `json:"compression"` // "zstd"
	Encryption   string   `json:"encryption"`  // "age"
	Files        int      `json:"files"`
	ContentBytes int64    `json:"content_bytes"`
	// Nodes lists the node parts of a cluster dump (nodes/<name>.tar.zst.age,
	// each with its own info nodes/<name>.json), failed ones included.
	Nodes []NodePart `json:"nodes,omitempty"`
}

// NodePart is one node of a cluster dump.
type NodePart struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"` // why the node has no part; empty when it uploaded one
}

// Part is one piece of a split payload.
type Part struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// Split reports whether the payload is stored as numbered parts.
func (i *Info) Split() bool { return len(i.PayloadParts) > 0 }

// maxInfoSize bounds what ReadInfo accepts; a real info file is < 4 KiB
// (a split one of 999 parts ~100 KiB).
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
	if err := info.validate(); err != nil {
		return info, fmt.Errorf("read dump info: %w", err)
	}
	return info, nil
}

func (i *Info) validate() error {
	if i.Schema < InfoSchema || i.Schema > InfoSchemaCluster {
		return fmt.Errorf("schema %d is not supported (want %d to %d); use a newer dump release", i.Schema, InfoSchema, InfoSchemaCluster)
	}
	if (i.Schema == InfoSchemaCluster) != (len(i.Nodes) > 0) {
		return fmt.Errorf("schema %d with %d node parts; the info file was altered", i.Schema, len(i.Nodes))
	}
	if err := CheckUUID(i.UUID); err != nil {
		return err
	}
	for _, n := range i.Nodes {
		if err := CheckNodeName(n.Name); err != nil {
			return err
		}
	}
	if i.PayloadSize < 0 {
		return errors.New("negative payload size; it is not a dump info file")
	}
	if !i.Split() {
		return nil
	}
	if len(i.PayloadParts) > MaxParts || i.Parts != len(i.PayloadParts) {
		return fmt.Errorf("it lists %d payload parts but says %d; the info file was altered", len(i.PayloadParts), i.Parts)
	}
	var sum int64
	for n, p := range i.PayloadParts {
		if p.Size <= 0 || !isSHA256(p.SHA256) {
			return fmt.Errorf("part %s has no valid size and sha256; the info file was altered", PartSuffix(n+1))
		}
		sum += p.Size
	}
	if sum != i.PayloadSize {
		return fmt.Errorf("its parts add up to %d bytes, not the payload's %d; the info file was altered", sum, i.PayloadSize)
	}
	return nil
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// ReadInfoFile reads a local info file (dump-<uuid>.json). Only a regular
// file is opened: a FIFO or device planted there cannot hang the reader.
func ReadInfoFile(path string) (Info, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	info, err := ReadInfo(f)
	if err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Marshal encodes the info as written to disk and to buckets.
func (i *Info) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
