package decrypt

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// Find resolves a full uuid, a unique prefix, or a glob (path.Match syntax)
// against the complete dumps in a store. Several matches are all returned,
// oldest first, for the caller to list or pick from. Dumps whose upload did
// not finish (no info.json yet) are never returned; if they are the only
// match, the error says so.
func Find(ctx context.Context, s upload.Store, pattern string) ([]upload.DumpRef, error) {
	pattern = strings.ToLower(strings.TrimSpace(pattern))
	if pattern == "" {
		return nil, errors.New("find dump: no uuid given; pass a uuid, a prefix of one, or a glob (dump list --from ... shows what is there)")
	}
	match := func(id string) bool { return strings.HasPrefix(id, pattern) }
	if strings.ContainsAny(pattern, `*?[\`) {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("find dump: bad pattern %q: %v", pattern, err)
		}
		match = func(id string) bool { ok, _ := path.Match(pattern, id); return ok }
	}
	refs, err := upload.ListDumps(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("find dump: %w", err)
	}
	var found, incomplete []upload.DumpRef
	for _, r := range refs {
		switch {
		case layout.CheckUUID(r.UUID) != nil, !match(r.UUID):
		case !r.Complete:
			incomplete = append(incomplete, r)
		case r.UUID == pattern:
			return []upload.DumpRef{r}, nil
		default:
			found = append(found, r)
		}
	}
	switch {
	case len(found) > 0:
		return found, nil
	case len(incomplete) == 1:
		return nil, incompleteError(incomplete[0].UUID, s)
	case len(incomplete) > 1:
		return nil, fmt.Errorf("%d dumps matching %q in %s are incomplete: their upload did not finish (no %s); ask the customer to run the dump upload command they were shown again", len(incomplete), pattern, s, layout.InfoObject)
	}
	return nil, fmt.Errorf("no dump matches %q in %s (dump list --from %s shows what is there)", pattern, s, s)
}
