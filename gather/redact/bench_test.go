package redact

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

var (
	benchLogOnce sync.Once
	benchLog     []byte
)

// realisticLog is 64 MiB of k3s/Teleport-style journal text with about one
// line in 200 carrying a secret.
func realisticLog() []byte {
	benchLogOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		ordinary := []string{
			`time="2026-11-21T05:10:%02d Z" level=info msg="Successfully synced key kube-system/coredns-6799fbcd5-x7k2p"`,
			`I1121 05:10:%02d.123456 2231 controller.go:123] "Updating node status" node="node-alpha-01" pods=42`,
			`INFO [PROXY:1] Reverse tunnel established to 10.20.30.%d:3024 heartbeat ok. reversetunnel/agent.go:420`,
			`E1121 05:10:%02d.000001 2231 pod_workers.go:1298] "Error syncing pod, skipping" err="failed to \"StartContainer\" with CrashLoopBackOff"`,
			`level=debug msg="handling request" method=GET path=/v1/webapi/sites/prod-east/nodes status=200 duration=%dms`,
			`Started Session %d of User ubuntu. session-c1.scope loaded active running`,
			`audit: type=1400 apparmor="ALLOWED" operation="open" profile="cri-containerd" name="/proc/%d/status" pid=2231`,
		}
		secret := []string{
			`msg="connecting" dsn="postgres://k3s:P4ss-%d-word@db1:5432/k3s"`,
			`Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4NTY3In0.c2lnbmF0dXJlMTIz%d`,
			`/usr/local/bin/k3s agent --token K10a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9::node:pw%d`,
		}
		var b bytes.Buffer
		for b.Len() < 64<<20 {
			fmt.Fprintf(&b, "Nov 21 05:10:00 node-alpha-01 k3s[2231]: ")
			if rng.IntN(200) == 0 {
				fmt.Fprintf(&b, secret[rng.IntN(len(secret))], rng.IntN(60))
			} else {
				fmt.Fprintf(&b, ordinary[rng.IntN(len(ordinary))], rng.IntN(60))
			}
			b.WriteByte('\n')
		}
		benchLog = b.Bytes()
	})
	return benchLog
}

