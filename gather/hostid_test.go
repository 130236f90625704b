package gather

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dumptool/dump/internal/fixturetest"
)

func TestHostIDPrecedence(t *testing.T) {
	root := fixturetest.Sysroot(t, "teleport-node")
	check := func(wantID, wantSource string) {
		t.Helper()
		id, src := HostID(root)
		if wantID != "" && id != wantID || src != wantSource {
			t.Errorf("HostID = %q (%s), want %q (%s)", id, src, wantID, wantSource)
		}
	}
	check("7d2b3c1e-5f4a-4e2b-9c8d-0a1b2c3d4e5f", "teleport host_uuid")

	// A host_uuid that is not a safe path component is not used.
	writeFile(t, root, "var/lib/teleport/host_uuid", "../../etc\n")
	check("3e1f0c9a8b7d6e5f4a3b2c1d0e9f8a7b", "machine-id")

	if err := os.Remove(filepath.Join(root, "var/lib/teleport/host_uuid")); err != nil {
		t.Fatal(err)
	}
	check("3e1f0c9a8b7d6e5f4a3b2c1d0e9f8a7b", "machine-id")

	writeFile(t, root, "etc/machine-id", "uninitialized\n")
	check("", "hostname hash")
	id1, _ := HostID(root)
	if err := os.Remove(filepath.Join(root, "etc/machine-id")); err != nil {
		t.Fatal(err)
	}
	id2, _ := HostID(root)
	if id1 != id2 || len(id1) != 32 {
		t.Errorf("hostname hash not stable: %q then %q", id1, id2)
	}
	writeFile(t, root, "etc/hostname", "another-host\n")
	if id3, _ := HostID(root); id3 == id1 {
		t.Errorf("different hostnames give the same id %q", id3)
	}
}

// The host_uuid lives in teleport.data_dir when the config moves it.
func TestHostIDFollowsTeleportDataDir(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/teleport.yaml", "teleport:\n  data_dir: /srv/tp\n")
	writeFile(t, root, "srv/tp/host_uuid", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n")
	writeFile(t, root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
	if id, src := HostID(root); id != "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" || src != "teleport host_uuid" {
		t.Errorf("HostID = %q (%s)", id, src)
	}
}
