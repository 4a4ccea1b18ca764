package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiny is a model.json of an input [4] and a Dense of 2 units, with the
// given layer and weight overrides, and its 40-byte shard.
func tiny(dense, weights string) []byte {
	if dense == "" {
		dense = `{"class_name":"Dense","name":"fc","config":{"name":"fc","units":2},"inbound_nodes":[[["in",0,0,{}]]]}`
	}
	if weights == "" {
		weights = `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32"},{"name":"fc/bias","shape":[2],"dtype":"float32"}]`
	}
	return []byte(fmt.Sprintf(`{"format":"layers-model","modelTopology":{"class_name":"Model","config":{"name":"t","layers":[
		{"class_name":"InputLayer","name":"in","config":{"batch_input_shape":[null,4],"name":"in"},"inbound_nodes":[]},%s],
		"input_layers":[["in",0,0]],"output_layers":[["fc",0,0]]}},
		"weightsManifest":[{"paths":["w.bin"],"weights":%s}]}`, dense, weights))
}

func shard(n int) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if p != "w.bin" {
			return nil, fmt.Errorf("no shard %q", p)
		}
		b := make([]byte, n)
		for i := 0; i+4 <= n; i += 4 {
			binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(i)/8))
		}
		return b, nil
	}
}

func TestTiny(t *testing.T) {
	m, err := Decode(tiny("", ""), shard(40))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.OutputShape) != 1 || m.OutputShape[0] != 2 {
		t.Errorf("output shape %v", m.OutputShape)
	}
}

