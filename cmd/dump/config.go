package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// A vendor bakes its support recipients and destination into its build:
//
//	go build -ldflags "-X main.defaultDestination=s3://acme-support/dumps -X 'main.defaultRecipients=age1...'"
//
// or edits defaults.yaml (embedded; same keys as /etc/dump/config.yaml).
var (
	defaultDestination string
	defaultRecipients  string
)

//go:embed defaults.yaml
var embeddedDefaults []byte

// loadConfig applies the embedded defaults, then the config file, to every
// flag that neither the command line nor a DUMP_* variable has set.
func loadConfig(c *cli.Context) error {
	values := map[string]any{}
	if err := yaml.Unmarshal(embeddedDefaults, &values); err != nil {
		return fmt.Errorf("embedded defaults.yaml: %w", err)
	}
	path := c.String("config")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var fromFile map[string]any
		if err := yaml.Unmarshal(data, &fromFile); err != nil {
			return usageErrorf("config %s: %v (fix the YAML or pass --config with another file)", path, err)
		}
		for k, v := range fromFile {
			values[k] = v
		}
	case errors.Is(err, fs.ErrNotExist) && !c.IsSet("config"):
		// No system config: fine.
	default:
		return usageErrorf("config %s: %v", path, err)
	}
	known := map[string]bool{}
	for _, f := range contextFlags(c) {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	if c.Command != nil && c.Command.Name == "keygen" {
		delete(known, "out") // a file here, a directory everywhere else
	}
	for name, v := range values {
		if !known[name] || c.IsSet(name) {
			continue
		}
		for _, s := range configStrings(v) {
			if err := c.Set(name, s); err != nil {
				return usageErrorf("config %s: %s: %v", path, name, err)
			}
		}
	}
	return nil
}

func contextFlags(c *cli.Context) []cli.Flag {
	if c.Command != nil && c.Command.Name != "" {
		return c.Command.Flags
	}
	return c.App.Flags
}

func configStrings(v any) []string {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case nil:
		return nil
	default:
		return []string{fmt.Sprint(v)}
	}
}
