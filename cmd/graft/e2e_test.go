package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// TestEndToEnd builds the graft binary and runs it as a user would on a
// small image folder written here: train → advise → finetune → predict,
// then on bad input, checking the one-line messages and the exit code.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "graft")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	graft := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic:") {
			t.Fatalf("graft %v printed a Go stack trace:\n%s", args, out)
		}
		return string(out), code
	}
	images := filepath.Join(dir, "images")
	for c, name := range []string{"bar", "dash"} {
		if err := os.MkdirAll(filepath.Join(images, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			writeShape(t, filepath.Join(images, name, fmt.Sprintf("%02d.png", i)), c, i%7-3)
		}
	}
	base := filepath.Join(dir, "base.safetensors")
	tuned := filepath.Join(dir, "tuned.safetensors")
	query := filepath.Join(dir, "query.png")
	writeShape(t, query, 0, 1)

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--model", "lenet5", "--data", images, "--epochs", "3", "--out", base, "--quiet"}, "wrote " + base},
		{[]string{"advise", "--from", base, "--data", images}, "strategy:"},
		{[]string{"finetune", "--from", base, "--data", images, "--strategy", "top-k", "--per-class", "6", "--out", tuned}, "top-k (head LR 0.01, then LR 0.001 (top) .. 0.0001 (bottom)): accuracy"},
		{[]string{"predict", "--from", tuned, query}, query + ":  "},
		{[]string{"demo", "--seeds", "1", "--json", "--per-class", "3"}, `"advice"`},
	}
	for _, s := range steps {
		out, code := graft(s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("graft %s: exit %d, want 0 and %q in:\n%s", strings.Join(s.args, " "), code, s.want, out)
		}
	}

	corrupt := filepath.Join(dir, "corrupt.png")
	if err := os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A LeNet-5 checkpoint whose metadata claims another architecture.
	other := filepath.Join(dir, "other.safetensors")
	meta := models.LeNet5(models.Options{}).Meta()
	meta.Arch = "mnistcnn"
	if err := nn.Save(other, models.LeNet5(models.Options{}), meta); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--from", base, "--data", filepath.Join(dir, "nowhere"), "--out", filepath.Join(dir, "x.safetensors")}, "nowhere"},
		{[]string{"predict", "--from", tuned, corrupt}, "corrupt.png"},
		{[]string{"predict", "--from", other, query}, "wrong shape"},
		{[]string{"train", "--bogus"}, "bogus"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, b := range bad {
		out, code := graft(b.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code == 0 || !strings.Contains(out, b.want) || len(lines) != 1 || !strings.HasPrefix(out, "graft: ") {
			t.Errorf("graft %s: exit %d, want non-zero and one line naming %q:\n%s", strings.Join(b.args, " "), code, b.want, out)
		}
	}
}
