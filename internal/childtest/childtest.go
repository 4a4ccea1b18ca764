// Package childtest runs a test again in a fresh copy of the test binary,
// with extra environment variables: for code that reads its environment
// once per process (sync.Once), such as the CUDA driver loading and the
// device choice.
package childtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// envKey holds, in the child, the name of the test it runs.
const envKey = "GRAFT_CHILDTEST"

// IsChild reports whether this process is the child running t.
func IsChild(t *testing.T) bool { return os.Getenv(envKey) == t.Name() }

// Exec runs the test binary on top-level test t alone (without -test.v),
// with env ("KEY=value") added to this process's environment, and returns
// its stdout, stderr and exit code.
func Exec(t *testing.T, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, []string{"-test.run=" + alone(t)}, env)
}

// ExecTests runs the test binary on the top-level tests that pattern (a
// -test.run expression) matches, with -test.v, with env added to this
// process's environment, and returns its stdout, stderr and exit code.
// IsChild(t) is true in it. The child times out (with its goroutines'
// stacks) before t would.
func ExecTests(t *testing.T, pattern string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	args := []string{"-test.run=" + pattern, "-test.v"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+(time.Until(d)*9/10).String())
	}
	return run(t, args, env)
}

// Command returns, unstarted, the command that runs top-level test t alone
// in a child with env added (IsChild(t) is true there), for a test that
// talks to the child while it runs: reads its output as it comes, sends
// it signals.
func Command(t *testing.T, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run="+alone(t), "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), envKey+"="+t.Name())
	return cmd
}

// alone is the -test.run expression that matches t alone.
func alone(t *testing.T) string { return "^" + regexp.QuoteMeta(t.Name()) + "$" }

// run re-runs the test binary with args (and -test.count=1).
func run(t *testing.T, args []string, env []string) (string, string, int) {
	t.Helper()
	args = append(args, "-test.count=1")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), env...), envKey+"="+t.Name())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", os.Args[0], err)
	}
	return out.String(), errOut.String(), 0
}

// Fork runs the rest of test t in a child process with env added, unless
// this process is that child: it returns true in the parent, which should
// then return, and false in the child, which goes on with the test. The
// parent fails when the child fails, and skips when it skips, passing on
// the child's output.
//
//	if childtest.Fork(t, "GRAFT_DEVICE=cuda") {
//		return
//	}
//	// the test proper, in a process started with GRAFT_DEVICE=cuda
func Fork(t *testing.T, env ...string) bool {
	t.Helper()
	if IsChild(t) {
		return false
	}
	stdout, stderr, code := run(t, []string{"-test.run=" + alone(t), "-test.v"}, env)
	out := stdout + stderr
	switch {
	case code != 0:
		t.Fatalf("child with %s failed (exit %d):\n%s", strings.Join(env, " "), code, out)
	case strings.Contains(out, "--- SKIP: "+t.Name()):
		t.Skipf("child with %s skipped:\n%s", strings.Join(env, " "), out)
	case !strings.Contains(out, "--- PASS: "+t.Name()):
		t.Fatalf("child with %s did not run %s:\n%s", strings.Join(env, " "), t.Name(), out)
	}
	t.Logf("child with %s:\n%s", strings.Join(env, " "), out)
	return true
}

// EmulatorLib returns the CUDA emulator's driver library named by
// GRAFT_CUDAEMU_LIB (tools/cudaemu builds it), for a test that runs GPU
// code in a child on it. It skips t when the variable is unset (failing it
// instead under CI=true, where .ci/run builds the emulator), on platforms
// without the CUDA binding, and with -short; hint says how to build the
// emulator and point the tests at it.
func EmulatorLib(t *testing.T, hint string) string {
	t.Helper()
	lib := os.Getenv("GRAFT_CUDAEMU_LIB")
	switch {
	case lib == "" && os.Getenv("CI") == "true":
		t.Fatalf("GRAFT_CUDAEMU_LIB is unset under CI=true (.ci/run builds the emulator): %s", hint)
	case lib == "":
		t.Skipf("GRAFT_CUDAEMU_LIB is unset; to run the CUDA code on the CPU emulator: %s", hint)
	case runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64"):
		t.Skipf("no CUDA binding on %s/%s", runtime.GOOS, runtime.GOARCH)
	case testing.Short():
		t.Skip("-short: the CUDA code is slow on the emulator")
	}
	if _, err := os.Stat(lib); err != nil { // also makes go test's cache depend on the library
		t.Fatalf("GRAFT_CUDAEMU_LIB: %v; build it with %s", err, hint)
	}
	return lib
}
