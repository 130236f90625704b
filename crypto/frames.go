package crypto

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// frameWriter compresses what is written to it as a series of independent
// zstd frames of up to frameSize bytes, several at once, and writes them to
// w in order: a valid zstd stream that any decoder reads as one.
//
// This is zstd -T0's parallelism without its shared history: a frame
// starts with an empty window, which costs well under 1% on dump-like text
// at 4 MiB frames. Memory is bounded by the buffers: n+2 of each of input
// and output (one filling, n compressing, one being written), n being the
// encoder's concurrency.
type frameWriter struct {
	enc  *zstd.Encoder // EncodeAll is safe for concurrent use
	buf  []byte        // the frame being filled
	free chan []byte   // spare input buffers
	outs chan []byte   // spare output buffers
	jobs chan *frameJob
	done chan struct{} // closed when the writer goroutine has ended

	mu  sync.Mutex
	err error // first write error, sticky
}

type frameJob struct {
	in, out []byte
	ready   chan struct{} // closed once out holds the compressed frame
}

// frameSize: see frameWriter. Smaller frames lose more at each restart;
// larger ones hold more memory and start the workers later.
const frameSize = 4 << 20

func newFrameWriter(w io.Writer, enc *zstd.Encoder, n int) *frameWriter {
	bufs := n + 2
	f := &frameWriter{
		enc:  enc,
		free: make(chan []byte, bufs),
		outs: make(chan []byte, bufs),
		jobs: make(chan *frameJob, bufs),
		done: make(chan struct{}),
	}
	for range bufs - 1 {
		f.free <- nil // allocated on first use
		f.outs <- nil
	}
	f.outs <- nil
	f.buf = make([]byte, 0, frameSize)
	go f.writeFrames(w)
	return f
}

func (f *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := f.failure(); err != nil {
			return n, err
		}
		m := copy(f.buf[len(f.buf):cap(f.buf)], p)
		f.buf = f.buf[:len(f.buf)+m]
		n += m
		p = p[m:]
		if len(f.buf) == cap(f.buf) {
			f.dispatch()
		}
	}
	return n, nil
}

// dispatch hands the filled buffer to an encoder and takes a free one.
func (f *frameWriter) dispatch() {
	j := &frameJob{in: f.buf, out: <-f.outs, ready: make(chan struct{})}
	f.jobs <- j
	go func() {
		j.out = f.enc.EncodeAll(j.in, j.out[:0])
		close(j.ready)
	}()
	f.buf = <-f.free
	if f.buf == nil {
		f.buf = make([]byte, 0, frameSize)
	}
	f.buf = f.buf[:0]
}

// writeFrames writes the frames in order; after an error it only recycles.
func (f *frameWriter) writeFrames(w io.Writer) {
	defer close(f.done)
	for j := range f.jobs {
		<-j.ready
		if f.failure() == nil {
			if _, err := w.Write(j.out); err != nil {
				f.mu.Lock()
				f.err = err
				f.mu.Unlock()
			}
		}
		f.free <- j.in
		f.outs <- j.out
	}
}

func (f *frameWriter) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close compresses what is left and waits until every frame is written.
func (f *frameWriter) Close() error {
	if len(f.buf) > 0 {
		f.dispatch()
	}
	close(f.jobs)
	<-f.done
	return f.failure()
}
