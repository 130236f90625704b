package gather

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// runJournal runs a "journal" collector: the unit's journal within --since as
// Output/log.txt (-o short-iso) and Output/log.json (-o json). Under a sysroot
// journalctl reads the sysroot's journal files with --directory.
func (s *runState) runJournal(ctx context.Context, c Collector, res *CollectorResult) {
	res.Source = c.Unit
	args := []string{"journalctl", "-u", c.Unit, "--since", s.since.UTC().Format("2006-01-02 15:04:05") + " UTC", "--no-pager"}
	if s.env.Sysroot != "/" {
		dir := journalDir(s.env.Sysroot)
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
// the remote/ of systemd-journal-remote.
func journalDir(root string) string {
	for _, d := range []string{"var/log/journal", "run/log/journal"} {
		dir := filepath.Join(root, d)
		if hasJournals(dir) {
			return dir
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && hasJournals(filepath.Join(dir, e.Name())) {
				if isMachineID(e.Name()) {
					return dir
				}
				return filepath.Join(dir, e.Name())
			}
		}
	}
	return ""
}

func hasJournals(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	if len(m) > 0 {
		return true
	}
	m, _ = filepath.Glob(filepath.Join(dir, "*.journal~"))
	return len(m) > 0
}

func isMachineID(s string) bool {
	return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == ""
}
