package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// testBase is the MNIST CNN checkpoint the tests fine-tune.
var testBase = filepath.Join("..", "..", "testdata", "mnistcnn", "mnistcnn.safetensors")

// shapesFolder writes n 28×28 images of each of two classes (vertical
// and horizontal bars) under a new folder and returns it.
func shapesFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for c, name := range []string{"bar", "dash"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			writeShape(t, filepath.Join(dir, name, fmt.Sprintf("%04d.png", i)), c, i%7-3)
		}
	}
	return dir
}

// Every command answers -h, --help and graft help CMD with its usage and
// every flag with its default, and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range sortedCommands() {
		var h1, h2, h3 bytes.Buffer
		for _, x := range []struct {
			args []string
			out  *bytes.Buffer
		}{{[]string{c.name, "-h"}, &h1}, {[]string{c.name, "--help"}, &h2}, {[]string{"help", c.name}, &h3}} {
			if err := run(t, x.args, x.out); err != nil {
				t.Errorf("graft %s: %v", strings.Join(x.args, " "), err)
			}
		}
		help := h1.String()
		if help != h2.String() || help != h3.String() {
			t.Errorf("%s: -h, --help and graft help %s differ:\n%s\n%s\n%s", c.name, c.name, help, h2.String(), h3.String())
		}
		if !strings.HasPrefix(help, "usage: graft "+c.name) || !strings.Contains(help, c.args) || len(help) < 80 {
			t.Errorf("graft %s -h:\n%s", c.name, help)
		}
		// Every flag appears with its default: build the command's flag
		// set by asking it to parse -h, and compare.
		fs := captureFlags(t, c)
		fs.VisitAll(func(f *flag.Flag) {
			line := regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(f.Name) + `\b.*$`).FindString(help)
			if line == "" {
				t.Errorf("graft %s -h does not list --%s:\n%s", c.name, f.Name, help)
				return
			}
			if d := defaultText(f); d != "" && !strings.Contains(help[strings.Index(help, line):], "(default "+d+")") {
				t.Errorf("graft %s -h: --%s without its default %s:\n%s", c.name, f.Name, d, help)
			}
		})
	}
	var list bytes.Buffer
	if err := run(t, []string{"help"}, &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range sortedCommands() {
		if !strings.Contains(list.String(), "\n  "+c.name+" ") {
			t.Errorf("graft help does not list %s:\n%s", c.name, list.String())
		}
	}
	for _, s := range []string{"Exit status", "130", "GRAFT_DEVICE", "GRAFT_CPU"} {
		if !strings.Contains(list.String(), s) {
			t.Errorf("graft help does not mention %s", s)
		}
	}
	// As graft's main: exit status 0, help on stdout, nothing on stderr.
	for _, args := range [][]string{{"train", "-h"}, {"finetune", "--help"}, {"help", "predict"}, {"--help"}, {"version"}} {
		stdout, stderr, code := graftExec(t, nil, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: graft") && !strings.HasPrefix(stdout, "graft ") {
			t.Errorf("graft %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	stdout, _, _ := graftExec(t, nil, "version")
	if !regexp.MustCompile(`^graft \S+ \(.*go1\.\d+.*\)\n$`).MatchString(stdout) {
		t.Errorf("graft version printed %q", stdout)
	}
}

// captureFlags returns the flag set command c builds, by running it with
// -h and keeping the set newFlags made.
func captureFlags(t *testing.T, c *command) *flags {
	t.Helper()
	var got *flags
	s := testSession(t, t.Context(), nil, io.Discard, io.Discard)
	s.flagsHook = func(f *flags) { got = f }
	if err := c.run(s, []string{"-h"}); err == nil {
		t.Fatalf("%s -h returned no help request", c.name)
	}
	if got == nil {
		t.Fatalf("%s does not build its flags with newFlags", c.name)
	}
	return got
}

// A user's mistake is refused before any work, with one line on stderr
// naming it and exit status 2.
func TestMistakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := filepath.Join(dir, "x.png")
	writeShape(t, img, 0, 0)
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("these are my notes, not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	missing := filepath.Join(dir, "no", "such", "folder")
	tiny := shapesFolder(t, 2)
	ft := func(extra ...string) []string {
		return append([]string{"finetune", "--from", testBase, "--data", "digits", "--out", out}, extra...)
	}
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{nil, []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{nil, []string{"train", "--bogus"}, "flag provided but not defined: -bogus"},
		{nil, []string{"train", "extra"}, `train: unexpected argument "extra"`},
		{nil, []string{"train", "--epochs", "2", "extra", "--out", out}, `unexpected argument "extra"`},
		{nil, []string{"info", "extra"}, `info: unexpected argument "extra"`},
		{nil, []string{"version", "1"}, `unexpected argument "1"`},
		{nil, []string{"train", "--limit", "-5"}, "train: --limit -5: must be ≥ 0"},
		{nil, []string{"train", "--epochs", "0"}, "train: --epochs 0: must be at least 1"},
		{nil, []string{"train", "--batch", "-1"}, "train: --batch -1: must be at least 1"},
		{nil, []string{"train", "--lr", "0"}, "train: --lr 0: must be a positive number"},
		{nil, []string{"train", "--flip"}, "train: --flip true: needs --augment"},
		{nil, []string{"train", "--model", "nope"}, "train: --model nope: not one of lenet5"},
		{nil, []string{"train", "--out", filepath.Join(missing, "m.safetensors")}, "train: --out " + filepath.Join(missing, "m.safetensors") + ": folder " + missing + " does not exist"},
		{nil, []string{"train", "--plot", filepath.Join(missing, "c.png")}, "train: --plot " + filepath.Join(missing, "c.png") + ": folder"},
		{nil, []string{"train", "--out", dir}, "is a folder, not a file"},
		{nil, []string{"train", "--resume", out}, "no " + filepath.Join(dir, "out.resume.safetensors") + " (only an interrupted run leaves one)"},
		{nil, []string{"train", "--data", "nope"}, "train: --data nope: not mnist, fashion, or a folder"},
		{nil, []string{"train", "--data", tiny, "--model", "lenet5"}, "train: --data " + tiny + ": too few images to hold 20% of a class out"},
		{[]string{"GRAFT_CPU=bogus"}, []string{"train"}, `GRAFT_CPU="bogus" is not a tier: use auto, generic, avx2, avx512`},
		{nil, []string{"finetune", "--from", testBase, "--data", "digits"}, "finetune: --out: no file given"},
		{nil, ft("--top", "0"), "finetune: --top 0: must be at least 1"},
		{nil, ft("--top", "99"), "finetune: --top 99: mnistcnn has 4 layer groups"},
		{nil, ft("--per-class", "-3"), "finetune: --per-class -3: must be ≥ 0"},
		{nil, ft("--strategy", "bogus"), "finetune: --strategy bogus: not one of auto, features, top-k, all or scratch"},
		{nil, ft("--strategy", "features", "--head-epochs", "0"), "features trains only the head"},
		{nil, ft("--flip"), "--flip true: needs --augment"},
		{nil, []string{"finetune", "--from", notes, "--data", "digits", "--out", out}, "notes.txt is not a safetensors checkpoint (it starts with text"},
		{nil, []string{"finetune", "--from", testBase, "--data", "digits", "--out", filepath.Join(missing, "m.safetensors")}, "does not exist"},
		{nil, []string{"finetune", "--from", testBase, "--data", "digits", "--out", out, "--plot", filepath.Join(missing, "c.png")}, "does not exist"},
		{nil, []string{"finetune", "--from", testBase, "--out", out}, "finetune: --data: no target data given"},
		{nil, []string{"finetune", "--from", testBase, "--data", tiny, "--out", out}, "finetune: too few images to hold 20% of a class out"},
		{nil, []string{"advise", "--from", testBase, "--data", "digits", "--per-class", "-3"}, "advise: --per-class -3: must be ≥ 0"},
		{nil, []string{"advise", "--from", testBase}, "advise: --data: no target data given"},
		{nil, []string{"predict", "--from", testBase}, "predict: missing IMAGE..."},
		{nil, []string{"predict", img}, "predict: --from: no checkpoint given"},
		{nil, []string{"predict", "--from", testBase, "--top", "0", img}, "predict: --top 0: must be at least 1"},
		{nil, []string{"predict", "--from", testBase, "--top", "99", img}, "predict: --top 99: the model has 10 classes"},
		{nil, []string{"predict", "--from", testBase, "--base", testBase, img}, "is not a delta checkpoint"},
		{nil, []string{"predict", "--from", notes, img}, "not a safetensors checkpoint"},
		{nil, []string{"demo", "--seeds", "0"}, "demo: --seeds 0, --per-class 10: both must be at least 1"},
		{nil, []string{"demo", "--test-limit", "-5"}, "demo: --test-limit -5: must be at least 1"},
		{nil, []string{"demo", "--target", "cifar"}, "demo: --target cifar: not digits or fashion"},
		{nil, []string{"demo", "--base", "resnet"}, "demo: --base resnet: not mnistcnn or mobilenetv2"},
		{nil, []string{"demo", "--base", "mobilenetv2"}, "demo: --model: needed by --base mobilenetv2"},
		{nil, []string{"demo", "--model", notes}, "only with --base mobilenetv2"},
		{nil, []string{"demo", "--cut", "block_16_project"}, "demo: --cut block_16_project: only with --base mobilenetv2"},
		{nil, []string{"demo", "--base", "mobilenetv2", "--model", notes, "--size", "8"}, "demo: --size 8: must be 32 to 512"},
		{nil, []string{"demo", "--base", "mobilenetv2", "--model", notes}, "demo: --model: tfjs: model.json"},
		{nil, []string{"demo", "--base", "mobilenetv2", "--model", filepath.Join(missing, "model.json")}, "no such file"},
		{nil, []string{"demo", "--strategies", "features,bogus"}, "demo: --strategies: transfer: unknown strategy \"bogus\""},
	}
	for _, c := range cases {
		stdout, stderr, code := graftExec(t, c.env, c.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(stderr, "graft: ") || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%s graft %s: exit %d, want 2 and one line naming %q\nstdout:\n%s\nstderr:\n%s",
				strings.Join(c.env, " "), strings.Join(c.args, " "), code, c.want, stdout, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused command wrote %s", out)
	}
	// graft alone prints the list of commands and exits 2.
	stdout, stderr, code := graftExec(t, nil)
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "usage: graft") {
		t.Errorf("graft alone: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// A folder of images at most half the model's input side draws a warning.
func TestSizeWarning(t *testing.T) {
	t.Parallel()
	dir := shapesFolder(t, 3)
	big, err := models.New("mobilenetv2", models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	small, err := models.New("lenet5", models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := sizeWarning(dir, big); !strings.Contains(w, "small (28x28, say) for mobilenetv2, which takes 224x224: each is scaled up 8x") {
		t.Errorf("28x28 images for mobilenetv2: warning %q", w)
	}
	if w := sizeWarning(dir, small); w != "" {
		t.Errorf("28x28 images for lenet5: warning %q", w)
	}
	stdout, stderr, code := graftExec(t, nil, "train", "--model", "mobilenetv2", "--data", dir, "--epochs", "1", "--limit", "1", "--batch", "1")
	if code != 0 || !strings.HasPrefix(stderr, "graft: warning: the images in "+dir+" are small (28x28, say) for mobilenetv2") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("train mobilenetv2 on 28x28 images: exit %d\n%s%s", code, stdout, stderr)
	}
}

// A delta checkpoint records its base; predict loads it over the base it
// records or the one --base names, and refuses another base.
func TestDeltaPredict(t *testing.T) {
	t.Parallel()
	dir := shapesFolder(t, 6)
	tmp := t.TempDir()
	base := filepath.Join(tmp, "base.safetensors")
	data, err := os.ReadFile(testBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base, data, 0o644); err != nil {
		t.Fatal(err)
	}
	delta := filepath.Join(tmp, "delta.safetensors")
	var out bytes.Buffer
	if err := run(t, []string{"finetune", "--from", base, "--data", dir, "--strategy", "top-k", "--head-epochs", "5", "--epochs", "2", "--per-class", "4", "--delta", "--out", delta}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "graft predict --from "+delta+" --base "+base) {
		t.Errorf("finetune --delta printed:\n%s", out.String())
	}
	meta, err := nn.ReadMeta(delta)
	if err != nil || meta.Extra["base"] != base || len(meta.Extra["base_sha256"]) != 64 {
		t.Fatalf("delta metadata %v (%v)", meta.Extra, err)
	}
	img := filepath.Join(tmp, "q.png")
	writeShape(t, img, 1, 0)
	var a, b bytes.Buffer
	if err := run(t, []string{"predict", "--from", delta, img}, &a); err != nil {
		t.Fatal(err)
	}
	if err := run(t, []string{"predict", "--from", delta, "--base", testBase, img}, &b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || !strings.Contains(a.String(), img+":  dash ") {
		t.Errorf("predict over the recorded base:\n%s\nover --base:\n%s", a.String(), b.String())
	}
	other := filepath.Join(tmp, "other.safetensors")
	if err := run(t, []string{"finetune", "--from", base, "--data", "digits", "--per-class", "3", "--strategy", "features", "--head-epochs", "2", "--out", other}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(base); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--from", delta, img}, "is a delta checkpoint over " + base + ", which is not there: give the base with --base FILE"},
		{[]string{"predict", "--from", delta, "--base", other, img}, "was trained over base " + base},
	} {
		stdout, stderr, code := graftExec(t, nil, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("graft %s: exit %d, want 2 and %q\n%s%s", strings.Join(c.args, " "), code, c.want, stdout, stderr)
		}
	}
}

// Every --json names its fields in snake_case; info and bench name the
// device the same way, and bench times kernels and training steps;
// predict prints a header, and JSON with --json.
func TestOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := filepath.Join(dir, "q.png")
	writeShape(t, img, 1, 0)
	var out bytes.Buffer
	if err := run(t, []string{"predict", "--from", testBase, "--top", "2", img}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "mnistcnn from "+testBase+", 10 classes, input 28x28x1; top 2 per image") || !strings.HasPrefix(lines[1], img+":  ") {
		t.Errorf("predict printed:\n%s", out.String())
	}
	jsonOf := func(args ...string) map[string]any {
		t.Helper()
		var out bytes.Buffer
		if err := run(t, args, &out); err != nil {
			t.Fatalf("graft %s: %v", strings.Join(args, " "), err)
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("graft %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		snakeCase(t, strings.Join(args, " "), v)
		return v
	}
	p := jsonOf("predict", "--json", "--from", testBase, "--top", "2", img)
	preds, _ := p["predictions"].([]any)
	if len(preds) != 1 || p["model"] != "mnistcnn" {
		t.Errorf("predict --json: %v", p)
	}
	a := jsonOf("advise", "--json", "--from", testBase, "--data", "digits", "--per-class", "10")
	if a["strategy"] != "features" || a["freeze_depth"] == nil || a["reasons"] == nil || a["race"] == nil {
		t.Errorf("advise --json: %v", a)
	}
	out.Reset()
	if err := run(t, []string{"finetune", "--from", testBase, "--data", "digits", "--per-class", "5", "--head-epochs", "2", "--epochs", "1",
		"--out", filepath.Join(dir, "t.safetensors")}, &out); err != nil {
		t.Fatal(err)
	}
	// The header and the advice come before training's results.
	if !regexp.MustCompile(`^mnistcnn from \S+ on digits: 50 images \(10 classes\), tested on \d+, cpu/\S+\nadvisor: (\S+).*\n(  - .*\n)+auto → \S+.* \(head LR 0\.01.*\): accuracy .*\nwrote `).MatchString(out.String()) {
		t.Errorf("finetune printed:\n%s", out.String())
	}
	f := jsonOf("finetune", "--json", "--from", testBase, "--data", "digits", "--per-class", "5", "--strategy", "auto",
		"--head-epochs", "2", "--epochs", "1", "--out", filepath.Join(dir, "t.safetensors"))
	if f["advice"] == nil || f["strategy"] == nil || f["epochs"] == nil {
		t.Errorf("finetune --json: %v", f)
	}
	i := jsonOf("info", "--json")
	if testing.Short() {
		return
	}
	b := jsonOf("bench", "--json")
	if b["device"] != i["device"] || b["device_reason"] != i["device_reason"] || b["device"] == "" {
		t.Errorf("bench names the device %q (%q), info %q (%q)", b["device"], b["device_reason"], i["device"], i["device_reason"])
	}
	if r, _ := json.Marshal(b["results"]); !strings.Contains(string(r), `"unit":"images/s"`) || !strings.Contains(string(r), `"unit":"GFLOP/s"`) {
		t.Errorf("bench --json results: %s", r)
	}
}

// snakeCase fails t for a JSON object key that is not snake_case.
func snakeCase(t *testing.T, what string, v any) {
	t.Helper()
	ok := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !ok.MatchString(k) {
				t.Errorf("%s: JSON key %q is not snake_case", what, k)
			}
			snakeCase(t, what, x)
		}
	case []any:
		for _, x := range v {
			snakeCase(t, what, x)
		}
	}
}

// Ctrl-C in train and finetune: exit status 130, the last complete epoch
// kept (or a true "nothing saved"), the plot drawn, the message on a line
// of its own; train --resume goes on from the kept epoch.
func TestInterrupts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("trains for seconds")
	}
	small := shapesFolder(t, 60)
	large := shapesFolder(t, 600)
	tmp := t.TempDir()
	check := func(what, stderr string, code int, want string) {
		t.Helper()
		if code != 130 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "graft: ") || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 130 and one line with %q:\n%s", what, code, want, stderr)
		}
	}

	// train, after two epochs: the checkpoint holds the second, the plot
	// is drawn, and --resume finishes the run.
	ckpt, plot := filepath.Join(tmp, "m.safetensors"), filepath.Join(tmp, "m.png")
	_, stderr, code := interruptRun(t, `^epoch 2/`, 0, "train", "--model", "lenet5", "--data", small, "--epochs", "200", "--batch", "4", "--out", ckpt, "--plot", plot)
	m := regexp.MustCompile(`interrupted during epoch (\d+) of 200; ` + regexp.QuoteMeta(ckpt) + ` holds epoch (\d+) \(go on with: graft train --resume ` + regexp.QuoteMeta(ckpt) + `\); curves in ` + regexp.QuoteMeta(plot)).FindStringSubmatch(stderr)
	check("train interrupted", stderr, code, "interrupted during epoch")
	if m == nil {
		t.Fatalf("train interrupted: %s", stderr)
	}
	var during, held int
	fmt.Sscan(m[1], &during)
	fmt.Sscan(m[2], &held)
	if held < 2 || during != held+1 {
		t.Errorf("interrupted during epoch %d, holding %d", during, held)
	}
	if _, _, err := nn.Load(ckpt, models.LeNet5(models.Options{Classes: 2}), nn.LoadOptions{}); err != nil {
		t.Errorf("the kept checkpoint: %v", err)
	}
	if st, err := os.Stat(plot); err != nil || st.Mode().Perm() != 0o644 || st.Size() < 1000 {
		t.Errorf("the plot: %v (%v)", st, err)
	}
	stdout, stderr, code := graftExec(t, nil, "train", "--resume", ckpt, "--epochs", fmt.Sprint(held+1), "--plot", plot)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("resuming after epoch %d:", held)) || !strings.Contains(stdout, fmt.Sprintf("epoch %d/%d:", held+1, held+1)) {
		t.Errorf("train --resume: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(resumePath(ckpt)); !os.IsNotExist(err) {
		t.Errorf("the resume state is still there after the run completed: %v", err)
	}

	// train, in the first epoch: nothing saved, and nothing left behind.
	ckpt2 := filepath.Join(tmp, "first.safetensors")
	_, stderr, code = interruptRun(t, `^training`, 0, "train", "--model", "mnistcnn", "--data", large, "--epochs", "3", "--batch", "2", "--out", ckpt2, "--plot", filepath.Join(tmp, "first.png"))
	check("train interrupted in epoch 1", stderr, code, "interrupted during epoch 1 of 3; nothing saved (no epoch completed)")
	for _, p := range []string{ckpt2, resumePath(ckpt2), filepath.Join(tmp, "first.png")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after an interrupt in the first epoch (%v)", p, err)
		}
	}

	// finetune: the model as after the last complete epoch.
	tuned := filepath.Join(tmp, "tuned.safetensors")
	_, stderr, code = interruptRun(t, `tested on`, 2*time.Second, "finetune", "--from", testBase, "--data", small, "--strategy", "features",
		"--head-epochs", "1000000", "--out", tuned, "--plot", filepath.Join(tmp, "tuned.png"))
	check("finetune interrupted", stderr, code, "finetune: interrupted after ")
	if !regexp.MustCompile(`interrupted after (\d+) complete epochs; ` + regexp.QuoteMeta(tuned) + ` holds the model as after epoch (\d+); curves in`).MatchString(stderr) {
		t.Errorf("finetune interrupted: %s", stderr)
	}
	if _, _, err := nn.Load(tuned, models.MNISTCNN(models.Options{Classes: 2}), nn.LoadOptions{}); err != nil {
		t.Errorf("the kept fine-tuned model: %v", err)
	}

	// finetune, in the first epoch: nothing saved.
	tuned2 := filepath.Join(tmp, "tuned2.safetensors")
	_, stderr, code = interruptRun(t, `tested on`, 0, "finetune", "--from", testBase, "--data", large, "--strategy", "scratch", "--out", tuned2)
	check("finetune interrupted in epoch 1", stderr, code, "interrupted after 0 complete epochs; nothing saved (no epoch completed)")
	if _, err := os.Stat(tuned2); !os.IsNotExist(err) {
		t.Errorf("%s exists after an interrupt in the first epoch (%v)", tuned2, err)
	}
}
