package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jsonRun runs graft args and decodes its JSON output.
func jsonRun(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out bytes.Buffer
	if err := run(t, args, &out); err != nil {
		t.Fatalf("graft %s: %v", strings.Join(args, " "), err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("graft %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return v
}

// A folder of one class, or of one image in a class, is refused by every
// command that reads one, with one line naming the problem.
func TestUnlearnableFolders(t *testing.T) {
	t.Parallel()
	one := t.TempDir()
	if err := os.MkdirAll(filepath.Join(one, "bar"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		writeShape(t, filepath.Join(one, "bar", fmt.Sprintf("%d.png", i)), 0, i-2)
	}
	single := shapesFolder(t, 1)
	out := filepath.Join(t.TempDir(), "m.safetensors")
	for _, c := range []struct {
		dir, want string
	}{{one, "a classifier needs at least 2 classes"}, {single, `class "bar" has 1 image(s); each class needs at least 2`}} {
		for _, args := range [][]string{
			{"finetune", "--from", testBase, "--data", c.dir, "--out", out},
			{"advise", "--from", testBase, "--data", c.dir},
			{"train", "--model", "mnistcnn", "--data", c.dir, "--epochs", "1", "--out", out},
		} {
			err := run(t, args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("graft %s: %v; want one line saying %q", strings.Join(args, " "), err, c.want)
			}
		}
	}
}

// finetune --strategy auto and an explicit strategy are reported under
// different names, each with its rates; advise measures the split
// finetune trains on.
func TestAutoNamedAndSameSplit(t *testing.T) {
	t.Parallel()
	dir := shapesFolder(t, 10)
	out := filepath.Join(t.TempDir(), "m.safetensors")
	common := []string{"--from", testBase, "--data", dir, "--head-epochs", "1", "--epochs", "1", "--out", out, "--json"}
	auto := jsonRun(t, append([]string{"finetune", "--strategy", "auto"}, common...)...)
	all := jsonRun(t, append([]string{"finetune", "--strategy", "all"}, common...)...)
	if n, _ := auto["name"].(string); !strings.HasPrefix(n, "auto → ") {
		t.Errorf("auto's name %q", n)
	}
	if all["name"] != "all" || all["learning_rate"] == nil || auto["learning_rate"] == nil || all["head_learning_rate"] == nil {
		t.Errorf("all: name %v, rates %v %v", all["name"], all["learning_rate"], all["learning_rate_bottom"])
	}
	adv := jsonRun(t, "advise", "--from", testBase, "--data", dir, "--json", "--head-epochs", "1", "--epochs", "1")
	fa := auto["advice"].(map[string]any)
	for _, k := range []string{"per_class", "feature_score", "pixel_score", "strategy"} {
		if adv[k] != fa[k] {
			t.Errorf("advise says %s = %v, finetune's advice %v", k, adv[k], fa[k])
		}
	}
	if probe, _ := adv["probe"].([]any); len(probe) != 4 { // pixels and the three cuts of mnistcnn
		t.Errorf("advise --json probe: %v", adv["probe"])
	}
	if c, f := adv["cost_flops"].(float64), adv["full_finetune_flops"].(float64); !(c > 0 && c <= f) || adv["race"] == nil {
		t.Errorf("advise --json: cost %v of a full fine-tune's %v, race %v", c, f, adv["race"])
	}
	if adv["per_class"] != 8.0 {
		t.Errorf("advise measured %v per class, want the 8 of finetune's 80%% split", adv["per_class"])
	}
}

// A head whose class count fits but whose classes are others is
// re-initialised with a notice; --keep-head keeps it.
func TestHeadOfOtherClasses(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	two := filepath.Join(tmp, "two.safetensors")
	if err := run(t, []string{"finetune", "--from", testBase, "--data", shapesFolder(t, 4), "--strategy", "features", "--head-epochs", "1", "--out", two}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	// the same images under other class names
	src := shapesFolder(t, 4)
	other := t.TempDir()
	for from, to := range map[string]string{"bar": "left", "dash": "right"} {
		if err := os.Rename(filepath.Join(src, from), filepath.Join(other, to)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		dir   string
		extra []string
		note  bool
	}{{other, nil, true}, {other, []string{"--keep-head"}, false}} {
		args := append([]string{"finetune", "--from", two, "--data", c.dir, "--strategy", "features", "--head-epochs", "1", "--out", filepath.Join(tmp, "o.safetensors")}, c.extra...)
		var out bytes.Buffer
		if err := run(t, args, &out); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "note: re-initialised head fc2: its 2 classes are not the target's"); got != c.note {
			t.Errorf("graft %s: notice %v, want %v:\n%s", strings.Join(args, " "), got, c.note, out.String())
		}
	}
	// the same classes: the head is kept
	var out bytes.Buffer
	if err := run(t, []string{"finetune", "--from", two, "--data", shapesFolder(t, 4), "--strategy", "features", "--head-epochs", "1", "--out", filepath.Join(tmp, "s.safetensors")}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "note:") {
		t.Errorf("same classes:\n%s", out.String())
	}
}
