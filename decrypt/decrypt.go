package decrypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/dumptool/dump/crypto"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// ErrNoKey is wrapped when a dump was sealed without its key file (nometa)
// and no session key was given.
var ErrNoKey = errors.New("nometa")

// Options configure [FromStore] and [FromFile].
type Options struct {
	Identities  []age.Identity      // support identities, to open key.age
	SessionKey  *age.X25519Identity // --key, for nometa dumps; key.age is then not used
	OutDir      string              // the dump goes to OutDir/<uuid>; empty means "."
	Limits      Limits
	Concurrency int // ranges downloaded at once from an upload.RangeReader (default 4)
	// Wrap, if set, observes the payload bytes (progress); size is -1 when
	// unknown.
	Wrap func(name string, r io.Reader, size int64) io.Reader
	// Node, if set, opens only that node's part of a cluster dump, into
	// OutDir/<uuid>/nodes/<node>.
	Node string

	chunkSize int64 // tests make it small
}

// Result describes an extracted dump.
type Result struct {
	UUID  string
	Dir   string // OutDir/<uuid>
	Info  layout.Info
	Stats Stats
	// NodeErrors say which node parts of a cluster dump could not be opened;
	// the rest of the dump is extracted all the same.
	NodeErrors []error
}

// FromStore downloads dump id (a full uuid, see [Find]) from s, checks it
// against its info.json, opens it and extracts it into opts.OutDir/<id>.
// It never overwrites: an existing target is an error. On any error nothing
// is left in opts.OutDir.
func FromStore(ctx context.Context, s upload.Store, id string, opts Options) (*Result, error) {
	target, err := prepare(id, opts)
	if err != nil {
		return nil, err
	}
	info, err := storeInfo(ctx, s, id)
	if err != nil {
		return nil, err
	}
	session, err := storeSession(ctx, s, id, info, opts)
	if err != nil {
		return nil, err
	}
	if opts.Node != "" {
		return oneNode(ctx, s, id, info, session, target, opts)
	}
	pieces, err := storePieces(ctx, s, id, &info, opts)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	res, err := unpack(ctx, pieces, id, &info, session, target, opts)
	if err != nil {
		return nil, err
	}
	for _, n := range info.Nodes {
		if n.Error != "" {
			continue // the cluster part's report says why
		}
		nr, err := unpackNode(ctx, s, id, n.Name, session, filepath.Join(target, "nodes", n.Name), opts)
		if err != nil {
			res.NodeErrors = append(res.NodeErrors, err)
			continue
		}
		res.Stats.Files += nr.Stats.Files
		res.Stats.Bytes += nr.Stats.Bytes
	}
	return res, nil
}

// oneNode opens only the part of opts.Node.
func oneNode(ctx context.Context, s upload.Store, id string, info layout.Info, session age.Identity, target string, opts Options) (*Result, error) {
	var names []string
	for _, n := range info.Nodes {
		if n.Name != opts.Node {
			names = append(names, n.Name)
			continue
		}
		if n.Error != "" {
			return nil, fmt.Errorf("decrypt %s: node %s uploaded no part: %s", id, n.Name, n.Error)
		}
		return unpackNode(ctx, s, id, n.Name, session, filepath.Join(target, "nodes", n.Name), opts)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("decrypt %s: --node %s: this is not a cluster dump; leave out --node", id, layout.Quote(opts.Node))
	}
	return nil, fmt.Errorf("decrypt %s: --node %s: no such node in this dump; it has %s", id, layout.Quote(opts.Node), strings.Join(names, ", "))
}

