package main

import (
	"log/slog"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/internal/nice"
)

// niceFlag is on the commands that gather or seal: they run on the
// customer's host, maybe a struggling one.
func niceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "nice", Value: true, EnvVars: env("nice"),
		Usage: "run collectors and the seal at the lowest CPU and I/O priority (--nice=false: normal priority)"}
}

// niced lowers the process's priority first when the command has --nice set.
// Only the command's own flag counts: the root's (plain `dump` gathers)
// must not slow down decrypt on the support side.
func niced(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		own := slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "nice") })
		if own && c.Bool("nice") {
			if err := nice.Lower(); err != nil {
				slog.Warn("running at normal priority", "err", err)
			}
		}
		return action(c)
	}
}
