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

// configValue is one key of a config file, with where it was written.
type configValue struct {
	values []string
	where  string // file:line
}

// loadConfig applies the embedded defaults, then the config file, to every
// flag that neither the command line nor a DUMP_* variable has set. A key
// that is no flag of any command is refused: it is a typo that would
// otherwise be ignored without a word.
func loadConfig(c *cli.Context) error {
	values, err := parseConfig("embedded defaults.yaml", embeddedDefaults, c.App)
	if err != nil {
		return err
	}
	path := c.String("config")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		fromFile, err := parseConfig(path, data, c.App)
		if err != nil {
			return err
		}
		for k, v := range fromFile {
			values[k] = v
		}
	case errors.Is(err, fs.ErrNotExist) && !c.IsSet("config"):
		// No system config: fine.
	default:
		return usageErrorf("config %s: %v", path, err)
	}
	flags := contextFlags(c)
	for _, f := range flags {
		name := f.Names()[0]
		v, ok := values[name]
		if !ok || c.IsSet(name) {
			continue
		}
		if name == "out" && c.Command != nil && c.Command.Name == "keygen" {
			continue // a file here, a directory everywhere else
		}
		if name == "ticket" && c.Command != nil && c.Command.Name == "gather" {
			continue // a node part's ticket: only on a node pod's command line
		}
		for _, s := range v.values {
			if err := c.Set(name, s); err != nil {
				return usageErrorf("config %s: %v", v.where, withExample(c, fmt.Errorf("invalid value %q for flag -%s: %v", s, name, err)))
			}
		}
		// Checked here, so the error names the file and line.
		if af, ok := f.(cli.ActionableFlag); ok {
			if err := af.RunAction(c); err != nil {
				return usageErrorf("config %s: %v", v.where, err)
			}
		}
	}
	return nil
}

// parseConfig reads a YAML mapping of flag names to values.
func parseConfig(source string, data []byte, app *cli.App) (map[string]configValue, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, usageErrorf("config %s: %v (fix the YAML or pass --config with another file)", source, err)
	}
	values := map[string]configValue{}
	if len(doc.Content) == 0 {
		return values, nil // empty file
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, usageErrorf("config %s:%d: want flag names as keys (since: 6h)", source, top.Line)
	}
	known := flagNames(app)
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		where := fmt.Sprintf("%s:%d", source, k.Line)
		if !known[k.Value] {
			return nil, usageErrorf("config %s: unknown key %q: keys are long flag names (dump COMMAND --help lists them)", where, k.Value)
		}
		cv := configValue{where: where}
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag != "!!null" {
				cv.values = []string{v.Value}
			}
		case yaml.SequenceNode:
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return nil, usageErrorf("config %s:%d: %s: want a list of plain values", source, e.Line, k.Value)
				}
				cv.values = append(cv.values, e.Value)
			}
		default:
			return nil, usageErrorf("config %s: %s: want a value or a list of values", where, k.Value)
		}
		values[k.Value] = cv
	}
	return values, nil
}

// flagNames are the long names of every flag of the app and its commands.
func flagNames(app *cli.App) map[string]bool {
	known := map[string]bool{}
	add := func(flags []cli.Flag) {
		for _, f := range flags {
			known[f.Names()[0]] = true
		}
	}
	add(app.Flags)
	for _, cmd := range app.Commands {
		add(cmd.Flags)
	}
	return known
}

func contextFlags(c *cli.Context) []cli.Flag {
	if c.Command != nil && c.Command.Name != "" {
		return c.Command.Flags
	}
	return c.App.Flags
}
