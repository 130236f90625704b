package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/decrypt"
	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/human"
	"github.com/dumptool/dump/internal/layout"
	"github.com/dumptool/dump/upload/stores"
)

// Every flag is also a DUMP_* variable and a key of the config file. Limits
// (durations, counts, sizes) must be more than 0: a 0 would silently mean
// "the default" deeper down, which is not what a user who typed it meant.

// env names the DUMP_* variable of a flag.
func env(name string) []string {
	return []string{"DUMP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

func stringFlag(name, usage, value string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Usage: usage, Value: value, EnvVars: env(name)}
}

func sliceFlag(name, usage string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

func boolFlag(name, usage string) *cli.BoolFlag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

// durationFlag is a positive duration.
func durationFlag(name, usage string, value time.Duration) *cli.DurationFlag {
	return &cli.DurationFlag{Name: name, Usage: usage, Value: value, EnvVars: env(name),
		Action: func(c *cli.Context, d time.Duration) error {
			if d <= 0 {
				return usageErrorf("--%s %s: must be more than 0, e.g. --%s %s", name, shortDuration(d), name, shortDuration(value))
			}
			return nil
		}}
}

// countFlag is a positive number.
func countFlag(name, usage string, value int) *cli.IntFlag {
	return &cli.IntFlag{Name: name, Usage: usage, Value: value, EnvVars: env(name),
		Action: func(c *cli.Context, n int) error {
			if n <= 0 {
				return usageErrorf("--%s %d: must be more than 0, e.g. --%s %d", name, n, name, value)
			}
			return nil
		}}
}

// sizeOption is a positive byte size such as 8MiB; read it with sizeFlag.
func sizeOption(name, usage string, value int64) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Usage: usage, Value: sizeArg(value), EnvVars: env(name),
		Action: func(c *cli.Context, s string) error {
			n, err := parseSize(s)
			if err == nil && n <= 0 {
				err = fmt.Errorf("%q: must be more than 0", s)
			}
			if err != nil {
				return usageErrorf("--%s %v, e.g. --%s %s", name, err, name, sizeArg(value))
			}
			return nil
		}}
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
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return int64(n * float64(mult)), nil
}

// sizeArg writes n exactly as parseSize reads it back: 8MiB, 1GiB, 1500.
func sizeArg(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// shortDuration drops the zero tail of time.Duration's form: 24h, 10m, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// sizeFlag reads a size flag in bytes.
func sizeFlag(c *cli.Context, name string) (int64, error) {
	n, err := parseSize(c.String(name))
	if err != nil {
		return 0, usageErrorf("--%s %v, e.g. --%s 25MiB", name, err, name)
	}
	return n, nil
}

// badValue matches the flag package's and urfave/cli's parse errors, from
// the command line and from DUMP_* variables.
var badValue = regexp.MustCompile(`^(?:invalid value|could not parse) ("(?:[^"\\]|\\.)*") (?:as \w+ value from environment variable "(\w+)" )?for flag -?([\w-]+)`)

// withExample rewrites a flag parse error into one line with a value that
// works: `--since "6x" is not a duration, e.g. --since 24h`.
func withExample(c *cli.Context, err error) error {
	m := badValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	value, variable, name := m[1], m[2], m[3]
	if v, err := strconv.Unquote(value); err == nil {
		value = v
	}
	flags := c.App.Flags
	if c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	}
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		kind, example := valueKind(f)
		if kind == "" {
			return err
		}
		if variable != "" {
			return fmt.Errorf("%s=%q is not %s, e.g. %s=%s", variable, value, kind, variable, example)
		}
		return fmt.Errorf("--%s %q is not %s, e.g. --%s %s", name, value, kind, name, example)
	}
	return err
}

// valueKind names what a flag takes and a value that works (its default).
func valueKind(f cli.Flag) (kind, example string) {
	switch f := f.(type) {
	case *cli.DurationFlag:
		return "a duration (s, m, h)", shortDuration(f.Value)
	case *cli.IntFlag:
		return "a whole number", strconv.Itoa(f.Value)
	}
	return "", ""
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

// outputFlags are shared by every command.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag("config", "config file setting any flag (YAML, flag names as keys)", "/etc/dump/config.yaml"),
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr, errors only", EnvVars: env("quiet")},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every command and debug logs", EnvVars: env("verbose")},
		traceExporterFlag(),
	}
}

func collectFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "profile", Usage: "what to gather: host, k3s, teleport, kube, auto (repeatable)", Value: cli.NewStringSlice("auto"), EnvVars: env("profile"),
			Action: func(c *cli.Context, names []string) error {
				if err := gather.CheckProfiles(names); err != nil {
					return usageErrorf("--profile: %v", err)
				}
				return nil
			}},
		stringFlag("sysroot", "gather from a mounted root: files are read under DIR and journalctl gets --directory", "/"),
		sliceFlag("spec", "extra collectors from a YAML file (repeatable)"),
		durationFlag("since", "time window for journals and logs", gather.DefaultSince),
		durationFlag("timeout", "deadline for the whole gather", gather.DefaultTimeout),
		durationFlag("collector-timeout", "deadline for each command", gather.DefaultCollectorTimeout),
		sizeOption("max-file-size", "cap per file; the tail of logs is kept", gather.DefaultMaxFileSize),
		sizeOption("max-size", "budget for the whole dump; lowest-priority outputs are dropped first", gather.DefaultMaxSize),
		countFlag("concurrency", "collectors run at once", gather.DefaultConcurrency),
		stringFlag("diag-addr", "Teleport diagnostic endpoint host:port (default: from teleport.yaml)", ""),
		boolFlag("no-cloud-detect", "do not probe cloud metadata endpoints"),
		uuidFlag(),
		stringFlag("kubeconfig", "kubectl's kubeconfig for the kube profile (default: $KUBECONFIG, ~/.kube/config)", ""),
		stringFlag("context", "kubectl's context for the kube profile (default: the current context)", ""),
		&cli.StringSliceFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "kube: gather these namespaces (repeatable; default: all when allowed, else the context's and the products')", EnvVars: env("namespace")},
		&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "kube: gather every namespace at once", EnvVars: env("all-namespaces")},
		niceFlag(),
		stringFlag("obfuscation-map", "write the original-to-replacement map here (0600, never put in the dump)", ""),
	}, redactFlags()...)
}

func uuidFlag() cli.Flag { return stringFlag("uuid", "use this uuid instead of a fresh one", "") }

func newUUID(c *cli.Context) (string, error) {
	if s := c.String("uuid"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			return "", usageErrorf("--uuid %q: %v", s, err)
		}
		return id.String(), nil
	}
	return uuid.NewString(), nil
}

func recipientFlags() []cli.Flag {
	return []cli.Flag{
		sliceFlag("recipient", "support public key: age1..., ssh-ed25519 or ssh-rsa (repeatable)"),
		stringFlag("recipients-file", "file of support public keys, one per line", ""),
	}
}

func uploadFlags() []cli.Flag {
	return []cli.Flag{
		splitFlag(),
		stringFlag("to", "destination: "+stores.Forms(), defaultDestination),
		boolFlag("create", "make a missing file:// destination, parent directories included"),
		stringFlag("ticket", "upload with a ticket from support instead of credentials", ""),
		durationFlag("upload-timeout", "deadline for the whole upload, retries included", 2*time.Hour),
	}
}

// splitFlag asks for the sealed payload in numbered parts of at most SIZE.
func splitFlag() cli.Flag {
	return &cli.StringFlag{Name: "split", Usage: "write the sealed payload as numbered parts of at most SIZE each (e.g. 25MiB), for mail or ticket portals with a size limit", EnvVars: env("split"),
		Action: func(c *cli.Context, _ string) error {
			_, err := splitSize(c)
			return err
		}}
}

// splitSize is --split in bytes, 0 when not set.
func splitSize(c *cli.Context) (int64, error) {
	if c.String("split") == "" {
		return 0, nil
	}
	n, err := sizeFlag(c, "split")
	if err == nil && n < layout.MinPartSize {
		err = usageErrorf("--split %s: parts must be at least %s, e.g. --split 25MiB", c.String("split"), human.Bytes(layout.MinPartSize))
	}
	return n, err
}

// storeTimeoutFlag bounds the retries of each request of list and decrypt.
func storeTimeoutFlag() cli.Flag {
	return durationFlag("store-timeout", "give up on a store request after retrying this long", 10*time.Minute)
}

func gatherUploadFlags() []cli.Flag {
	flags := append(outputFlags(), collectFlags()...)
	flags = append(flags, recipientFlags()...)
	flags = append(flags, uploadFlags()...)
	return append(flags,
		stringFlag("out", "where the sealed files are written (and kept if the upload fails)", defaultOutbox()),
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to the prompts", EnvVars: env("yes")},
	)
}

// maxBytesFlag and maxFilesFlag bound an extraction (decrypt, view).
func maxBytesFlag() cli.Flag {
	return sizeOption("max-bytes", "refuse to extract more than this", decrypt.DefaultMaxBytes)
}

func maxFilesFlag() cli.Flag {
	return countFlag("max-files", "refuse to extract more files than this", decrypt.DefaultMaxFiles)
}

func identityFlags() []cli.Flag {
	return []cli.Flag{
		sliceFlag("identity", "support identity: age key file (plain or passphrase-protected) or ssh private key (repeatable)"),
		stringFlag("key", "session key AGE-SECRET-KEY-1... for a dump uploaded without its key", ""),
	}
}

// redactFlags are shared by gather (and the gather-upload commands) and redact.
func redactFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag("redaction-key-file", "keep redaction tokens consistent across dumps with this key (created 0600 on first use)", ""),
		sliceFlag("obfuscate", "also replace identities one-way: hostnames, ips, users, domains"),
	}
}
