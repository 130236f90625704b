package gather

import (
	"context"
	"errors"
	"os"
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

// noEntries reports whether journalctl said it found nothing, which is an answer, not a failure.
func noEntries(tb *tailBuffer) bool {
	return strings.Contains(string(tb.Bytes()), "-- No entries --")
}
