package gather

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// httpClient talks to local endpoints (diag, health): no proxy from the
// environment, no cookies, and only the body is ever saved.
var httpClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableKeepAlives:     true,
	},
	// A redirect could lead anywhere (a cloud metadata endpoint): the
	// response is recorded as it is.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// KindHTTP saves the body of GET URL to Output.
const KindHTTP Kind = "http"

type httpKind struct{}

func (httpKind) validate(c *Collector) (string, error) {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "url", fmt.Errorf("url %q must be an http:// or https:// URL", c.URL)
	}
	return "", nil
}

func (httpKind) describe(c Collector, _ Env) string { return "GET " + c.URL }

func (httpKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	res.Source = c.URL
	errRel := errorPath(c.Output)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		res.fail(FailOther, fmt.Sprintf("bad URL %q: %v", c.URL, err))
		s.writeError(res, errRel, res.Error)
		return
	}
	req.Header.Set("User-Agent", "dump/"+s.opts.ToolVersion)
	resp, err := httpClient.Do(req)
	if err != nil {
		kind := ClassifyErr(err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = FailTimeout
		}
		res.fail(kind, fmt.Sprintf("GET %s: %v", c.URL, errors.Unwrap(err)))
		s.writeError(res, errRel, res.Error)
		return
	}
	defer resp.Body.Close()
	res.HTTPStatus = resp.StatusCode
	tb, err := s.stream(c.Output, resp.Body, s.fileCap(c))
	defer tb.Close()
	if werr := s.writeOutput(res, c.Output, tb, false); werr != nil {
		err = errors.Join(err, werr)
	}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		kind := FailOther
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			kind = FailPermissionDenied
		}
		res.fail(kind, fmt.Sprintf("GET %s: HTTP %s", c.URL, resp.Status))
		s.writeError(res, errRel, res.Error)
	case err != nil:
		kind := FailOther
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = FailTimeout
		}
		res.fail(kind, fmt.Sprintf("GET %s: reading body: %v", c.URL, err))
		s.writeError(res, errRel, res.Error)
	}
}
