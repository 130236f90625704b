package gather

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"syscall"
	"unicode"

	"github.com/dumptool/dump/gather/redact"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
)

// errorPath is where the stderr of a command writing output goes: the same
// name with its extension replaced by ".error".
func errorPath(output string) string {
	base := path.Base(output)
	if ext := path.Ext(base); ext != "" && ext != base {
		return strings.TrimSuffix(output, ext) + ".error"
	}
	return output + ".error"
}

// stream redacts rd into a tail buffer capped at limit, for writeOutput to
// write (and record its redactions).
func (s *runState) stream(rel string, rd io.Reader, limit int64) (*tailBuffer, error) {
	tb := newTailBuffer(limit)
	tb.spillDir = s.dir
	counts, err := s.red.Stream(tb, rd, rel) // its error already names rel
	tb.counts = counts
	return tb, err
}

// errBudget means the run already wrote far more than --max-size: the hard
// stop during collection (a directory of pod logs can be huge); the budget
// pass after collection then trims by priority down to --max-size itself.
var errBudget = errors.New("not written: the dump exceeded twice --max-size during collection")

// maxEntries is how many files and directories collectors may put in the
// tree: what decrypt accepts by default (layout.MaxFiles members of any type),
// less room for the files dump writes itself.
var maxEntries = layout.MaxFiles - 100

// errFileLimit means the tree already holds maxEntries files and directories.
var errFileLimit = fmt.Errorf("left out: the dump reached its limit of %d files (what decrypt accepts)", layout.MaxFiles)

// addEntry counts rel and its new parent directories against maxEntries,
// and reports whether they fit.
func (s *runState) addEntry(rel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dirs []string
	for d := path.Dir(rel); d != "." && !s.dirs[d]; d = path.Dir(d) {
		dirs = append(dirs, d)
	}
	if s.files[rel] {
		return true // rewritten, as a .error file can be
	}
	if s.entries+1+len(dirs) > maxEntries {
		return false
	}
	s.entries += 1 + len(dirs)
	s.files[rel] = true
	for _, d := range dirs {
		s.dirs[d] = true
	}
	return true
}

// treeFull reports whether the tree holds maxEntries files and directories.
func (s *runState) treeFull() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries >= maxEntries
}

// maxDroppedListed bounds the files listed one by one as dropped during
// collection for one reason; the rest are counted in one line per reason.
const maxDroppedListed = 100

// drop records a file not written during collection.
func (s *runState) drop(d Dropped) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropCount[d.Reason]++; s.dropCount[d.Reason] <= maxDroppedListed {
		s.dropped = append(s.dropped, d)
	}
}

// unlistedDrops are the lines counting the files drop did not list.
func (s *runState) unlistedDrops() []Dropped {
	var ds []Dropped
	for _, reason := range slices.Sorted(maps.Keys(s.dropCount)) {
		if more := s.dropCount[reason] - maxDroppedListed; more > 0 {
			action := "deleted"
			if reason == errFileLimit.Error() {
				action = "left out"
			}
			ds = append(ds, Dropped{Path: "(not listed)", Action: action, Reason: fmt.Sprintf("%d more files: %s", more, reason)})
		}
	}
	return ds
}

// mkdirAll makes a directory of the tree (0700) and its parents, once.
func (s *runState) mkdirAll(dir string) error {
	s.mu.Lock()
	made := s.made[dir]
	s.mu.Unlock()
	if made {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(s.dir, filepath.FromSlash(dir)), 0o700); err != nil {
		return err
	}
	s.mu.Lock()
	s.made[dir] = true
	s.mu.Unlock()
	return nil
}

// writeOutput writes a kept buffer to rel in the tree (0600, parents 0700) and
// records it in res as an output, or as its error file.
func (s *runState) writeOutput(res *CollectorResult, rel string, tb *tailBuffer, isError bool) error {
	if res.abandoned != nil && res.abandoned.Load() {
		return errAbandoned
	}
	res.Redactions.Add(tb.counts)
	size := tb.Len()
	if s.written.Load()+size > s.opts.MaxSize*2 {
		s.drop(Dropped{Path: rel, Collector: res.Name, Bytes: size, Action: "deleted", Reason: errBudget.Error()})
		return errBudget
	}
	if s.written.Load()+size+s.reportGrowth() > s.space {
		s.drop(Dropped{Path: rel, Collector: res.Name, Bytes: size, Action: "deleted", Reason: s.errSpace.Error()})
		return s.errSpace
	}
	if !s.addEntry(rel) {
		s.drop(Dropped{Path: rel, Collector: res.Name, Bytes: size, Action: "left out", Reason: errFileLimit.Error()})
		return errFileLimit
	}
	p := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := s.mkdirAll(path.Dir(rel)); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	n, err := tb.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	s.written.Add(n)
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if isError {
		res.ErrorFile = rel
	} else {
		res.Outputs = append(res.Outputs, rel)
	}
	res.Bytes += n
	if tb.Truncated() {
		res.Truncated = true
	}
	return nil
}

