package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestFinetuneFromPth fine-tunes from a PyTorch training checkpoint
// (torch.save, LeNet-5 nested under "model" with DataParallel prefixes)
// as from a safetensors one, and refuses a hostile .pth in one line.
func TestFinetuneFromPth(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "testdata", "pth")
	var out bytes.Buffer
	tuned := filepath.Join(t.TempDir(), "tuned.safetensors")
	err := run(t, []string{"finetune", "--from", filepath.Join(dir, "lenet5.pth"), "--arch", "lenet5", "--data", "digits",
		"--per-class", "5", "--strategy", "features", "--json", "--out", tuned}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["strategy"] != "features" {
		t.Fatalf("graft finetune --from lenet5.pth --json: %v\n%s", err, out.String())
	}
	err = run(t, []string{"finetune", "--from", filepath.Join(dir, "lenet5.pth"), "--data", "digits", "--out", tuned}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "add --arch") {
		t.Errorf(".pth without --arch: %v, want a hint to add --arch", err)
	}
	err = run(t, []string{"finetune", "--from", filepath.Join(dir, "evil.pth"), "--arch", "lenet5", "--data", "digits", "--out", tuned}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "posix.system is not allowed") || strings.Contains(err.Error(), "\n") {
		t.Errorf("hostile .pth: %v, want a one-line error naming the global", err)
	}
}
