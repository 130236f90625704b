package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/gather"
	"github.com/dumptool/dump/internal/human"
)

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

// defaultOutbox is where gather-upload keeps sealed files until the store has
// them: /var/tmp survives a reboot, unlike /tmp on many hosts.
func defaultOutbox() string {
	base := os.TempDir()
	if fi, err := os.Stat("/var/tmp"); err == nil && fi.IsDir() && os.Getenv("TMPDIR") == "" {
		base = "/var/tmp"
	}
	return filepath.Join(base, "dump-outbox")
}

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

func durationFlag(name, usage string, value time.Duration) *cli.DurationFlag {
	return &cli.DurationFlag{Name: name, Usage: usage, Value: value, EnvVars: env(name)}
}

// outputFlags are shared by every command.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag("config", "config file setting any flag (YAML, flag names as keys)", "/etc/dump/config.yaml"),
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr, errors only", EnvVars: env("quiet")},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show every command and debug logs", EnvVars: env("verbose")},
	}
}

func collectFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "profile", Usage: "what to gather: host, k3s, teleport, kube, auto (repeatable)", Value: cli.NewStringSlice("auto"), EnvVars: env("profile")},
		stringFlag("sysroot", "gather from a mounted root: files are read under DIR and journalctl gets --directory", "/"),
		sliceFlag("spec", "extra collectors from a YAML file (repeatable)"),
		durationFlag("since", "time window for journals and logs", gather.DefaultSince),
		durationFlag("timeout", "deadline for the whole gather", gather.DefaultTimeout),
		durationFlag("collector-timeout", "deadline for each command", gather.DefaultCollectorTimeout),
		stringFlag("max-file-size", "cap per file; the tail of logs is kept", human.Bytes(gather.DefaultMaxFileSize)),
		stringFlag("max-size", "budget for the whole dump; lowest-priority outputs are dropped first", human.Bytes(gather.DefaultMaxSize)),
		&cli.IntFlag{Name: "concurrency", Usage: "collectors run at once", Value: gather.DefaultConcurrency, EnvVars: env("concurrency")},
		stringFlag("diag-addr", "Teleport diagnostic endpoint host:port (default: from teleport.yaml)", ""),
		boolFlag("no-cloud-detect", "do not probe cloud metadata endpoints"),
		uuidFlag(),
		stringFlag("kubeconfig", "kubectl's kubeconfig for the kube profile (default: $KUBECONFIG, ~/.kube/config)", ""),
		stringFlag("context", "kubectl's context for the kube profile (default: the current context)", ""),
		&cli.StringSliceFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "kube: gather these namespaces (repeatable; default: all when allowed, else the context's and the products')", EnvVars: env("namespace")},
		&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "kube: gather every namespace at once", EnvVars: env("all-namespaces")},
		stringFlag("obfuscation-map", "write the original-to-replacement map here (0600, never put in the dump)", ""),
	}, redactFlags()...)
}

func uuidFlag() cli.Flag { return stringFlag("uuid", "use this uuid instead of a fresh one", "") }

func recipientFlags() []cli.Flag {
	return []cli.Flag{
		sliceFlag("recipient", "support public key: age1..., ssh-ed25519 or ssh-rsa (repeatable)"),
		stringFlag("recipients-file", "file of support public keys, one per line", ""),
	}
}

func uploadFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag("to", "destination: file:///dir, s3://bucket/prefix or gs://bucket/prefix", defaultDestination),
		stringFlag("ticket", "upload with a ticket from support instead of credentials", ""),
		durationFlag("upload-timeout", "deadline for the whole upload, retries included", 2*time.Hour),
	}
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

func identityFlags() []cli.Flag {
	return []cli.Flag{
		sliceFlag("identity", "support identity: age key file (plain or passphrase-protected) or ssh private key (repeatable)"),
		stringFlag("key", "session key AGE-SECRET-KEY-1... for a dump uploaded without its key", ""),
	}
}

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

// redactFlags are shared by gather (and the gather-upload commands) and redact.
func redactFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag("redaction-key-file", "keep redaction tokens consistent across dumps with this key (created 0600 on first use)", ""),
		sliceFlag("obfuscate", "also replace identities one-way: hostnames, ips, users, domains"),
	}
}
