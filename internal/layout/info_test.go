package layout

import (
	"strings"
	"testing"
)

const testUUID = "0b7e3f2a-5c1d-4e8f-9a6b-1c2d3e4f5a6b"

func TestReadInfoValidates(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for name, doc := range map[string]string{
		"future schema":    `{"schema":4,"uuid":"` + testUUID + `"}`,
		"cluster, no node": `{"schema":3,"uuid":"` + testUUID + `"}`,
		"nodes, schema 1":  `{"schema":1,"uuid":"` + testUUID + `","nodes":[{"name":"n1"}]}`,
		"bad node name":    `{"schema":3,"uuid":"` + testUUID + `","nodes":[{"name":"../x"}]}`,
		"no schema":        `{"uuid":"` + testUUID + `"}`,
		"bad uuid":         `{"schema":1,"uuid":"../../x"}`,
		"upper uuid":       `{"schema":1,"uuid":"` + strings.ToUpper(testUUID) + `"}`,
		"not json":         `schema: 1`,
		"parts miscount":   `{"schema":2,"uuid":"` + testUUID + `","payload_size":2,"parts":3,"payload_parts":[{"size":1,"sha256":"` + sum + `"},{"size":1,"sha256":"` + sum + `"}]}`,
		"parts sum":        `{"schema":2,"uuid":"` + testUUID + `","payload_size":3,"parts":2,"payload_parts":[{"size":1,"sha256":"` + sum + `"},{"size":1,"sha256":"` + sum + `"}]}`,
		"part no sha":      `{"schema":2,"uuid":"` + testUUID + `","payload_size":2,"parts":2,"payload_parts":[{"size":1,"sha256":"` + sum + `"},{"size":1}]}`,
	} {
		if _, err := ReadInfo(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadInfo(strings.NewReader(`{"schema":1,"uuid":"` + testUUID + `","future_field":true}`)); err != nil {
		t.Errorf("unknown fields must be ignored: %v", err)
	}
	if info, err := ReadInfo(strings.NewReader(`{"schema":3,"uuid":"` + testUUID + `","nodes":[{"name":"n1"},{"name":"n2","error":"evicted"}]}`)); err != nil || len(info.Nodes) != 2 {
		t.Errorf("a cluster info: nodes %v, err %v", info.Nodes, err)
	}
	info, err := ReadInfo(strings.NewReader(`{"schema":2,"uuid":"` + testUUID + `","payload_size":2,"parts":2,"payload_parts":[{"size":1,"sha256":"` + sum + `"},{"size":1,"sha256":"` + sum + `"}]}`))
	if err != nil || !info.Split() {
		t.Errorf("a split info: split=%v, err %v", info.Split(), err)
	}
}

func TestFindLocal(t *testing.T) {
	for _, tc := range []struct{ path, id, info string }{
		{"out/dump-" + testUUID + ".tar.zst.age", testUUID, "out/dump-" + testUUID + ".json"},
		{"out/dump-" + testUUID + ".tar.zst.age.002", testUUID, "out/dump-" + testUUID + ".json"},
		{"renamed.tar.zst.age", "", "renamed.json"},
	} {
		l, id, err := FindLocal(tc.path)
		if err != nil || id != tc.id || l.Info != tc.info {
			t.Errorf("FindLocal(%s) = %+v, %q, %v; want info %s, id %q", tc.path, l, id, err, tc.info, tc.id)
		}
	}
	for _, bad := range []string{"dump.tar.zst", "x.tar.zst.age.1", ".tar.zst.age"} {
		if _, _, err := FindLocal(bad); err == nil {
			t.Errorf("FindLocal(%s) accepted", bad)
		}
	}
}
