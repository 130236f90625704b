package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/gather/redact"
)

func redactCommand() *cli.Command {
	return &cli.Command{
		Name:      "redact",
		Usage:     "re-redact an existing dump tree in place (for a dump gathered by an older version, or a folder for dump seal)",
		ArgsUsage: "DIR",
		Flags:     append(outputFlags(), redactFlags()...),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() != 1 {
				return usageErrorf("redact takes one directory: dump redact DIR")
			}
			dir := c.Args().First()
			r, err := newRedactor(c)
			if err != nil {
				return err
			}
			perFile, err := r.Tree(c.Context, dir)
			if err != nil {
				return fmt.Errorf("redact %s: %w", dir, err)
			}
			scan, err := r.Scan(c.Context, dir)
			if err != nil {
				return fmt.Errorf("leak scan of %s: %w", dir, err)
			}
			changed := 0
			for _, counts := range perFile {
				if counts.Total() > 0 {
					changed++
				}
			}
			u.notef("redacted %d secrets in %d of %d files (%s); leak scan fixed %d more",
				r.Totals().Total(), changed, len(perFile), formatCounts(r.Totals()), len(scan.Fixed))
			u.resultf("%s", dir)
			return nil
		},
	}
}

// newRedactor builds the redactor that --redaction-key-file and --obfuscate ask for.
func newRedactor(c *cli.Context) (*redact.Redactor, error) {
	var key []byte
	if p := c.String("redaction-key-file"); p != "" {
		var err error
		if key, err = redact.LoadOrCreateKey(p); err != nil {
			return nil, fmt.Errorf("--redaction-key-file: %w", err)
		}
	}
	r, err := redact.New(redact.Options{Key: key, Obfuscate: c.StringSlice("obfuscate")})
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return r, nil
}

// formatCounts renders redaction counts as "password=3, token=2".
func formatCounts(c redact.Counts) string {
	if len(c) == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(c))
	for k := range c {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, ", ")
}
