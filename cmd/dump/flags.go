package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

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
		durationFlag("since", "time window for journals and logs", 24*time.Hour),
		durationFlag("timeout", "deadline for the whole gather", 10*time.Minute),
		durationFlag("collector-timeout", "deadline for each command", time.Minute),
		stringFlag("max-file-size", "cap per file; the tail of logs is kept", "8MiB"),
		stringFlag("max-size", "budget for the whole dump; lowest-priority outputs are dropped first", "1GiB"),
		&cli.IntFlag{Name: "concurrency", Usage: "collectors run at once", Value: 8, EnvVars: env("concurrency")},
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
