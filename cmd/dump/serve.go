package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

//go:embed serve.html
var servePageSource string

var servePage = template.Must(template.New("serve").Parse(servePageSource))

// serveProfiles are the profiles the page offers.
var serveProfiles = []string{"auto", "host", "k3s", "teleport", "kube"}

// servePassFlags are handed from dump serve to the dump it starts, so the
// button gathers as the command line and the configuration say.
var servePassFlags = []string{"config", "sysroot", "recipient", "recipients-file", "diag-addr", "since", "timeout",
	"collector-timeout", "max-file-size", "max-size", "no-cloud-detect", "spec", "ticket"}

func serveCommand() *cli.Command {
	flags := append(outputFlags(), collectFlags()...)
	flags = append(flags, recipientFlags()...)
	flags = append(flags, uploadFlags()...)
	flags = append(flags,
		stringFlag("addr", "address to serve on; other than loopback it needs --token (or uses a printed one)", "127.0.0.1:8087"),
		stringFlag("token", "token every request must carry (default: a fresh one, in the printed URL)", ""),
		stringFlag("out", "where sealed files are kept for download", defaultOutbox()),
	)
	return &cli.Command{
		Name:  "serve",
		Usage: `a local web page with a "Create support dump" button and live progress; prints its URL`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			u := newUI(c)
			if c.NArg() > 0 {
				return usageErrorf("serve takes no arguments: dump serve [--addr 127.0.0.1:8087]")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the dump binary to run: %w", err)
			}
			s := &server{exe: exe, out: c.String("out"), u: u, dest: c.String("to"), profiles: c.StringSlice("profile")}
			for _, name := range servePassFlags {
				if !c.IsSet(name) {
					continue
				}
				for _, v := range flagValues(c, c.Command.Flags, name) {
					s.pass = append(s.pass, "--"+name+"="+v)
				}
			}
			return listenWeb(c.Context, u, c.String("addr"), c.String("token"), "", false, s.routes(c.Context))
		},
	}
}

// flagValues are the values of a flag as they would be written again on a
// command line.
func flagValues(c *cli.Context, flags []cli.Flag, name string) []string {
	for _, f := range flags {
		if _, ok := f.(*cli.StringSliceFlag); ok && f.Names()[0] == name {
			return c.StringSlice(name)
		}
	}
	return []string{fmt.Sprint(c.Value(name))}
}

// server runs one dump at a time as a child `dump` process and relays its
// per-collector progress to the page as server-sent events.
type server struct {
	exe      string
	out      string
	dest     string
	profiles []string
	pass     []string
	u        *ui

	mu      sync.Mutex
	run     *dumpRun
	lastRun *dumpRun
}

// dumpRun is one dump: the events so far (replayed to late listeners) and,
// when done, its uuid and sealed files.
type dumpRun struct {
	mu     sync.Mutex
	events []serveEvent
	wake   chan struct{} // closed and replaced on each event
	done   bool
	files  map[string]string // download name -> path
}

type serveEvent struct {
	Kind string `json:"kind"` // start, finish, note, done
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
	// done only
	UUID     string   `json:"uuid,omitempty"`
	Files    []string `json:"files,omitempty"`
	ExitCode int      `json:"exit_code"`
}

func (r *dumpRun) add(e serveEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	if e.Kind == "done" {
		r.done = true
	}
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// since returns the events after the first n and a channel closed on the next.
func (r *dumpRun) since(n int) ([]serveEvent, <-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]serveEvent(nil), r.events[n:]...), r.wake, r.done
}

func (s *server) routes(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("POST /dumps", func(w http.ResponseWriter, r *http.Request) { s.start(ctx, w, r) })
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /download/{name}", s.download)
	return mux
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'")
	chosen := map[string]bool{}
	for _, p := range s.profiles {
		chosen[p] = true
	}
	type option struct {
		Name    string
		Checked bool
	}
	var ps []option
	for _, p := range serveProfiles {
		ps = append(ps, option{p, chosen[p]})
	}
	servePage.Execute(w, struct {
		Profiles []option
		Dest     string
		Out      string
	}{ps, s.dest, s.out})
}

