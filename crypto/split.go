package crypto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
)

// partWriter writes a stream as numbered part files of at most size bytes
// (base.001, base.002, ...), each under a temporary name until committed,
// and records each part's size and sha256.
type partWriter struct {
	base    string // the payload's path; parts get layout.PartSuffix
	size    int64
	newTemp func(final string) (*tempFile, error)

	temps []*tempFile
	parts []layout.Part
	n     int64 // bytes in the current part
	h     hash.Hash
}

func (w *partWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if len(w.temps) == 0 || w.n == w.size {
			if err := w.next(); err != nil {
				return written, err
			}
		}
		chunk := p[:min(int64(len(p)), w.size-w.n)]
		m, err := w.temps[len(w.temps)-1].Write(chunk)
		w.h.Write(chunk[:m])
		w.n += int64(m)
		written += m
		if err != nil {
			return written, err
		}
		p = p[m:]
	}
	return written, nil
}

// next ends the current part and starts the next one.
func (w *partWriter) next() error {
	w.endPart()
	if len(w.temps) == layout.MaxParts {
		return fmt.Errorf("the payload needs more than %d parts of %s: choose a larger --split", layout.MaxParts, human.Bytes(w.size))
	}
	t, err := w.newTemp(w.base + layout.PartSuffix(len(w.temps)+1))
	if err != nil {
		return err
	}
	w.temps = append(w.temps, t)
	w.n, w.h = 0, sha256.New()
	return nil
}

func (w *partWriter) endPart() {
	if len(w.parts) < len(w.temps) {
		w.parts = append(w.parts, layout.Part{Size: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil))})
	}
}

// finish ends the last part and returns the parts' final paths.
func (w *partWriter) finish() []string {
	w.endPart()
	paths := make([]string, len(w.temps))
	for i, t := range w.temps {
		paths[i] = t.final
	}
	return paths
}

// checkSplit refuses a part size too small to be of use.
func checkSplit(size int64) error {
	if size < layout.MinPartSize {
		return fmt.Errorf("parts of %d bytes are too small: --split must be at least %s", size, human.Bytes(layout.MinPartSize))
	}
	return nil
}

// setParts records split parts in the info.
func setParts(info *layout.Info, parts []layout.Part) {
	info.Schema = layout.InfoSchemaSplit
	info.Parts = len(parts)
	info.PayloadParts = parts
}

// Split rewrites a dump sealed in one file (payloadPath, with its siblings)
// as numbered parts of at most size bytes each, for `dump upload --split`:
// the parts are written next to it, its info is replaced by one listing
// them, and the single file is removed. The payload's bytes do not change,
// so stock tools still open `cat dump-<uuid>.tar.zst.age.*`; its sha256 is
// checked on the way.
func Split(ctx context.Context, payloadPath string, size int64) (layout.Local, layout.Info, error) {
	if err := checkSplit(size); err != nil {
		return layout.Local{}, layout.Info{}, fmt.Errorf("split: %w", err)
	}
	files, info, err := layout.ReadLocal(payloadPath)
	if err != nil {
		return files, info, fmt.Errorf("split: %w", err)
	}
	if info.Split() {
		return files, info, fmt.Errorf("split: dump %s is already in %d parts; upload it without --split", info.UUID, info.Parts)
	}
	f, err := layout.OpenRegular(files.Payload)
	if err != nil {
		return files, info, fmt.Errorf("split: %w", err)
	}
	defer f.Close()

	var temps []*tempFile
	defer func() {
		for _, t := range temps {
			t.discard()
		}
	}()
	pw := &partWriter{base: files.Payload, size: size, newTemp: func(final string) (*tempFile, error) {
		t, err := createTemp(final)
		if err == nil {
			temps = append(temps, t)
		}
		return t, err
	}}
	whole := sha256.New()
	if _, err := io.Copy(io.MultiWriter(pw, whole), f); err != nil {
		return files, info, fmt.Errorf("split %s: %w", files.Payload, err)
	}
	pw.finish()
	if err := ctx.Err(); err != nil {
		return files, info, fmt.Errorf("split: %w", err)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != info.PayloadSHA256 {
		return files, info, fmt.Errorf("split: %s does not match its info (sha256 %s, not %s): it was altered; seal the dump again", files.Payload, got, info.PayloadSHA256)
	}
	for i, t := range pw.temps {
		if err := t.commit(); err != nil {
			removeFinals(pw.temps[:i])
			return files, info, fmt.Errorf("split: %w", err)
		}
	}
	setParts(&info, pw.parts)
	// The new info is the point of no return: with it, the parts are the dump.
	inf, err := createTemp(files.Info)
	if err != nil {
		removeFinals(pw.temps)
		return files, info, fmt.Errorf("split: %w", err)
	}
	temps = append(temps, inf)
	if err := writeInfo(inf, &info); err == nil {
		err = inf.CloseAtomicallyReplace()
	}
	if err != nil {
		removeFinals(pw.temps)
		return files, info, fmt.Errorf("split: write %s: %w", files.Info, err)
	}
	if err := os.Remove(files.Payload); err != nil && !errors.Is(err, os.ErrNotExist) {
		return files, info, fmt.Errorf("split: the parts are written, but %s could not be removed: %w", files.Payload, err)
	}
	syncDir(files.Dir)
	return files, info, nil
}

// removeFinals removes committed files after a later step failed.
func removeFinals(ts []*tempFile) {
	for _, t := range ts {
		os.Remove(t.final)
	}
}
