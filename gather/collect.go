package gather

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dumptool/dump/gather/redact"
)

// runState is what the collectors of one run share.
type runState struct {
	opts     Options
	env      Env
	dir      string
	red      *redact.Redactor
	childEnv []string
	since    time.Time // --since as a point in time

	written atomic.Int64 // bytes written so far, for the hard stop during collection

	mu      sync.Mutex
	dropped []Dropped
	census  *CensusInfo
}

// hardLimit stops writing when a run goes far beyond --max-size (a directory
// of pod logs can be huge); the budget pass after collection then trims by
// priority down to --max-size itself.
func (s *runState) hardLimit() int64 { return 2 * s.opts.MaxSize }

// task is one collector of the plan with its result.
type task struct {
	c       Collector
	profile string
	res     CollectorResult
}

// collect runs every task on a pool of opts.Concurrency workers. It returns
// when all have ended; tasks not started before ctx ended are recorded as
// timed out.
func (s *runState) collect(ctx context.Context, tasks []*task, tr *tracer) {
	next := make(chan *task)
	var wg sync.WaitGroup
	for range min(s.opts.Concurrency, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				s.runTask(ctx, t)
				tr.collector(t)
			}
		}()
	}
	for i, t := range tasks {
		select {
		case next <- t:
			continue
		case <-ctx.Done():
		}
		for _, t := range tasks[i:] {
			s.opts.Progress.Started(t.c)
			t.res = CollectorResult{Name: t.c.Name, Category: t.c.Category, Kind: t.c.Kind, Profile: t.profile,
				Priority: t.c.Priority, Started: time.Now().UTC()}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.res.Status, t.res.TimedOut, t.res.FailureKind = StatusTimedOut, true, FailTimeout
				t.res.Error = fmt.Sprintf("not started: the run's --timeout (%s) was reached", s.opts.Timeout)
			} else {
				t.res.fail(FailOther, "not started: canceled")
			}
			s.opts.Progress.Finished(t.c, t.res)
			tr.collector(t)
		}
		break
	}
	close(next)
	wg.Wait()
}

// kinds runs each kind of collector.
var kinds = map[Kind]func(s *runState, ctx context.Context, c Collector, res *CollectorResult){
	KindRun:         (*runState).runCommand,
	KindCopy:        (*runState).runCopy,
	KindJournal:     (*runState).runJournal,
	KindHTTP:        (*runState).runHTTP,
	KindCensus:      (*runState).runCensus,
	KindKubeLogs:    (*runState).runKubeLogs,
	KindKubeGet:     (*runState).runKubeGet,
	KindKubeSecrets: (*runState).runKubeSecrets,
	KindKubeHealth:  (*runState).runKubeHealth,
}

// abandonGrace is how long past its deadline the run waits for a collector
// before it records a timeout and moves on without it.
var abandonGrace = 5 * time.Second

// errAbandoned refuses writes from a collector the run has moved on from: its
// output would miss the leak scan.
var errAbandoned = errors.New("collector was abandoned after its deadline")

// runTask runs one collector under its own deadline and records the outcome.
func (s *runState) runTask(ctx context.Context, t *task) {
	c := t.c
	t.res = CollectorResult{Name: c.Name, Category: c.Category, Kind: c.Kind, Profile: t.profile,
		Priority: c.Priority, Redactions: redact.Counts{}, Status: StatusOK}
	timeout := time.Duration(c.Timeout)
	if timeout <= 0 {
		timeout = s.opts.CollectorTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s.opts.Progress.Started(c)
	start := time.Now()
	t.res.Started = start.UTC()
	// The body writes into its own copy of the result, so that a body that
	// does not stop (a read blocked on a hung mount) can be left behind.
	res := t.res
	abandoned := new(atomic.Bool)
	res.abandoned = abandoned
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				slog.Error("collector panicked", "collector", c.Name, "panic", p, "stack", string(debug.Stack()))
				res.fail(FailOther, fmt.Sprintf("internal error: %v", p))
			}
		}()
		run, ok := kinds[c.Kind]
		if !ok {
			res.fail(FailOther, fmt.Sprintf("unknown collector kind %q", c.Kind))
			return
		}
		run(s, cctx, c, &res)
	}()
	select {
	case <-done:
		t.res = res
	case <-cctx.Done():
		select {
		case <-done:
			t.res = res
		case <-time.After(max(abandonGrace, killGrace+2*time.Second)):
			abandoned.Store(true)
			t.res.timeout(time.Since(start).Round(100 * time.Millisecond))
			t.res.Error += "; it did not stop and was abandoned (a read may be blocked, e.g. on a hung mount)"
		}
	}
	if t.res.Status == StatusFailed && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		t.res.timeout(time.Since(start).Round(100 * time.Millisecond))
	}
	t.res.DurationMS = time.Since(start).Milliseconds()
	if len(t.res.Redactions) == 0 {
		t.res.Redactions = nil
	}
	s.opts.Progress.Finished(c, t.res)
}

func (r *CollectorResult) fail(kind FailureKind, msg string) {
	r.Status, r.FailureKind = StatusFailed, kind
	if r.Error == "" {
		r.Error = msg
	} else if msg != "" && !strings.Contains(r.Error, msg) {
		r.Error = msg + "; " + r.Error
	}
}

func (r *CollectorResult) skip(msg string) {
	r.Status, r.Error = StatusSkipped, msg
}

func (r *CollectorResult) timeout(d time.Duration) {
	r.Status, r.TimedOut, r.FailureKind = StatusTimedOut, true, FailTimeout
	r.Error = fmt.Sprintf("timed out after %s (raise --collector-timeout or --timeout); killed with its child processes, partial output kept", d)
}

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
	counts, err := s.red.Stream(tb, rd, rel) // its error already names rel
	tb.counts = counts
	return tb, err
}

// errBudget means the run already wrote far more than --max-size.
var errBudget = errors.New("not written: the dump exceeded twice --max-size during collection")

// writeOutput writes a kept buffer to rel in the tree (0600, parents 0700) and
// records it in res as an output, or as its error file.
func (s *runState) writeOutput(res *CollectorResult, rel string, tb *tailBuffer, isError bool) error {
	if res.abandoned != nil && res.abandoned.Load() {
		return errAbandoned
	}
	res.Redactions.Add(tb.counts)
	size := int64(len(tb.buf))
	if s.written.Load()+size > s.hardLimit() {
		s.mu.Lock()
		s.dropped = append(s.dropped, Dropped{Path: rel, Collector: res.Name, Bytes: size, Action: "deleted", Reason: errBudget.Error()})
		s.mu.Unlock()
		return errBudget
	}
	p := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
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
