package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/fixtures"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// The base's trunk on a grey image is the imported network's pooled
// out_relu on that image copied into three channels.
func TestImagenetBaseIsTheBackbone(t *testing.T) {
	t.Parallel()
	path := fixtures.NSFWJS(t)
	const size = 64 // the file's 7×7 pooling, after out_relu, does not run
	m, err := imagenetBase(path, size, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.InputShape; len(got) != 3 || got[0] != size || got[1] != size || got[2] != 1 {
		t.Fatalf("input shape %v", got)
	}
	if len(m.Groups) < 3 || m.Groups[len(m.Groups)-1][0] != "predictions" {
		t.Errorf("groups %v", m.Groups)
	}
	imp, err := tfjs.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.Graph.SetOutput("out_relu"); err != nil {
		t.Fatal(err)
	}
	grey := tensor.Zeros(2, size, size, 1)
	rgb := tensor.Zeros(2, size, size, 3)
	for i := range grey.Len() {
		v := float32(math.Sin(float64(i)*0.37))*0.5 + 0.5
		grey.Data()[i] = v
		for c := range 3 {
			rgb.Data()[3*i+c] = v
		}
	}
	trunk, _, err := transfer.Cut(m, "")
	if err != nil {
		t.Fatal(err)
	}
	got := trunk.Infer(grey).Data()
	spatial := imp.Graph.Infer(rgb)
	want := nn.NewGlobalAvgPool().Infer(spatial).Data()
	if len(got) != len(want) || len(got) != 2*1280 {
		t.Fatalf("%d features, want %d (2×1280)", len(got), len(want))
	}
	var diff, ref float64
	for i := range got {
		diff = max(diff, math.Abs(float64(got[i]-want[i])))
		ref = max(ref, math.Abs(float64(want[i])))
	}
	if diff > 1e-4*ref || ref == 0 {
		t.Errorf("features differ by %g (largest %g)", diff, ref)
	}
	if _, err := imagenetBase(path, size, "dense_1"); err == nil || !strings.Contains(err.Error(), `no top-level layer "dense_1" with a spatial output`) {
		t.Errorf("cut at a dense layer: %v", err)
	}
	e, err := imagenetBase(path, size, "block_16_project_BN")
	if err != nil {
		t.Fatal(err)
	}
	if d := lastDenseIn(e); d == nil || d.In != 320 {
		t.Errorf("cut at block_16_project_BN: head %+v, want 320 inputs", d)
	}
	// block51 is a residual block, a graph child: block_12's 96 channels.
	if e, err = imagenetBase(path, size, "block51"); err != nil {
		t.Fatal(err)
	}
	if d := lastDenseIn(e); d == nil || d.In != 96 {
		t.Errorf("cut at block51: head %+v, want 96 inputs", d)
	}
	// A clone (what every transfer run starts from) keeps the grey input.
	c, err := transfer.Copy(m)
	if err != nil {
		t.Fatal(err)
	}
	if y := c.Infer(grey); y.Dim(1) != 5 {
		t.Errorf("clone's output %v", y.Shape())
	}
}

func TestResized(t *testing.T) {
	t.Parallel()
	s := &data.Set{X: []float32{-1, 1, 3, 5}, Labels: []int{0}, Shape: []int{2, 2, 1}, Classes: []string{"a"}, Mean: []float32{0.5}, Std: []float32{0.25}}
	r, err := resized(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Pixels 0.25, 0.75, 1 (1.25 clipped), 1 (1.75 clipped), upsampled.
	if r.Shape[0] != 4 || r.X[0] != 0.25 || r.X[3] != 0.75 || r.X[15] != 1 || r.Mean[0] != 0 || r.Std[0] != 1 {
		t.Errorf("resized: %+v", r)
	}
	if _, err := resized(&data.Set{Shape: []int{2, 2, 3}, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}}, 4); err == nil {
		t.Error("RGB images resized as grey")
	}
}

// graft demo --base mobilenetv2 at tiny sizes: both bases on the same
// splits, every strategy, the cache measured.
func TestDemoMobileNetV2(t *testing.T) {
	t.Parallel()
	path := fixtures.NSFWJS(t)
	var out bytes.Buffer
	args := []string{"demo", "--base", "mobilenetv2", "--model", path, "--target", "digits", "--per-class", "2",
		"--seeds", "2", "--size", "32", "--test-limit", "20", "--epochs", "1", "--head-epochs", "2", "--json"}
	if err := run(t, args, &out); err != nil {
		t.Fatal(err)
	}
	var rep demoReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.HasPrefix(rep.Base, "mobilenetv2") || rep.Size != 32 || rep.TestImages != 20 || rep.Compare == nil ||
		!strings.HasPrefix(rep.Compare.Base, "mnistcnn") || rep.Margin == nil {
		t.Fatalf("report %s", out.String())
	}
	for _, r := range [][]demoResult{rep.Results, rep.Compare.Results} {
		if len(r) != len(transfer.Strategies) {
			t.Fatalf("%d results", len(r))
		}
		for _, x := range r {
			if len(x.PerSeed) != 2 || !(x.Accuracy >= 0 && x.Accuracy <= 1) || !(x.Seconds > 0) {
				t.Errorf("%+v", x)
			}
		}
	}
	c := rep.Cache
	if c == nil || c.ColdAccuracy != c.WarmAccuracy || !(c.ColdSeconds > 0) || !(c.WarmSeconds > 0) {
		t.Errorf("cache report %+v: a warm cache must give the same accuracy", c)
	}
	acc := func(rs []demoResult, st string) float64 {
		for _, r := range rs {
			if r.Strategy == st {
				return r.Accuracy
			}
		}
		return math.NaN()
	}
	if m := rep.Margin; math.Abs(m.Diff-(acc(rep.Results, m.Best)-acc(rep.Compare.Results, m.CompareBest))) > 1e-12 {
		t.Errorf("margin %+v", m)
	}
	out.Reset()
	if err := run(t, []string{"demo", "--base", "mobilenetv2", "--model", path, "--per-class", "2", "--seeds", "1", "--size", "32",
		"--test-limit", "10", "--strategies", "features", "--quiet"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"mobilenetv2", "mnistcnn", "feature cache:", "best of"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
}

func lastDenseIn(l nn.Layer) *nn.Dense {
	var d *nn.Dense
	nn.Walk(l, func(_ string, m nn.Layer) {
		if x, ok := m.(*nn.Dense); ok {
			d = x
		}
	})
	return d
}

// The scenarios table takes the ImageNet MobileNetV2 as a base, at a
// reduced set of arms: the rows it did not run show "–", and without
// scratch the "≥ scratch − 1 sd" column is not counted.
func TestExperimentScenariosMobileNetV2(t *testing.T) {
	t.Parallel()
	path := fixtures.NSFWJS(t)
	dir := t.TempDir()
	var out bytes.Buffer
	args := []string{"experiment", "scenarios", "--dir", dir, "--bases", "mobilenetv2", "--model", path, "--size", "32",
		"--targets", "digits", "--per-class", "3", "--seeds", "1", "--head-epochs", "2", "--epochs", "1", "--test-limit", "20",
		"--arms", "features,top-k,advisor"}
	if err := run(t, args, &out); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "scenarios.md"))
	if !strings.Contains(string(md), "| mobilenetv2 | digits | 3 | – |") || !strings.Contains(string(md), "in 0 of 0 with scratch run") {
		t.Errorf("scenarios.md:\n%s", md)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	for _, arm := range []string{`"arm":"features"`, `"arm":"top-k"`, `"arm":"advisor"`} {
		if !strings.Contains(string(b), arm) {
			t.Errorf("results.jsonl lacks %s:\n%s", arm, b)
		}
	}
	if strings.Contains(string(b), `"arm":"scratch"`) || strings.Contains(string(b), `"arm":"all"`) {
		t.Errorf("results.jsonl holds arms not asked for:\n%s", b)
	}
	for _, bad := range [][]string{
		{"experiment", "scenarios", "--bases", "mobilenetv2", "--dir", dir}, // no --model
		{"experiment", "scenarios", "--arms", "features,magic", "--dir", dir},
	} {
		if err := run(t, bad, &bytes.Buffer{}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("graft %s: %v, want a one-line error", strings.Join(bad, " "), err)
		}
	}
}
