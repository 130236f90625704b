//go:build unix

package decrypt

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// A FIFO in place of the .json or the .key.age beside --file is refused at
// once; opening it would block forever.
func TestFromFileRefusesFIFOSiblings(t *testing.T) {
	for _, which := range []string{"info", "key"} {
		t.Run(which, func(t *testing.T) {
			f := newFixture(t, true)
			victim := f.sealed.InfoPath
			if which == "key" {
				victim = f.sealed.KeyPath
			}
			os.Remove(victim)
			if err := syscall.Mkfifo(victim, 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := FromFile(context.Background(), f.sealed.PayloadPath, f.opts())
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a FIFO sibling was accepted")
				}
				t.Log(err)
			case <-time.After(time.Minute):
				// Unblock the open so the test process can end.
				if w, err := os.OpenFile(victim, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				t.Fatal("decrypt hung opening a FIFO")
			}
		})
	}
}
