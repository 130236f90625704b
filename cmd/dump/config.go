package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// parseSize reads "8MiB", "1GiB", "500MB", "4096".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 8MiB, 1GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

func sizeFlag(c *cli.Context, name string) (int64, error) {
	n, err := parseSize(c.String(name))
	if err != nil {
		return 0, usageErrorf("--%s: %v", name, err)
	}
	return n, nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// defaultOutbox is where gather-upload keeps sealed files until the store has
// them: /var/tmp survives a reboot, unlike /tmp on many hosts.
func defaultOutbox() string {
	base := os.TempDir()
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() && os.Getenv("TMPDIR") == "" {
		base = "/var/tmp"
	}
	return filepath.Join(base, "dump-outbox")
}
