package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Errors returned when opening a dump; test for them with errors.Is. The
// messages returned wrap them with what to do next.
var (
	// ErrWrongIdentity: none of the given identities is a recipient of key.age.
	ErrWrongIdentity = errors.New("the identity does not match any recipient of this dump")
	// ErrWrongKey: the session key is not the one the payload was sealed with.
	ErrWrongKey = errors.New("the session key does not match this dump")
	// ErrTampered: the payload failed authentication or is not a sealed dump.
	ErrTampered = errors.New("the payload is corrupted or was tampered with")
	// ErrTruncated: the payload ends early, e.g. an interrupted download.
	ErrTruncated = errors.New("the payload is truncated")
	// ErrNotVerified: the payload was closed long before its end, so its
	// integrity was never fully checked.
	ErrNotVerified = errors.New("the payload was not read to its end")
)

// ageMagic starts every binary age file.
const ageMagic = "age-encryption.org/v1\n"

// maxKeyFileSize bounds the decrypted key file: one identity line.
const maxKeyFileSize = 4 << 10

// OpenKey decrypts a key.age file with the support identities and returns
// the session identity that opens the payload.
func OpenKey(r io.Reader, ids ...age.Identity) (*age.X25519Identity, error) {
	if len(ids) == 0 {
		return nil, errors.New("open key: no identity given; pass the support identity with --identity")
	}
	dr, err := age.Decrypt(r, ids...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("open key: %w: use the support identity it was sealed to (--identity; see recipients in the info file), or --key with the session key for a nometa dump", ErrWrongIdentity)
		}
		return nil, fmt.Errorf("open key: the key file is damaged or not an age file (%v); download it again", err)
	}
	data, err := io.ReadAll(io.LimitReader(dr, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("open key: the key file is damaged or truncated (%v); download it again", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, errors.New("open key: the key file holds more than a session key; it is not a dump key file")
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := ParseSessionKey(line)
		if err != nil {
			return nil, fmt.Errorf("open key: %w", err)
		}
		return id, nil
	}
	return nil, errors.New("open key: the key file holds no session key; it is not a dump key file")
}

// ParseSessionKey parses a session key given by hand (--key), with or
// without the "key=" prefix that nometa mode prints.
func ParseSessionKey(s string) (*age.X25519Identity, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "key=")
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		// Never echo s: it is (nearly) a secret key.
		return nil, errors.New("not a session key: want AGE-SECRET-KEY-1... exactly as printed when the dump was made; check it was copied whole")
	}
	return id, nil
}

// maxWindow bounds zstd decoder memory. Pack's encoder uses at most an
// 8 MiB window; anything asking for more is not ours.
const maxWindow = 32 << 20

// drainLimit is how much unread plaintext Close will read to authenticate
// the end of the payload: a tar reader stops at its end marker and leaves
// only a few blocks and the zstd frame end behind.
const drainLimit = 1 << 20

// OpenPayload decrypts and decompresses a dump.tar.zst.age stream, returning
// the tar stream.
//
// Authentication is per 64 KiB chunk, and truncation can only be detected at
// the very end. So treat every Read error as fatal, and check the error of
// Close: if the tar reader stopped at the archive's end marker, Close reads
// the little that is left and reports [ErrTruncated] or [ErrTampered] if the
// end is missing or damaged, or [ErrNotVerified] if more than 1 MiB was
// left unread. Errors wrap [ErrWrongKey], [ErrTampered] or [ErrTruncated].
// Close releases the decoder.
func OpenPayload(r io.Reader, session age.Identity) (io.ReadCloser, error) {
	src := &sourceReader{r: r}
	// Look at the magic first: age's header parser would read a non-age
	// file to its end and report it as truncated.
	magic := make([]byte, len(ageMagic))
	n, err := io.ReadFull(src, magic)
	if err != nil && src.err != nil {
		return nil, fmt.Errorf("open payload: read: %w", src.err)
	}
	if !strings.HasPrefix(ageMagic, string(magic[:n])) {
		return nil, fmt.Errorf("open payload: %w: it is not an age-encrypted file", ErrTampered)
	}
	dr, err := age.Decrypt(io.MultiReader(bytes.NewReader(magic[:n]), src), session)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		switch {
		case errors.As(err, &nomatch):
			return nil, fmt.Errorf("open payload: %w: use the key.age of this same dump, or the key printed when it was sealed", ErrWrongKey)
		case src.err != nil:
			return nil, fmt.Errorf("open payload: read: %w", src.err)
		case src.eof:
			return nil, fmt.Errorf("open payload: %w: the file ends inside its header; download it again", ErrTruncated)
		default:
			return nil, fmt.Errorf("open payload: %w: it is not an age file (%v)", ErrTampered, err)
		}
	}
	ar := &authReader{r: dr, src: src}
	zr, err := zstd.NewReader(ar,
		zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxWindow),
		zstd.WithDecoderConcurrency(decoderConcurrency),
		// age authenticates every byte; zstd's own checksum would cost
		// another pass (xxhash) on the caller's goroutine, and the
		// asynchronous decoder hashes even frames that carry none.
		zstd.IgnoreChecksum(true))
	if err != nil {
		return nil, fmt.Errorf("open payload: zstd: %w", err)
	}
	return &payloadReader{zr: zr, ar: ar}, nil
}

