package main

import (
	"fmt"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"dump", "seal", "DIR", "--out", "X"}, []string{"dump", "seal", "--out", "X", "--", "DIR"}},
		{[]string{"dump", "--config", "c.yaml", "seal", "DIR", "--out", "X"}, []string{"dump", "--config", "c.yaml", "seal", "--out", "X", "--", "DIR"}},
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
