package gather

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// cloudEndpoints are the metadata services asked by detectCloud. Tests point
// them at local servers.
var cloudEndpoints = struct{ AWS, GCP, Azure string }{
	AWS:   "http://169.254.169.254",
	GCP:   "http://metadata.google.internal",
	Azure: "http://169.254.169.254",
}

// detectCloud asks the AWS (IMDSv2), GCP and Azure metadata services at once
// under one censusProbeTimeout budget; the first to answer 200 names the
// cloud. "" when none answers in time.
func detectCloud(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, censusProbeTimeout)
	// Metadata services are link-local: never go through the user's proxy.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	var wg sync.WaitGroup
	defer func() {
		cancel() // the probes still asking give up, and none outlives the census
		wg.Wait()
		client.CloseIdleConnections()
	}()

	probes := map[string]func(context.Context, *http.Client) bool{
		"aws":   probeAWS,
		"gcp":   probeGCP,
		"azure": probeAzure,
	}
	found := make(chan string, len(probes))
	for name, probe := range probes {
		wg.Go(func() {
			if probe(ctx, client) {
				found <- name
			} else {
				found <- ""
			}
		})
	}
	for range probes {
		if name := <-found; name != "" {
			return name
		}
	}
	return ""
}

// probeAWS does IMDSv2: a session token first, then the metadata root.
func probeAWS(ctx context.Context, c *http.Client) bool {
	token, _, ok := metadataGet(ctx, c, http.MethodPut, cloudEndpoints.AWS+"/latest/api/token",
		"X-aws-ec2-metadata-token-ttl-seconds", "60")
	if !ok || token == "" {
		return false
	}
	_, _, ok = metadataGet(ctx, c, http.MethodGet, cloudEndpoints.AWS+"/latest/meta-data/",
		"X-aws-ec2-metadata-token", token)
	return ok
}

func probeGCP(ctx context.Context, c *http.Client) bool {
	_, h, ok := metadataGet(ctx, c, http.MethodGet, cloudEndpoints.GCP+"/computeMetadata/v1/",
		"Metadata-Flavor", "Google")
	// The server says so too, which a captive portal answering 200 does not.
	return ok && h.Get("Metadata-Flavor") == "Google"
}

func probeAzure(ctx context.Context, c *http.Client) bool {
	_, _, ok := metadataGet(ctx, c, http.MethodGet, cloudEndpoints.Azure+"/metadata/instance?api-version=2021-02-01",
		"Metadata", "true")
	return ok
}

// metadataGet sends one request with one header and returns the start of the
// body and the headers; ok when the answer is 200.
func metadataGet(ctx context.Context, c *http.Client, method, url, header, value string) (body string, h http.Header, ok bool) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return "", nil, false
	}
	req.Header.Set(header, value)
	resp, err := c.Do(req)
	if err != nil {
		return "", nil, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b)), resp.Header, resp.StatusCode == http.StatusOK
}
