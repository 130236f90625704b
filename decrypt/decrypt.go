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
	Concurrency int         // ranges downloaded at once from an upload.RangeReader (default 4)
	Wrap        upload.Wrap // optional: observe the payload bytes (progress)

	chunkSize int64 // tests make it small
}

// Result describes an extracted dump.
type Result struct {
	UUID  string
	Dir   string // OutDir/<uuid>
	Info  crypto.Info
	Stats Stats
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
	name := id + "/" + upload.PayloadName
	obj, err := s.Stat(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	if obj.Size != info.PayloadSize {
		return nil, fmt.Errorf("decrypt %s: %w: %s in %s is %d bytes, info.json says %d: the upload was cut or altered; ask the customer to upload it again", id, ErrChecksum, upload.PayloadName, s, obj.Size, info.PayloadSize)
	}
	src, err := openStorePayload(ctx, s, name, info.PayloadSize, opts)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer src.Close()
	return unpack(ctx, src, name, id, &info, session, target, opts)
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
	dir, base := filepath.Split(payloadPath)
	stem, ok := strings.CutSuffix(base, crypto.PayloadSuffix)
	if !ok {
		return nil, fmt.Errorf("decrypt %s: not a sealed dump: want a dump-<uuid>%s file", payloadPath, crypto.PayloadSuffix)
	}
	id := strings.TrimPrefix(stem, "dump-")
	if crypto.CheckUUID(id) != nil {
		id = ""
	}
	infoPath := filepath.Join(dir, stem+crypto.InfoSuffix)
	info, err := fileInfo(infoPath, id)
	switch {
	case errors.Is(err, fs.ErrNotExist) && id != "":
		slog.Warn("decrypt: no info file next to the payload: its size and sha256 are not checked", "missing", infoPath)
		info = nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("decrypt %s: cannot tell which dump it is: %s is missing and the name is not dump-<uuid>%s; put them side by side or rename the file", payloadPath, infoPath, crypto.PayloadSuffix)
	case err != nil:
		return nil, err
	default:
		id = info.UUID
	}
	target, err := prepare(id, opts)
	if err != nil {
		return nil, err
	}
	session, err := fileSession(filepath.Join(dir, stem+crypto.KeySuffix), id, info, opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(payloadPath)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer f.Close()
	if info != nil {
		if fi, err := f.Stat(); err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", id, err)
		} else if fi.Size() != info.PayloadSize {
			return nil, fmt.Errorf("decrypt %s: %w: %s is %d bytes, its info says %d: the file was cut or altered; copy it again", id, ErrChecksum, payloadPath, fi.Size(), info.PayloadSize)
		}
	}
	return unpack(ctx, f, base, id, info, session, target, opts)
}

// prepare checks the uuid and that the target does not exist yet, before
// anything is downloaded.
func prepare(id string, opts Options) (string, error) {
	if err := crypto.CheckUUID(id); err != nil {
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
func unpack(ctx context.Context, src io.Reader, name, id string, info *crypto.Info, session age.Identity, target string, opts Options) (*Result, error) {
	res := &Result{UUID: id, Dir: target}
	var v *verifyReader
	if info != nil {
		res.Info = *info
		if opts.Wrap != nil {
			src = opts.Wrap(name, src, info.PayloadSize)
		}
		v = newVerifyReader(src, info.PayloadSize, info.PayloadSHA256)
		src = v
	} else if opts.Wrap != nil {
		src = opts.Wrap(name, src, -1)
	}
	pr, err := crypto.OpenPayload(src, session)
	if err == nil {
		res.Stats, err = Extract(ctx, pr, target, "dump-"+id+"/", opts.Limits)
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
		if v != nil && v.err != nil {
			err = v.err
		}
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	return res, nil
}

func storeInfo(ctx context.Context, s upload.Store, id string) (crypto.Info, error) {
	rc, err := s.Get(ctx, id+"/"+upload.InfoName)
	if errors.Is(err, upload.ErrNotExist) {
		return crypto.Info{}, incompleteError(id, s)
	}
	if err != nil {
		return crypto.Info{}, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer rc.Close()
	info, err := crypto.ReadInfo(rc)
	if err != nil {
		return info, fmt.Errorf("decrypt %s: %w", id, err)
	}
	if info.UUID != id {
		return info, fmt.Errorf("decrypt %s: its %s describes dump %s; the store was altered, ask the customer to upload again", id, upload.InfoName, info.UUID)
	}
	return info, nil
}

func fileInfo(infoPath, id string) (*crypto.Info, error) {
	f, err := os.Open(infoPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	defer f.Close()
	info, err := crypto.ReadInfo(f)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", infoPath, err)
	}
	if id != "" && info.UUID != id {
		return nil, fmt.Errorf("decrypt: %s describes dump %s, not %s; use the files of one dump together", infoPath, info.UUID, id)
	}
	return &info, nil
}

func storeSession(ctx context.Context, s upload.Store, id string, info crypto.Info, opts Options) (*age.X25519Identity, error) {
	if opts.SessionKey != nil {
		return opts.SessionKey, nil
	}
	rc, err := s.Get(ctx, id+"/"+upload.KeyName)
	switch {
	case errors.Is(err, upload.ErrNotExist) && info.KeyIncluded:
		return nil, fmt.Errorf("dump %s: %s is missing from %s although it was uploaded with it; ask the customer to upload again, or for the session key (--key)", id, upload.KeyName, s)
	case errors.Is(err, upload.ErrNotExist):
		return nil, nometa(id, "uploaded")
	case err != nil:
		return nil, fmt.Errorf("decrypt %s: %w", id, err)
	}
	defer rc.Close()
	return openKey(rc, id, &info, opts.Identities)
}

func fileSession(keyPath, id string, info *crypto.Info, opts Options) (*age.X25519Identity, error) {
	if opts.SessionKey != nil {
		return opts.SessionKey, nil
	}
	f, err := os.Open(keyPath)
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
func openKey(r io.Reader, id string, info *crypto.Info, ids []age.Identity) (*age.X25519Identity, error) {
	k, err := crypto.OpenKey(r, ids...)
	if errors.Is(err, crypto.ErrWrongIdentity) {
		to := "recipients not recorded"
		if info != nil && len(info.Recipients) > 0 {
			to = "sealed to " + strings.Join(info.Recipients, ", ")
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
	return fmt.Errorf("dump %s in %s is incomplete: its upload did not finish (no %s); ask the customer to run the dump upload command they were shown again", id, s, upload.InfoName)
}
