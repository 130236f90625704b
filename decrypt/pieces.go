package decrypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
)

// piece is one payload file or object, read in turn: the whole payload, or
// one part of a split one.
type piece struct {
	name   string // the object or file name, for messages and progress
	size   int64  // -1: unknown, nothing is checked (a local file without info)
	sha256 string
	open   func() (io.ReadCloser, error)
}

// piecesReader reads the pieces of a payload as one stream, checking each
// against its size and sha256 as it ends. The error of a split payload names
// the part it is about.
type piecesReader struct {
	pieces []piece
	split  bool
	wrap   func(name string, r io.Reader, size int64) io.Reader
	i      int           // the piece being read
	cur    io.ReadCloser // open piece i
	v      *verifyReader // its check, nil when unchecked
	r      io.Reader     // what is read of it
	err    error         // sticky, already naming the part
}

func newPiecesReader(pieces []piece, split bool, wrap func(string, io.Reader, int64) io.Reader) *piecesReader {
	return &piecesReader{pieces: pieces, split: split, wrap: wrap}
}

func (p *piecesReader) Read(b []byte) (int, error) {
	for p.err == nil {
		if p.cur == nil {
			if p.i == len(p.pieces) {
				return 0, io.EOF
			}
			if err := p.openPiece(); err != nil {
				p.err = p.named(err)
				break
			}
		}
		n, err := p.r.Read(b)
		switch {
		case err == io.EOF:
			p.closePiece()
			p.i++
			if n > 0 {
				return n, nil
			}
		case err != nil:
			p.err = p.named(err)
			return n, p.err
		default:
			return n, nil
		}
	}
	return 0, p.err
}

func (p *piecesReader) openPiece() error {
	pc := p.pieces[p.i]
	rc, err := pc.open()
	if err != nil {
		return err
	}
	p.cur, p.r, p.v = rc, rc, nil
	if p.wrap != nil {
		p.r = p.wrap(pc.name, p.r, pc.size)
	}
	if pc.size >= 0 {
		p.v = newVerifyReader(p.r, pc.size, pc.sha256)
		p.r = p.v
	}
	return nil
}

func (p *piecesReader) closePiece() {
	if p.cur != nil {
		p.cur.Close()
		p.cur, p.r, p.v = nil, nil, nil
	}
}

func (p *piecesReader) named(err error) error {
	if !p.split {
		return err
	}
	return fmt.Errorf("part %s: %w", p.pieces[p.i].name, err)
}

// blame returns the error of the payload's source when a later stage failed
// because of it: a failed download or check. A split payload's current
// part is read to its end first, so that a damaged part is named rather
// than reported as a decryption error.
func (p *piecesReader) blame() error {
	if p.err == nil && p.split && p.v != nil {
		if _, err := io.Copy(io.Discard, p.v); err != nil {
			p.err = p.named(err)
		}
	}
	return p.err
}

func (p *piecesReader) Close() error {
	p.closePiece()
	return nil
}

// storePieces checks that every payload object of dump id is in s with the
// size its info records, and says how to read each.
func storePieces(ctx context.Context, s upload.Store, id string, info *layout.Info, opts Options) ([]piece, error) {
	pieces := []piece{{name: layout.Object(id, layout.PayloadObject), size: info.PayloadSize, sha256: info.PayloadSHA256}}
	if info.Split() {
		pieces = pieces[:0]
		for i, part := range info.PayloadParts {
			pieces = append(pieces, piece{name: layout.Object(id, layout.PayloadObject+layout.PartSuffix(i+1)), size: part.Size, sha256: part.SHA256})
		}
	}
	for i := range pieces {
		pc := &pieces[i]
		st, err := s.Stat(ctx, pc.name)
		switch {
		case errors.Is(err, upload.ErrNotExist) && info.Split():
			return nil, fmt.Errorf("part %s is missing from %s: ask the customer to upload it again (dump upload puts only what is missing)", pc.name, s)
		case err != nil:
			return nil, err
		case st.Size != pc.size:
			return nil, fmt.Errorf("%w: %s in %s is %d bytes, %s says %d: the upload was cut or altered; ask the customer to upload it again", ErrChecksum, pc.name, s, st.Size, layout.InfoObject, pc.size)
		}
		pc.open = func() (io.ReadCloser, error) { return openStorePayload(ctx, s, pc.name, pc.size, opts) }
	}
	return pieces, nil
}

// filePieces checks that every payload file of a local dump is there with
// the size its info records (info is nil when there is none), and says how
// to read each.
func filePieces(files layout.Local, payloadPath string, info *layout.Info) ([]piece, error) {
	if info == nil {
		if payloadPath != files.Payload {
			return nil, fmt.Errorf("%s is a part of a split dump, and %s, which lists the parts, is missing: put it next to them", payloadPath, files.Info)
		}
		return []piece{{name: files.Payload, size: -1, open: openFile(files.Payload)}}, nil
	}
	pieces := []piece{{name: files.Payload, size: info.PayloadSize, sha256: info.PayloadSHA256}}
	if info.Split() {
		pieces = pieces[:0]
		for i, part := range info.PayloadParts {
			pieces = append(pieces, piece{name: files.Part(i + 1), size: part.Size, sha256: part.SHA256})
		}
	}
	for i := range pieces {
		pc := &pieces[i]
		fi, err := os.Stat(pc.name)
		switch {
		case errors.Is(err, os.ErrNotExist) && info.Split():
			return nil, fmt.Errorf("part %s is missing: copy it next to the other parts", pc.name)
		case err != nil:
			return nil, err
		case fi.Size() != pc.size:
			return nil, fmt.Errorf("%w: %s is %d bytes, its info says %d: the file was cut or altered; copy it again", ErrChecksum, pc.name, fi.Size(), pc.size)
		}
		pc.open = openFile(pc.name)
	}
	return pieces, nil
}

func openFile(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return layout.OpenRegular(path) }
}
