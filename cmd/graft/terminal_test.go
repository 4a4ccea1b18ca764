package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTerminalSession runs graft as a person would in a terminal, under
// tmux: the progress bar draws in place while train runs; Ctrl-C stops it
// with status 130 and the message on a line of its own (no bar left on
// it); train --resume goes on from the kept epoch and completes.
func TestTerminalSession(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds graft and trains in a terminal")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("tmux is not installed under CI=true (.ci/run installs it)")
	}
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "graft")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	images := shapesFolder(t, 150)
	ckpt := filepath.Join(dir, "m.safetensors")

	socket := fmt.Sprintf("graft-test-%d", os.Getpid())
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tm("-f", "/dev/null", "new-session", "-d", "-s", "graft", "-x", "160", "-y", "50", "sh")
	t.Cleanup(func() { exec.Command(tmux, "-L", socket, "kill-server").Run() })
	screen := func() string { return tm("capture-pane", "-p", "-t", "graft", "-S", "-200") }
	// waitFor polls the screen until it matches re, and returns it.
	waitFor := func(re string, limit time.Duration) string {
		t.Helper()
		r := regexp.MustCompile(re)
		deadline := time.Now().Add(limit)
		for {
			s := screen()
			if r.MatchString(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q in %v:\n%s", re, limit, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	tm("send-keys", "-t", "graft", fmt.Sprintf("cd %s && GRAFT_DEVICE=cpu %s train --model mnistcnn --data %s --epochs 300 --batch 2 --out %s --plot %s; echo status=$?",
		dir, bin, images, ckpt, filepath.Join(dir, "m.png")), "Enter")
	// mnistcnn: slow enough (~0.3 s an epoch here) that the bar, redrawn
	// every 100 ms, is on screen when polled; lenet5 at ~7,000 images/s
	// finished its epochs between polls on an idle machine.
	// The bar: epoch, a bar of # and ., the step, loss, rate and time left.
	bar := `epoch \d+/300 \[#*\.*\] \d+/\d+ loss \d+\.\d+ \d+k? images/s ETA \d+s`
	waitFor(`(?m)^epoch 2/300: loss`, 2*time.Minute)
	s := waitFor(`(?m)^`+bar, time.Minute)
	if strings.Count(s, "\n"+"epoch 2/300: loss") != 1 {
		t.Errorf("the epoch lines repeat:\n%s", s)
	}
	tm("send-keys", "-t", "graft", "C-c")
	s = waitFor(`(?m)^status=\d+`, time.Minute)
	if !strings.Contains(s, "\nstatus=130\n") {
		t.Errorf("after Ctrl-C, want status 130:\n%s", s)
	}
	m := regexp.MustCompile(`(?m)^(\^C)?graft: train: interrupted during epoch \d+ of 300; ` + regexp.QuoteMeta(ckpt) + ` holds epoch (\d+) \(go on with: graft train --resume`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("after Ctrl-C, want the message at the start of a line:\n%s", s)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "graft:") && strings.Contains(line, "ETA") {
			t.Errorf("the message shares a line with the progress bar:\n%s", s)
		}
	}
	t.Logf("the terminal after Ctrl-C:\n%s", strings.TrimRight(s, "\n"))
	var held int
	fmt.Sscan(m[2], &held)
	tm("send-keys", "-t", "graft", "clear", "Enter")
	time.Sleep(200 * time.Millisecond)
	tm("clear-history", "-t", "graft")
	tm("send-keys", "-t", "graft", fmt.Sprintf("GRAFT_DEVICE=cpu %s train --resume %s --epochs %d; echo status=$?", bin, ckpt, held+2), "Enter")
	s = waitFor(`(?m)^status=\d+`, 2*time.Minute)
	for _, want := range []string{fmt.Sprintf("resuming after epoch %d:", held), fmt.Sprintf("epoch %d/%d: loss", held+2, held+2), "wrote " + ckpt, "\nstatus=0\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("train --resume: want %q in:\n%s", want, s)
		}
	}
	t.Logf("the terminal after resuming:\n%s", strings.TrimRight(s, "\n"))
}
