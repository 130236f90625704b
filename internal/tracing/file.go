package tracing

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// fileClient is the otlptrace client of file:///dir: each export request
// becomes one line of OTLP JSON in a file of its own run in dir, the format
// the Collector's otlpjsonfile receiver reads.
type fileClient struct {
	dir string

	mu sync.Mutex
	f  *os.File
}

func (c *fileClient) Start(context.Context) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("trace exporter: %w", err)
	}
	f, err := os.CreateTemp(c.dir, "dump-trace-*.jsonl")
	if err != nil {
		return fmt.Errorf("trace exporter: %w", err)
	}
	c.f = f
	return nil
}

func (c *fileClient) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.f.Close()
}

func (c *fileClient) UploadTraces(_ context.Context, spans []*tracepb.ResourceSpans) error {
	b, err := otlpJSON(&coltracepb.ExportTraceServiceRequest{ResourceSpans: spans})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.f.Write(append(b, '\n'))
	return err
}

// otlpJSON encodes req as OTLP JSON. That is protojson except that trace
// and span ids are hex, not base64.
func otlpJSON(req *coltracepb.ExportTraceServiceRequest) ([]byte, error) {
	b, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	hexIDs(v)
	return json.Marshal(v)
}

func hexIDs(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
				if id, err := base64.StdEncoding.DecodeString(s); err == nil {
					v[k] = hex.EncodeToString(id)
				}
				continue
			}
			hexIDs(x)
		}
	case []any:
		for _, x := range v {
			hexIDs(x)
		}
	}
}
