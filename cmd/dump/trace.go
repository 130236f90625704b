package main

import (
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/internal/tracing"
)

func traceExporterFlag() cli.Flag {
	return stringFlag("trace-exporter", "also export this run's spans over OTLP: grpc://host:port, http(s)://host:port/path or file:///dir (default: OTEL_EXPORTER_OTLP_ENDPOINT if set)", "")
}

// traced runs action inside the root span of the run, named after the
// command, and exports the run's spans where --trace-exporter says.
func traced(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		name := "dump"
		if c.Command != nil && c.Command.Name != "" {
			name += " " + c.Command.Name
		}
		ctx, run, err := tracing.Start(c.Context, name, tracing.Options{ExporterURL: c.String("trace-exporter"), Version: version})
		if err != nil {
			return usageErrorf("--trace-exporter: %v", err)
		}
		c.Context = ctx
		err = action(c)
		run.End(ctx, err)
		return err
	}
}
