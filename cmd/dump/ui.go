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
	slog.SetDefault(slog.New(slog.NewTextHandler(u.err, &slog.HandlerOptions{Level: level})))
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
func (u *ui) bytes(verb string) upload.Wrap {
	return func(name string, r io.Reader, size int64) io.Reader {
		if u.quiet {
			return r
		}
		if u.tty {
			bar := progressbar.NewOptions64(size,
				progressbar.OptionSetWriter(u.err),
				progressbar.OptionSetDescription(verb+" "+name),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(u.err) }),
				progressbar.OptionFullWidth(),
			)
			return io.TeeReader(r, bar)
		}
		return &plainProgress{r: r, ui: u, label: verb + " " + name, size: size, start: time.Now(), last: time.Now()}
	}
}

// plainProgress prints "upload dump.tar.zst.age: 120.0 MiB / 400.0 MiB (30%), 45.1 MiB/s" every 5 s.
type plainProgress struct {
	r     io.Reader
	ui    *ui
	label string
	size  int64
	done  int64
	start time.Time
	last  time.Time
}

func (p *plainProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 5*time.Second || (err == io.EOF && p.done == p.size && p.size > 1<<20) {
		p.last = now
		rate := float64(p.done) / now.Sub(p.start).Seconds()
		pct := 100.0
		if p.size > 0 {
			pct = 100 * float64(p.done) / float64(p.size)
		}
		p.ui.notef("%s: %s / %s (%.0f%%), %s/s", p.label, humanBytes(p.done), humanBytes(p.size), pct, humanBytes(int64(rate)))
	}
	return n, err
}
