package nodepods

import (
	"fmt"
	"strings"

	"github.com/dumptool/dump/gather"
)

// pod is what the outcome of a node pod is read from.
type pod struct {
	Metadata struct {
		Name              string  `json:"name"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Image string `json:"image"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		Reason     string `json:"reason"`
		Message    string `json:"message"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		ContainerStatuses []struct {
			State struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
				Terminated *struct {
					ExitCode int    `json:"exitCode"`
					Reason   string `json:"reason"`
					Message  string `json:"message"`
				} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// outcome reads a watch event: done says the pod has ended (or will never
// run), err why it has no part (nil: it uploaded its part), a
// *gather.KindError so that the report says what to do.
func outcome(event string, p pod) (err error, done bool) {
	st := p.Status
	switch {
	case st.Phase == "Succeeded":
		return nil, true
	case event == "DELETED" || p.Metadata.DeletionTimestamp != nil:
		return kindErrorf(gather.FailNodeEvicted, "its pod was deleted before it finished (by someone else, or the node was drained)"), true
	case st.Reason == "Evicted":
		return kindErrorf(gather.FailNodeEvicted, "evicted: %s", oneLine(st.Message)), true
	case st.Reason == "DeadlineExceeded":
		return kindErrorf(gather.FailTimeout, "timed out: %s", oneLine(st.Message)), true
	}
	for _, c := range st.Conditions {
		if c.Type == "PodScheduled" && c.Status == "False" && c.Reason == "Unschedulable" {
			return kindErrorf(gather.FailNodeUnschedulable, "unschedulable: %s", oneLine(c.Message)), true
		}
	}
	for _, cs := range st.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return kindErrorf(gather.FailImagePull, "image pull back-off: the node cannot pull the image %s (%s); push it to a registry the nodes reach, or pass --image", image(p), oneLine(w.Message)), true
			case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return kindErrorf(gather.FailNodeStartFailed, "its container cannot start: %s: %s", w.Reason, oneLine(w.Message)), true
			}
		}
		if t := cs.State.Terminated; t != nil && st.Phase == "Failed" && (t.Reason == "StartError" || t.Reason == "ContainerCannotRun") {
			return kindErrorf(gather.FailNodeStartFailed, "its container cannot start: %s: %s", t.Reason, oneLine(t.Message)), true
		}
		if t := cs.State.Terminated; t != nil && st.Phase == "Failed" {
			return kindErrorf(gather.FailCommandFailed, "dump exited with code %d on the node: %s", t.ExitCode, oneLine(lastLines(t.Message, 3))), true
		}
	}
	if st.Phase == "Failed" {
		return fmt.Errorf("its pod failed: %s %s", st.Reason, oneLine(st.Message)), true
	}
	return nil, false
}

func kindErrorf(kind gather.FailureKind, format string, args ...any) error {
	return &gather.KindError{Kind: kind, Err: fmt.Errorf(format, args...)}
}

func image(p pod) string {
	if len(p.Spec.Containers) == 0 {
		return "?"
	}
	return p.Spec.Containers[0].Image
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "; ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
