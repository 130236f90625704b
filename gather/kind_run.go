package gather

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dumptool/dump/internal/human"
)

// KindRun runs Command (argv; argv[0] looked up in the child's PATH): stdout to
// Output, stderr to the same name with ".error" for its extension.
const KindRun Kind = "run"

// run makes a run collector. The name is derived from the output file, so
// names stay unique wherever outputs are.
func run(category, output string, prio int, argv ...string) Collector {
	return Collector{Name: nameOf(output), Category: category, Kind: KindRun, Command: argv, Output: output, Priority: prio}
}

type runKind struct{}

func (runKind) validate(c *Collector) (string, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return "name", errors.New("a run collector needs a command")
	}
	return "", nil
}

func (runKind) describe(c Collector, _ Env) string { return human.Command(c.Command) }

func (runKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	s.runCommand(ctx, c, res)
}

// runCommand runs c's command: stdout to Output, stderr to its .error file.
func (s *runState) runCommand(ctx context.Context, c Collector, res *CollectorResult) {
	res.Command = c.Command
	stdout, stderr, p, err := s.execute(ctx, c.Command, c.Output, s.fileCap(c))
	if err != nil {
		s.commandMissing(c, res, err)
		return
	}
	defer stdout.Close()
	defer stderr.Close()
	s.finishCommand(ctx, c, res, stderr, p, errorPath(c.Output))
	// An empty output of a command that failed says nothing its .error does not.
	if res.Status == StatusOK || !stdout.Empty() {
		if werr := s.writeOutput(res, c.Output, stdout, false); werr != nil {
			res.fail(FailOther, werr.Error())
		}
	}
}

// execute runs argv with stdout and stderr redacted into tail buffers. An error
// means the command could not be found; everything else is in proc.
func (s *runState) execute(ctx context.Context, argv []string, output string, limit int64) (stdout, stderr *tailBuffer, p proc, err error) {
	var outErr error
	stderr, p, err = s.executeTo(ctx, argv, errorPath(output), limit,
		func(r io.Reader) error { stdout, outErr = s.stream(output, r, limit); return outErr })
	if err != nil {
		return nil, nil, p, err
	}
	if stdout == nil {
		stdout = newTailBuffer(limit)
	}
	return stdout, stderr, p, nil
}

// executeTo runs argv handing its stdout, as it comes, to consume, and its
// stderr redacted into a tail buffer for errRel. An error means the command
// could not be found; everything else is in proc.
func (s *runState) executeTo(ctx context.Context, argv []string, errRel string, limit int64, consume func(io.Reader) error) (stderr *tailBuffer, p proc, err error) {
	bin, err := lookPath(argv[0], envPath(s.childEnv))
	if err != nil {
		return nil, p, err
	}
	var errErr error
	p, cerr := runProcess(ctx, bin, argv, s.childEnv, consume,
		func(r io.Reader) error { stderr, errErr = s.stream(errRel, r, limit); return errErr },
	)
	if cerr != nil && p.err == nil {
		p.err = cerr
	}
	if stderr == nil {
		stderr = newTailBuffer(limit)
	}
	return stderr, p, nil
}

// commandMissing records a command that could not be started because its
// binary is absent: fast, with a clear .error, or skipped when optional.
func (s *runState) commandMissing(c Collector, res *CollectorResult, err error) {
	name := c.Command[0]
	if errors.Is(err, errNotFound) {
		if c.Optional {
			res.skip(name + ": not installed")
			return
		}
		res.fail(FailBinaryMissing, name+": not found in PATH; install it or add its directory to PATH")
		s.writeError(res, errorPath(c.Output), fmt.Sprintf("%s: not found in PATH (%s); install it or add its directory to PATH", name, envPath(s.childEnv)))
		return
	}
	res.fail(ClassifyErr(err), fmt.Sprintf("%s: %v", name, err))
	s.writeError(res, errorPath(c.Output), res.Error)
}

// finishCommand writes stderr and classifies how the command ended.
func (s *runState) finishCommand(ctx context.Context, c Collector, res *CollectorResult, stderr *tailBuffer, p proc, errRel string) {
	res.pgid = p.pgid
	if !stderr.Empty() {
		if err := s.writeOutput(res, errRel, stderr, true); err != nil {
			res.fail(FailOther, err.Error())
		}
	}
	if p.exitCode >= 0 || res.ExitCode == nil {
		code := p.exitCode
		res.ExitCode = &code
	}
	errText := string(stderr.Bytes())
	switch {
	case p.timedOut:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.fail(FailTimeout, "") // runTask words it
		} else {
			res.fail(FailOther, "canceled")
		}
	case p.err != nil:
		res.fail(ClassifyErr(p.err), fmt.Sprintf("%s: %v", c.Command[0], p.err))
	case p.exitCode != 0 && notApplicable(errText) != "":
		res.skip(notApplicable(errText))
	case p.exitCode != 0:
		kind, ok := classifyText(errText)
		if !ok {
			switch p.exitCode {
			case 127:
				kind = FailBinaryMissing
			case 126:
				kind = FailPermissionDenied
			default:
				kind = FailCommandFailed
			}
		}
		msg := fmt.Sprintf("exit status %d", p.exitCode)
		if l := stderr.LastLine(); l != "" {
			msg += ": " + l
		}
		res.fail(kind, msg)
	}
}
