package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// lineHandler prints the stages' slog records as the CLI prints everything
// else, one plain line each ("warning: pack: skipping ...: path=x"), not as
// time=... level=... records.
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	attrs string // pre-formatted " k=v" of WithAttrs
	group string // prefix of WithGroup, "g."
}

func newLineHandler(w io.Writer, mu *sync.Mutex, level slog.Level) *lineHandler {
	return &lineHandler{mu: mu, w: w, level: level}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	attrs := h.attrs
	r.Attrs(func(a slog.Attr) bool {
		attrs += formatAttr(h.group, a)
		return true
	})
	if attrs != "" {
		b.WriteString(":" + attrs)
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		c.attrs += formatAttr(h.group, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group += name + "."
	return &c
}

func formatAttr(group string, a slog.Attr) string {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		var s string
		for _, g := range v.Group() {
			s += formatAttr(group+a.Key+".", g)
		}
		return s
	}
	s := v.String()
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		s = fmt.Sprintf("%q", s)
	}
	return " " + group + a.Key + "=" + s
}