func TestHostile(t *testing.T) {
	conv := func(cfg string) string {
		return `{"class_name":"Conv2D","name":"fc","config":{"name":"fc",` + cfg + `},"inbound_nodes":[[["in",0,0,{}]]]}`
	}
	for _, c := range []struct {
		name, want string
		json       []byte
		shard      int
	}{
		{"not json", "model.json: invalid character", []byte("{nope"), 40},
		{"graph model", `format "graph-model"`, []byte(`{"format":"graph-model","modelTopology":{}}`), 40},
		{"no topology", "no modelTopology", []byte(`{}`), 40},
		{"model class", `model class "Lambda"`, []byte(`{"modelTopology":{"class_name":"Lambda","config":{}}}`), 40},
		{"layer class", "layer class Lambda is not supported", tiny(`{"class_name":"Lambda","name":"fc","config":{},"inbound_nodes":[[["in",0,0,{}]]]}`, "[]"), 0},
		{"unknown input", `reads "nope"`, tiny(`{"class_name":"Dense","name":"fc","config":{"units":2},"inbound_nodes":[[["nope",0,0,{}]]]}`, ""), 40},
		{"keras 3 nodes", "unknown form (Keras 3?)", tiny(`{"class_name":"Dense","name":"fc","config":{"units":2},"inbound_nodes":[{"args":[]}]}`, ""), 40},
		{"shared layer", "called 2 times", tiny(`{"class_name":"Dense","name":"fc","config":{"units":2},"inbound_nodes":[[["in",0,0,{}]],[["in",0,0,{}]]]}`, ""), 40},
		{"weight shape", "has shape [4 3], want [4 2]", tiny("", `[{"name":"fc/kernel","shape":[4,3],"dtype":"float32"},{"name":"fc/bias","shape":[2],"dtype":"float32"}]`), 56},
		{"missing weight", "no weight fc/bias", tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32"}]`), 32},
		{"short shard", "runs past the end", tiny("", ""), 39},
		{"long shard", "the manifest uses 40", tiny("", ""), 44},
		{"huge shape", "larger than its shards", tiny("", `[{"name":"fc/kernel","shape":[4000000000,4000000000],"dtype":"float32"}]`), 40},
		{"negative shape", "larger than its shards", tiny("", `[{"name":"fc/kernel","shape":[-4,2],"dtype":"float32"}]`), 40},
		{"quant dtype", `quantization dtype "int4"`, tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32","quantization":{"dtype":"int4","min":0,"scale":1}}]`), 40},
		{"quant no scale", "without min and scale", tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32","quantization":{"dtype":"uint8"}}]`), 8},
		{"dtype", `dtype "complex64"`, tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"complex64"}]`), 40},
		{"unused weight", "weights no layer reads: extra/w", tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32"},{"name":"fc/bias","shape":[2],"dtype":"float32"},{"name":"extra/w","shape":[1],"dtype":"float32"}]`), 44},
		{"duplicate weight", `two weights named "fc/bias"`, tiny("", `[{"name":"fc/kernel","shape":[4,2],"dtype":"float32"},{"name":"fc/bias","shape":[2],"dtype":"float32"},{"name":"fc/bias","shape":[2],"dtype":"float32"}]`), 48},
		{"conv of a vector", "want (H, W, C)", tiny(conv(`"filters":2,"kernel_size":3`), "[]"), 0},
		{"units", "units -2", tiny(`{"class_name":"Dense","name":"fc","config":{"units":-2},"inbound_nodes":[[["in",0,0,{}]]]}`, ""), 40},
		{"bad activation", `activation "swish"`, tiny(`{"class_name":"Dense","name":"fc","config":{"units":2,"activation":"swish"},"inbound_nodes":[[["in",0,0,{}]]]}`, ""), 40},
		{"dropout rate", "rate 1", tiny(`{"class_name":"Dropout","name":"fc","config":{"rate":1},"inbound_nodes":[[["in",0,0,{}]]]}`, "[]"), 0},
		{"reshape", "target_shape [3]", tiny(`{"class_name":"Reshape","name":"fc","config":{"target_shape":[3]},"inbound_nodes":[[["in",0,0,{}]]]}`, "[]"), 0},
		{"reshape reorder", "reorders elements", tiny(`{"class_name":"Reshape","name":"fc","config":{"target_shape":[2,1,2]},"inbound_nodes":[[["in",0,0,{}]]]}`, "[]"), 0},
		{"duplicate layer", `two layers named "in"`, tiny(`{"class_name":"Dense","name":"in","config":{"units":2},"inbound_nodes":[[["in",0,0,{}]]]}`, ""), 40},
		{"wrong type", "config units", tiny(`{"class_name":"Dense","name":"fc","config":{"units":"two"},"inbound_nodes":[[["in",0,0,{}]]]}`, ""), 40},
		{"missing shard", `no shard "x.bin"`, []byte(strings.Replace(string(tiny("", "")), "w.bin", "x.bin", 1)), 40},
		{"input shape", "not a fixed size", []byte(strings.Replace(string(tiny("", "")), "[null,4]", "[null,null]", 1)), 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.json, shard(c.shard))
			if err == nil {
				t.Fatal("imported")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "tfjs: ") {
				t.Errorf("error %q, want one line with %q", msg, c.want)
			}
		})
	}
}

func TestReadShardOutsideFolder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"../w.bin", "/etc/passwd", "a\\..\\b"} {
		b := []byte(strings.Replace(string(tiny("", "")), `"w.bin"`, fmt.Sprintf("%q", p), 1))
		path := filepath.Join(dir, "model.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "outside the model's folder") {
			t.Errorf("shard %q: %v", p, err)
		}
	}
}

// FuzzDecode feeds model.json and shard bytes to Decode: a model or an
// error, never a panic; the fixtures seed it.
func FuzzDecode(f *testing.F) {
	f.Add(tiny("", ""), make([]byte, 40))
	for _, name := range []string{"mix", "seq_q"} {
		mj, err1 := os.ReadFile(filepath.Join("..", "..", "testdata", "tfjs", name, "model.json"))
		w, err2 := os.ReadFile(filepath.Join("..", "..", "testdata", "tfjs", name, "weights.bin"))
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		f.Add(mj, w)
	}
	f.Fuzz(func(t *testing.T, mj, w []byte) {
		Decode(mj, func(string) ([]byte, error) { return w, nil })
	})
}
