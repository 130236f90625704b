package gather

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// FailureKind groups failures by what the user can do about them. Each kind has
// a section with the same anchor in docs/troubleshooting.md.
type FailureKind string

const (
	FailNotRoot          FailureKind = "not_root"
	FailBinaryMissing    FailureKind = "binary_missing"
	FailPermissionDenied FailureKind = "permission_denied"
	FailTimeout          FailureKind = "timeout"
	FailAPIUnreachable   FailureKind = "api_unreachable"
	FailKubeForbidden    FailureKind = "kube_forbidden"
	FailCommandFailed    FailureKind = "command_failed"
	FailOther            FailureKind = "other"

	// Why a node of a cluster dump has no part.
	FailImagePull         FailureKind = "image_pull"
	FailNodeUnschedulable FailureKind = "node_unschedulable"
	FailNodeEvicted       FailureKind = "node_evicted"
	FailNodeStartFailed   FailureKind = "node_start_failed"
	FailHostUnreachable   FailureKind = "host_unreachable"
	FailTicketSigning     FailureKind = "ticket_signing"
)

// failureKinds is the order in which reports list them.
var failureKinds = []FailureKind{FailNotRoot, FailBinaryMissing, FailPermissionDenied, FailTimeout, FailAPIUnreachable, FailKubeForbidden,
	FailImagePull, FailNodeUnschedulable, FailNodeEvicted, FailNodeStartFailed, FailHostUnreachable, FailTicketSigning, FailCommandFailed, FailOther}

// failureHints are one-line "what to do" texts for each kind.
var failureHints = map[FailureKind]string{
	FailNotRoot:          "run dump as root (sudo dump ...)",
	FailBinaryMissing:    "the tool is not installed or not in PATH; install it or ignore this collector",
	FailPermissionDenied: "run as root, or grant read access (kube RBAC, file modes)",
	FailTimeout:          "raise --collector-timeout / --timeout (--node-timeout for a node), or check why the command hangs",
	FailAPIUnreachable:   "check that the service is running and reachable (kubeconfig, --diag-addr, firewall)",
	FailKubeForbidden:    "the Kubernetes user may not list these types; each .error names the verb, the resource and the kubectl auth can-i command to check",
	FailCommandFailed:    "the command exited non-zero; read its .error file",
	FailOther:            "read the collector's .error file and the manifest",

	FailImagePull:         "the node cannot pull the dump image: push it to a registry the nodes reach and pass --image",
	FailNodeUnschedulable: "the node admits no new pod (cordoned, full, or at its pod limit): check kubectl describe node",
	FailNodeEvicted:       "the node pod was evicted or deleted before it finished (node pressure, a drain, someone else): run again",
	FailNodeStartFailed:   "the node pod's container could not start: check the node's container runtime and the Pod Security level of --node-namespace",
	FailHostUnreachable:   "the cluster dump could not log in to the host: check that ssh (or tsh ssh) to it works without a prompt",
	FailTicketSigning:     "the initiator could not sign the node's upload ticket: check that its bucket credentials still work and may sign URLs, then run again",
}

// DocLink is the troubleshooting link for a kind of failure.
func (k FailureKind) DocLink() string { return TroubleshootingDoc + "#" + string(k) }

// Hint is a one-line suggestion of what to do about a kind of failure.
func (k FailureKind) Hint() string { return failureHints[k] }

var amRoot = os.Geteuid() == 0

// classifyText looks for well-known phrases in a command's stderr or an error
// message. ok is false when nothing is recognized.
func classifyText(s string) (FailureKind, bool) {
	l := strings.ToLower(s)
	has := func(subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				return true
			}
		}
		return false
	}
	switch {
	case has("must be root", "must be run as root", "are you root", "requires root", "need to be root", "needs to be run as root", "run as root", "superuser"):
		return FailNotRoot, true
	case has("connection refused", "was refused", "unable to connect to the server", "no such host", "network is unreachable", "no route to host", "connection reset by peer", "i/o timeout", "tls handshake timeout"):
		return FailAPIUnreachable, true
	case has("permission denied", "operation not permitted", "access denied", "forbidden", "unauthorized"):
		if !amRoot && !has("forbidden", "unauthorized") {
			// Only a kube/API refusal is fixed by credentials; a local one by root.
			return FailNotRoot, true
		}
		return FailPermissionDenied, true
	case has("command not found", "executable file not found", "not found in path"):
		return FailBinaryMissing, true
	}
	return "", false
}

// KindError is an error whose kind of failure is known where it happens
// (a node pod that cannot pull its image, a host that cannot be reached).
type KindError struct {
	Kind FailureKind
	Err  error
}

func (e *KindError) Error() string { return e.Err.Error() }
func (e *KindError) Unwrap() error { return e.Err }

// ClassifyErr says what kind of failure err is: its KindError's kind if it
// has one, otherwise what its type or text tells.
func ClassifyErr(err error) FailureKind {
	var known *KindError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &known):
		return known.Kind
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM):
		if !amRoot {
			return FailNotRoot
		}
		return FailPermissionDenied
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.As(err, &dnsErr):
		return FailAPIUnreachable
	case errors.Is(err, os.ErrDeadlineExceeded):
		return FailTimeout
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return FailAPIUnreachable
	}
	if k, ok := classifyText(err.Error()); ok {
		return k
	}
	return FailOther
}

// notApplicableSigns are answers that mean "this does not exist on this kind
// of host", not "something is broken": a dump of a Community Edition cluster
// or of a container without systemd is not incomplete because of them.
var notApplicableSigns = []struct{ sign, reason string }{
	{"not supported in teleport community edition", "needs Teleport Enterprise"},
	{"only available in teleport enterprise", "needs Teleport Enterprise"},
	{"system has not been booted with systemd", "no systemd on this host"},
	{"failed to connect to bus", "no systemd on this host"},
	{"failed to create bus connection", "no systemd on this host"},
}

// notApplicable returns why a failed command's stderr means "not applicable
// here", or "".
func notApplicable(stderr string) string {
	lower := strings.ToLower(stderr)
	for _, s := range notApplicableSigns {
		if strings.Contains(lower, s.sign) {
			return s.reason
		}
	}
	return ""
}
