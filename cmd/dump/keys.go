package main

import (
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dumptool/dump/crypto"
)

// recipientsOf are the support recipients of a dump and their fingerprints.
type recipientsOf struct {
	list         []age.Recipient
	fingerprints []string
}

// recipients gathers --recipient, --recipients-file and the recipients baked
// into this build. With required, having none is a usage error.
func recipients(c *cli.Context, required bool) (recipientsOf, error) {
	rs, err := parseRecipients(c)
	if err == nil && required && len(rs.list) == 0 {
		err = errNoRecipient
	}
	return rs, err
}

func parseRecipients(c *cli.Context) (recipientsOf, error) {
	var rs recipientsOf
	lines := c.StringSlice("recipient")
	if len(lines) == 0 && c.String("recipients-file") == "" {
		lines = strings.FieldsFunc(defaultRecipients, func(r rune) bool { return r == ',' || r == '\n' })
	}
	for _, l := range lines {
		r, fp, err := crypto.ParseRecipient(strings.TrimSpace(l))
		if err != nil {
			return rs, usageErrorf("--recipient: %v", err)
		}
		rs.list, rs.fingerprints = append(rs.list, r), append(rs.fingerprints, fp)
	}
	if p := c.String("recipients-file"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return rs, usageErrorf("--recipients-file: %v", err)
		}
		defer f.Close()
		more, morefps, err := crypto.ParseRecipients(f, p)
		if err != nil {
			return rs, usageErrorf("%v", err)
		}
		rs.list, rs.fingerprints = append(rs.list, more...), append(rs.fingerprints, morefps...)
	}
	return rs, nil
}

var errNoRecipient = usageErrorf("no support recipient: pass --recipient age1... (or ssh-ed25519/ssh-rsa) or --recipients-file with your vendor's public key")

// identities loads the --identity files (support side).
func identities(c *cli.Context) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range c.StringSlice("identity") {
		more, err := crypto.LoadIdentities(p, func() (string, error) { return passphrase(c, "passphrase for "+p, false) })
		if err != nil {
			return nil, fmt.Errorf("--identity %s: %w", p, err)
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// passphrase comes from DUMP_PASSPHRASE or, on a terminal, from a prompt.
func passphrase(c *cli.Context, prompt string, confirm bool) (string, error) {
	if p, ok := os.LookupEnv("DUMP_PASSPHRASE"); ok {
		return p, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usageErrorf("a passphrase is needed and there is no terminal to ask on: set DUMP_PASSPHRASE")
	}
	read := func(p string) (string, error) {
		fmt.Fprintf(c.App.ErrWriter, "%s: ", p)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		return string(b), err
	}
	p, err := read(prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := read("again")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", usageErrorf("the passphrases differ")
		}
	}
	if p == "" {
		return "", usageErrorf("empty passphrase")
	}
	return p, nil
}
