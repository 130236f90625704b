package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves flags that follow positional arguments in front of them,
// so `dump seal DIR --out X` works as the contract writes it (urfave/cli v2
// stops parsing flags at the first positional argument). It uses the
// command's own flag definitions to know which flags take a value.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	start := 1
	rootBool := booleans(app.Flags)
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if c := app.Command(a); c != nil {
				cmd, start = c, i+1
			}
			break
		}
		if takesValue(a, rootBool) {
			i++ // `dump --config X seal ...`: X is not the command
		}
	}
	if cmd == nil {
		return args
	}
	boolean := booleans(cmd.Flags)
	var flags, positional []string
	rest := args[start:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if takesValue(a, boolean) && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append([]string{}, args[:start]...)
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

// booleans are the names of flags that take no value.
func booleans(flags []cli.Flag) map[string]bool {
	b := map[string]bool{"help": true, "h": true}
	for _, f := range flags {
		if _, ok := f.(*cli.BoolFlag); ok {
			for _, n := range f.Names() {
				b[n] = true
			}
		}
	}
	return b
}

// takesValue reports whether flag argument a consumes the next argument:
// not --name=value, not a boolean, not a bundle of short booleans (-qv).
func takesValue(a string, boolean map[string]bool) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") || boolean[name] {
		return false
	}
	if !strings.HasPrefix(a, "--") && len(name) > 1 {
		for _, r := range name {
			if !boolean[string(r)] {
				return true
			}
		}
		return false
	}
	return true
}
