package nodepods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"

	"github.com/dumptool/dump/gather"
)

// stream runs command in the node's pod once it runs, with kubectl exec
// (through the API server: the offline, small-cluster path), and copies its
// standard output to stdout. It ends with the pod: a pod evicted or deleted
// meanwhile ends the stream, and so does the node's deadline (ctx).
func (r *run) stream(ctx context.Context, pod string, w *podWait, command []string, stdout io.Writer) error {
	select {
	case <-w.running:
	case err := <-w.done:
		if err == nil {
			err = errors.New("its pod ended before its part was taken")
		}
		return err
	case <-ctx.Done():
		return r.stopped(ctx)
	}
	ectx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case err := <-w.done:
			if err == nil {
				err = errors.New("its pod ended while its part was being taken")
			}
			cancel(podEnded{err})
		case <-ectx.Done():
		}
	}()

	args := append(r.opts.Kubectl.flags(), append([]string{"exec", "-n", r.opts.Namespace, pod, "-c", "dump", "--"}, command...)...)
	cmd := exec.CommandContext(ectx, "kubectl", args...)
	var stderr tail
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return fmt.Errorf("kubectl exec: %w", err)
	}
	_, copyErr := io.Copy(stdout, out)
	if copyErr != nil {
		cancel(copyErr) // kills kubectl, which the copy no longer reads
	}
	waitErr := cmd.Wait()
	var ended podEnded
	switch {
	case copyErr != nil:
		return fmt.Errorf("keep its part: %w", copyErr)
	case errors.As(context.Cause(ectx), &ended):
		return ended.err
	case ctx.Err() != nil:
		return r.stopped(ctx)
	case waitErr != nil:
		return execFailed(waitErr, stderr.String())
	}
	return nil
}

// podEnded is why a stream was cut: its pod ended first.
type podEnded struct{ err error }

func (e podEnded) Error() string { return e.err.Error() }

// kubectl's words when the exec'd command exits non-zero.
var exitCode = regexp.MustCompile(`command terminated with exit code (\d+)`)

// execFailed says why kubectl exec failed: the node's dump exited non-zero
// (with the last lines it wrote), or kubectl could not run the command at all.
func execFailed(err error, stderr string) error {
	if m := exitCode.FindStringSubmatch(stderr); m != nil {
		written := strings.TrimSpace(strings.Replace(stderr, m[0], "", 1))
		return &gather.KindError{Kind: gather.FailCommandFailed,
			Err: fmt.Errorf("dump exited with code %s on the node: %s", m[1], oneLine(lastLines(written, 3)))}
	}
	return fmt.Errorf("kubectl exec: %w: %s", err, oneLine(lastLines(stderr, 3)))
}

// tail keeps the last few KiB written to it: enough of a command's stderr
// to say why it failed, whatever it wrote.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	const keep = 8 << 10
	t.b = append(t.b, p...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }
