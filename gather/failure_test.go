package gather

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/dumptool/dump/docs"
)

func TestClassify(t *testing.T) {
	wantDenied := FailPermissionDenied
	if !amRoot {
		wantDenied = FailNotRoot
	}
	text := map[string]FailureKind{
		"dmesg: read kernel buffer failed: Operation not permitted":                                         wantDenied,
		"iptables-save v1.8.9: must be run as root":                                                         FailNotRoot,
		"The connection to the server localhost:8080 was refused - did you specify the right host or port?": FailAPIUnreachable,
		"Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout":                              FailAPIUnreachable,
		`Error from server (Forbidden): pods is forbidden: User "x" cannot list resource`:                   FailPermissionDenied,
		"sh: 1: kubectl: command not found":                                                                 FailBinaryMissing,
	}
	for in, want := range text {
		if got, _ := classifyText(in); got != want {
			t.Errorf("classifyText(%q) = %q, want %q", in, got, want)
		}
	}
	if _, ok := classifyText("error: unknown flag --foo"); ok {
		t.Error("an ordinary error was classified")
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	errs := map[error]FailureKind{
		fmt.Errorf("get: %w", refused):                             FailAPIUnreachable,
		&os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}: wantDenied,
		&net.DNSError{Err: "no such host", Name: "x"}:              FailAPIUnreachable,
	}
	for err, want := range errs {
		if got := ClassifyErr(err); got != want {
			t.Errorf("ClassifyErr(%v) = %q, want %q", err, got, want)
		}
	}
}

// Every kind a report can name has its hint and the section its link points
// to, in the troubleshooting page each dump carries.
func TestEveryFailureKindIsDocumented(t *testing.T) {
	for _, k := range failureKinds {
		if k.Hint() == "" {
			t.Errorf("kind %s has no hint", k)
		}
		if !strings.Contains(string(docs.Troubleshooting), `<a id="`+string(k)+`"></a>`+"\n## "+string(k)+"\n") {
			t.Errorf("docs/troubleshooting.md has no section %s (anchor and heading)", k)
		}
	}
}
