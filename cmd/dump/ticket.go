package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/upload"
	"github.com/dumptool/dump/upload/stores"
	"github.com/dumptool/dump/upload/ticket"
)

func ticketCommand() *cli.Command {
	return &cli.Command{
		Name:  "ticket",
		Usage: "support: make an upload ticket so a customer can upload without credentials",
		Flags: append(outputFlags(),
			stringFlag("to", "where the dump will go: "+stores.PresignForms(), defaultDestination),
			durationFlag("expires", "how long the ticket works", 72*time.Hour),
			storeTimeoutFlag(),
			uuidFlag(),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			to := c.String("to")
			if to == "" {
				return usageErrorf("no destination: pass --to %s", stores.PresignForms())
			}
			s, err := stores.Open(c.Context, to, storeOptions(u, c.Duration("store-timeout")))
			if err != nil {
				return usageErrorf("%v", err)
			}
			p, ok := s.(upload.Presigner)
			if !ok {
				return usageErrorf("%s cannot sign upload URLs: tickets need %s", s, stores.PresignForms())
			}
			id, err := newUUID(c)
			if err != nil {
				return err
			}
			t, err := ticket.Create(c.Context, p, to, id, c.Duration("expires"))
			if err != nil {
				return err
			}
			u.notef("ticket for dump %s, valid %s; the customer runs:\n  dump gather-upload --ticket '<ticket below>'", id, c.Duration("expires"))
			u.resultf("%s", t)
			return nil
		},
	}
}
