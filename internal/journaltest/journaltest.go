// Package journaltest writes real systemd journal files for tests.
//
// It builds a journal export stream (systemd's "Journal Export Format") from
// Go values and converts it with systemd-journal-remote, so tests read the
// result with the real journalctl:
//
//	journaltest.Write(t, sysroot, machineID, []journaltest.Entry{
//		{Time: time.Now().Add(-time.Hour), Unit: "teleport.service", Message: "started"},
//	})
//	// journalctl --directory <sysroot>/var/log/journal -u teleport.service ...
//
// On Debian the converter comes with `apt-get install systemd-journal-remote`.
package journaltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Entry is one journal entry of a systemd unit.
type Entry struct {
	Time     time.Time
	Unit     string // _SYSTEMD_UNIT, e.g. "teleport.service"
	Message  string // may span lines
	Priority int    // syslog level 1 (alert) .. 7 (debug); 0 means 6 (info)
	Hostname string // _HOSTNAME; "" means "fixture-host"
	Fields   map[string]string
}

// bootGap starts a new boot between entries further apart than this, so
// monotonic timestamps stay plausible.
const bootGap = 12 * time.Hour

// converters are where Debian and others install systemd-journal-remote.
var converters = []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"}

// Write writes entries (in time order) as <dir>/var/log/journal/<machineID>/system.journal
// and returns that file's path. dir is a sysroot: `journalctl --directory
// <dir>/var/log/journal` or `journalctl --root <dir>` reads it.
func Write(t testing.TB, dir, machineID string, entries []Entry) string {
	t.Helper()
	conv := ""
	for _, c := range converters {
		if _, err := os.Stat(c); err == nil {
			conv = c
			break
		}
	}
	if conv == "" {
		t.Fatalf("journaltest: systemd-journal-remote not found in %v: install it (apt-get install systemd-journal-remote)", converters)
	}
	jdir := filepath.Join(dir, "var", "log", "journal", machineID)
	if err := os.MkdirAll(jdir, 0o755); err != nil {
		t.Fatalf("journaltest: %v", err)
	}
	file := filepath.Join(jdir, "system.journal")
	cmd := exec.Command(conv, "-o", file, "-")
	cmd.Stdin = bytes.NewReader(Export(machineID, entries))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("journaltest: %s: %v\n%s", conv, err, out)
	}
	return file
}

// Export returns entries as a journal export stream, sorted by time, with
// boot ids and monotonic timestamps derived from the times.
func Export(machineID string, entries []Entry) []byte {
	es := slices.Clone(entries)
	slices.SortStableFunc(es, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	var buf bytes.Buffer
	var bootID string
	var bootStart, last time.Time
	for i, e := range es {
		if i == 0 || e.Time.Sub(last) > bootGap {
			bootStart = e.Time.Add(-time.Minute)
			sum := sha256.Sum256([]byte(machineID + bootStart.String()))
			bootID = hex.EncodeToString(sum[:16])
		}
		last = e.Time
		prio := e.Priority
		if prio == 0 {
			prio = 6
		}
		host := e.Hostname
		if host == "" {
			host = "fixture-host"
		}
		ident := strings.TrimSuffix(e.Unit, ".service")
		field(&buf, "__REALTIME_TIMESTAMP", strconv.FormatInt(e.Time.UnixMicro(), 10))
		field(&buf, "__MONOTONIC_TIMESTAMP", strconv.FormatInt(e.Time.Sub(bootStart).Microseconds(), 10))
		field(&buf, "_BOOT_ID", bootID)
		field(&buf, "_MACHINE_ID", machineID)
		field(&buf, "_HOSTNAME", host)
		field(&buf, "_TRANSPORT", "stdout")
		field(&buf, "_SYSTEMD_UNIT", e.Unit)
		field(&buf, "_SYSTEMD_SLICE", "system.slice")
		field(&buf, "_PID", "1234")
		field(&buf, "_UID", "0")
		field(&buf, "_GID", "0")
		field(&buf, "_COMM", ident)
		field(&buf, "SYSLOG_IDENTIFIER", ident)
		field(&buf, "PRIORITY", strconv.Itoa(prio))
		field(&buf, "MESSAGE", e.Message)
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			field(&buf, k, e.Fields[k])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// field writes KEY=value, or for a value with a newline the binary form:
// KEY, newline, little-endian 64-bit length, the bytes, newline.
func field(buf *bytes.Buffer, key, value string) {
	if !strings.Contains(value, "\n") {
		fmt.Fprintf(buf, "%s=%s\n", key, value)
		return
	}
	buf.WriteString(key)
	buf.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	buf.Write(n[:])
	buf.WriteString(value)
	buf.WriteByte('\n')
}
