package main

import (
	"fmt"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"dump", "seal", "DIR", "--out", "X"}, []string{"dump", "seal", "--out", "X", "--", "DIR"}},
		{[]string{"dump", "--config", "c.yaml", "seal", "DIR", "--out", "X"}, []string{"dump", "seal", "--config", "c.yaml", "--out", "X", "--", "DIR"}},
		{[]string{"dump", "-q", "gather", "-v"}, []string{"dump", "gather", "-q", "-v"}},
		{[]string{"dump", "--all", "decrypt", "3f2a"}, []string{"dump", "decrypt", "--all", "--", "3f2a"}},
		{[]string{"dump", "--to", "file:///b", "-q", "upload", "f.age"}, []string{"dump", "upload", "--to", "file:///b", "-q", "--", "f.age"}},
		{[]string{"dump", "--to", "file:///b"}, []string{"dump", "--to", "file:///b"}},
		{[]string{"dump", "-n", "kube-system", "-A", "--nice=false", "gather"}, []string{"dump", "gather", "-n", "kube-system", "-A", "--nice=false"}},
		{[]string{"dump", "decrypt", "3f2a", "-qv", "--all"}, []string{"dump", "decrypt", "-qv", "--all", "--", "3f2a"}},
		{[]string{"dump", "upload", "--to=file:///b", "f.age"}, []string{"dump", "upload", "--to=file:///b", "--", "f.age"}},
		{[]string{"dump", "gather", "--out", "X"}, []string{"dump", "gather", "--out", "X"}},
	}
	for _, tc := range cases {
		if got := interspersed(app, tc.in); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("interspersed(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
