// Command tracesum prints where a run's time went, from the OTLP JSON
// file that --trace-exporter file:///dir writes: one line per span down to
// depth 3, indented under its parent, with its duration.
//
//	go run ./scripts/tracesum DIR/dump-trace-*.jsonl
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

type span struct {
	name, id, parent string
	start, end       uint64
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracesum FILE.jsonl")
		os.Exit(2)
	}
	spans, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracesum:", err)
		os.Exit(1)
	}
	slices.SortFunc(spans, func(a, b span) int { return int(int64(a.start - b.start)) })
	children := map[string][]span{}
	ids := map[string]bool{}
	for _, s := range spans {
		children[s.parent] = append(children[s.parent], s)
		ids[s.id] = true
	}
	var print func(parent string, depth int)
	print = func(parent string, depth int) {
		for _, s := range children[parent] {
			fmt.Printf("%-40s %8.3f s\n", strings.Repeat("  ", depth)+s.name, float64(s.end-s.start)/1e9)
			if depth < 3 {
				print(s.id, depth+1)
			}
		}
	}
	for _, s := range spans {
		if !ids[s.parent] { // a root
			print(s.parent, 0)
			break
		}
	}
}

func read(path string) ([]span, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var spans []span
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					spans = append(spans, span{s.Name(), s.SpanID().String(), s.ParentSpanID().String(),
						uint64(s.StartTimestamp()), uint64(s.EndTimestamp())})
				}
			}
		}
	}
	return spans, sc.Err()
}