func benchStream(b *testing.B, data []byte, name string) {
	r := mustNew(b, Options{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Stream(io.Discard, bytes.NewReader(data), name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamText measures text redaction throughput (MB/s) on a large log.
func BenchmarkStreamText(b *testing.B) {
	benchStream(b, realisticLog(), "systemd/n1/k3s.service/log.txt")
}

// BenchmarkStreamJSONLines measures journalctl -o json style input.
func BenchmarkStreamJSONLines(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 16<<20; i++ {
		msg := fmt.Sprintf("Reverse tunnel established to 10.20.30.%d:3024 heartbeat ok", i%250)
		if i%200 == 0 {
			msg = fmt.Sprintf("Authorization: Bearer opaqueTok%dXyZ123456", i)
		}
		fmt.Fprintf(&buf, `{"__CURSOR":"s=%032x;i=%x","__REALTIME_TIMESTAMP":"%d","_HOSTNAME":"node-alpha-01","_SYSTEMD_UNIT":"teleport.service","PRIORITY":"6","MESSAGE":%q}`+"\n",
			i, i, 1763700000000000+i, msg)
	}
	benchStream(b, buf.Bytes(), "systemd/n1/teleport.service/log.json")
}

// BenchmarkStreamYAML measures structured redaction of a large kubectl List.
func BenchmarkStreamYAML(b *testing.B) {
	benchStream(b, kubeListYAML(8<<20, true), "kube/kubectl_get_pods.yaml")
}

// kubeListYAML is about size bytes of `kubectl get -o yaml` output: Pods with
// secret env values and args, Secrets and ConfigMaps holding a config file.
// With list it is a List (apiVersion, items, kind, metadata); without, a
// bare top-level sequence of the same objects.
func kubeListYAML(size int, list bool) []byte {
	var b bytes.Buffer
	if list {
		b.WriteString("apiVersion: v1\nitems:\n")
	}
	for i := 0; b.Len() < size; i++ {
		switch i % 10 {
		case 3:
			fmt.Fprintf(&b, `- apiVersion: v1
  data:
    password: %s
    username: YWRtaW4=
  kind: Secret
  metadata:
    name: db-%d
    namespace: apps
  type: Opaque
`, base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "Pw-%d-s3cr3tXy", i)), i)
		case 6:
			fmt.Fprintf(&b, `- apiVersion: v1
  data:
    app.yaml: |
      listen: :8080
      db:
        host: db-%d
        password: CmPw%dabcdef
    level: info
  kind: ConfigMap
  metadata:
    name: app-%d
    namespace: apps
`, i, i, i)
		default:
			fmt.Fprintf(&b, `- apiVersion: v1
  kind: Pod
  metadata:
    name: web-%d
    namespace: apps
    labels: {app: web, tier: frontend}
    creationTimestamp: "2026-11-21T05:10:00Z"
  spec:
    nodeName: node-%02d
    containers:
    - name: web
      image: registry.example.org/web:1.%d
      args: ["--listen", ":8080", "--db-password", "pw-%d-secret"]
      env:
      - name: API_TOKEN
        value: tok-%d-abcdef
      - name: LOG_LEVEL
        value: info
      resources: {requests: {cpu: 100m, memory: 128Mi}}
  status:
    phase: Running
    podIP: 10.42.%d.%d
`, i, i%50, i%10, i, i, i/250%250, i%250)
		}
	}
	if list {
		b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	}
	return b.Bytes()
}

// BenchmarkStreamYAMLMemory measures the memory of redacting one 40 MB
// kubectl YAML document (a List, and a bare sequence as genlogs writes), per
// byte of input: peak-heap-B/in-B is the largest heap the run reached above
// what was live before it (at the default GOGC, so up to twice what is live
// then, the input included), peak-live-B/in-B the most the garbage
// collector found live, alloc-B/in-B all it allocated. The heap is sampled
// every millisecond.
func BenchmarkStreamYAMLMemory(b *testing.B) {
	for _, list := range []bool{true, false} {
		b.Run(fmt.Sprintf("list=%v", list), func(b *testing.B) {
			data := kubeListYAML(40<<20, list)
			r := mustNew(b, Options{})
			b.SetBytes(int64(len(data)))
			var peak heapSample
			var alloc uint64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := readHeap()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				done := make(chan heapSample)
				go func() { done <- samplePeak(base) }()
				b.StartTimer()
				if _, err := r.Stream(io.Discard, bytes.NewReader(data), "kube/pods.yaml"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				stopSampling <- struct{}{}
				p := <-done
				peak.objects = max(peak.objects, p.objects-base.objects)
				peak.live = max(peak.live, p.live-base.live)
				alloc += after.TotalAlloc - before.TotalAlloc
				b.StartTimer()
			}
			b.ReportMetric(float64(peak.objects)/float64(len(data)), "peak-heap-B/in-B")
			b.ReportMetric(float64(peak.live)/float64(len(data)), "peak-live-B/in-B")
			b.ReportMetric(float64(alloc)/float64(b.N)/float64(len(data)), "alloc-B/in-B")
		})
	}
}

var stopSampling = make(chan struct{})

// heapSample is the heap's size and what the last garbage collection found live.
type heapSample struct{ objects, live uint64 }

func readHeap() heapSample {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return heapSample{s[0].Value.Uint64(), s[1].Value.Uint64()}
}

// samplePeak returns the largest heap seen until stopSampling.
func samplePeak(peak heapSample) heapSample {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		h := readHeap()
		peak = heapSample{max(peak.objects, h.objects), max(peak.live, h.live)}
		select {
		case <-stopSampling:
			return peak
		case <-t.C:
		}
	}
}
