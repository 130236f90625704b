package ticket_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/ticket"
)

// A node's ticket puts that node's part and nothing else: not the cluster
// part, not the key, not another node's part.
func TestNodeTicketPutsOnlyItsNode(t *testing.T) {
	f, srv := newFakeGCS(t)
	s, err := ticket.CreateNode(context.Background(), presigner{srv.URL}, "gs://support", id, "node-a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ticket.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Node != "node-a" || tk.UUID != id {
		t.Fatalf("parsed node ticket: node %q uuid %q", tk.Node, tk.UUID)
	}
	store := tk.Store(nil)
	ctx := context.Background()
	parts, payload := sealed(t, 1000)
	if err := upload.PutNodePart(ctx, store, id, "node-a", parts.PayloadPath, parts.InfoPath, nil); err != nil {
		t.Fatalf("PutNodePart: %v", err)
	}
	if !bytes.Equal(f.objects[layout.Object(id, layout.NodePayloadObject("node-a"))], payload) {
		t.Fatal("the node's payload is not in the bucket")
	}
	for _, name := range []string{layout.PayloadObject, layout.KeyObject, layout.InfoObject, layout.NodePayloadObject("node-b"), layout.NodeInfoObject("node-b")} {
		src := bytes.NewReader([]byte("x"))
		if err := store.Put(ctx, layout.Object(id, name), src); err == nil {
			t.Errorf("a ticket of node-a put %s", name)
		}
	}
	// Its info can be put once only, as a whole dump's.
	if err := upload.PutNodePart(ctx, store, id, "node-a", parts.PayloadPath, parts.InfoPath, nil); err == nil {
		t.Error("a used node ticket uploaded again")
	}
}

func TestCreateNodeRejectsBadNames(t *testing.T) {
	for _, n := range []string{"", "../x", "a/b", "Node", "-a", "a..b"} {
		if _, err := ticket.CreateNode(context.Background(), presigner{"http://x"}, "", id, n, time.Hour); err == nil {
			t.Errorf("CreateNode accepted node name %q", n)
		}
	}
}
