package decrypt

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Extraction writes files on a few goroutines, so that the disk writes of
// one file overlap the decryption and decompression of what follows, and
// the closing of small files overlaps the creation of the next ones. The
// extractor still reads the archive, checks every member and creates every
// file itself, in archive order; a writer only writes the content it is
// handed, closes the file and sets its mtime. Each file goes to one writer,
// so its chunks are written in order.
const (
	numWriters = 4
	// chunkSize × numChunks bounds the content read but not yet written.
	chunkSize = 256 << 10
	numChunks = 16
)

// dirRef is an open directory shared by the extractor and the writers of
// the files in it; the last one to let go closes it.
type dirRef struct {
	*os.Root
	refs atomic.Int32
}

func newDirRef(r *os.Root) *dirRef {
	d := &dirRef{Root: r}
	d.refs.Store(1)
	return d
}

func (d *dirRef) hold() *dirRef {
	d.refs.Add(1)
	return d
}

func (d *dirRef) release() {
	if d.refs.Add(-1) == 0 {
		d.Close()
	}
}

// pendingFile is a created file whose content is on its way to a writer.
type pendingFile struct {
	f     *os.File
	dir   *dirRef // held until the file is closed
	base  string  // name in dir
	rel   string  // name below the target, for messages
	mtime time.Time
}

// writeOp is a chunk of a file's content, or with data nil the end of it.
type writeOp struct {
	file *pendingFile
	data []byte
}

type fileWriters struct {
	free   chan []byte // spare chunk buffers (nil: not allocated yet)
	queues []chan writeOp
	next   int // the writer of the next file
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // first write error, sticky
}

func newFileWriters() *fileWriters {
	w := &fileWriters{free: make(chan []byte, numChunks)}
	for range numChunks {
		w.free <- nil
	}
	for range numWriters {
		q := make(chan writeOp, numChunks)
		w.queues = append(w.queues, q)
		w.wg.Add(1)
		go w.run(q)
	}
	return w
}

// assign picks the writer of the next file.
func (w *fileWriters) assign() chan<- writeOp {
	q := w.queues[w.next]
	w.next = (w.next + 1) % len(w.queues)
	return q
}

// buffer waits for a free chunk buffer.
func (w *fileWriters) buffer() []byte {
	b := <-w.free
	if b == nil {
		b = make([]byte, chunkSize)
	}
	return b[:chunkSize]
}

// wait lets every writer finish what it was handed and returns the first
// write error.
func (w *fileWriters) wait() error {
	for _, q := range w.queues {
		close(q)
	}
	w.wg.Wait()
	return w.failure()
}

func (w *fileWriters) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *fileWriters) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// run writes what it is handed; after an error anywhere it only closes the
// files and recycles the buffers.
func (w *fileWriters) run(q <-chan writeOp) {
	defer w.wg.Done()
	for op := range q {
		pf := op.file
		if op.data != nil {
			if w.failure() == nil {
				if _, err := pf.f.Write(op.data); err != nil {
					w.fail(fmt.Errorf("extract %s: %w", pf.rel, err))
				}
			}
			w.free <- op.data
			continue
		}
		if err := pf.f.Close(); err != nil {
			w.fail(fmt.Errorf("extract %s: %w", pf.rel, err))
		}
		if !pf.mtime.IsZero() && w.failure() == nil {
			// Log mtimes help support; failing to set one is harmless.
			if err := pf.dir.Chtimes(pf.base, pf.mtime, pf.mtime); err != nil {
				slog.Debug("extract: cannot set mtime", "file", pf.rel, "err", err)
			}
		}
		pf.dir.release()
	}
}
