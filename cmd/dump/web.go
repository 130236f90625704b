package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// webGuard protects the local web pages of dump serve and dump view:
//   - every request carries the token: in the X-Dump-Token header, a
//     token= query parameter (the printed URL) or the cookie the first such
//     request sets, so that relative links keep working;
//   - a request whose Origin (or Sec-Fetch-Site) says it comes from another
//     site is refused, so a page elsewhere cannot drive the button;
//   - on a loopback address, the Host must be a loopback name, which stops
//     DNS rebinding.
type webGuard struct {
	token    string
	loopback bool
	next     http.Handler
}

const tokenCookie = "dump_token"

func (g *webGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.loopback && !loopbackHost(r.Host) {
		http.Error(w, "dump: this page answers only on a loopback address", http.StatusForbidden)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host || u.Scheme != "http" {
			http.Error(w, "dump: cross-site request refused", http.StatusForbidden)
			return
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "dump: cross-site request refused", http.StatusForbidden)
		return
	}
	got := r.Header.Get("X-Dump-Token")
	fromQuery := false
	if got == "" {
		if got = r.URL.Query().Get("token"); got != "" {
			fromQuery = true
		}
	}
	if got == "" {
		if c, err := r.Cookie(tokenCookie); err == nil {
			got = c.Value
		}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		http.Error(w, "dump: missing or wrong token: open the URL dump printed", http.StatusUnauthorized)
		return
	}
	if fromQuery {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: g.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	g.next.ServeHTTP(w, r)
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listenWeb listens on addr and serves h behind a webGuard until ctx ends.
// It prints the URL (with the token) as the last stdout line once
// listening. onLoopbackOnly refuses any other address (dump view).
func listenWeb(ctx context.Context, u *ui, addr, token, page string, onLoopbackOnly bool, h http.Handler) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--addr %q: %v (use host:port, such as 127.0.0.1:8087)", addr, err)
	}
	loopback := loopbackHost(host)
	if !loopback && onLoopbackOnly {
		return usageErrorf("--addr %s: this command serves only on a loopback address (127.0.0.1, ::1, localhost)", addr)
	}
	if token == "" {
		token = newToken()
		if !loopback {
			u.warnf("serving on %s, which other machines can reach: every request must carry the token %s", addr, token)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another --addr)", addr, err)
	}
	srv := &http.Server{
		Handler:           &webGuard{token: token, loopback: loopback, next: h},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	u.notef("serving; stop with Ctrl-C")
	u.resultf("http://%s/%s?token=%s", ln.Addr(), page, token)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
