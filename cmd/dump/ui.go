package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/upload"
)

// ui is where a command talks to the person running it: progress and notes on
// stderr (a bar on a terminal, plain lines otherwise), results on stdout.
type ui struct {
	out     io.Writer // results only; the last line is what the user needs next
	err     io.Writer
	quiet   bool
	verbose bool
	tty     bool
	mu      sync.Mutex
}

func newUI(c *cli.Context) *ui {
	u := &ui{
		out:     c.App.Writer,
		err:     c.App.ErrWriter,
		quiet:   c.Bool("quiet"),
		verbose: c.Bool("verbose"),
	}
	if f, ok := u.err.(*os.File); ok {
		u.tty = term.IsTerminal(int(f.Fd()))
	}
	level := slog.LevelWarn
	switch {
	case u.quiet:
		level = slog.LevelError
	case u.verbose:
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(newLineHandler(u.err, &u.mu, level)))
	return u
}

// notef prints one line of progress on stderr unless --quiet.
func (u *ui) notef(format string, args ...any) {
	if u.quiet {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.err, format+"\n", args...)
}

// warnf prints even with --quiet: things the user must know.
func (u *ui) warnf(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.err, format+"\n", args...)
}

// resultf prints a result line on stdout.
func (u *ui) resultf(format string, args ...any) {
	fmt.Fprintf(u.out, format+"\n", args...)
}

// bytes returns an upload.Wrap that shows the progress of each object: a bar
// with rate and ETA on a terminal, a plain line every few seconds otherwise.
// The wrapped reader stays an io.Seeker when the file is one, because retries
// rewind it.
func (u *ui) bytes(verb string) upload.Wrap {
	return func(name string, r io.Reader, size int64) io.Reader {
		if u.quiet {
			return r
		}
		label := verb + " " + name
		var report func(pos int64)
		if u.tty {
			bar := progressbar.NewOptions64(size,
				progressbar.OptionSetWriter(u.err),
				progressbar.OptionSetDescription(label),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(u.err) }),
				progressbar.OptionFullWidth(),
			)
			report = func(pos int64) { _ = bar.Set64(pos) }
		} else {
			start, last := time.Now(), time.Now()
			report = func(pos int64) {
				now := time.Now()
				if now.Sub(last) < 5*time.Second && !(pos == size && size > 1<<20) {
					return
				}
				last = now
				pct := 100.0
				if size > 0 {
					pct = 100 * float64(pos) / float64(size)
				}
				rate := float64(pos) / now.Sub(start).Seconds()
				u.notef("%s: %s / %s (%.0f%%), %s/s", label, human.Bytes(pos), human.Bytes(size), pct, human.Bytes(int64(rate)))
			}
		}
		m := &meter{r: r, report: report}
		if _, ok := r.(interface {
			io.Seeker
			io.ReaderAt
		}); ok {
			return &fileMeter{m}
		}
		return m
	}
}

// meter reports how much of an object has been read. Uploaders read a file
// sequentially, rewind it to retry, or read parts at offsets (S3 multipart,
// sometimes twice: once to sign, once to send), so progress is the union of
// the byte ranges read, not a running sum.
type meter struct {
	r      io.Reader
	pos    int64
	mu     sync.Mutex
	spans  [][2]int64 // sorted, disjoint [start, end) ranges read so far
	report func(covered int64)
}

func (m *meter) Read(b []byte) (int, error) {
	n, err := m.r.Read(b)
	m.mark(m.pos, n)
	m.pos += int64(n)
	return n, err
}

// mark adds [off, off+n) to the ranges read and reports the total covered.
func (m *meter) mark(off int64, n int) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	start, end := off, off+int64(n)
	var merged [][2]int64
	var covered int64
	placed := false
	for _, s := range m.spans {
		switch {
		case s[1] < start:
			merged = append(merged, s)
		case end < s[0]:
			if !placed {
				merged, placed = append(merged, [2]int64{start, end}), true
			}
			merged = append(merged, s)
		default:
			start, end = min(start, s[0]), max(end, s[1])
		}
	}
	if !placed {
		merged = append(merged, [2]int64{start, end})
	}
	for _, s := range merged {
		covered += s[1] - s[0]
	}
	m.spans = merged
	m.report(covered)
	m.mu.Unlock()
}

// fileMeter keeps Seek (retries rewind) and ReadAt (multipart parts, resume).
type fileMeter struct{ *meter }

func (m *fileMeter) Seek(offset int64, whence int) (int64, error) {
	pos, err := m.r.(io.Seeker).Seek(offset, whence)
	if err == nil {
		m.pos = pos
	}
	return pos, err
}

func (m *fileMeter) ReadAt(b []byte, off int64) (int, error) {
	n, err := m.r.(io.ReaderAt).ReadAt(b, off)
	m.mark(off, n)
	return n, err
}
