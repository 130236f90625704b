package nodepods

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dumptool/dump/gather"
)

// Each way a node pod can end is said plainly, and a pod still on its way
// is not taken as ended.
func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		name, event, status string
		done                bool
		want                string // in the error; "" = success
		kind                gather.FailureKind
	}{
		{"running", "MODIFIED", `{"phase":"Running"}`, false, "", ""},
		{"pending", "ADDED", `{"phase":"Pending"}`, false, "", ""},
		{"succeeded", "MODIFIED", `{"phase":"Succeeded"}`, true, "", ""},
		{"image pull", "MODIFIED", `{"phase":"Pending","containerStatuses":[{"state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image"}}}]}`, true, "image pull back-off", gather.FailImagePull},
		{"evicted", "MODIFIED", `{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}`, true, "evicted: The node was low on resource: memory.", gather.FailNodeEvicted},
		{"deadline", "MODIFIED", `{"phase":"Failed","reason":"DeadlineExceeded","message":"Pod was active on the node longer than the specified deadline"}`, true, "timed out", gather.FailTimeout},
		{"unschedulable", "MODIFIED", `{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/3 nodes are available"}]}`, true, "unschedulable: 0/3 nodes", gather.FailNodeUnschedulable},
		{"upload failed", "MODIFIED", `{"phase":"Failed","containerStatuses":[{"state":{"terminated":{"exitCode":1,"message":"gathering\nupload failed: cannot reach minio\n"}}}]}`, true, "exited with code 1 on the node: gathering; upload failed: cannot reach minio", gather.FailCommandFailed},
		{"cannot start", "MODIFIED", `{"phase":"Failed","containerStatuses":[{"state":{"terminated":{"exitCode":128,"reason":"StartError","message":"exec: dump: executable file not found"}}}]}`, true, "cannot start: StartError", gather.FailNodeStartFailed},
		{"config error", "MODIFIED", `{"phase":"Pending","containerStatuses":[{"state":{"waiting":{"reason":"CreateContainerConfigError","message":"secret not found"}}}]}`, true, "cannot start", gather.FailNodeStartFailed},
		{"deleted", "DELETED", `{"phase":"Running"}`, true, "deleted before it finished", gather.FailNodeEvicted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pod
			if err := json.Unmarshal([]byte(`{"spec":{"containers":[{"image":"dump:1"}]},"status":`+tc.status+`}`), &p); err != nil {
				t.Fatal(err)
			}
			err, done := outcome(tc.event, p)
			if done != tc.done {
				t.Fatalf("done = %v, want %v (err %v)", done, tc.done, err)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			case tc.want != "" && gather.ClassifyErr(err) != tc.kind:
				t.Errorf("%v: kind %s, want %s", err, gather.ClassifyErr(err), tc.kind)
			}
		})
	}
}

// The pod spec is rendered from the template with every value quoted: a
// hostile image name stays one string.
func TestPodTemplateQuotes(t *testing.T) {
	r := &run{opts: Options{Namespace: "default", Session: "0f1e2d3c-0000-4000-8000-00000000000a", Image: "x\"\n  hostIPC: true", NodeTimeout: 60e9}}
	v := r.values("node-a", r.podName(0))
	v["Command"] = []string{"dump", "gather"}
	spec, err := r.render("pod.yaml.tmpl", v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(spec), "\n  hostIPC: true") {
		t.Fatalf("the image name broke out of its string:\n%s", spec)
	}
}
