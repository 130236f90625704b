package gather

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/fixturetest"
)

// offline keeps a census from asking anything outside the test.
func offline(t *testing.T) {
	t.Helper()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); strings.HasPrefix(k, "TELEPORT_INSTALL_METHOD_") {
			t.Setenv(k, "")
		}
	}
}

func TestCensusOnFixtures(t *testing.T) {
	offline(t)
	t.Setenv("TELEPORT_INSTALL_METHOD_NODE_SCRIPT", "true")
	for _, tc := range []struct {
		fixture, osVersion, glibc, hostname string
		methods                             []string
	}{
		{"teleport-node", "ubuntu 22.04", "2.35", "tp-node-1", []string{"dpkg:teleport", "node_script", "systemctl:teleport.service"}},
		{"k3s-server", "rocky 8.9", "2.28", "k3s-server-1", []string{"k3s-install-script", "node_script", "systemctl:k3s.service"}},
	} {
		c := Census(context.Background(), Env{Sysroot: fixturetest.Testdata(t) + "/fixtures/" + tc.fixture, NoCloudDetect: true})
		want := CensusInfo{
			OS: runtime.GOOS, OSVersion: tc.osVersion, Arch: runtime.GOARCH, Glibc: tc.glibc,
			InstallMethods: tc.methods, Hostname: tc.hostname,
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.fixture, c, want)
		}
	}
}

func TestCensusJSONHasAllTenFields(t *testing.T) {
	b, err := json.Marshal(CensusInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"os", "os_version", "arch", "glibc", "install_methods", "container_runtime", "orchestrator", "cloud", "hostname", "kernel"} {
		if _, ok := m[k]; !ok {
			t.Errorf("census.json lacks %q: %s", k, b)
		}
	}
}

func TestOSVersionFallsBackToLSBRelease(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=18.04\nDISTRIB_CODENAME=bionic\n")
	if got := osVersion(root); got != "ubuntu 18.04" {
		t.Errorf("osVersion = %q", got)
	}
}

func TestGlibcVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\nCopyright (C) 2022", "2.36"},
		{"ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35", "2.35"},
		{"ldd (GNU libc) 2.39", "2.39"},
		{"ldd (GNU libc) 2.28\n", "2.28"},
		{"musl libc (x86_64)\nVersion 1.2.4", ""},
		{"", ""},
	} {
		if got := parseLddVersion([]byte(tc.in)); got != tc.want {
			t.Errorf("parseLddVersion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	// musl (Alpine) has no glibc.
	root := t.TempDir()
	writeFile(t, root, "lib/ld-musl-x86_64.so.1", "musl")
	writeFile(t, root, "lib/libc.musl-x86_64.so.1", "musl")
	if got := glibcVersion(context.Background(), root, false); got != "" {
		t.Errorf("musl root: glibc %q", got)
	}

	// On this machine the library's banner must agree with the real ldd.
	out, err := exec.Command("ldd", "--version").Output()
	if err != nil {
		t.Skipf("no ldd here: %v", err)
	}
	fromLdd := parseLddVersion(out)
	fromFile := glibcVersion(context.Background(), "/", false)
	if fromLdd == "" || fromFile != fromLdd {
		t.Errorf("ldd says %q, the library under / says %q", fromLdd, fromFile)
	}
	if live := glibcVersion(context.Background(), "/", true); live != fromLdd {
		t.Errorf("live census glibc %q, ldd %q", live, fromLdd)
	}
}

func TestContainerRuntime(t *testing.T) {
	root := t.TempDir()
	if got := containerRuntime(root, false); got != "" {
		t.Errorf("plain root: %q", got)
	}
	writeFile(t, root, "run/.containerenv", "engine=\"podman-4.9.3\"\n")
	if got := containerRuntime(root, false); got != "podman" {
		t.Errorf(".containerenv: %q", got)
	}
	writeFile(t, root, ".dockerenv", "")
	if got := containerRuntime(root, false); got != "docker" {
		t.Errorf(".dockerenv: %q", got)
	}
	for cg, want := range map[string]string{
		"12:pids:/kubepods/besteffort/pod1f0e/cri-containerd-4c2f8e1a\n": "containerd",
		"11:memory:/docker/4c2f8e1a9b3d7\n":                              "docker",
		"1:name=systemd:/machine.slice/libpod-4c2f8e1a.scope\n":          "podman",
		"0::/kubepods.slice/kubepods-burstable.slice/crio-4c2f.scope\n":  "cri-o",
		"0::/kubepods/burstable/pod1f0e/4c2f8e1a\n":                      "kubernetes",
		"0::/\n": "",
	} {
		if got := runtimeFromCgroup(cg); got != want {
			t.Errorf("runtimeFromCgroup(%q) = %q, want %q", cg, got, want)
		}
	}
}

func TestOrchestrator(t *testing.T) {
	offline(t)
	if got := orchestrator(context.Background()); got != "" {
		t.Errorf("outside Kubernetes: %q", got)
	}
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"major":"1","minor":"30","gitVersion":"v1.30.6+k3s1"}`))
	}))
	defer api.Close()
	setKubeService(t, api.Listener.Addr())
	if got := orchestrator(context.Background()); got != "kubernetes-v1.30.6+k3s1" {
		t.Errorf("orchestrator = %q", got)
	}

	down := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer down.Close()
	setKubeService(t, down.Listener.Addr())
	if got := orchestrator(context.Background()); got != "kubernetes" {
		t.Errorf("API refusing /version: %q", got)
	}
}

func setKubeService(t *testing.T, a net.Addr) {
	host, port, _ := net.SplitHostPort(a.String())
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
}

// metadataServers stands up loopback AWS, GCP and Azure metadata services
// and points cloudEndpoints at them for the test.
type metadataServers struct {
	aws, gcp, azure http.HandlerFunc
	hits            atomic.Int32
}

func (m *metadataServers) start(t *testing.T) {
	t.Helper()
	serve := func(h http.HandlerFunc) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.hits.Add(1)
			h(w, r)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	old := cloudEndpoints
	t.Cleanup(func() { cloudEndpoints = old })
	cloudEndpoints.AWS, cloudEndpoints.GCP, cloudEndpoints.Azure = serve(m.aws), serve(m.gcp), serve(m.azure)
}

func imdsv2(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "":
		w.Write([]byte("fake-imds-token"))
	case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/" && r.Header.Get("X-aws-ec2-metadata-token") == "fake-imds-token":
		w.Write([]byte("ami-id\nhostname\ninstance-id\n"))
	default:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
}

func gcpMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Path != "/computeMetadata/v1/" {
		http.Error(w, "missing header", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	w.Write([]byte("instance/\nproject/\n"))
}

func azureMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("api-version") == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	w.Write([]byte(`{"compute":{"azEnvironment":"AzurePublicCloud"}}`))
}

func notFound(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

// hang answers only when the test ends.
func hang(t *testing.T) http.HandlerFunc {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}
}

func TestDetectCloud(t *testing.T) {
	offline(t)
	for _, tc := range []struct {
		name string
		m    func(t *testing.T) *metadataServers
		want string
	}{
		{"aws wins over slow others", func(t *testing.T) *metadataServers {
			return &metadataServers{aws: imdsv2, gcp: hang(t), azure: hang(t)}
		}, "aws"},
		{"gcp", func(t *testing.T) *metadataServers {
			return &metadataServers{aws: notFound, gcp: gcpMetadata, azure: notFound}
		}, "gcp"},
		{"azure", func(t *testing.T) *metadataServers {
			return &metadataServers{aws: notFound, gcp: notFound, azure: azureMetadata}
		}, "azure"},
		{"gcp answer without the flavor header is not gcp", func(t *testing.T) *metadataServers {
			return &metadataServers{aws: notFound, gcp: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("portal")) }, azure: notFound}
		}, ""},
		{"aws without a token is not aws", func(t *testing.T) *metadataServers {
			return &metadataServers{aws: func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut {
					http.Error(w, "no", http.StatusForbidden)
				}
			}, gcp: notFound, azure: notFound}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(t)
			m.start(t)
			if got := Census(context.Background(), Env{Sysroot: t.TempDir()}).Cloud; got != tc.want {
				t.Errorf("cloud = %q, want %q", got, tc.want)
			}
		})
	}
}

// All three endpoints hanging: the census gives up with one shared budget of
// about a second instead of waiting on each, and names no cloud.
func TestDetectCloudGivesUpWithinBudget(t *testing.T) {
	offline(t)
	m := &metadataServers{aws: hang(t), gcp: hang(t), azure: hang(t)}
	m.start(t)
	start := time.Now()
	got := Census(context.Background(), Env{Sysroot: t.TempDir()}).Cloud
	if got != "" {
		t.Errorf("cloud = %q with no answer", got)
	}
	// The servers never answer; only the shared deadline can end the wait.
	// 3 s would mean one deadline per endpoint in turn.
	if d := time.Since(start); d >= 3*censusProbeTimeout {
		t.Errorf("census waited %v for three hanging endpoints", d)
	}
	if m.hits.Load() != 3 {
		t.Errorf("%d endpoints asked, want all 3 at once", m.hits.Load())
	}
}

func TestNoCloudDetectAsksNothing(t *testing.T) {
	offline(t)
	m := &metadataServers{aws: imdsv2, gcp: gcpMetadata, azure: azureMetadata}
	m.start(t)
	if got := Census(context.Background(), Env{Sysroot: t.TempDir(), NoCloudDetect: true}).Cloud; got != "" {
		t.Errorf("cloud = %q with detection off", got)
	}
	if n := m.hits.Load(); n != 0 {
		t.Errorf("%d requests to metadata endpoints with detection off", n)
	}
}
