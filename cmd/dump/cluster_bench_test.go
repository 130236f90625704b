package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dumptool/dump/internal/kubetest"
	"github.com/dumptool/dump/internal/miniotest"
)

// BenchmarkCluster runs the real `dump gather-upload --cluster` binary against
// the real kube-apiserver and MinIO, with DUMP_BENCH_NODES stand-in nodes
// (default 200) gathering a tiny fixture root, once per --node-concurrency in
// DUMP_BENCH_CONCURRENCY (default "10,50"). It reports the initiator's wall
// time, its own CPU time and peak RSS apart from its kubectl processes, the
// API server's requests and bytes from its own /metrics, and the bytes the
// node parts put in the bucket. Run it with -benchtime 1x (make bench does).
func BenchmarkCluster(b *testing.B) {
	nodes, concurrency := 200, []int{10, 50}
	if v := os.Getenv("DUMP_BENCH_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("DUMP_BENCH_NODES=%q: want a node count", v)
		}
		nodes = n
	}
	if v := os.Getenv("DUMP_BENCH_CONCURRENCY"); v != "" {
		concurrency = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				b.Fatalf("DUMP_BENCH_CONCURRENCY=%q: want counts like 10,50", v)
			}
			concurrency = append(concurrency, n)
		}
	}
	c := kubetest.Shared(b)
	srv := miniotest.Start(b)
	srv.MakeBucket(b, "bench")
	r := runDump(b, b.TempDir(), nil, "keygen", "--out", filepath.Join(b.TempDir(), "support.key"))
	if r.code != 0 {
		b.Fatalf("keygen: %s", r)
	}
	recipient := r.lastLine()

	// Each node copies three small files of a fixture root: a node part of
	// about 1 KiB, so that the figures are the fan-out's, not the gathering's.
	sysroot := filepath.Join(repoRoot(b), "testdata", "fixtures", "teleport-node")
	nodeSpec := writeSpec(b, `- name: node-files
  category: system
  kind: copy
  paths: [/etc/hostname, /etc/os-release, /etc/teleport.yaml]
  output: system/etc
`)
	standIns := map[string]kubetest.StandInNode{}
	for i := range nodes {
		standIns[fmt.Sprintf("bench-node-%04d", i)] = kubetest.StandInNode{Sysroot: sysroot}
	}
	run := standIn(b)
	c.RunPods(b, "dumpbench", strconv.Itoa(nodes), standIns, func(args []string, root string) *exec.Cmd {
		return run(append(args, "--profile", "none", "--spec", nodeSpec), root)
	})

	for _, conc := range concurrency {
		var report strings.Builder
		b.Run(fmt.Sprintf("nodes=%d/concurrency=%d", nodes, conc), func(b *testing.B) {
			for range b.N {
				report.Reset()
				m := runClusterBench(b, &report, c, srv, recipient, nodes, conc)
				b.ReportMetric(m.initiatorCPU.Seconds(), "initiator-cpu-s")
				b.ReportMetric(float64(m.initiatorRSS)/1024, "initiator-rss-MiB")
				b.ReportMetric(m.requests/float64(nodes), "api-requests/node")
				b.ReportMetric(m.apiBytes/float64(nodes), "api-bytes/node")
				b.ReportMetric(float64(m.partBytes)/float64(nodes), "part-bytes/node")
			}
		})
		// Printed after the benchmark's line: its own log would be cut at 10 lines.
		fmt.Print(report.String())
	}
}

type clusterBenchResult struct {
	initiatorCPU time.Duration
	initiatorRSS int64 // KiB
	requests     float64
	apiBytes     float64 // responses and request bodies
	partBytes    int64
}

