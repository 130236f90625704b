// Package layout holds what every stage must agree on about a dump: its
// names on disk and in a bucket, its plaintext [Info], and the limits that
// gather enforces and decrypt relies on. It imports nothing of the project,
// so gather, crypto, upload, decrypt and cmd can all use it.
//
// A sealed dump is three things: the payload (tar | zstd | age), the key
// (the session key sealed to the support recipients; absent in nometa mode)
// and the info. Side by side in a directory they are
//
//	dump-<uuid>.tar.zst.age   (or .tar.zst.age.001, .002, ... with --split)
//	dump-<uuid>.key.age
//	dump-<uuid>.json
//
// and in a bucket
//
//	<uuid>/dump.tar.zst.age   (or dump.tar.zst.age.001, ...)
//	<uuid>/key.age
//	<uuid>/info.json
package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// MaxFiles is the most files one dump may hold. Gather stops adding files at
// this count (and records what it left out); decrypt refuses an archive with
// more members unless the user raises its --max-files.
const MaxFiles = 200_000

// DirName is the top directory of a dump's tree: dump-<uuid>.
func DirName(id string) string { return "dump-" + id }

// MemberPrefix starts every member name in a dump's tar archive.
func MemberPrefix(id string) string { return DirName(id) + "/" }

// PackedName is the file name of an unencrypted dump (gather without --encrypt).
func PackedName(id string) string { return DirName(id) + ".tar.zst" }

// Suffixes of the local sealed files.
const (
	PayloadSuffix = ".tar.zst.age"
	KeySuffix     = ".key.age"
	InfoSuffix    = ".json"
)

// Object names of one dump in a bucket, under "<uuid>/".
const (
	PayloadObject = "dump" + PayloadSuffix
	KeyObject     = "key.age"
	InfoObject    = "info.json"
)

// Object is the full name of one of a dump's objects in a bucket.
func Object(id, name string) string { return id + "/" + name }

// Node parts of a cluster dump, under "<uuid>/": each node's own sealed
// payload and info, uploaded by the node.
func NodePayloadObject(node string) string { return "nodes/" + node + PayloadSuffix }

// NodeInfoObject is the info of a node part; see [NodePayloadObject].
func NodeInfoObject(node string) string { return "nodes/" + node + InfoSuffix }

// CheckNodeName accepts a Kubernetes node name (a DNS subdomain): it becomes
// an object name and a directory, so nothing else may pass.
func CheckNodeName(s string) error {
	ok := s != "" && len(s) <= 253 && s[0] != '.' && s[0] != '-' && s[len(s)-1] != '.' && s[len(s)-1] != '-' && !strings.Contains(s, "..")
	for _, r := range s {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}
	if !ok {
		return fmt.Errorf("invalid node name %s: want a Kubernetes node name (lowercase letters, digits, '-' and '.')", Quote(s))
	}
	return nil
}

// MinPartSize is the smallest part --split accepts.
const MinPartSize = 1 << 20

// MaxParts bounds --split: part numbers have three digits, so that
// `cat dump-<uuid>.tar.zst.age.*` puts them in order.
const MaxParts = 999

// PartSuffix is appended to the payload name (local or in a bucket) for
// part n (1-based) of a split payload: ".001".
func PartSuffix(n int) string { return fmt.Sprintf(".%03d", n) }

// IsPayloadObject reports whether an object name within a dump is its
// payload or a part of it: dump.tar.zst.age or dump.tar.zst.age.001.
func IsPayloadObject(name string) bool {
	rest, ok := strings.CutPrefix(name, PayloadObject)
	return ok && (rest == "" || rest[0] == '.' && isPartNumber(rest[1:]))
}

// Local names the files of one sealed dump in a directory.
type Local struct {
	Dir     string
	Payload string // dump-<uuid>.tar.zst.age; see Parts for a split one
	Key     string
	Info    string
}

// LocalFiles returns the paths of dump id's sealed files in dir.
func LocalFiles(dir, id string) Local {
	return localFromStem(dir, DirName(id))
}

