package redact

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
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
	var buf bytes.Buffer
	buf.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := 0; buf.Len() < 8<<20; i++ {
		fmt.Fprintf(&buf, `- apiVersion: v1
  kind: Pod
  metadata:
    name: web-%d
    namespace: apps
    labels: {app: web, tier: frontend}
  spec:
    containers:
    - name: web
      image: registry.example.org/web:1.%d
      args: ["--listen", ":8080", "--db-password", "pw-%d-secret"]
      env:
      - name: API_TOKEN
        value: tok-%d-abcdef
      - name: LOG_LEVEL
        value: info
  status:
    phase: Running
    podIP: 10.42.%d.%d
`, i, i%10, i, i, i/250%250, i%250)
	}
	benchStream(b, buf.Bytes(), "kube/kubectl_get_pods.yaml")
}
