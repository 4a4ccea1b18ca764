package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/graftml/graft/tensor"
)

// The tests run graft's command line in-process, each run in a session of
// its own (testSession): its output in buffers, its environment the
// test's variables over the process's, its device chosen from the test's
// GRAFT_DEVICE and GRAFT_CUDA_LIB without touching the process's choice,
// and an interrupt the test fires. So they share one test binary, run in
// parallel, and never re-execute it.

// lookupEnv returns the value env ("KEY=value" entries, the last one
// winning) gives key, and whether it gives one.
func lookupEnv(env []string, key string) (string, bool) {
	val, ok := "", false
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			val, ok = v, true
		}
	}
	return val, ok
}

// testSession returns a session for one in-process run of graft: output
// to stdout and stderr, the environment env ("KEY=value") over this
// process's, and a context that ctx's end interrupts (as Ctrl-C does
// graft's process). Its device is the one GRAFT_DEVICE in env names, with
// the driver library GRAFT_CUDA_LIB in env names, chosen with
// tensor.ChooseDevice; the CPU when env names no GRAFT_DEVICE. A test
// naming a device other than cpu must name a library too (in the tests,
// one that is not there): the test process never binds a real CUDA driver.
func testSession(t testing.TB, ctx context.Context, env []string, stdout, stderr io.Writer) *session {
	t.Helper()
	device, ok := lookupEnv(env, "GRAFT_DEVICE")
	if !ok {
		device = "cpu"
	}
	lib, _ := lookupEnv(env, "GRAFT_CUDA_LIB")
	if lib == "" && strings.ToLower(strings.TrimSpace(device)) != "cpu" {
		t.Fatalf("GRAFT_DEVICE=%s without GRAFT_CUDA_LIB: a test names the driver library (one not there), so that it never loads the real one", device)
	}
	dev := tensor.ChooseDevice(device, lib)
	return &session{
		stdout: stdout,
		stderr: stderr,
		getenv: func(key string) string {
			if v, ok := lookupEnv(env, key); ok {
				return v
			}
			return os.Getenv(key)
		},
		device:    func() tensor.DeviceInfo { return dev },
		interrupt: func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) },
	}
}

// run runs `graft args...` in-process on the CPU, writing its standard
// output to out, and returns the command's error (nil when -h printed the
// help) as the command line would print it. What it writes to standard
// error (warnings) is logged.
func run(t testing.TB, args []string, out io.Writer) error {
	t.Helper()
	return runEnv(t, nil, args, out)
}

// runEnv is run with env ("KEY=value") over the process's environment.
func runEnv(t testing.TB, env []string, args []string, out io.Writer) error {
	t.Helper()
	var stderr bytes.Buffer
	err := testSession(t, t.Context(), env, out, &stderr).run(args)
	if stderr.Len() > 0 {
		t.Logf("graft %s: stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return err
}

// runResult is how a session's main ended: its exit status, or the panic
// that ended it instead, with the stack.
type runResult struct {
	code     int
	panicked any
	stack    []byte
}

// mainOf runs s.main(args), recovering a panic of a command (which in
// graft's process would end it with a stack trace) into the result.
func mainOf(s *session, args []string) (r runResult) {
	defer func() {
		if p := recover(); p != nil {
			r = runResult{panicked: p, stack: debug.Stack()}
		}
	}()
	return runResult{code: s.main(args)}
}

// checkPanic fails t when r ended in a panic, with its stack and what
// the run printed.
func checkPanic(t testing.TB, r runResult, args []string, stdout, stderr string) {
	t.Helper()
	if r.panicked != nil {
		t.Fatalf("graft %s panicked: %v\n%s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.panicked, r.stack, stdout, stderr)
	}
}

// graftExec runs `graft args...` in-process as its process would run it
// (the session's main), with env ("KEY=value") over this process's
// environment (see testSession), and returns its stdout, stderr and exit
// status. A panic fails t.
func graftExec(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	r := mainOf(testSession(t, t.Context(), env, &out, &errOut), args)
	checkPanic(t, r, args, out.String(), errOut.String())
	return out.String(), errOut.String(), r.code
}

// interruptRun runs `graft args...` in-process, on a goroutine, reading
// its stdout line by line; once a line matches after, it interrupts the
// run after delay (as Ctrl-C would, through the session's interrupt) and
// returns what the run printed and its exit status.
func interruptRun(t *testing.T, after string, delay time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	pr, pw := io.Pipe()
	var errBuf bytes.Buffer // the run's goroutine writes it; read once it is done
	s := testSession(t, ctx, nil, pw, &errBuf)
	done := make(chan runResult, 1)
	go func() {
		r := mainOf(s, args)
		pw.Close()
		done <- r
	}()
	var outBuf strings.Builder
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(after)
	sent := false
	for sc.Scan() {
		outBuf.WriteString(sc.Text() + "\n")
		if !sent && re.MatchString(sc.Text()) {
			// The reader goes on draining stdout meanwhile, as a pipe's
			// buffer would let a process write on.
			time.AfterFunc(delay, interrupt)
			sent = true
		}
	}
	if err := sc.Err(); err != nil {
		pr.CloseWithError(err) // the run's writes fail instead of blocking
	}
	r := <-done
	checkPanic(t, r, args, outBuf.String(), errBuf.String())
	if !sent {
		t.Fatalf("graft %s never printed a line matching %q:\n%s%s (exit %d)", strings.Join(args, " "), after, outBuf.String(), errBuf.String(), r.code)
	}
	return outBuf.String(), errBuf.String(), r.code
}

// main runs graft on the process's session: its standard output and
// error, environment, device choice (GRAFT_DEVICE) and Ctrl-C, whose
// context the first interrupt cancels. No signal is sent here: the test
// checks the wiring, and that the context is a live one stop ends.
func TestProcessSession(t *testing.T) {
	t.Parallel()
	s := newProcessSession()
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	if s.stdout != os.Stdout || s.stderr != os.Stderr {
		t.Errorf("the process's session writes to %v and %v, not os.Stdout and os.Stderr", s.stdout, s.stderr)
	}
	if s.getenv == nil || !same(s.getenv, os.Getenv) {
		t.Error("the process's session does not read os.Getenv")
	}
	if s.device == nil || !same(s.device, tensor.DeviceReport) {
		t.Error("the process's session does not compute on tensor.DeviceReport's choice")
	}
	if s.interrupt == nil || !same(s.interrupt, interruptContext) {
		t.Error("the process's session is not interrupted through interruptContext (Ctrl-C)")
	}
	if s.flagsHook != nil {
		t.Error("the process's session has a flags hook")
	}
	ctx, stop := interruptContext()
	if ctx.Err() != nil {
		t.Fatalf("interruptContext's context is done before any Ctrl-C: %v", ctx.Err())
	}
	stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("interruptContext's stop does not end its context")
	}
}

// A test run's environment is the test's variables over the process's,
// and its device the CPU unless the test names another.
func TestTestSession(t *testing.T) {
	t.Parallel()
	s := testSession(t, context.Background(), []string{"GRAFT_CPU=generic", "GRAFT_CACHE=/a", "GRAFT_CACHE=/b"}, io.Discard, io.Discard)
	if got := s.getenv("GRAFT_CPU"); got != "generic" {
		t.Errorf("GRAFT_CPU %q", got)
	}
	if got := s.getenv("GRAFT_CACHE"); got != "/b" {
		t.Errorf("GRAFT_CACHE %q, want the last given", got)
	}
	if got, want := s.getenv("PATH"), os.Getenv("PATH"); got != want {
		t.Errorf("PATH %q, want the process's %q", got, want)
	}
	if d := s.device(); d.Device != "cpu" || d.Reason != "GRAFT_DEVICE=cpu" || d.Err() != nil {
		t.Errorf("device %v (%v), want the CPU", d, d.Err())
	}
}
