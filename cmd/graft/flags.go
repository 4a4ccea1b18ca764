package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graftml/graft/kernels"
)

// flags is a command's flag set: newFlags makes it, parse reads the
// command line the same way for every command.
type flags struct {
	*flag.FlagSet
	cmd *command
	s   *session // the run, whose environment parse checks
	pos []string // the positional arguments, in order
}

// newFlags returns the flag set of the registered command name, in this
// run.
func (s *session) newFlags(name string) *flags {
	c, ok := commands[name]
	if !ok {
		panic("graft: newFlags of an unregistered command " + name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.Usage = func() {}
	f := &flags{FlagSet: fs, cmd: c, s: s}
	if s.flagsHook != nil {
		s.flagsHook(f)
	}
	return f
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// helpRequest is what parse returns for -h/--help: run prints text to
// standard output and exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return "help requested" }

// parse reads args: flags and positional arguments in any order ("--" ends
// the flags), then checks the count of positional arguments and, for a
// command that computes, GRAFT_DEVICE and GRAFT_CPU. -h or --help returns
// a *helpRequest.
func (f *flags) parse(args []string) error {
	rest := args
	for {
		err := f.FlagSet.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{f.help()}
		}
		if err != nil {
			return f.usageErr("%v", err)
		}
		left := f.FlagSet.Args()
		if len(left) == 0 {
			break
		}
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			f.pos = append(f.pos, left...)
			break
		}
		f.pos = append(f.pos, left[0])
		rest = left[1:]
	}
	c := f.cmd
	switch {
	case len(f.pos) < c.minArgs && c.args != "":
		return f.usageErr("missing %s (graft %s [flags] %s)", c.args, c.name, c.args)
	case c.maxArgs >= 0 && len(f.pos) > c.maxArgs && c.maxArgs == 0:
		return f.usageErr("unexpected argument %q (this command takes flags only; a flag's value goes right after it)", f.pos[0])
	case c.maxArgs >= 0 && len(f.pos) > c.maxArgs:
		return f.usageErr("unexpected argument %q (graft %s [flags] %s)", f.pos[c.maxArgs], c.name, c.args)
	}
	if c.device {
		if err := f.s.checkEnvironment(); err != nil {
			return err
		}
	}
	return nil
}

// Args returns the positional arguments.
func (f *flags) Args() []string { return f.pos }

// NArg returns the number of positional arguments.
func (f *flags) NArg() int { return len(f.pos) }

// Arg returns positional argument i, or "".
func (f *flags) Arg(i int) string {
	if i < 0 || i >= len(f.pos) {
		return ""
	}
	return f.pos[i]
}

// usageErr is an error of this command: "CMD: message".
func (f *flags) usageErr(format string, a ...any) error {
	return fmt.Errorf(f.cmd.name+": "+format, a...)
}

// check returns nil when ok, else the command's error naming the flag's
// value and what it must be ("--top 0: must be at least 1").
func (f *flags) check(ok bool, name, must string) error {
	if ok {
		return nil
	}
	v := f.Lookup(name)
	if v == nil {
		panic("graft: check of an undefined flag " + name)
	}
	if v.Value.String() == "" {
		return f.usageErr("--%s: %s", name, must)
	}
	return f.usageErr("--%s %s: %s", name, v.Value.String(), must)
}

// writable returns an error unless the file path could be created: its
// folder exists and is a folder. Commands check their outputs before
// spending time on training. An empty path is fine (nothing to write).
func (f *flags) writable(flagName, path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return f.usageErr("--%s %s is a folder, not a file", flagName, path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return f.usageErr("--%s %s: folder %s does not exist", flagName, path, dir)
	}
	if !st.IsDir() {
		return f.usageErr("--%s %s: %s is not a folder", flagName, path, dir)
	}
	return nil
}

// help is the command's help: usage line, doc, and every flag with its
// default.
func (f *flags) help() string {
	c := f.cmd
	var b strings.Builder
	fmt.Fprintf(&b, "usage: graft %s", c.name)
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		b.WriteString(" [flags]")
	}
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	b.WriteString("\n\n")
	if c.doc != "" {
		b.WriteString(wrap(c.doc, 76))
		b.WriteString("\n")
	}
	if !hasFlags {
		return b.String()
	}
	b.WriteString("\nflags:\n")
	var lines [][2]string
	width := 0
	f.VisitAll(func(fl *flag.Flag) {
		typ, text := flag.UnquoteUsage(fl)
		left := "--" + fl.Name
		if typ != "" {
			left += " " + typ
		}
		if d := defaultText(fl); d != "" {
			text += " (default\x00" + d + ")" // \x00: a space wrap keeps
		}
		width = max(width, len(left))
		lines = append(lines, [2]string{left, text})
	})
	for _, l := range lines {
		pad := strings.Repeat(" ", width-len(l[0])+2)
		indent := strings.Repeat(" ", 2+width+2)
		text := strings.ReplaceAll(wrap(l[1], max(76-len(indent), 30)), "\n", "\n"+indent)
		b.WriteString("  " + l[0] + pad + strings.ReplaceAll(text, "\x00", " ") + "\n")
	}
	return b.String()
}

// defaultText is a flag's default as help shows it: "" for an empty
// string or a false switch, else its value (strings quoted when they hold
// spaces).
func defaultText(fl *flag.Flag) string {
	d := fl.DefValue
	if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		if d == "false" {
			return ""
		}
		return d
	}
	if d == "" {
		return ""
	}
	if strings.ContainsAny(d, " \t") {
		return fmt.Sprintf("%q", d)
	}
	return d
}

// wrap folds text to lines of at most width columns, keeping its
// paragraphs (blank lines) and lines that start with spaces (examples).
func wrap(text string, width int) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		var lines []string
		line := ""
		for _, raw := range strings.Split(para, "\n") {
			if strings.HasPrefix(raw, " ") {
				if line != "" {
					lines, line = append(lines, line), ""
				}
				lines = append(lines, raw)
				continue
			}
			for _, w := range strings.Fields(raw) {
				switch {
				case line == "":
					line = w
				case len(line)+1+len(w) > width:
					lines, line = append(lines, line), w
				default:
					line += " " + w
				}
			}
		}
		if line != "" {
			lines = append(lines, line)
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n\n")
}

// checkEnvironment stops a computing command when GRAFT_DEVICE or
// GRAFT_CPU cannot be honoured: an unknown value is a mistake (exit 2); a
// tier this CPU lacks is reported as a warning (on s.stderr), since graft
// runs on the best it has.
func (s *session) checkEnvironment() error {
	if env := strings.TrimSpace(s.getenv("GRAFT_CPU")); env != "" && !strings.EqualFold(env, "auto") {
		t, err := kernels.ParseTier(env)
		if err != nil {
			return fmt.Errorf("GRAFT_CPU=%q is not a tier: use auto, %s", env, strings.Join(tierNames(), ", "))
		}
		if ok, why := kernels.Supported(t); !ok {
			fmt.Fprintf(s.stderr, "graft: warning: GRAFT_CPU=%s, but %s; using %s\n", t, why, kernels.Current())
		}
	}
	return s.device().Err()
}

// tierNames lists every CPU tier by the name GRAFT_CPU takes.
func tierNames() []string {
	var names []string
	for _, t := range kernels.Tiers {
		names = append(names, t.String())
	}
	return names
}

// isSet reports whether the flag was given on the command line.
func (f *flags) isSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