// unpackNode opens the part of node name of cluster dump id into dir.
func unpackNode(ctx context.Context, s upload.Store, id, name string, session age.Identity, dir string, opts Options) (*Result, error) {
	rc, err := s.Get(ctx, layout.Object(id, layout.NodeInfoObject(name)))
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: node %s: %w", id, name, err)
	}
	info, err := layout.ReadInfo(rc)
	rc.Close()
	if err == nil && info.UUID != id {
		err = fmt.Errorf("its info describes dump %s", layout.Quote(info.UUID))
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: node %s: %w", id, name, err)
	}
	obj := layout.Object(id, layout.NodePayloadObject(name))
	pc := piece{name: obj, size: info.PayloadSize, sha256: info.PayloadSHA256,
		open: func() (io.ReadCloser, error) { return openStorePayload(ctx, s, obj, info.PayloadSize, opts) }}
	res, err := unpack(ctx, []piece{pc}, id, &info, session, dir, opts)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return res, nil
}

// NodePart opens a node's sealed part of cluster dump id from the file
// payloadPath (in an offline cluster dump the node wrote it to its stdout,
// so there is no info to check it against: the age authentication is the
// check) with the session identity, and extracts it safely into dir.
func NodePart(ctx context.Context, payloadPath, id string, session age.Identity, dir string, opts Options) (*Result, error) {
	pc := piece{name: filepath.Base(payloadPath), size: -1, open: openFile(payloadPath)}
	return unpack(ctx, []piece{pc}, id, nil, session, dir, opts)
}