// writeError writes a collector's error text to its .error file, redacted.
func (s *runState) writeError(res *CollectorResult, rel, text string) {
	tb, err := s.stream(rel, strings.NewReader(strings.TrimRight(text, "\n")+"\n"), s.opts.MaxFileSize)
	if err == nil && !tb.Empty() {
		s.writeOutput(res, rel, tb, true)
	}
}

func (s *runState) fileCap(c Collector) int64 {
	if c.MaxSize > 0 {
		return c.MaxSize
	}
	return s.opts.MaxFileSize
}

// tailBuffer keeps the last max bytes written to it: logs matter most at their
// end. It holds them in memory up to spillAt bytes, and past that (a cap
// raised to gigabytes) in a temporary file in spillDir, unlinked as soon as
// it is made so that nothing is ever left behind: memory stays bounded
// whatever the cap. Close releases the file; an unreachable buffer's file is
// closed by the garbage collector.
type tailBuffer struct {
	max      int64
	spillDir string   // "" keeps everything in memory
	mem      []byte   // the kept bytes while in memory
	file     *os.File // the kept bytes once spilled
	size     int64    // bytes kept; a ring once size == max
	pos      int64    // next write position when the ring is full
	total    int64    // bytes written in all
	cut      bool     // the source was already cut at a line start before it was written here

	counts redact.Counts // redactions made in what was written
}

// spillAt is the most a tailBuffer keeps in memory.
var spillAt int64 = 8 << 20

func newTailBuffer(max int64) *tailBuffer {
	if max <= 0 {
		max = DefaultMaxFileSize
	}
	return &tailBuffer{max: max}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	if int64(len(p)) >= t.max {
		p = p[int64(len(p))-t.max:]
		t.size, t.pos = 0, 0
	}
	if room := t.max - t.size; room > 0 {
		k := min(room, int64(len(p)))
		if err := t.put(p[:k], t.size); err != nil {
			return 0, err
		}
		t.size += k
		p = p[k:]
	}
	for len(p) > 0 {
		c := min(int64(len(p)), t.max-t.pos)
		if err := t.put(p[:c], t.pos); err != nil {
			return 0, err
		}
		t.pos = (t.pos + c) % t.max
		p = p[c:]
	}
	return n, nil
}

// put stores p at off of the kept bytes, growing them or spilling them to a
// file on the way.
func (t *tailBuffer) put(p []byte, off int64) error {
	end := off + int64(len(p))
	if t.file == nil && end > spillAt && t.spillDir != "" {
		if err := t.spill(); err != nil {
			return err
		}
	}
	if t.file != nil {
		if _, err := t.file.WriteAt(p, off); err != nil {
			return fmt.Errorf("keep output beyond %s: %w", human.Bytes(spillAt), err)
		}
		return nil
	}
	if end > int64(cap(t.mem)) {
		grown := make([]byte, len(t.mem), min(t.max, max(2*int64(cap(t.mem)), end, 4096)))
		copy(grown, t.mem)
		t.mem = grown
	}
	if end > int64(len(t.mem)) {
		t.mem = t.mem[:end]
	}
	copy(t.mem[off:], p)
	return nil
}

// spill moves the kept bytes, which have not wrapped yet (max > spillAt),
// to a file.
func (t *tailBuffer) spill() error {
	f, err := os.CreateTemp(t.spillDir, ".spill-*")
	if err != nil {
		return fmt.Errorf("keep output beyond %s: %w", human.Bytes(spillAt), err)
	}
	os.Remove(f.Name())
	if _, err := f.WriteAt(t.mem[:t.size], 0); err != nil {
		f.Close()
		return fmt.Errorf("keep output beyond %s: %w", human.Bytes(spillAt), err)
	}
	t.file, t.mem = f, nil
	return nil
}

// Close releases the file of a spilled buffer; its content is gone then.
func (t *tailBuffer) Close() error {
	if t == nil || t.file == nil {
		return nil
	}
	err := t.file.Close()
	t.file, t.size, t.pos = nil, 0, 0
	return err
}

// Len is the number of bytes kept.
func (t *tailBuffer) Len() int64 { return t.size }

// Truncated reports whether bytes were dropped from the front.
func (t *tailBuffer) Truncated() bool { return t.cut || t.dropped() }

func (t *tailBuffer) dropped() bool { return t.total > t.size }

// stretch is a part of the kept bytes.
type stretch struct{ off, n int64 }

// stretches are the kept bytes in order.
func (t *tailBuffer) stretches() []stretch {
	if t.size == t.max && t.pos > 0 {
		return []stretch{{t.pos, t.max - t.pos}, {0, t.pos}}
	}
	return []stretch{{0, t.size}}
}

func (t *tailBuffer) reader(s stretch) io.Reader {
	if t.file != nil {
		return io.NewSectionReader(t.file, s.off, s.n)
	}
	return bytes.NewReader(t.mem[s.off : s.off+s.n])
}

