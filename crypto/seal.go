package crypto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/internal/tracing"
)

// SealOptions configure [Seal].
type SealOptions struct {
	// UUID names the dump; empty means a new random one.
	UUID string
	// Recipients are the support keys the session key is encrypted to.
	// Use [ParseRecipient] so that their fingerprints appear in the info.
	Recipients []age.Recipient
	// IncludeKey writes dump-<uuid>.key.age. False is "nometa" mode: the
	// session key exists only in [Sealed.SessionKey].
	IncludeKey bool
	// OutDir receives the sealed files; empty means the current directory.
	OutDir string
	// ToolVersion is recorded in the info.
	ToolVersion string
	// Pack tunes packing; an empty Prefix defaults to "dump-<uuid>/".
	Pack PackOptions
	// Tee, if set, also receives the payload's bytes as they are written,
	// for an upload made while sealing. Its Write must not fail: an upload
	// that fails stops reading, it does not stop the seal.
	Tee io.Writer
	// Split, if set, writes the payload as numbered parts of at most this
	// many bytes (dump-<uuid>.tar.zst.age.001, .002, ...), for transports
	// with a size limit. At least [layout.MinPartSize].
	Split int64
	// Session, if set, is the session identity to seal with instead of a
	// fresh one: a cluster dump's initiator seals its own part with the key
	// its node parts are sealed to.
	Session *age.X25519Identity
	// SessionRecipient, if set, seals the payload to this public session
	// recipient and to nothing else: a node part of a cluster dump, whose
	// node never holds the session identity. IncludeKey must be false and
	// [Sealed.SessionKey] stays empty.
	SessionRecipient age.Recipient
}

// Sealed describes the files written by [Seal].
type Sealed struct {
	// PayloadPath is the payload, or its first part when split; dump
	// upload and decrypt --file find the rest from it.
	PayloadPath, KeyPath, InfoPath string // KeyPath is empty in nometa mode
	// PayloadParts are every payload file in order: PayloadPath alone, or
	// all the parts.
	PayloadParts []string
	Info         layout.Info
	// SessionKey ("AGE-SECRET-KEY-1...") opens the payload. It is never
	// written in plaintext; show it to the user only in nometa mode.
	SessionKey string
}

