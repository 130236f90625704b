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

// progress returns a reporter of how many of an object's size bytes have
// moved: a bar with rate and ETA on a terminal, a plain line every few seconds
// otherwise; nil with --quiet.
func (u *ui) progress(label string, size int64) func(pos int64) {
	if u.quiet {
		return nil
	}
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
		return func(pos int64) { _ = bar.Set64(pos) }
	}
	start, last := time.Now(), time.Now()
	return func(pos int64) {
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

// uploadProgress shows the progress of each object a store reads.
func (u *ui) uploadProgress() upload.Wrap {
	return func(name string, src upload.Source) upload.Source {
		report := u.progress("upload "+name, src.Size())
		if report == nil {
			return src
		}
		return &meter{src: src, report: report}
	}
}

// downloadProgress shows the progress of a download read from start to end.
func (u *ui) downloadProgress() func(name string, r io.Reader, size int64) io.Reader {
	return func(name string, r io.Reader, size int64) io.Reader {
		report := u.progress("download "+name, size)
		if report == nil {
			return r
		}
		return &readMeter{r: r, report: report}
	}
}

type readMeter struct {
	r      io.Reader
	pos    int64
	report func(pos int64)
}

func (m *readMeter) Read(b []byte) (int, error) {
	n, err := m.r.Read(b)
	m.pos += int64(n)
	m.report(m.pos)
	return n, err
}

// meter reports how much of an upload's source has been read. Stores read
// parts at offsets, concurrently, sometimes twice (S3 multipart: once to
// sign, once to send) and again to retry, so progress is the union of the
// byte ranges read, not a running sum.
type meter struct {
	src    upload.Source
	mu     sync.Mutex
	spans  [][2]int64 // sorted, disjoint [start, end) ranges read so far
	report func(covered int64)
}

func (m *meter) Size() int64 { return m.src.Size() }

func (m *meter) ReadAt(b []byte, off int64) (int, error) {
	n, err := m.src.ReadAt(b, off)
	m.mark(off, n)
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