// decoderConcurrency > 1 makes the decoder asynchronous: blocks are read
// and decrypted (age runs inside the decoder's reads), decoded and their
// sequences executed on goroutines of their own, so decryption,
// decompression and the caller's untar overlap as the stages of
// `age -d | zstd -d | tar -x` do. It costs a few blocks of memory.
const decoderConcurrency = 4

// sourceReader remembers how the encrypted source ended, to tell a
// truncated file from a damaged one and from an I/O error.
type sourceReader struct {
	r   io.Reader
	eof bool
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil && s.err == nil:
		s.err = err
	}
	return n, err
}

// authReader reads age plaintext and turns its errors into ours. The zstd
// decoder may read it from another goroutine, hence the lock.
type authReader struct {
	r   io.Reader
	src *sourceReader

	mu   sync.Mutex
	err  error // first error, classified
	done bool  // read to a clean io.EOF
}

func (a *authReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err == nil {
		return n, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == io.EOF {
		a.done = true
		return n, err
	}
	if a.err == nil {
		a.err = a.classify(err)
	}
	return n, a.err
}

func (a *authReader) classify(err error) error {
	switch {
	case a.src.err != nil:
		return fmt.Errorf("open payload: read: %w", a.src.err)
	case errors.Is(err, io.ErrUnexpectedEOF), a.src.eof:
		// age treats a short chunk at the end of the file as the final one;
		// if that fails authentication the file was most likely cut.
		return fmt.Errorf("open payload: %w or damaged at its end; download it again", ErrTruncated)
	default:
		return fmt.Errorf("open payload: %w (authentication failed); download it again, and if it persists ask the customer to upload it again", ErrTampered)
	}
}

// failure returns the classified age error, if any.
func (a *authReader) failure() (done bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done, a.err
}

type payloadReader struct {
	zr     *zstd.Decoder
	ar     *authReader
	err    error // sticky: once failed, always failed
	eof    bool
	closed bool
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.eof {
		return 0, io.EOF
	}
	n, err := p.zr.Read(b)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		// The zstd stream ended; io.EOF is only honest if the encrypted
		// stream also ended cleanly, authenticated to its last byte.
		if err := p.finish(); err != nil {
			p.err = err
			return n, err
		}
		p.eof = true
		return n, io.EOF
	}
	// A decoder error caused by the age layer reports that cause instead.
	if _, aerr := p.ar.failure(); aerr != nil {
		p.err = aerr
	} else {
		p.err = fmt.Errorf("open payload: %w: decompress: %v", ErrTampered, err)
	}
	return n, p.err
}

// finish checks that the age stream ended with the zstd stream.
func (p *payloadReader) finish() error {
	if done, aerr := p.ar.failure(); aerr != nil || done {
		return aerr
	}
	var one [1]byte
	n, err := p.ar.Read(one[:])
	if n > 0 {
		return fmt.Errorf("open payload: %w: data after the end of the compressed archive", ErrTampered)
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// Close authenticates the rest of a payload that was not read to io.EOF
// (within drainLimit) and releases the decoder.
func (p *payloadReader) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	defer p.zr.Close()
	if p.err != nil || p.eof {
		return p.err
	}
	_, err := io.CopyN(io.Discard, p, drainLimit+1)
	switch {
	case err == nil:
		return fmt.Errorf("open payload: %w; its integrity was not checked", ErrNotVerified)
	case err == io.EOF:
		return nil
	}
	return err
}