// Seal packs dir and seals it into three files in opts.OutDir:
// dump-<uuid>.tar.zst.age (the tar.zst encrypted to a fresh session key),
// dump-<uuid>.key.age (the session key encrypted to every recipient; not
// written in nometa mode) and dump-<uuid>.json (the plaintext [layout.Info]).
//
// Files are written under temporary names and renamed only when all of
// them are complete, so a failed or cancelled seal leaves nothing behind.
func Seal(ctx context.Context, dir string, opts SealOptions) (_ *Sealed, err error) {
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracing.Name).Start(ctx, "seal")
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if opts.IncludeKey && len(opts.Recipients) == 0 {
		return nil, errors.New("seal: no support recipient to encrypt the key to; pass --recipient or --recipients-file, or use nometa mode")
	}
	id := opts.UUID
	if id == "" {
		id = uuid.NewString()
	}
	if err := layout.CheckUUID(id); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if opts.Split != 0 {
		if err := checkSplit(opts.Split); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = "."
	}
	if fi, err := os.Stat(outDir); err != nil {
		return nil, fmt.Errorf("seal: output directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("seal: output %s is not a directory", outDir)
	}

	if err := checkOutside(dir, outDir); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}

	session, to, err := sessionOf(opts)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	files := layout.LocalFiles(outDir, id)
	s := &Sealed{
		PayloadPath: files.Payload,
		InfoPath:    files.Info,
	}
	if session != nil {
		s.SessionKey = session.String()
	}
	if opts.IncludeKey {
		s.KeyPath = files.Key
	}
	for _, p := range []string{s.PayloadPath, files.Part(1), s.KeyPath, s.InfoPath} {
		if _, err := os.Lstat(p); p != "" && err == nil {
			return nil, fmt.Errorf("seal: %w", existsError(p))
		}
	}

	var temps []*tempFile
	defer func() {
		for _, t := range temps {
			t.discard() // a no-op for committed files
		}
	}()
	newTemp := func(final string) (*tempFile, error) {
		t, err := createTemp(final)
		if err == nil {
			temps = append(temps, t)
		}
		return t, err
	}

	popts := opts.Pack
	if popts.Prefix == "" {
		popts.Prefix = layout.MemberPrefix(id)
	}
	var payload []*tempFile
	var pw *partWriter
	var w io.Writer
	if opts.Split > 0 {
		pw = &partWriter{base: s.PayloadPath, size: opts.Split, newTemp: newTemp}
		w = pw
	} else {
		pf, err := newTemp(s.PayloadPath)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		payload, w = []*tempFile{pf}, pf
	}
	if opts.Tee != nil {
		w = io.MultiWriter(w, opts.Tee)
	}
	stats, size, sum, err := writePayload(ctx, w, dir, to, popts)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}

	var kf *tempFile
	if opts.IncludeKey {
		if kf, err = newTemp(s.KeyPath); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		if err := writeKey(kf, session, opts.Recipients); err != nil {
			return nil, fmt.Errorf("seal: write %s: %w", s.KeyPath, err)
		}
	}

	s.Info = layout.Info{
		Schema:        layout.InfoSchema,
		ToolVersion:   opts.ToolVersion,
		UUID:          id,
		Created:       time.Now().UTC().Truncate(time.Second),
		PayloadSize:   size,
		PayloadSHA256: sum,
		Parts:         1,
		Recipients:    make([]string, 0, len(opts.Recipients)),
		KeyIncluded:   opts.IncludeKey,
		Compression:   "zstd",
		Encryption:    "age",
		Files:         stats.Files,
		ContentBytes:  stats.Bytes,
	}
	span.SetAttributes(attribute.Int("files", stats.Files), attribute.Int64("bytes", stats.Bytes),
		attribute.Int64("sealed_bytes", size))
	for _, r := range opts.Recipients {
		s.Info.Recipients = append(s.Info.Recipients, recipientFingerprint(r))
	}
	s.PayloadParts = []string{s.PayloadPath}
	if pw != nil {
		s.PayloadParts, payload = pw.finish(), pw.temps
		s.PayloadPath = s.PayloadParts[0]
		setParts(&s.Info, pw.parts)
	}
	inf, err := newTemp(s.InfoPath)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := writeInfo(inf, &s.Info); err != nil {
		return nil, fmt.Errorf("seal: write %s: %w", s.InfoPath, err)
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// The info goes last: its presence says the other parts are complete.
	order := append(payload, kf, inf)
	for i, t := range order {
		if t == nil {
			continue
		}
		if err := t.commit(); err != nil {
			for _, done := range order[:i] {
				if done != nil {
					os.Remove(done.final)
				}
			}
			return nil, fmt.Errorf("seal: %w", err)
		}
	}
	syncDir(outDir)
	return s, nil
}

// sessionOf is the session identity (nil for a node part) and the recipient
// the payload is sealed to.
func sessionOf(opts SealOptions) (*age.X25519Identity, age.Recipient, error) {
	switch {
	case opts.SessionRecipient != nil && (opts.IncludeKey || opts.Session != nil):
		return nil, nil, errors.New("a part sealed to a session recipient has no session key to include")
	case opts.SessionRecipient != nil:
		return nil, opts.SessionRecipient, nil
	case opts.Session != nil:
		return opts.Session, opts.Session.Recipient(), nil
	}
	session, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, fmt.Errorf("generate session key: %w", err)
	}
	return session, session.Recipient(), nil
}

// writePayload streams tar | zstd | age into w, hashing and counting the
// encrypted bytes on the way so the file never has to be read back.
func writePayload(ctx context.Context, w io.Writer, dir string, to age.Recipient, opts PackOptions) (PackStats, int64, string, error) {
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	aw, err := age.Encrypt(cw, to)
	if err != nil {
		return PackStats{}, 0, "", fmt.Errorf("encrypt payload: %w", err)
	}
	stats, err := Pack(ctx, aw, dir, opts)
	if err != nil {
		return stats, 0, "", err
	}
	if err := aw.Close(); err != nil {
		return stats, 0, "", fmt.Errorf("encrypt payload: %w", err)
	}
	return stats, cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

// writeKey writes the session identity encrypted to every recipient.
func writeKey(f *tempFile, session *age.X25519Identity, to []age.Recipient) error {
	aw, err := age.Encrypt(f, to...)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(aw, session.String()+"\n"); err != nil {
		return err
	}
	return aw.Close()
}

func writeInfo(f *tempFile, info *layout.Info) error {
	data, err := info.Marshal()
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}
