package gather

import (
	"bytes"
	"context"
	"encoding/json"
)

// KindCensus writes the host facts (see Census) to Output, census.json by
// default, and into the manifest.
const KindCensus Kind = "census"

type censusKind struct{}

func (censusKind) validate(c *Collector) (string, error) {
	if c.Output == "" {
		c.Output = "census.json"
	}
	return "", nil
}

func (censusKind) describe(_ Collector, env Env) string {
	if env.NoCloudDetect {
		return "host census (no cloud detection)"
	}
	return "host census"
}

func (censusKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	out := c.Output
	b, err := json.MarshalIndent(censusFunc(ctx, s.env), "", "  ")
	if err != nil {
		res.fail(FailOther, "encode census: "+err.Error())
		return
	}
	tb, err := s.stream(out, bytes.NewReader(append(b, '\n')), s.fileCap(c))
	if err == nil {
		err = s.writeOutput(res, out, tb, false)
	}
	if err != nil {
		res.fail(FailOther, err.Error())
		return
	}
	// The manifest gets the census as written, that is after redaction.
	var info CensusInfo
	if json.Unmarshal(tb.Bytes(), &info) == nil {
		s.mu.Lock()
		s.census = &info
		s.mu.Unlock()
	}
}
