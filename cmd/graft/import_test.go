package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/fixtures"
)

// TestImportInfo: graft import writes a checkpoint that graft info reads
// without the ONNX file; user mistakes are errors.
func TestImportInfo(t *testing.T) {
	t.Parallel()
	src := filepath.Join("..", "..", "testdata", "onnx", "small.onnx")
	dst := filepath.Join(t.TempDir(), "small.safetensors")
	var out bytes.Buffer
	if err := run(t, []string{"import", src, "--out", dst, "--std", "0.25,0.25,0.25"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "250 parameters") {
		t.Errorf("import said %q", out.String())
	}
	for _, model := range []string{dst, src} {
		out.Reset()
		if err := run(t, []string{"info", "--model", model, "--json"}, &out); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Params int        `json:"params"`
			Head   []string   `json:"head"`
			Groups [][]string `json:"groups"`
			Mean   []float32  `json:"mean"`
			Std    []float32  `json:"std"`
			FLOPs  float64    `json:"fwd_flops_per_image"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Params != 4*3*3*3+4+4+4+2*64+2 || len(r.Head) != 1 || len(r.Groups) < 2 || r.FLOPs <= 0 || len(r.Mean) != 3 {
			t.Errorf("info --model %s: %s", model, out.String())
		}
		if model == dst && (len(r.Std) != 3 || r.Std[0] != 0.25) {
			t.Errorf("std %v, want the --std given to import", r.Std)
		}
	}
	for _, args := range [][]string{
		{"import", src},
		{"import", "--out", dst},
		{"import", src, "--out", dst, "--mean", "a,b"},
		{"import", src, "--out", dst, "--mean", "0.5,0.5"},
		{"import", filepath.Join(t.TempDir(), "none.onnx"), "--out", dst},
		{"info", "--model", filepath.Join(t.TempDir(), "none.safetensors")},
		{"import", filepath.Join("..", "..", "testdata", "onnx", "export.py"), "--out", dst},
	} {
		if err := run(t, args, &out); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("graft %v: error %v, want one line", args, err)
		}
	}
}

// TestImportTFJS: graft import reads a TF.js model.json into a checkpoint
// that info reads back (topology, head, groups, normalisation) and that
// predicts as the model.json itself; --bgr is ONNX's only.
func TestImportTFJS(t *testing.T) {
	t.Parallel()
	src := filepath.Join("..", "..", "testdata", "tfjs", "seq", "model.json")
	dst := filepath.Join(t.TempDir(), "seq.safetensors")
	var out bytes.Buffer
	if err := run(t, []string{"import", src, "--out", dst, "--mean", "0.5,0.5", "--std", "0.25,0.25"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{dst, src} {
		out.Reset()
		if err := run(t, []string{"info", "--model", model, "--json"}, &out); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Params     int        `json:"params"`
			InputShape []int      `json:"input_shape"`
			Head       []string   `json:"head"`
			Groups     [][]string `json:"groups"`
			Std        []float32  `json:"std"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		// c1: 4 filters 3×3 over 2 channels; d: 36 → 3.
		if r.Params != 4*2*3*3+4+3*36+3 || len(r.InputShape) != 3 || r.InputShape[2] != 2 ||
			len(r.Head) != 1 || r.Head[0] != "d" || len(r.Groups) < 2 {
			t.Errorf("info --model %s: %s", model, out.String())
		}
		if model == dst && (len(r.Std) != 2 || r.Std[0] != 0.25) {
			t.Errorf("std %v, want the --std given to import", r.Std)
		}
	}
	for _, args := range [][]string{
		{"import", src, "--out", dst, "--bgr"},
		{"import", src, "--out", dst, "--mean", "0.5"},
		{"import", filepath.Join(t.TempDir(), "model.json"), "--out", dst},
		{"import", filepath.Join("..", "..", "testdata", "tfjs", "gen.js"), "--out", dst},
	} {
		if err := run(t, args, &out); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("graft %v: error %v, want one line", args, err)
		}
	}

	// A real model: predict from model.json and from its import agree.
	mj := fixtures.NSFWJS(t)
	ck := filepath.Join(t.TempDir(), "nsfwjs.safetensors")
	if err := run(t, []string{"import", mj, "--out", ck}, &out); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join("..", "..", "testdata", "tfjs", "gopher.png")
	var a, b bytes.Buffer
	if err := run(t, []string{"predict", "--from", mj, "--json", img}, &a); err != nil {
		t.Fatal(err)
	}
	if err := run(t, []string{"predict", "--from", ck, "--json", img}, &b); err != nil {
		t.Fatal(err)
	}
	preds := func(b []byte) string {
		var r struct{ Predictions json.RawMessage }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return string(r.Predictions)
	}
	if pa := preds(a.Bytes()); pa != preds(b.Bytes()) || !strings.Contains(pa, "gopher.png") {
		t.Errorf("predict from model.json:\n%s\nfrom its import:\n%s", a.String(), b.String())
	}
}

// TestFinetuneFromTFJS: advise and finetune take --from model.json, and
// the fine-tuned checkpoint predicts.
func TestFinetuneFromTFJS(t *testing.T) {
	t.Parallel()
	src := filepath.Join("..", "..", "testdata", "tfjs", "grey", "model.json")
	var out bytes.Buffer
	if err := run(t, []string{"advise", "--from", src, "--data", "digits", "--per-class", "5", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "strategy") {
		t.Errorf("advise: %s", out.String())
	}
	dst := filepath.Join(t.TempDir(), "ft.safetensors")
	out.Reset()
	if err := run(t, []string{"finetune", "--from", src, "--data", "digits", "--per-class", "5", "--strategy", "all",
		"--head-epochs", "1", "--epochs", "1", "--out", dst, "--quiet", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(t, []string{"info", "--model", dst, "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"d"`) {
		t.Errorf("info of the fine-tuned model: %s", out.String())
	}
}
