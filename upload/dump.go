package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dumptool/dump/internal/layout"
)

// Parts are the local files of one sealed dump. KeyPath is empty for nometa dumps.
type Parts struct {
	PayloadPath string
	KeyPath     string
	InfoPath    string
}

// Wrap lets a caller observe or throttle the bytes of each object as they are
// read (progress bars); name is the object name.
type Wrap func(name string, r io.Reader, size int64) io.Reader

// PutDump uploads the parts of a dump under "<uuid>/": the payload, then the
// key, then info.json last. An object that is already stored with the same size
// is taken as done by an earlier attempt, so re-running after a failure resumes.
func PutDump(ctx context.Context, s Store, uuid string, p Parts, wrap Wrap) error {
	order := []struct{ name, path string }{
		{layout.PayloadObject, p.PayloadPath},
		{layout.KeyObject, p.KeyPath},
		{layout.InfoObject, p.InfoPath},
	}
	for _, o := range order {
		if o.path == "" {
			continue
		}
		if err := putFile(ctx, s, layout.Object(uuid, o.name), o.path, wrap); err != nil {
			return err
		}
	}
	return nil
}

func putFile(ctx context.Context, s Store, name, file string, wrap Wrap) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	// A failed Stat is not fatal: write-only credentials (and upload tickets)
	// cannot read, and Put reports any real problem itself.
	if have, err := s.Stat(ctx, name); err == nil {
		if have.Size == st.Size() {
			return nil
		}
		return fmt.Errorf("upload %s to %s: a different object of %d bytes is already there (is the uuid reused?): %w", name, s, have.Size, ErrExists)
	} else if !errors.Is(err, ErrNotExist) {
		slog.Debug("stat before upload failed; uploading anyway", "object", name, "err", err)
	}
	var r io.Reader = f
	if wrap != nil {
		r = wrap(name, f, st.Size())
	}
	if err := s.Put(ctx, name, r, st.Size()); err != nil {
		return fmt.Errorf("upload %s to %s: %w", name, s, err)
	}
	return nil
}

// ReadInfo reads and validates the info.json of dump id; ErrNotExist
// (wrapped) if the dump has none, i.e. its upload did not finish.
func ReadInfo(ctx context.Context, s Store, id string) (layout.Info, error) {
	rc, err := s.Get(ctx, layout.Object(id, layout.InfoObject))
	if err != nil {
		return layout.Info{}, err
	}
	defer rc.Close()
	info, err := layout.ReadInfo(rc)
	if err != nil {
		return info, fmt.Errorf("%s of dump %s: %w", layout.InfoObject, id, err)
	}
	if info.UUID != id {
		return info, fmt.Errorf("the %s of dump %s describes dump %s; the store was altered, ask the customer to upload again", layout.InfoObject, id, layout.Quote(info.UUID))
	}
	return info, nil
}

// DumpRef is one dump found in a store.
type DumpRef struct {
	UUID        string
	Complete    bool // info.json is present
	KeyIncluded bool // key.age is present
	PayloadSize int64
	Modified    time.Time // of the newest part
}

// ListDumps groups a store's objects by uuid, sorted by time then uuid.
func ListDumps(ctx context.Context, s Store) ([]DumpRef, error) {
	objs, err := s.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s, err)
	}
	byID := map[string]*DumpRef{}
	for _, o := range objs {
		dir, base := path.Split(o.Name)
		id := strings.TrimSuffix(dir, "/")
		if id == "" || strings.Contains(id, "/") {
			continue
		}
		ref := byID[id]
		if ref == nil {
			ref = &DumpRef{UUID: id}
			byID[id] = ref
		}
		switch base {
		case layout.InfoObject:
			ref.Complete = true
		case layout.KeyObject:
			ref.KeyIncluded = true
		case layout.PayloadObject:
			ref.PayloadSize = o.Size
		default:
			continue
		}
		if o.Modified.After(ref.Modified) {
			ref.Modified = o.Modified
		}
	}
	refs := make([]DumpRef, 0, len(byID))
	for _, r := range byID {
		refs = append(refs, *r)
	}
	sort.Slice(refs, func(i, j int) bool {
		if !refs[i].Modified.Equal(refs[j].Modified) {
			return refs[i].Modified.Before(refs[j].Modified)
		}
		return refs[i].UUID < refs[j].UUID
	})
	return refs, nil
}
