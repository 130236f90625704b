package decrypt

import (
	"context"
	"strings"
	"testing"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload/file"
)

func TestFind(t *testing.T) {
	ctx := context.Background()
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const (
		a1 = "aaaaaaaa-0000-4000-8000-000000000001"
		a2 = "aaaaaaaa-0000-4000-8000-000000000002"
		b1 = "bbbbbbbb-0000-4000-8000-000000000003"
		c1 = "cccccccc-0000-4000-8000-000000000004" // incomplete: no info.json
		a3 = "aaaaaaaa-1111-4000-8000-000000000005" // incomplete
	)
	put := func(name string) {
		if err := s.Put(ctx, name, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{a1, a2, b1} {
		put(id + "/" + layout.PayloadObject)
		put(id + "/" + layout.InfoObject)
	}
	put(c1 + "/" + layout.PayloadObject)
	put(a3 + "/" + layout.PayloadObject)

	cases := []struct {
		pattern string
		want    []string
		err     string
	}{
		{pattern: b1, want: []string{b1}},
		{pattern: "bbbbbbbb", want: []string{b1}},
		{pattern: "BBBBBBBB", want: []string{b1}},
		{pattern: "aaaaaaaa", want: []string{a1, a2}},
		{pattern: "aaaaaaaa-0000-4000-8000-000000000001", want: []string{a1}},
		{pattern: "*0002", want: []string{a2}},
		{pattern: "a*", want: []string{a1, a2}},
		{pattern: "*", want: []string{a1, a2, b1}},
		{pattern: "????????-0000-*-00000000000[13]", want: []string{a1, b1}},
		{pattern: "zzzz", err: `no dump matches "zzzz" in file://`},
		{pattern: "z*", err: "dump list --from"},
		{pattern: "cccc", err: c1 + " in file://"},
		{pattern: "c*", err: "upload did not finish"},
		{pattern: "[", err: "bad pattern"},
		{pattern: " ", err: "no uuid given"},
	}
	for _, tc := range cases {
		refs, err := Find(ctx, s, tc.pattern)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Find(%q) error = %v, want one containing %q", tc.pattern, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Find(%q): %v", tc.pattern, err)
			continue
		}
		var got []string
		for _, r := range refs {
			if !r.Complete {
				t.Errorf("Find(%q) offered incomplete dump %s", tc.pattern, r.UUID)
			}
			got = append(got, r.UUID)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Find(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}
