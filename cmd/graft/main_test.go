package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

func TestInfo(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t, []string{"info"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"device:     cpu/", "tier:", "threads:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("graft info lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(t, []string{"info", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var r infoReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Tier == "" || r.Threads < 1 {
		t.Fatalf("graft info --json = %s (%v)", out.String(), err)
	}
}

func TestUserErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"frobnicate"}, {"info", "--bogus"}} {
		err := run(t, args, &bytes.Buffer{})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}

func TestTrainSmoke(t *testing.T) {
	t.Parallel()
	if _, err := data.MNISTDir(); err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "lenet5.safetensors")
	var out bytes.Buffer
	plotPath := filepath.Join(t.TempDir(), "curves.png")
	if err := run(t, []string{"train", "--model", "lenet5", "--epochs", "1", "--limit", "2048", "--out", path, "--plot", plotPath}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "test accuracy") {
		t.Fatalf("graft train printed:\n%s", out.String())
	}
	if st, err := os.Stat(plotPath); err != nil || st.Size() < 1000 {
		t.Errorf("--plot wrote %v (%v)", st, err)
	}
	m := models.LeNet5(models.Options{})
	meta, _, err := nn.Load(path, m, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Arch != "lenet5" || len(meta.Classes) != 10 || len(meta.Mean) != 1 {
		t.Errorf("checkpoint metadata %+v", meta)
	}
	out.Reset()
	if err := run(t, []string{"train", "--model", "lenet5", "--epochs", "1", "--limit", "256", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["test_accuracy"] == nil {
		t.Errorf("train --json: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{"train", "--model", "nope"}, {"train", "--data", "nope"}, {"train", "--epochs", "0"}} {
		if err := run(t, args, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}

func TestDemoJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(t, []string{"demo", "--seeds", "1", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var rep demoReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("graft demo --json: %v\n%s", err, out.String())
	}
	got := map[string]demoResult{}
	for _, r := range rep.Results {
		got[r.Strategy] = r
		if r.Seconds <= 0 || r.FLOPs <= 0 || r.Accuracy < 0.5 || r.Accuracy > 1 {
			t.Errorf("%s: %+v", r.Strategy, r)
		}
	}
	if len(got) != 4 || got["features"].Accuracy < 0.93 || got["features"].Accuracy <= got["scratch"].Accuracy {
		t.Errorf("results %+v: want scratch, features, top-k, all, features ≥ 0.93 and above scratch", rep.Results)
	}
	if got["features"].FLOPs >= got["scratch"].FLOPs/10 || got["scratch"].Speedup != 1 {
		t.Errorf("features %.3g FLOPs vs scratch %.3g; scratch speed-up %v", got["features"].FLOPs, got["scratch"].FLOPs, got["scratch"].Speedup)
	}
	if rep.Advice.Strategy == "" || len(rep.Advice.Reasons) < 3 {
		t.Errorf("advice %+v", rep.Advice)
	}
	for _, args := range [][]string{{"demo", "--seeds", "0"}, {"demo", "--target", "cifar"}} {
		if err := run(t, args, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}

// advise picks features for digits over the MNIST CNN, and finetune writes a
// checkpoint that loads (bench, which this test ran too, runs once, in
// TestOutputs: it takes seconds).
func TestFinetuneAdvise(t *testing.T) {
	t.Parallel()
	base := filepath.Join("..", "..", "testdata", "mnistcnn", "mnistcnn.safetensors")
	var out bytes.Buffer
	if err := run(t, []string{"advise", "--from", base, "--data", "digits", "--per-class", "10"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "strategy: features") || !strings.Contains(out.String(), "similar") {
		t.Errorf("graft advise printed:\n%s", out.String())
	}
	path := filepath.Join(t.TempDir(), "digits.safetensors")
	out.Reset()
	if err := run(t, []string{"finetune", "--from", base, "--data", "digits", "--per-class", "10", "--strategy", "features", "--out", path, "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["strategy"] != "features" || v["accuracy"].(float64) < 0.9 {
		t.Fatalf("graft finetune --json: %v\n%s", err, out.String())
	}
	if _, _, err := nn.Load(path, models.MNISTCNN(models.Options{}), nn.LoadOptions{}); err != nil {
		t.Errorf("the fine-tuned checkpoint does not load: %v", err)
	}
	for _, args := range [][]string{{"finetune", "--data", "digits"}, {"finetune", "--from", "nope.safetensors", "--data", "digits"},
		{"finetune", "--from", base, "--data", "digits", "--strategy", "magic"}, {"advise", "--from", base}} {
		if err := run(t, args, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}

// writeShape writes a 28×28 white-on-black PNG: a vertical bar (kind 0) or
// a horizontal one (kind 1), shifted by off pixels.
func writeShape(t *testing.T, path string, kind, off int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := 6; i < 22; i++ {
		for j := 12 + off; j < 16+off; j++ {
			if kind == 0 {
				img.SetGray(j, i, color.Gray{Y: 255})
			} else {
				img.SetGray(i, j, color.Gray{Y: 255})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestFolderFinetunePredict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for c, name := range []string{"bar", "dash"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			writeShape(t, filepath.Join(dir, name, fmt.Sprintf("%d.png", i)), c, i-3)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bar", "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join("..", "..", "testdata", "mnistcnn", "mnistcnn.safetensors")
	tuned := filepath.Join(t.TempDir(), "shapes.safetensors")
	var out bytes.Buffer
	if err := run(t, []string{"finetune", "--from", base, "--data", dir, "--strategy", "features", "--per-class", "4", "--out", tuned}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dropped head") {
		t.Errorf("finetune to 2 classes printed no head notice:\n%s", out.String())
	}
	if err := run(t, []string{"finetune", "--from", base, "--data", dir, "--strict", "--strategy", "features", "--out", tuned + ".strict"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("--strict with a text file in a class folder: %v", err)
	}
	img := filepath.Join(t.TempDir(), "x.png")
	writeShape(t, img, 1, 0)
	out.Reset()
	if err := run(t, []string{"predict", "--from", tuned, "--top", "2", img}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n"+img+":  dash ") {
		t.Errorf("predict printed %q, want the dash class first", out.String())
	}
	for _, args := range [][]string{{"predict", "--from", tuned}, {"predict", img}, {"predict", "--from", tuned, "missing.png"}} {
		if err := run(t, args, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%v) = %v, want a one-line error", args, err)
		}
	}
}