var uuidLine = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// start begins a dump with the profiles and destination the form chose
// (only values from the offered lists are used).
func (s *server) start(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var profiles []string
	for _, p := range r.PostForm["profile"] {
		for _, known := range serveProfiles {
			if p == known {
				profiles = append(profiles, known)
			}
		}
	}
	if len(profiles) == 0 {
		profiles = []string{"auto"}
	}
	var args []string
	upload := r.PostForm.Get("destination") == "upload" && s.dest != ""
	work := ""
	if upload {
		args = append(args, "gather-upload", "--to", s.dest, "--out", s.out)
	} else {
		if err := os.MkdirAll(s.out, 0o700); err != nil {
			http.Error(w, "cannot make a directory for the sealed files: "+err.Error(), http.StatusInternalServerError)
			return
		}
		var err error
		if work, err = os.MkdirTemp(s.out, "serve-"); err != nil {
			http.Error(w, "cannot make a directory for the sealed files: "+err.Error(), http.StatusInternalServerError)
			return
		}
		args = append(args, "gather", "--encrypt", "--out", work)
	}
	args = append(args, "--verbose") // one line per collector: the events
	for _, p := range profiles {
		args = append(args, "--profile", p)
	}
	args = append(args, s.pass...)

	s.mu.Lock()
	if s.run != nil {
		s.mu.Unlock()
		http.Error(w, "a dump is already running: wait for it to finish", http.StatusConflict)
		return
	}
	run := &dumpRun{wake: make(chan struct{}), files: map[string]string{}}
	s.run, s.lastRun = run, run
	s.mu.Unlock()

	cmd := exec.CommandContext(ctx, s.exe, args...)
	cmd.Env = append(os.Environ(), "DUMP_QUIET=false") // the progress lines are the events
	stderr, err := cmd.StderrPipe()
	if err == nil {
		var stdout strings.Builder
		cmd.Stdout = &stdout
		err = cmd.Start()
		if err == nil {
			s.u.notef("dump started: %s", strings.Join(args, " "))
			go s.follow(run, cmd, stderr, &stdout, work)
		}
	}
	if err != nil {
		s.mu.Lock()
		s.run = nil
		s.mu.Unlock()
		http.Error(w, "cannot start dump: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

var progressLine = regexp.MustCompile(`^(start|finish) +([^:]+): (.*)$`)

func (s *server) follow(run *dumpRun, cmd *exec.Cmd, stderr io.Reader, stdout *strings.Builder, work string) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if m := progressLine.FindStringSubmatch(line); m != nil {
			run.add(serveEvent{Kind: m[1], Name: m[2], Text: m[3]})
		} else if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "time=") {
			run.add(serveEvent{Kind: "note", Text: line})
		}
	}
	err := cmd.Wait()
	done := serveEvent{Kind: "done"}
	if err != nil {
		done.ExitCode = cmd.ProcessState.ExitCode()
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	switch {
	case uuidLine.MatchString(last):
		done.UUID = last
	case work != "" && strings.HasSuffix(last, ".tar.zst.age"):
		base := strings.TrimSuffix(filepath.Base(last), ".tar.zst.age")
		done.UUID = strings.TrimPrefix(base, "dump-")
		run.mu.Lock()
		for _, name := range []string{base + ".tar.zst.age", base + ".key.age", base + ".json"} {
			if _, err := os.Stat(filepath.Join(work, name)); err == nil {
				run.files[name] = filepath.Join(work, name)
				done.Files = append(done.Files, name)
			}
		}
		run.mu.Unlock()
	}
	s.u.notef("dump finished: exit %d %s", done.ExitCode, done.UUID)
	run.add(done)
	s.mu.Lock()
	s.run = nil
	s.mu.Unlock()
}

// events streams the current (or last) dump's events as server-sent events.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	run := s.lastRun
	s.mu.Unlock()
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	if run == nil {
		fmt.Fprint(w, "event: idle\ndata: {}\n\n")
		fl.Flush()
		return
	}
	n := 0
	for {
		evs, wake, done := run.since(n)
		for _, e := range evs {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		n += len(evs)
		fl.Flush()
		if done {
			return
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
	}
}

// download serves a sealed file of the last dump by its name; the name is
// only a key into the files that dump wrote, never a path.
func (s *server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	run := s.lastRun
	s.mu.Unlock()
	if run == nil {
		http.NotFound(w, r)
		return
	}
	run.mu.Lock()
	p, ok := run.files[r.PathValue("name")]
	run.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(p)))
	http.ServeFile(w, r, p)
}
