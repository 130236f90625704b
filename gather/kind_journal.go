package gather

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// KindJournal writes the journal of Unit within --since as Output/log.txt
// (-o short-iso) and Output/log.json (-o json). Under a sysroot journalctl
// reads the sysroot's journal files with --directory.
const KindJournal Kind = "journal"

// journal makes a journal collector for unit into systemd/{host}/<unit>/.
func journal(unit string) Collector {
	return Collector{Name: "journal-" + unit, Category: "systemd", Kind: KindJournal, Unit: unit,
		Output: "systemd/{host}/" + unit, Priority: prioLogs}
}

type journalKind struct{}

func (journalKind) validate(c *Collector) (string, error) {
	if c.Unit == "" {
		return "name", errors.New("a journal collector needs a unit")
	}
	return "", nil
}

func (journalKind) describe(c Collector, _ Env) string {
	return "journalctl -u " + c.Unit + " within --since"
}

func (journalKind) run(ctx context.Context, s *runState, c Collector, res *CollectorResult) {
	res.Source = c.Unit
	args := []string{"journalctl", "-u", c.Unit, "--since", s.since.UTC().Format("2006-01-02 15:04:05") + " UTC", "--no-pager"}
	if s.env.Sysroot != "/" {
		dir, err := journalDir(s.env.Sysroot)
		if err != nil {
			res.fail(FailOther, err.Error())
			s.writeError(res, path.Join(c.Output, "log.error"), res.Error)
			return
		}
		if dir == "" {
			// A mounted root whose journal was volatile (/run) has none to
			// give: there is nothing to read, which is not a failure.
			res.skip("no journal files under " + filepath.Join(s.env.Sysroot, "var/log/journal"))
			return
		}
		args = append(args, "--directory", dir)
	}
	errRel := path.Join(c.Output, "log.error")
	limit := s.fileCap(c)
	for i, format := range []string{"short-iso", "json"} {
		argv := append(args[:len(args):len(args)], "-o", format)
		out := path.Join(c.Output, "log.txt")
		if format == "json" {
			out = path.Join(c.Output, "log.json")
		}
		if i == 0 {
			res.Command = argv
		}
		stdout, stderr, p, err := s.execute(ctx, argv, out, limit)
		if err != nil {
			s.commandMissing(Collector{Command: argv, Output: errRel, Optional: c.Optional}, res, err)
			return
		}
		defer stdout.Close()
		defer stderr.Close()
		if werr := s.writeOutput(res, out, stdout, false); werr != nil {
			res.fail(FailOther, werr.Error())
		}
		if p.exitCode > 0 && noEntries(stdout) {
			p.exitCode = 0 // some journalctl versions exit 1 when nothing matched
		}
		if i > 0 && res.ErrorFile != "" {
			stderr = newTailBuffer(1) // the same complaint twice is noise
		}
		s.finishCommand(ctx, c, res, stderr, p, errRel)
		if res.Status != StatusOK {
			return
		}
	}
}

// journalDir finds the journal files of a sysroot: the persistent or volatile
// journal directory (journalctl looks into its machine-id subdirectories), or
// failing that the first directory below them holding *.journal files, such as
// the remote/ of systemd-journal-remote. The directory is resolved inside the
// sysroot; one holding symbolic links is refused, since journalctl would
// follow them out of it.
func journalDir(root string) (string, error) {
	h, err := openHostFS(root)
	if err != nil {
		return "", err
	}
	defer h.Close()
	for _, d := range []string{"var/log/journal", "run/log/journal"} {
		dir, err := h.resolve(d, true)
		if err != nil {
			continue
		}
		found, err := hasJournals(h, dir)
		if err != nil {
			return "", err
		}
		if found {
			return filepath.Join(root, filepath.FromSlash(dir)), nil
		}
		entries, _ := h.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			found, err := hasJournals(h, path.Join(dir, e.Name()))
			if err != nil {
				return "", err
			}
			if !found {
				continue
			}
			if isMachineID(e.Name()) {
				return filepath.Join(root, filepath.FromSlash(dir)), nil
			}
			return filepath.Join(root, filepath.FromSlash(path.Join(dir, e.Name()))), nil
		}
	}
	return "", nil
}

// hasJournals reports whether dir holds journal files. A symbolic link in
// dir or in the directories below it (journalctl reads those too) is an error.
func hasJournals(h *hostFS, dir string) (bool, error) {
	entries, err := h.ReadDir(dir)
	if err != nil {
		return false, nil
	}
	found := false
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			return false, fmt.Errorf("/%s is a symbolic link: the journal under the sysroot is not read, journalctl would follow it", p)
		case e.IsDir():
			subs, _ := h.ReadDir(p)
			for _, s := range subs {
				if s.Type()&fs.ModeSymlink != 0 {
					return false, fmt.Errorf("/%s/%s is a symbolic link: the journal under the sysroot is not read, journalctl would follow it", p, s.Name())
				}
			}
		case e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".journal") || strings.HasSuffix(e.Name(), ".journal~")):
			found = true
		}
	}
	return found, nil
}

func isMachineID(s string) bool {
	return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == ""
}

// noEntries reports whether journalctl said it found nothing, which is an answer, not a failure.
func noEntries(tb *tailBuffer) bool {
	return strings.Contains(string(tb.Bytes()), "-- No entries --")
}
