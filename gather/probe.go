package gather

import (
	"context"
	"fmt"
	"io"
	"time"
)

// probe runs a short command of our own (detection, census) the way
// collectors run: in its own process group, killed as a group at the
// deadline, without our environment. It returns the first MiB of stdout.
func probe(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	out, _, err := probeBoth(ctx, timeout, argv...)
	return out, err
}

// probeBoth is probe that also returns the first MiB of stderr, and stdout
// also when the command failed.
func probeBoth(ctx context.Context, timeout time.Duration, argv ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := childEnv("/")
	bin, err := lookPath(argv[0], envPath(env))
	if err != nil {
		return nil, nil, err
	}
	keep := func(b *[]byte) func(io.Reader) error {
		return func(r io.Reader) error {
			var err error
			*b, err = io.ReadAll(io.LimitReader(r, 1<<20))
			io.Copy(io.Discard, r)
			return err
		}
	}
	p, err := runProcess(ctx, bin, argv, env, keep(&stdout), keep(&stderr))
	switch {
	case err != nil:
		return stdout, stderr, err
	case p.err != nil:
		return stdout, stderr, p.err
	case p.timedOut:
		return stdout, stderr, fmt.Errorf("%s: timed out after %s", argv[0], timeout)
	case p.exitCode != 0:
		return stdout, stderr, fmt.Errorf("%s: exit status %d", argv[0], p.exitCode)
	}
	return stdout, stderr, nil
}
