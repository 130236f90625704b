// Command dump gathers a support dump from a host or cluster, redacts secrets,
// seals it for the vendor's support team and uploads it under a uuid; support
// runs `dump decrypt <uuid>` to get the tree back. See docs/design.md for the
// contract this command implements (stdout/stderr, exit codes).
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	ctx, stop := signalContext()
	app := newApp()
	err := whyStopped(ctx, app.RunContext(ctx, interspersed(app, os.Args)))
	stop()
	os.Exit(exitCode(err))
}

func newApp() *cli.App {
	// -v is --verbose here, as in most tools; --version stays.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	app := &cli.App{
		Name:  "dump",
		Usage: "gather, redact, seal and upload a support dump; fetch and open it on the support side",
		UsageText: "dump [options]                         gather, seal, ask, upload (as gather-upload-confirm)\n" +
			"dump command [options] [arguments...]  options may also come before the command: dump -q gather",
		Description: "Every option is also an environment variable DUMP_<NAME> (DUMP_MAX_FILE_SIZE) and a key of\n" +
			"/etc/dump/config.yaml (or --config FILE); flags override variables, variables override the file.\n" +
			"Exit codes: 0 done, 1 failed, 2 usage error, 3 dump written but some collectors failed.",
		CustomAppHelpTemplate: strings.Replace(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS of plain dump (dump COMMAND --help lists a command's own):", 2),
		Version:               version,
		EnableBashCompletion:  true,
		HideHelpCommand:       true,
		Writer:                os.Stdout,
		ErrWriter:             os.Stderr,
		Flags:                 gatherUploadFlags(),
		// With a command, the command's own Before loads the config.
		Before: func(c *cli.Context) error {
			if c.Args().Present() {
				return nil
			}
			return loadConfig(c)
		},
		// Plain `dump` does what k3s's script does by default.
		Action: traced(niced(func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("unknown command %q (dump --help lists them)", c.Args().First())
			}
			return gatherUploadAction(modeConfirm)(c)
		})),
		OnUsageError: onUsageError,
		Commands: []*cli.Command{
			gatherCommand(),
			gatherUploadCommand("gather-upload-confirm", modeConfirm,
				"gather, seal, show a summary, ask before upload and before including the key"),
			gatherUploadCommand("gather-upload", modeYes, "gather, seal and upload without prompts, key included"),
			gatherUploadCommand("gather-upload-nometa", modeNoMeta,
				"gather, seal and upload without prompts; the key is not uploaded but printed once for you to pass to support"),
			uploadCommand(),
			sealCommand(),
			redactCommand(),
			ticketCommand(),
			cleanupCommand(),
			decryptCommand(),
			listCommand(),
			keygenCommand(),
			analyzeCommand(),
			serveCommand(),
			viewCommand(),
			versionCommand(),
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsageError
		if cmd.Before == nil {
			cmd.Before = loadConfig
		}
		if cmd.Action != nil {
			cmd.Action = traced(niced(cmd.Action))
		}
	}
	return app
}

// Exit codes of the contract.
const (
	exitOK         = 0
	exitFailed     = 1
	exitUsage      = 2
	exitIncomplete = 3
)

// exitError carries an exit code; its message (if any) was or will be printed once.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errIncomplete ends a run that wrote a dump although some collectors failed;
// the summary already said which.
var errIncomplete = &exitError{code: exitIncomplete}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	where, help := "dump", "dump --help"
	if isSubcommand {
		where, help = "dump "+c.Command.Name, "dump "+c.Command.Name+" --help"
	}
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		err = fmt.Errorf("%s has no option --%s", where, strings.TrimPrefix(name, "-"))
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("%v (see %s)", withExample(c, err), help)}
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "dump: "+msg)
	}
	return code
}