func runClusterBench(b *testing.B, report io.Writer, c *kubetest.Cluster, srv *miniotest.Server, recipient string, nodes, conc int) clusterBenchResult {
	b.StopTimer()
	ctx := context.Background()
	before := scrapeMetrics(b, c)
	prefix := fmt.Sprintf("c%d-%d", conc, time.Now().UnixNano())
	cmd := exec.Command(dumpBin, "gather-upload", "--cluster", "--node-selector", "dumpbench="+strconv.Itoa(nodes),
		"--kubeconfig", c.AdminKubeconfig, "--to", "s3://bench/"+prefix, "--recipient", recipient,
		"--out", b.TempDir(), "--profile", "none", "--spec", writeSpec(b, okSpec),
		"--node-concurrency", strconv.Itoa(conc), "--node-timeout", "30m")
	cmd.Env = append(baseEnv(b), clusterEnv(b, srv)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b.StartTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	watch := watchProcess(cmd.Process.Pid)
	err := cmd.Wait()
	wall := time.Since(start)
	b.StopTimer()
	self := watch()
	if err != nil {
		b.Fatalf("the cluster dump failed: %v\n%s", err, stderr.String())
	}
	after := scrapeMetrics(b, c)

	var partBytes int64
	var parts int
	pages := s3sdk.NewListObjectsV2Paginator(srv.Client(), &s3sdk.ListObjectsV2Input{Bucket: aws.String("bench"), Prefix: aws.String(prefix + "/")})
	var total int64
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range page.Contents {
			total += aws.ToInt64(o.Size)
			if strings.Contains(aws.ToString(o.Key), "/nodes/") {
				partBytes += aws.ToInt64(o.Size)
				if strings.HasSuffix(aws.ToString(o.Key), ".tar.zst.age") {
					parts++
				}
			}
		}
	}
	if parts != nodes {
		b.Fatalf("%d node parts in the bucket, want %d\n%s", parts, nodes, stderr.String())
	}

	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	all := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	fmt.Fprintf(report, "%d nodes, --node-concurrency %d: %d of %d node parts uploaded, wall time %.1f s (%.2f s per node)\n",
		nodes, conc, parts, nodes, wall.Seconds(), wall.Seconds()/float64(nodes))
	fmt.Fprintf(report, "initiator, the dump process alone: CPU %.2f s, peak RSS %d MiB; its %d child processes (kubectl): CPU %.1f s, largest peak RSS %d MiB\n",
		self.cpu.Seconds(), self.hwm/1024, self.children, (all - self.cpu).Seconds(), usage.Maxrss/1024)
	fmt.Fprintf(report, "at most %d kubectl processes at once; the dump process and its kubectl processes together: at most %d MiB resident (sampled every 100 ms)\n",
		self.maxChildren, self.maxTotalRSS/1024)

	d := diffMetrics(before, after)
	res := clusterBenchResult{initiatorCPU: self.cpu, initiatorRSS: self.hwm, partBytes: partBytes}
	fmt.Fprintf(report, "API server requests during the run (apiserver_request_total, all clients), with response and request body bytes:\n")
	fmt.Fprintf(report, "  %-8s %-36s %-9s %7s %9s %12s  %s\n", "verb", "resource", "scope", "count", "per node", "resp bytes", "made by")
	var keys []string
	for k := range d.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var initiatorBytes float64
	for _, k := range keys {
		n := d.requests[k]
		verb, resource, scope := splitKey(k)
		who, share := requestMaker(verb, resource, scope)
		res.requests += share * n
		initiatorBytes += share * d.respBytes[k]
		fmt.Fprintf(report, "  %-8s %-36s %-9s %7.0f %9.2f %12.0f  %s\n", verb, resource, scope, n, n/float64(nodes), d.respBytes[k], who)
	}
	var bodies []string
	for k, v := range d.bodyBytes {
		bodies = append(bodies, fmt.Sprintf("%s %.0f", strings.ReplaceAll(k, "|", " "), v))
		verb, resource, _ := strings.Cut(k, "|")
		_, share := requestMaker(requestVerb[verb], resource, "resource")
		initiatorBytes += share * v
	}
	sort.Strings(bodies)
	fmt.Fprintf(report, "request bodies (apiserver_request_body_size_bytes), bytes: %s\n", strings.Join(bodies, ", "))
	var resp, body float64
	for _, v := range d.respBytes {
		resp += v
	}
	for _, v := range d.bodyBytes {
		body += v
	}
	res.apiBytes = initiatorBytes
	fmt.Fprintf(report, "watch events sent (apiserver_watch_events_total, every watcher): %.0f, %.0f bytes; %.1f events per node per watcher (the initiator's watch and the stand-in kubelets' watch both see every node pod)\n",
		d.watchEvents, d.watchBytes, d.watchEvents/2/float64(nodes))
	fmt.Fprintf(report, "bytes through the API server, all clients: %.0f response + %.0f request bodies = %.0f (%.0f per node); node parts in the bucket: %d bytes (%d per node); the whole dump: %d bytes\n",
		resp, body, resp+body, (resp+body)/float64(nodes), partBytes, partBytes/int64(nodes), total)
	fmt.Fprintf(report, "the initiator's share: %.0f requests (%.2f per node), %.0f bytes (%.0f per node) of responses and request bodies\n",
		res.requests, res.requests/float64(nodes), initiatorBytes, initiatorBytes/float64(nodes))
	return res
}

// requestMaker says whose requests a verb/resource/scope row holds, and the
// initiator's share of them: the initiator's kubectl (pods, its
// ServiceAccount, the node list, discovery and the OpenAPI index kubectl
// create reads), the stand-in kubelets (pod status, their cluster-wide
// watch, the GET of a forced delete), both (a pod's DELETE: the initiator's,
// then the kubelet's confirmation), or the API server's own upkeep.
func requestMaker(verb, resource, scope string) (string, float64) {
	switch {
	case resource == "pods" && verb == "DELETE":
		return "initiator + kubelet", 0.5
	case resource == "pods" && (verb == "GET" && scope == "resource" || scope == "cluster"), resource == "pods/status", verb == "PUT" && resource == "pods":
		return "kubelets", 0
	case resource == "pods" || resource == "serviceaccounts" || resource == "nodes" && verb == "LIST":
		return "initiator", 1
	case resource == "" || strings.HasPrefix(resource, "/"):
		return "initiator (discovery)", 1
	}
	return "apiserver", 0
}

