// Package sshtest starts real OpenSSH servers (Debian's openssh-server) on
// 127.0.0.1 for tests of cluster dumps over ssh: one sshd per host, each on a
// free port with a throwaway host key, accepting a throwaway user key for
// the current user, and an ssh config (pass it with ssh -F) that maps each
// host's alias to its server:
//
//	hosts := sshtest.Start(t, []sshtest.Host{{Alias: "a", Env: map[string]string{"DUMP_SYSROOT": dir}}}, "down")
//	exec.Command("ssh", "-F", hosts.Config, "a", "true")
//
// Each host's sessions get Env (sshd's SetEnv) and a cache directory of their
// own (XDG_CACHE_HOME, Cache). Aliases given as down point at a port where
// nothing listens. Start skips the test when sshd is not installed.
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Host is one server to start.
type Host struct {
	Alias string
	Env   map[string]string // set in its sessions (sshd SetEnv)
}

// Hosts are the started servers.
type Hosts struct {
	Config string            // ssh config for ssh -F
	Cache  map[string]string // alias -> the XDG_CACHE_HOME of its sessions
	Ports  map[string]int
}

// sshdPath is where Debian installs sshd; sshd must be run by absolute path.
const sshdPath = "/usr/sbin/sshd"

// Start starts one sshd per host and stops them when the test ends.
func Start(t testing.TB, hosts []Host, down ...string) *Hosts {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skip("sshd is not installed (apt-get install openssh-server): " + err.Error())
	}
	if os.Geteuid() == 0 {
		// sshd run by root needs its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "host_key"))
	keygen(t, filepath.Join(dir, "user_key"))
	hostPub := readFile(t, filepath.Join(dir, "host_key.pub"))
	writeFile(t, filepath.Join(dir, "authorized_keys"), readFile(t, filepath.Join(dir, "user_key.pub")))

	out := &Hosts{Config: filepath.Join(dir, "ssh_config"), Cache: map[string]string{}, Ports: map[string]int{}}
	var config, known strings.Builder
	for _, h := range hosts {
		cache := filepath.Join(dir, "cache-"+h.Alias)
		out.Cache[h.Alias] = cache
		env := map[string]string{"XDG_CACHE_HOME": cache}
		for k, v := range h.Env {
			env[k] = v
		}
		port := startSSHD(t, dir, h.Alias, env)
		out.Ports[h.Alias] = port
		fmt.Fprintf(&known, "[127.0.0.1]:%d %s\n", port, strings.TrimSpace(hostPub))
		hostEntry(&config, h.Alias, port, me.Username, dir)
	}
	for _, alias := range down {
		port := freePort(t)
		out.Ports[alias] = port
		hostEntry(&config, alias, port, me.Username, dir)
	}
	// Entries such as user@127.0.0.1:port reach the servers by address.
	hostEntry(&config, "127.0.0.1", 0, me.Username, dir)
	writeFile(t, filepath.Join(dir, "known_hosts"), known.String())
	writeFile(t, out.Config, config.String())
	return out
}

// hostEntry maps alias to 127.0.0.1:port (port 0: the port given on the command line).
func hostEntry(b *strings.Builder, alias string, port int, user, dir string) {
	fmt.Fprintf(b, "Host %s\n  HostName 127.0.0.1\n", alias)
	if port != 0 {
		fmt.Fprintf(b, "  Port %d\n", port)
	}
	fmt.Fprintf(b, "  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
		user, filepath.Join(dir, "user_key"), filepath.Join(dir, "known_hosts"))
}

// startSSHD starts the server of one host and waits until it accepts
// connections; a port taken meanwhile by someone else is retried.
func startSSHD(t testing.TB, dir, alias string, env map[string]string) int {
	t.Helper()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var setenv strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&setenv, " %s=%s", k, strconv.Quote(env[k]))
	}
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		cfg := filepath.Join(dir, "sshd_config-"+alias)
		writeFile(t, cfg, fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
PrintMotd no
SetEnv%s
`, port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), setenv.String()))
		logPath := filepath.Join(dir, "sshd-"+alias+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfg)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logFile.Close(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		if ready(port, exited) {
			return port
		}
		if attempt == 3 {
			t.Fatalf("sshd for %s did not start; its log:\n%s", alias, readFile(t, logPath))
		}
	}
}

func ready(port int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func keygen(t testing.TB, path string) {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dump-test", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func readFile(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, body string) {
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
