package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/gather"
)

func analyzeCommand() *cli.Command {
	return &cli.Command{
		Name:      "analyze",
		Usage:     "support: run the findings on an extracted dump (new rules on old dumps); rewrites findings.json, report.txt and index.html",
		ArgsUsage: "DIR",
		Flags:     outputFlags(),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() != 1 {
				return usageErrorf("analyze takes one extracted dump: dump analyze DIR (dump decrypt extracts one)")
			}
			dir := c.Args().First()
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageErrorf("%s is not a directory: dump analyze takes the directory dump decrypt extracted", dir)
			}
			rep, err := gather.Analyze(c.Context, dir)
			if errors.Is(err, gather.ErrNotDump) {
				return usageErrorf("%s is %v: run it on the directory dump decrypt printed", dir, err)
			}
			if err != nil {
				return err
			}
			u.notef("%d rules, %d findings:", len(rep.Rules), len(rep.Findings))
			for _, f := range rep.Findings {
				ev := make([]string, 0, len(f.Evidence))
				for _, e := range f.Evidence {
					ev = append(ev, e.String())
				}
				u.notef("  %-8s %s  [%s]", f.Severity, f.Title, strings.Join(ev, " "))
			}
			u.resultf("%s", filepath.Join(dir, "findings.json"))
			return nil
		},
	}
}