func openStorePayload(ctx context.Context, s upload.Store, name string, size int64, opts Options) (io.ReadCloser, error) {
	chunk := opts.chunkSize
	if chunk <= 0 {
		chunk = defaultChunkSize
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	if rr, ok := s.(upload.RangeReader); ok && size > chunk && conc > 1 {
		return newRangedReader(ctx, rr, name, size, chunk, conc), nil
	}
	return s.Get(ctx, name)
}

// FromFile opens a local sealed dump: payloadPath is dump-<uuid>.tar.zst.age
// and its siblings dump-<uuid>.key.age and dump-<uuid>.json are found by
// name. The uuid comes from the info or, without one, from the file name;
// without an info the size and sha256 cannot be checked (a warning says so).
func FromFile(ctx context.Context, payloadPath string, opts Options) (*Result, error) {
	files, id, err := layout.FindLocal(payloadPath)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	info, err := fileInfo(files.Info, id)
	switch {
	case errors.Is(err, fs.ErrNotExist) && id != "":
		slog.Warn("decrypt: no info file next to the payload: its size and sha256 are not checked", "missing", files.Info)
		info = nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("decrypt %s: cannot tell which dump it is: %s is missing and the name is not dump-<uuid>%s; put them side by side or rename the file", payloadPath, files.Info, layout.PayloadSuffix)
	case err != nil:
		return nil, err
	default:
		id = info.UUID
	}
	target, err := prepare(id, opts)
	if err != nil {
		return nil, err
	}
	session, err := fileSession(files.Key, id, info, opts)
	if err != nil {
		return nil, err
	}
	pieces, err := filePieces(files, filepath.Clean(payloadPath), info)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	return unpack(ctx, pieces, id, info, session, target, opts)
}

// prepare checks the uuid and that the target does not exist yet, before
// anything is downloaded.
func prepare(id string, opts Options) (string, error) {
	if err := layout.CheckUUID(id); err != nil {
		return "", fmt.Errorf("decrypt: %w", err)
	}
	out := opts.OutDir
	if out == "" {
		out = "."
	}
	target := filepath.Join(out, id)
	if err := notExists(target); err != nil {
		return "", fmt.Errorf("decrypt %s: %w", id, err)
	}
	return target, nil
}

// unpack streams the payload through the checks, the decryption and the
// extraction. info is nil when it is unknown (a local file without one).
func unpack(ctx context.Context, pieces []piece, id string, info *layout.Info, session age.Identity, target string, opts Options) (*Result, error) {
	res := &Result{UUID: id, Dir: target}
	if info != nil {
		res.Info = *info
	}
	src := newPiecesReader(pieces, info != nil && info.Split(), opts.Wrap)
	defer src.Close()
	pr, err := crypto.OpenPayload(src, session)
	if err == nil {
		res.Stats, err = Extract(ctx, pr, target, layout.MemberPrefix(id), opts.Limits)
		// Extract read pr to io.EOF, which authenticated it to its end, so
		// Close should only release the decoder; if it reports a damaged end
		// anyway, the tree must not stay looking complete.
		if cerr := pr.Close(); err == nil && cerr != nil {
			os.RemoveAll(target)
			err = cerr
		}
	}
	if err != nil {
		// A download error or a checksum mismatch says more than the
		// layers it went through.
		if serr := src.blame(); serr != nil {
			err = serr
		}
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	return res, nil
}

func storeInfo(ctx context.Context, s upload.Store, id string) (layout.Info, error) {
	info, err := upload.ReadInfo(ctx, s, id)
	if errors.Is(err, upload.ErrNotExist) {
		return info, incompleteError(id, s)
	}
	if err != nil {
		return info, fmt.Errorf("decrypt %s: %w", id, err)
	}
	return info, nil
}

func fileInfo(infoPath, id string) (*layout.Info, error) {
	info, err := layout.ReadInfoFile(infoPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	if id != "" && info.UUID != id {
		return nil, fmt.Errorf("decrypt: %s describes dump %s, not %s; use the files of one dump together", infoPath, info.UUID, id)
	}
	return &info, nil
}

func storeSession(ctx context.Context, s upload.Store, id string, info layout.Info, opts Options) (*age.X25519Identity, error) {
	if opts.SessionKey != nil {
		return opts.SessionKey, nil
	}
	rc, err := s.Get(ctx, layout.Object(id, layout.KeyObject))
	switch {
	case errors.Is(err, upload.ErrNotExist) && info.KeyIncluded:
		return nil, fmt.Errorf("dump %s: %s is missing from %s although it was uploaded with it; ask the customer to upload again, or for the session key (--key)", id, layout.KeyObject, s)
	case errors.Is(err, upload.ErrNotExist):
		return nil, nometa(id, "uploaded")
	case err != nil:
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer rc.Close()
	return openKey(rc, id, &info, opts.Identities)
}

func fileSession(keyPath, id string, info *layout.Info, opts Options) (*age.X25519Identity, error) {
	if opts.SessionKey != nil {
		return opts.SessionKey, nil
	}
	f, err := layout.OpenRegular(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nometa(id, "sealed")
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer f.Close()
	return openKey(f, id, info, opts.Identities)
}

func nometa(id, done string) error {
	return fmt.Errorf("dump %s was %s without its key (%w): ask the customer for the key=AGE-SECRET-KEY-1... line they were shown and pass --key", id, done, ErrNoKey)
}

// openKey opens key.age, naming the recipients it was sealed to when none
// of the identities fits.
func openKey(r io.Reader, id string, info *layout.Info, ids []age.Identity) (*age.X25519Identity, error) {
	k, err := crypto.OpenKey(r, ids...)
	if errors.Is(err, crypto.ErrWrongIdentity) {
		to := "recipients not recorded"
		if info != nil && len(info.Recipients) > 0 {
			var quoted []string
			for _, r := range info.Recipients[:min(len(info.Recipients), 5)] {
				quoted = append(quoted, layout.Quote(r))
			}
			if more := len(info.Recipients) - len(quoted); more > 0 {
				quoted = append(quoted, fmt.Sprintf("%d more", more))
			}
			to = "sealed to " + strings.Join(quoted, ", ")
		}
		return nil, fmt.Errorf("decrypt %s: %w (%s): pass the matching support identity with --identity, or the session key with --key", id, crypto.ErrWrongIdentity, to)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	return k, nil
}

// incompleteError is the error for a dump whose info.json is not in the store.
func incompleteError(id string, s upload.Store) error {
	return fmt.Errorf("dump %s in %s is incomplete: its upload did not finish (no %s); ask the customer to run the dump upload command they were shown again", id, s, layout.InfoObject)
}
