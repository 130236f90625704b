package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/dumptool/dump/internal/miniotest"
	"github.com/dumptool/dump/upload/gs/gstest"
)

// otlpReceiver runs the OpenTelemetry Collector's own OTLP receiver in this
// process, on gRPC and HTTP, feeding a sink the test reads spans from.
func otlpReceiver(t *testing.T) (grpcAddr, httpAddr string, sink *consumertest.TracesSink) {
	t.Helper()
	grpcAddr, httpAddr = freeAddr(t), freeAddr(t)
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = grpcAddr
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = httpAddr
	sink = new(consumertest.TracesSink)
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return grpcAddr, httpAddr, sink
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// spanTree renders spans as "parent > child" paths, one per span, so a
// test can check where each span hangs.
func spanTree(traces []ptrace.Traces) []string {
	type span struct{ name, parent string }
	byID := map[string]span{}
	for _, td := range traces {
		rss := td.ResourceSpans()
		for i := range rss.Len() {
			sss := rss.At(i).ScopeSpans()
			for j := range sss.Len() {
				ss := sss.At(j).Spans()
				for k := range ss.Len() {
					s := ss.At(k)
					byID[s.SpanID().String()] = span{s.Name(), s.ParentSpanID().String()}
				}
			}
		}
	}
	var paths []string
	for _, s := range byID {
		path := s.name
		for p, ok := byID[s.parent]; ok; p, ok = byID[p.parent] {
			path = p.name + " > " + path
		}
		paths = append(paths, path)
	}
	slices.Sort(paths)
	return paths
}

func wantSpans(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no span %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// One run is one trace: the command's root span, the gather with its
// stages and collectors, the seal, and each upload operation.
var wantUploadTree = []string{
	"dump gather-upload",
	"dump gather-upload > gather",
	"dump gather-upload > gather > plan",
	"dump gather-upload > gather > collect",
	"dump gather-upload > gather > collect > greeting",
	"dump gather-upload > gather > collect > broken",
	"dump gather-upload > gather > leak scan",
	"dump gather-upload > seal",
}

func TestTraceExporterOTLP(t *testing.T) {
	_, recipient := keygen(t)
	grpcAddr, httpAddr, sink := otlpReceiver(t)
	spec := writeSpec(t, failingSpec)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"grpc flag", nil, []string{"--trace-exporter", "grpc://" + grpcAddr}},
		{"http flag", nil, []string{"--trace-exporter", "http://" + httpAddr}},
		{"standard variables", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + httpAddr}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.Reset()
			args := append([]string{"gather-upload", "--profile", "none", "--spec", spec, "--recipient", recipient,
				"--to", "file://" + t.TempDir(), "--out", t.TempDir()}, tc.args...)
			if r := runDump(t, t.TempDir(), tc.env, args...); r.code != 3 {
				t.Fatalf("want exit 3 (one collector fails): %s", r)
			}
			got := spanTree(sink.AllTraces())
			wantSpans(t, got, wantUploadTree...)
			if !slices.ContainsFunc(got, func(s string) bool {
				return strings.HasPrefix(s, "dump gather-upload > put ") && strings.HasSuffix(s, "/dump.tar.zst.age")
			}) {
				t.Errorf("no span for the payload's upload; got:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// An upload to S3 shows each multipart part under the upload made while
// sealing.
func TestTraceExporterS3Parts(t *testing.T) {
	srv := miniotest.Start(t)
	srv.MakeBucket(t, "support")
	_, recipient := keygen(t)
	grpcAddr, _, sink := otlpReceiver(t)
	r := runDump(t, t.TempDir(), srv.Env(), "gather-upload", "--profile", "none", "--spec", writeSpec(t, okSpec),
		"--recipient", recipient, "--to", "s3://support/dumps", "--out", t.TempDir(), "--trace-exporter", "grpc://"+grpcAddr)
	if r.code != 0 {
		t.Fatalf("gather-upload to s3: %s", r)
	}
	stream := "dump gather-upload > put stream " + r.lastLine() + "/dump.tar.zst.age"
	wantSpans(t, spanTree(sink.AllTraces()), stream, stream+" > part 1")
}

// An upload to GCS shows each resumable chunk under the upload made while
// sealing: a dump of 18 MB that does not compress takes two chunks of 16 MiB.
func TestTraceExporterGCSChunks(t *testing.T) {
	srv := gstest.Start(t, "support")
	_, recipient := keygen(t)
	grpcAddr, _, sink := otlpReceiver(t)
	spec := writeSpec(t, `- name: noise
  category: system
  kind: run
  command: [head, -c, "18000000", /dev/urandom]
  output: system/noise.bin
`)
	r := runDump(t, t.TempDir(), []string{"STORAGE_EMULATOR_HOST=" + srv.URL()}, "gather-upload", "--profile", "none", "--spec", spec, "--max-file-size", "32M",
		"--recipient", recipient, "--to", "gs://support/dumps", "--out", t.TempDir(), "--trace-exporter", "grpc://"+grpcAddr)
	if r.code != 0 {
		t.Fatalf("gather-upload to gs: %s", r)
	}
	stream := "dump gather-upload > put stream " + r.lastLine() + "/dump.tar.zst.age"
	got := spanTree(sink.AllTraces())
	wantSpans(t, got, stream, stream+" > chunk 1", stream+" > chunk 2")
	if slices.Contains(got, stream+" > chunk 3") {
		t.Errorf("18 MB took more than two chunks of 16 MiB:\n%s", strings.Join(got, "\n"))
	}
}

// file:///dir writes OTLP JSON lines, which the Collector's JSON decoder reads.
func TestTraceExporterFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces")
	r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--spec", writeSpec(t, okSpec),
		"--out", t.TempDir(), "--trace-exporter", "file://"+dir)
	if r.code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "dump-trace-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("want one trace file in %s, got %v", dir, files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var traces []ptrace.Traces
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(sc.Bytes())
		if err != nil {
			t.Fatalf("%s is not OTLP JSON: %v", files[0], err)
		}
		traces = append(traces, td)
	}
	wantSpans(t, spanTree(traces), "dump gather > gather > collect > greeting")
}

func TestTraceExporterBadURL(t *testing.T) {
	for _, u := range []string{"ftp://host:21", "localhost:4317"} {
		r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--out", t.TempDir(), "--trace-exporter", u)
		if r.code != 2 || !strings.Contains(r.stderr, "--trace-exporter") {
			t.Errorf("--trace-exporter %s: want a usage error naming the flag: %s", u, r)
		}
	}
}

// An unreachable collector costs the run its trace, not its result.
func TestTraceExporterUnreachable(t *testing.T) {
	start := time.Now()
	r := runDump(t, t.TempDir(), nil, "gather", "--profile", "none", "--spec", writeSpec(t, okSpec),
		"--out", t.TempDir(), "--trace-exporter", "grpc://"+freeAddr(t))
	if r.code != 0 {
		t.Fatalf("want exit 0 with the collector down: %s", r)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a dead collector held the run for %v", d)
	}
}