// requestVerb is apiserver_request_total's verb for a verb of
// apiserver_request_body_size_bytes.
var requestVerb = map[string]string{"CREATE": "POST", "UPDATE": "PUT", "PATCH": "PATCH", "DELETE": "DELETE"}

type processStats struct {
	cpu      time.Duration
	hwm      int64 // VmHWM, KiB
	children int
	// most at once: children running, and RSS of the process and its
	// children together (KiB), from the samples
	maxChildren int
	maxTotalRSS int64
}

// watchProcess samples a process's own CPU time and peak RSS (VmHWM) from
// /proc until it exits, counts the children it starts and the most running
// at once with their RSS summed with its own; the function it
// returns stops sampling and gives the last figures, those of just before the
// exit. (wait4's rusage adds the children's into the process's own.)
func watchProcess(pid int) func() processStats {
	var mu sync.Mutex
	var st processStats
	seen := map[int]bool{}
	stop := make(chan struct{})
	done := make(chan struct{})
	tick := 100 * time.Millisecond
	hz := int64(100) // USER_HZ
	go func() {
		defer close(done)
		for {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			status, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err == nil && err2 == nil {
				f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
				utime, _ := strconv.ParseInt(f[11], 10, 64)
				stime, _ := strconv.ParseInt(f[12], 10, 64)
				if f[0] != "Z" {
					mu.Lock()
					st.cpu = time.Duration(utime+stime) * time.Second / time.Duration(hz)
					st.hwm = statusKiB(status, "VmHWM:")
					mu.Unlock()
				}
			}
			kids := childrenOf(pid)
			total := int64(0)
			if err2 == nil {
				total = statusKiB(status, "VmRSS:")
			}
			for _, child := range kids {
				seen[child] = true
				if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child)); err == nil {
					total += statusKiB(s, "VmRSS:")
				}
			}
			mu.Lock()
			st.children = len(seen)
			st.maxChildren = max(st.maxChildren, len(kids))
			st.maxTotalRSS = max(st.maxTotalRSS, total)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(tick):
			}
		}
	}()
	return func() processStats {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return st
	}
}

func statusKiB(status []byte, field string) int64 {
	sc := bufio.NewScanner(strings.NewReader(string(status)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if i := strings.LastIndexByte(string(b), ')'); err == nil && i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// apiMetrics are the API server's counters of one scrape, by verb, resource
// (with its subresource) and scope.
type apiMetrics struct {
	requests, respBytes     map[string]float64 // key: verb|resource|scope
	bodyBytes               map[string]float64 // key: verb|resource (the metric has no scope)
	watchEvents, watchBytes float64
}

func scrapeMetrics(b *testing.B, c *kubetest.Cluster) apiMetrics {
	out, err := c.Kubectl(context.Background(), "", "get", "--raw", "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	m := apiMetrics{requests: map[string]float64{}, respBytes: map[string]float64{}, bodyBytes: map[string]float64{}}
	for _, line := range strings.Split(out, "\n") {
		name, labels, value, ok := parseSample(line)
		if !ok {
			continue
		}
		resource := labels["resource"]
		if s := labels["subresource"]; s != "" {
			resource += "/" + s
		}
		key := labels["verb"] + "|" + resource + "|" + labels["scope"]
		switch name {
		case "apiserver_request_total":
			m.requests[key] += value
		case "apiserver_response_sizes_sum":
			m.respBytes[key] += value
		case "apiserver_request_body_size_bytes_sum":
			m.bodyBytes[strings.ToUpper(labels["verb"])+"|"+resource] += value
		case "apiserver_watch_events_total":
			m.watchEvents += value
		case "apiserver_watch_events_sizes_sum":
			m.watchBytes += value
		}
	}
	return m
}

func splitKey(k string) (verb, resource, scope string) {
	f := strings.SplitN(k, "|", 3)
	return f[0], f[1], f[2]
}

// parseSample reads one line of the Prometheus text format.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", nil, 0, false
	}
	value, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", nil, 0, false
	}
	head := line[:sp]
	labels = map[string]string{}
	name, rest, hasLabels := strings.Cut(head, "{")
	if hasLabels {
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
	}
	return name, labels, value, true
}

func diffMetrics(before, after apiMetrics) apiMetrics {
	d := apiMetrics{requests: map[string]float64{}, respBytes: map[string]float64{}, bodyBytes: map[string]float64{},
		watchEvents: after.watchEvents - before.watchEvents, watchBytes: after.watchBytes - before.watchBytes}
	for _, pair := range []struct{ out, a, b map[string]float64 }{
		{d.requests, after.requests, before.requests}, {d.respBytes, after.respBytes, before.respBytes}, {d.bodyBytes, after.bodyBytes, before.bodyBytes},
	} {
		for k, v := range pair.a {
			if v -= pair.b[k]; v != 0 {
				pair.out[k] = v
			}
		}
	}
	return d
}
