package gather

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSpec(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ body, want string }{
		{"- name: a\n  kind: run\n  comand: [ls]\n  output: x.txt\n", `spec.yaml line 3: unknown field "comand"`},
		{"collectors:\n  - name: a\n    kind: run\n    command: [ls]\n    output: ../x.txt\n", `spec.yaml line 5: collector "a": output "../x.txt": must not contain ".."`},
		{"- name: a\n  kind: run\n  output: x.txt\n", `spec.yaml line 1: collector "a": a run collector needs a command`},
		{"- name: a\n  kind: shell\n  output: x.txt\n", `spec.yaml line 2: collector "a": unknown kind "shell"`},
		{"- name: a\n  kind: copy\n  paths: [etc/x]\n  output: x\n", `spec.yaml line 3: collector "a": path "etc/x" must be absolute`},
		{"- name: a\n  kind: run\n  command: [ls]\n  output: /etc/x\n", `spec.yaml line 4: collector "a": output "/etc/x": must be relative`},
		{"- name: a\n  kind: run\n  command: [ls]\n  output: x\n  timeout: soon\n", `spec.yaml line 5: "soon" is not a duration`},
		{"- name: a\n  kind: run\n   command: [ls]\n", `spec.yaml line 3:`},
		{"- name: a\n  kind: http\n  url: ftp://x/y\n  output: x\n", `spec.yaml line 3: collector "a": url "ftp://x/y" must be an http`},
		{"- name: a\n  kind: run\n  command: [ls]\n  output: a\n- name: a\n  kind: run\n  command: [ls]\n  output: b\n", `spec.yaml line 5: collector "a" is defined twice`},
		{"- name: a\n  kind: run\n  command: [ls]\n  output: troubleshooting.md\n", `spec.yaml line 4: collector "a": output "troubleshooting.md": is written by dump itself`},
		{"just text\n", `spec.yaml line 1: expected a list of collectors`},
		{"", `empty spec`},
	}
	for _, c := range cases {
		_, err := LoadSpec(writeSpec(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("spec %q:\n got  %v\n want %s", c.body, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func TestSpecAddsCollectorThatRuns(t *testing.T) {
	withProfiles(t, sh("base", "system/base.txt", "echo base"))
	spec := writeSpec(t, `collectors:
  - name: hello
    category: custom
    kind: run
    command: [sh, -c, "echo hello from spec"]
    output: custom/hello.txt
    timeout: 5s
  - name: base-again
    kind: run
    command: [sh, -c, "echo should not run"]
    output: system/base.txt
`)
	opts := testOptions(t)
	opts.SpecFiles = []string{spec}
	res := mustRun(t, opts)
	if got := readOut(t, res, "custom/hello.txt"); got != "hello from spec\n" {
		t.Errorf("spec collector output %q", got)
	}
	r := result(t, res, "hello")
	if r.Profile != "spec:spec.yaml" || r.Status != StatusOK {
		t.Errorf("spec collector: profile %q status %s", r.Profile, r.Status)
	}
	if got := readOut(t, res, "system/base.txt"); got != "base\n" {
		t.Errorf("spec collector replaced a built-in output: %q", got)
	}

	bad := writeSpec(t, "- name: x\n  kind: run\n  comand: [ls]\n  output: x.txt\n")
	opts = testOptions(t)
	opts.SpecFiles = []string{bad}
	if _, err := Run(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("Run with a malformed spec: %v", err)
	}
}
