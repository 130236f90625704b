package gather

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
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
