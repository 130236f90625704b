package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed rewrites the command line so that every flag is honoured
// wherever the user put it. urfave/cli v2 stops parsing flags at the first
// positional argument, and a flag given before the command is parsed into the
// app's flag set, where the command's own flag of the same name (its default)
// shadows it. So flags before the command and flags after positional
// arguments are both moved right behind the command:
//
//	dump -q seal DIR --out X  ->  dump seal -q --out X -- DIR
//
// It uses the flag definitions to know which flags take a value.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	start := 1
	// Before the command, any command's flag may appear: `dump --all decrypt 3f`.
	anyBool := booleans(app.Flags)
	for _, c := range app.Commands {
		for n := range booleans(c.Flags) {
			anyBool[n] = true
		}
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if c := app.Command(a); c != nil {
				cmd, start = c, i
			}
			break
		}
		if takesValue(a, anyBool) {
			i++ // `dump --config X seal ...`: X is not the command
		}
	}
	if cmd == nil {
		return args
	}
	leading := args[1:start]
	boolean := booleans(cmd.Flags)
	flags := append([]string{}, leading...)
	var positional []string
	rest := args[start+1:]
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
	out := []string{args[0], args[start]}
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
