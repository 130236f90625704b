package gather

import (
	"bytes"
	"context"
	"encoding/json"
)

// runCensus runs the "census" collector: host facts to census.json.
func (s *runState) runCensus(ctx context.Context, c Collector, res *CollectorResult) {
	out := c.Output
	if out == "" {
		out = "census.json"
	}
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
