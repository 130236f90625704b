package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/crypto"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "make a support identity (for the vendor's support team) and print its public recipient",
		Flags: append(outputFlags(),
			// Its own variable: DUMP_OUT and a config's out: name a directory
			// for every other command.
			&cli.StringFlag{Name: "out", Usage: "identity file to write (0600, never overwritten)", Value: "support.key", EnvVars: []string{"DUMP_KEYGEN_OUT"}},
			// Not bound to DUMP_PASSPHRASE like other flags: that variable holds
			// the passphrase itself, and setting it turns protection on.
			&cli.BoolFlag{Name: "passphrase", Usage: "protect the identity with a passphrase (prompted; DUMP_PASSPHRASE gives it and implies this flag)"},
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			pass := ""
			if _, set := os.LookupEnv("DUMP_PASSPHRASE"); c.Bool("passphrase") || set {
				p, err := passphrase(c, "passphrase for the new identity", true)
				if err != nil {
					return err
				}
				pass = p
			}
			out := c.String("out")
			recipient, err := crypto.WriteKeyFile(out, pass)
			if err != nil {
				return err
			}
			u.notef("wrote the support identity to %s: keep it secret; give customers the recipient below", out)
			u.resultf("%s", recipient)
			return nil
		},
	}
}