// index returns the offset in s of the first byte for which match is true,
// or -1.
func (t *tailBuffer) index(s stretch, match func(byte) bool) int64 {
	if t.file == nil {
		return int64(slices.IndexFunc(t.mem[s.off:s.off+s.n], match))
	}
	r := bufio.NewReaderSize(t.reader(s), 64<<10)
	for i := int64(0); ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return -1
		}
		if match(c) {
			return i
		}
	}
}

func isNewline(c byte) bool { return c == '\n' }
func notSpace(c byte) bool  { return !unicode.IsSpace(rune(c)) }

// Empty reports whether nothing (or only whitespace) was written.
func (t *tailBuffer) Empty() bool {
	for _, s := range t.stretches() {
		if t.index(s, notSpace) >= 0 {
			return false
		}
	}
	return true
}

// WriteTo writes the kept bytes in order. When the front was dropped it starts
// after the first newline so that the first line is whole.
func (t *tailBuffer) WriteTo(w io.Writer) (int64, error) {
	parts := t.stretches()
	if t.dropped() {
		for i, s := range parts {
			if j := t.index(s, isNewline); j >= 0 {
				parts = parts[i:]
				parts[0] = stretch{s.off + j + 1, s.n - j - 1}
				break
			}
		}
	}
	var n int64
	buf := make([]byte, 0, 256<<10)
	for _, s := range parts {
		m, err := io.CopyBuffer(w, t.reader(s), buf[:cap(buf)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// LastLine is the last non-empty line, shortened, for the manifest's error field.
func (t *tailBuffer) LastLine() string {
	lines := bytes.Split(bytes.TrimSpace(t.Bytes()), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if l := bytes.TrimSpace(lines[i]); len(l) > 0 {
			s := string(l)
			if len(s) > 300 {
				s = s[:300] + "..."
			}
			return s
		}
	}
	return ""
}

// Bytes returns the kept bytes as WriteTo writes them.
func (t *tailBuffer) Bytes() []byte {
	var all bytes.Buffer
	t.WriteTo(&all)
	return all.Bytes()
}

// reportRoom is the free space kept for manifest.json, report.txt, index.html
// and trace.json: a dump is always written, even on a filesystem that fills.
// The reports name every file, so each file in the tree keeps entryRoom more.
const (
	reportRoom = 16 << 20
	entryRoom  = 512
)

func (s *runState) reportGrowth() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.entries) * entryRoom
}

// collectorSpace is how much the collectors may write into dir: its free
// space less reportRoom, and what to say when that is too little.
func collectorSpace(dir string) (int64, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return math.MaxInt64, "" // no answer: the writes will tell
	}
	free := int64(st.Bavail) * st.Bsize
	return max(0, free-reportRoom), fmt.Sprintf("%s had %s free when gathering began (%s kept for the reports)", dir, human.Bytes(free), human.Bytes(reportRoom))
}

// minWorkSpace is the free space under which WorkDir prefers another place.
const minWorkSpace = 64 << 20

// WorkDir makes a private (0700) directory to gather into: in TMPDIR, or,
// when TMPDIR is nearly full or unusable, in fallback, the directory the dump
// goes to in the end. note says why it is not in TMPDIR. Only when neither
// has room even for the reports is it an error, which says where space is
// needed. The run then fits what it gathers into the space there is.
func WorkDir(fallback string) (dir, note string, err error) {
	tmp := os.TempDir()
	free := func(d string) int64 { s, _ := collectorSpace(d); return s + reportRoom }
	var tmpErr error
	if free(tmp) >= minWorkSpace {
		if dir, tmpErr = os.MkdirTemp(tmp, "dump-gather-"); tmpErr == nil {
			return dir, "", nil
		}
	}
	if err := os.MkdirAll(fallback, 0o700); err != nil {
		return "", "", fmt.Errorf("make a working directory: TMPDIR (%s) has less than %s free, and %w", tmp, human.Bytes(minWorkSpace), err)
	}
	if tmpErr == nil && free(fallback) <= free(tmp) {
		if free(tmp) <= reportRoom {
			return "", "", fmt.Errorf("no space to gather: TMPDIR (%s) and %s have %s and %s free; free some space, or set TMPDIR or --out to a filesystem with at least %s free",
				tmp, fallback, human.Bytes(free(tmp)), human.Bytes(free(fallback)), human.Bytes(minWorkSpace))
		}
		dir, err = os.MkdirTemp(tmp, "dump-gather-") // small, but the most there is
		return dir, "", err
	}
	if dir, err = os.MkdirTemp(fallback, ".dump-gather-"); err != nil {
		return "", "", fmt.Errorf("make a working directory in %s: %w", fallback, err)
	}
	why := fmt.Sprintf("has less than %s free", human.Bytes(minWorkSpace))
	if tmpErr != nil {
		why = tmpErr.Error()
	}
	return dir, fmt.Sprintf("TMPDIR (%s) %s: gathering in %s instead", tmp, why, fallback), nil
}
