package crypto

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PackFile packs dir into a plain (unencrypted) .tar.zst file at outPath,
// for `dump gather` without --encrypt. The file is 0600 and appears under
// outPath only once complete; an existing outPath is never replaced.
func PackFile(ctx context.Context, dir, outPath string, opts PackOptions) (PackStats, error) {
	if err := checkOutside(dir, filepath.Dir(outPath)); err != nil {
		return PackStats{}, fmt.Errorf("pack: %w", err)
	}
	// Fail before packing for minutes; commit checks again atomically.
	if _, err := os.Lstat(outPath); err == nil {
		return PackStats{}, fmt.Errorf("pack: %w", existsError(outPath))
	}
	t, err := createTemp(outPath)
	if err != nil {
		return PackStats{}, fmt.Errorf("pack: %w", err)
	}
	defer t.discard()
	bw := bufio.NewWriterSize(t, 1<<20)
	stats, err := Pack(ctx, bw, dir, opts)
	if err != nil {
		return stats, err
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("pack: write %s: %w", outPath, err)
	}
	if err := t.commit(); err != nil {
		return stats, fmt.Errorf("pack: write %s: %w", outPath, err)
	}
	return stats, nil
}
