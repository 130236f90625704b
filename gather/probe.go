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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := childEnv("/")
	bin, err := lookPath(argv[0], envPath(env))
	if err != nil {
		return nil, err
	}
	var out []byte
	p, err := runProcess(ctx, bin, argv, env,
		func(r io.Reader) error {
			b, err := io.ReadAll(io.LimitReader(r, 1<<20))
			out = b
			io.Copy(io.Discard, r)
			return err
		},
		func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err },
	)
	switch {
	case err != nil:
		return nil, err
	case p.err != nil:
		return nil, p.err
	case p.timedOut:
		return nil, fmt.Errorf("%s: timed out after %s", argv[0], timeout)
	case p.exitCode != 0:
		return nil, fmt.Errorf("%s: exit status %d", argv[0], p.exitCode)
	}
	return out, nil
}
