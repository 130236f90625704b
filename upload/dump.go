package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// PayloadParts, when set, are the parts of a split payload in order,
	// stored as dump.tar.zst.age.001, ...; PayloadPath is then not used.
	PayloadParts []string
	KeyPath      string
	InfoPath     string
}

// Wrap lets a caller observe or throttle the bytes of each object as the
// store reads them (progress bars); name is the object name.
type Wrap func(name string, src Source) Source

// FileSource is the content of an open file, from its start to its size now.
func FileSource(f *os.File) (Source, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f, 0, fi.Size()), nil
}

// PutDump uploads the parts of a dump under "<uuid>/": the payload, then the
// key, then info.json last. An object that is already stored with the same size
// is taken as done by an earlier attempt, so re-running after a failure resumes.
func PutDump(ctx context.Context, s Store, uuid string, p Parts, wrap Wrap) error {
	type object struct{ name, path string }
	order := []object{{layout.PayloadObject, p.PayloadPath}}
	if len(p.PayloadParts) > 0 {
		order = order[:0]
		for i, part := range p.PayloadParts {
			order = append(order, object{layout.PayloadObject + layout.PartSuffix(i+1), part})
		}
	}
	order = append(order, object{layout.KeyObject, p.KeyPath}, object{layout.InfoObject, p.InfoPath})
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

// PutNodePart uploads one node's part of cluster dump uuid: its payload,
// then its info (layout.NodePayloadObject, layout.NodeInfoObject).
func PutNodePart(ctx context.Context, s Store, uuid, node, payloadPath, infoPath string, wrap Wrap) error {
	if err := putFile(ctx, s, layout.Object(uuid, layout.NodePayloadObject(node)), payloadPath, wrap); err != nil {
		return err
	}
	return putFile(ctx, s, layout.Object(uuid, layout.NodeInfoObject(node)), infoPath, wrap)
}

func putFile(ctx context.Context, s Store, name, file string, wrap Wrap) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer f.Close()
	src, err := FileSource(f)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if wrap != nil {
		src = wrap(name, src)
	}
	err = s.Put(ctx, name, src)
	if !errors.Is(err, ErrExists) {
		return err
	}
	// Put looked before sending (or the server refused at once), so only a
	// name already taken costs this second look.
	have, serr := s.Stat(ctx, name)
	switch {
	case serr != nil:
		return err
	case have.Size == src.Size():
		return nil
	}
	return fmt.Errorf("upload %s to %s: a different object of %d bytes is already there (is the uuid reused?): %w", name, s, have.Size, ErrExists)
}

// CheckDestination asks s for the objects of dump uuid, so that a wrong URL,
// refused credentials or a missing bucket are found in seconds, before a long
// gather. It fails if the dump is already there. Credentials that may not
// list (write-only ones, an upload ticket: ErrPermission) pass; the upload
// will tell.
func CheckDestination(ctx context.Context, s Store, uuid string) error {
	objs, err := s.List(ctx, uuid+"/")
	switch {
	case errors.Is(err, ErrPermission):
		return nil
	case err != nil:
		return err
	case len(objs) > 0:
		return fmt.Errorf("dump %s is already in %s: use a fresh uuid: %w", uuid, s, ErrExists)
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
		return nil, err
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
		switch {
		case base == layout.InfoObject:
			ref.Complete = true
		case base == layout.KeyObject:
			ref.KeyIncluded = true
		case layout.IsPayloadObject(base):
			ref.PayloadSize += o.Size // a split payload is the sum of its parts
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
