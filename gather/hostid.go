package gather

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
)

// HostID names this node in nodes/<id>/ and systemd/<id>/: the product's own
// id when it has one (Teleport's host_uuid, in data_dir from teleport.yaml),
// else /etc/machine-id, else a stable hash of the hostname. All are read
// under sysroot. source says which one was used.
func HostID(sysroot string) (id, source string) {
	if id := readID(sysroot, readTeleportConfig(sysroot).dataDir()+"/host_uuid"); id != "" {
		return id, "teleport host_uuid"
	}
	if id := readID(sysroot, "/etc/machine-id"); id != "" && id != "uninitialized" {
		return id, "machine-id"
	}
	sum := sha256.Sum256([]byte("dump host id\x00" + hostname(sysroot)))
	return hex.EncodeToString(sum[:16]), "hostname hash"
}

// validID keeps ids that are safe as one path component.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// readID returns the first line of a host file when it is a plausible id.
func readID(sysroot, hostPath string) string {
	line := firstLine(sysroot, hostPath)
	if !validID.MatchString(line) {
		return ""
	}
	return line
}

// firstLine returns the trimmed first line of a small host file, "" on any error.
func firstLine(sysroot, hostPath string) string {
	b, err := readHostFile(sysroot, hostPath, 4096)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// hostname is <sysroot>/etc/hostname, else the kernel's hostname.
func hostname(sysroot string) string {
	if h := firstLine(sysroot, "/etc/hostname"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}
