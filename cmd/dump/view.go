package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dumptool/dump/decrypt"
)

func viewCommand() *cli.Command {
	return &cli.Command{
		Name:      "view",
		Usage:     "support: serve an extracted dump (or open a sealed one first) read-only on loopback, for browsers that restrict file://; prints the URL",
		ArgsUsage: "DIR|FILE.tar.zst.age",
		Flags: append(append(outputFlags(), identityFlags()...),
			stringFlag("addr", "loopback address to serve on", "127.0.0.1:0"),
			maxBytesFlag(), maxFilesFlag(),
		),
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() != 1 {
				return usageErrorf("view takes one extracted dump directory or sealed file: dump view DIR")
			}
			arg := c.Args().First()
			fi, err := os.Stat(arg)
			if err != nil {
				return usageErrorf("%s: %v", arg, err)
			}
			dir := arg
			if !fi.IsDir() {
				if !strings.HasSuffix(arg, ".tar.zst.age") {
					return usageErrorf("%s is neither a directory nor a sealed dump (dump-<uuid>.tar.zst.age)", arg)
				}
				tmp, err := os.MkdirTemp("", "dump-view-")
				if err != nil {
					return fmt.Errorf("make a directory to open the dump in: %w", err)
				}
				defer os.RemoveAll(tmp)
				opts, err := decryptOptions(c, u)
				if err != nil {
					return err
				}
				opts.OutDir = tmp
				res, err := decrypt.FromFile(c.Context, arg, opts)
				if err != nil {
					return err
				}
				dir = res.Dir
				u.notef("opened dump %s into %s (removed when you stop viewing)", res.UUID, dir)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
				return usageErrorf("%s has no index.html: give the directory dump decrypt printed", dir)
			}
			// os.Root keeps every request, symlinks included, inside the dump.
			root, err := os.OpenRoot(dir)
			if err != nil {
				return err
			}
			defer root.Close()
			files := http.FileServerFS(root.FS())
			readOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					http.Error(w, "read-only", http.StatusMethodNotAllowed)
					return
				}
				w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
				files.ServeHTTP(w, r)
			})
			return listenWeb(c.Context, u, c.String("addr"), "", "", true, readOnly)
		},
	}
}
