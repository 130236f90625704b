package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/dumptool/dump/gather"
)

// gatherProgress renders a gather: a live line on a terminal naming the
// slowest collector still running, a plain heartbeat line otherwise, and with
// --verbose one line per command.
type gatherProgress struct {
	u       *ui
	mu      sync.Mutex
	running map[string]time.Time
	done    int
	failed  int
	bar     *progressbar.ProgressBar
	quit    chan struct{}
	stopped chan struct{} // closed when tick returns; nil with --quiet
	once    sync.Once
}

func newGatherProgress(u *ui) *gatherProgress {
	p := &gatherProgress{u: u, running: map[string]time.Time{}, quit: make(chan struct{})}
	if u.quiet {
		return p
	}
	every := 5 * time.Second
	if u.tty && !u.verbose {
		p.bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(u.err),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
		every = 500 * time.Millisecond
	}
	p.stopped = make(chan struct{})
	go p.tick(every)
	return p
}

func (p *gatherProgress) tick(every time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			line := p.status()
			if p.bar != nil {
				p.bar.Describe(line)
				_ = p.bar.Add(0)
			} else if !p.u.verbose {
				p.u.notef("%s", line)
			}
		}
	}
}

// status is "gather: 23 done (1 failed), 5 running; slowest: tctl_get_nodes (8s)".
func (p *gatherProgress) status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("gather: %d done", p.done)
	if p.failed > 0 {
		s += fmt.Sprintf(" (%d failed)", p.failed)
	}
	s += fmt.Sprintf(", %d running", len(p.running))
	var slowest string
	var since time.Time
	for name, t := range p.running {
		if slowest == "" || t.Before(since) {
			slowest, since = name, t
		}
	}
	if slowest != "" {
		s += fmt.Sprintf("; slowest: %s (%s)", slowest, time.Since(since).Round(time.Second))
	}
	return s
}

func (p *gatherProgress) Started(c gather.Collector, source string) {
	p.mu.Lock()
	p.running[c.Name] = time.Now()
	p.mu.Unlock()
	if p.u.verbose {
		p.u.notef("start  %s: %s", c.Name, source)
	}
}

func (p *gatherProgress) Finished(c gather.Collector, r gather.CollectorResult) {
	p.mu.Lock()
	delete(p.running, c.Name)
	p.done++
	if r.Failed() {
		p.failed++
	}
	p.mu.Unlock()
	if p.u.verbose {
		line := fmt.Sprintf("finish %s: %s in %s", c.Name, r.Status, time.Duration(r.DurationMS)*time.Millisecond)
		if r.Error != "" {
			line += ": " + r.Error
		}
		p.u.notef("%s", line)
	}
}

func (p *gatherProgress) Notef(format string, args ...any) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	p.u.notef(format, args...)
}

func (p *gatherProgress) stop() {
	p.once.Do(func() {
		close(p.quit)
		// No status line may follow the summary the caller prints next.
		if p.stopped != nil {
			<-p.stopped
		}
		if p.bar != nil {
			_ = p.bar.Finish()
		}
	})
}
