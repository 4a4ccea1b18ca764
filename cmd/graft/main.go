// Command graft is graft's command line: training, transfer learning,
// prediction and diagnostics. `graft help` lists the commands and
// `graft help CMD` (or `graft CMD -h`) shows a command's flags and their
// defaults.
//
// Exit status: 0 on success (and for -h/--help), 2 when a command fails,
// with one line on standard error saying why (a user's mistake: a bad
// flag, a missing file, data that does not fit the model), 130 when it is
// interrupted (Ctrl-C; the message says what was kept).
//
// Each command lives in its own file and registers itself from an init
// function: its name, a synopsis of its positional arguments, a one-line
// summary, a paragraph of help, whether it computes (then GRAFT_DEVICE and
// GRAFT_CPU are checked once its flags parse), and the function that runs
// it. That function builds its flags with s.newFlags(name) and calls
// flags.parse, which handles -h/--help, flags mixed with positional
// arguments, and their count, the same way for every command.
//
// A command takes what it needs from its process through the session it
// runs in (its output, environment, device and Ctrl-C), never from the
// process itself: main runs the process's session, and tests run many
// sessions side by side in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/graftml/graft/tensor"
)

// command is one subcommand of graft.
type command struct {
	name    string // as typed: graft NAME
	args    string // synopsis of the positional arguments ("IMAGE..."); "" for none
	minArgs int    // fewest positional arguments
	maxArgs int    // most positional arguments; -1 for any number
	summary string // one line, for graft help
	doc     string // paragraphs for graft help NAME, after the usage line
	device  bool   // the command computes: check GRAFT_DEVICE and GRAFT_CPU first
	run     func(s *session, args []string) error
}

// commands holds every registered command by name.
var commands = map[string]*command{}

// register adds a command; each command's file calls it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("graft: command " + c.name + " registered twice")
	}
	commands[c.name] = &c
}

// order is how graft help lists the commands it knows; commands
// registered but not named here follow, alphabetically.
var order = []string{"demo", "train", "finetune", "advise", "predict", "import", "experiment", "text", "info", "bench", "version", "help"}

func sortedCommands() []*command {
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i + 1
	}
	var cs []*command
	for _, c := range commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		ri, rj := rank[cs[i].name], rank[cs[j].name]
		if ri == 0 {
			ri = len(order) + 1
		}
		if rj == 0 {
			rj = len(order) + 1
		}
		if ri != rj {
			return ri < rj
		}
		return cs[i].name < cs[j].name
	})
	return cs
}

// Exit statuses.
const (
	exitError       = 2   // a command failed; one line on stderr says why
	exitInterrupted = 130 // interrupted (128 + SIGINT, as shells report it)
)

// session is one run of graft's command line and what it takes from its
// process: where its output goes, its environment, the device it
// computes on and how Ctrl-C reaches it. main runs one session of the
// process (newProcessSession); the tests run many in one test binary, in
// parallel, each with its own buffers, environment, device and interrupt,
// so that none has to re-execute the binary or change the process's
// environment to give a run its own.
type session struct {
	stdout, stderr io.Writer

	// getenv reads the run's environment (GRAFT_CPU, GRAFT_CACHE):
	// os.Getenv in main.
	getenv func(string) string

	// device returns the run's device choice, which the computing
	// commands check (GRAFT_DEVICE) and info, bench and the commands'
	// headers report: tensor.DeviceReport in main, whose backend is
	// tensor.Default, the one operations run on. It is a function so that
	// a run that computes nothing (help, version, import) never probes
	// for a GPU, as before.
	device func() tensor.DeviceInfo

	// interrupt returns a context cancelled when the run is to stop (the
	// first Ctrl-C in main: interruptContext) and the function that
	// releases it; the commands that compute for long (train, finetune,
	// advise, demo, experiment, text) call it before that work.
	interrupt func() (context.Context, context.CancelFunc)

	// flagsHook, when set (by tests), sees every flag set the run's
	// commands make (newFlags).
	flagsHook func(*flags)
}

// newProcessSession returns the session of this process: its standard
// output and error, its environment, the device GRAFT_DEVICE chose for it,
// and Ctrl-C.
func newProcessSession() *session {
	return &session{
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		getenv:    os.Getenv,
		device:    tensor.DeviceReport,
		interrupt: interruptContext,
	}
}

func main() { os.Exit(newProcessSession().main(os.Args[1:])) }

// main runs `graft args...` and returns the exit status: 0, exitError
// (with one line on s.stderr saying why, or the usage when args is empty)
// or exitInterrupted.
func (s *session) main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(s.stderr, usage())
		return exitError
	}
	err := s.run(args)
	if err != nil {
		fmt.Fprintln(s.stderr, "graft:", oneLine(err.Error()))
	}
	return exitCode(err)
}

// exitCode is the process status for run's error.
func exitCode(err error) int {
	var in *interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &in):
		return exitInterrupted
	}
	return exitError
}

// oneLine folds a message onto one line (errors from below may hold
// newlines; the command line prints one line per mistake).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// interrupted is the error of a command stopped by Ctrl-C; its message
// says what was kept.
type interrupted struct{ msg string }

func (e *interrupted) Error() string { return e.msg }

// run runs the command args[0] with the rest of args, writing its output
// to s.stdout. A -h/--help prints the command's help there and returns
// nil.
func (s *session) run(args []string) error {
	if len(args) == 0 {
		return errors.New("no command given (graft help lists them)")
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q (graft help lists them)", args[0])
	}
	err := c.run(s, args[1:])
	var h *helpRequest
	if errors.As(err, &h) {
		_, werr := io.WriteString(s.stdout, h.text)
		return werr
	}
	return err
}

// usage is graft's help: the commands and a line on each.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: graft <command> [flags] [arguments]\n\ncommands:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString(`
"graft help <command>" or "graft <command> -h" shows a command's flags and
their defaults. Flags take one or two dashes (-out, --out) and may follow
positional arguments; "--" ends the flags.

Exit status: 0 on success, 2 on an error (one line on stderr says why),
130 when interrupted with Ctrl-C.

Environment: GRAFT_DEVICE=auto|cpu|cuda picks the device (auto: a CUDA GPU
when one answers), GRAFT_CPU=auto|generic|avx2|avx512 the CPU kernel tier;
graft info shows the choice and why.
`)
	return b.String()
}

func init() {
	register(command{name: "help", args: "[command]", maxArgs: 1,
		summary: "this list, or a command's flags and their defaults",
		doc:     "With no argument, the list of commands; with one, that command's usage, flags and defaults.",
		run:     helpCmd})
	register(command{name: "version", summary: "graft's version, commit and Go version",
		doc: "Prints the module version (as go install records it), the commit the binary was built from when known, and the Go toolchain and platform.",
		run: versionCmd})
}

func helpCmd(s *session, args []string) error {
	fs := s.newFlags("help")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		_, err := io.WriteString(s.stdout, usage())
		return err
	}
	name := fs.Arg(0)
	if _, ok := commands[name]; !ok {
		return fmt.Errorf("help: unknown command %q (graft help lists them)", name)
	}
	// Every command answers -h before doing anything.
	return s.run([]string{name, "-h"})
}

func versionCmd(s *session, args []string) error {
	fs := s.newFlags("version")
	if err := fs.parse(args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(s.stdout, versionString())
	return err
}

// versionString is "graft VERSION (commit REV[, modified], GO OS/ARCH)".
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "graft (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var parts []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += ", modified"
		}
		parts = append(parts, "commit "+rev)
	}
	parts = append(parts, bi.GoVersion+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("graft %s (%s)", v, strings.Join(parts, ", "))
}