func localFromStem(dir, stem string) Local {
	return Local{
		Dir:     dir,
		Payload: filepath.Join(dir, stem+PayloadSuffix),
		Key:     filepath.Join(dir, stem+KeySuffix),
		Info:    filepath.Join(dir, stem+InfoSuffix),
	}
}

// Part is the path of part n of a split payload.
func (l Local) Part(n int) string { return l.Payload + PartSuffix(n) }

// Payloads lists the payload files of a dump described by info: the one
// payload, or every part of a split one, in order.
func (l Local) Payloads(info *Info) []string {
	if info == nil || !info.Split() {
		return []string{l.Payload}
	}
	paths := make([]string, len(info.PayloadParts))
	for i := range paths {
		paths[i] = l.Part(i + 1)
	}
	return paths
}

// FindLocal finds the siblings of a sealed payload from its path:
// dump-<uuid>.tar.zst.age or one of its parts (dump-<uuid>.tar.zst.age.002).
// id is the uuid read from the name, or "" when the file was renamed; then
// only its info tells which dump it is.
func FindLocal(path string) (l Local, id string, err error) {
	dir, base := filepath.Split(path)
	if i := strings.LastIndexByte(base, '.'); i > 0 && isPartNumber(base[i+1:]) {
		base = base[:i]
	}
	stem, ok := strings.CutSuffix(base, PayloadSuffix)
	if !ok || stem == "" {
		return Local{}, "", fmt.Errorf("%s is not a sealed dump: want a dump-<uuid>%s file (or one of its parts, %s.001)", path, PayloadSuffix, PayloadSuffix)
	}
	if rest, ok := strings.CutPrefix(stem, DirName("")); ok && CheckUUID(rest) == nil {
		id = rest
	}
	return localFromStem(filepath.Clean(dir), stem), id, nil
}

func isPartNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && len(s) == 3 && n >= 1
}

// CheckUUID accepts only the canonical lowercase form, because the uuid is
// used in file, directory and object names.
func CheckUUID(s string) error {
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return fmt.Errorf("invalid uuid %s: want the form 123e4567-e89b-12d3-a456-426614174000", Quote(s))
	}
	return nil
}

// ReadLocal finds the sealed files of a dump from the path of its payload
// (or of one part of it) and reads their info, checking that every payload
// file is there with the size the info records. Key is "" when there is no
// key file (a nometa dump). A missing file gives an error wrapping
// fs.ErrNotExist.
func ReadLocal(path string) (Local, Info, error) {
	l, id, err := FindLocal(path)
	if err != nil {
		return l, Info{}, err
	}
	info, err := ReadInfoFile(l.Info)
	if err != nil {
		return l, info, fmt.Errorf("the info file next to the dump is needed: %w", err)
	}
	if id != "" && info.UUID != id {
		return l, info, fmt.Errorf("%s describes dump %s, not %s; use the files of one dump together", l.Info, info.UUID, id)
	}
	want := []int64{info.PayloadSize}
	if info.Split() {
		want = want[:0]
		for _, p := range info.PayloadParts {
			want = append(want, p.Size)
		}
	}
	for i, p := range l.Payloads(&info) {
		fi, err := os.Stat(p)
		if err != nil {
			return l, info, fmt.Errorf("payload of dump %s: %w", info.UUID, err)
		}
		if !fi.Mode().IsRegular() || fi.Size() != want[i] {
			return l, info, fmt.Errorf("%s is %d bytes but %s says %d: it was cut or altered; copy or seal the dump again", p, fi.Size(), l.Info, want[i])
		}
	}
	switch fi, err := os.Lstat(l.Key); {
	case errors.Is(err, fs.ErrNotExist):
		l.Key = ""
	case err != nil:
		return l, info, err
	case !fi.Mode().IsRegular():
		return l, info, fmt.Errorf("%s is not a regular file (%s); a dump's files are plain files, copy them again", l.Key, fi.Mode().Type())
	}
	return l, info, nil
}
