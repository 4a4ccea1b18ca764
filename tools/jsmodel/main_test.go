package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvert converts a bundle shaped like nsfwjs's (the model literal
// and the base64 shard each behind a.exports=) and checks the files.
func TestConvert(t *testing.T) {
	dir := t.TempDir()
	wrap := func(lit string) string {
		return `!function(e){module.exports=e()}(function(){return function e(a,n,i){}({1:[function(e,a,n){a.exports=` + lit + `},{}]},{},[1])(1)});`
	}
	model := filepath.Join(dir, "model.min.js")
	shard := filepath.Join(dir, "group1-shard1of1.min.js")
	weights := []byte{1, 2, 3, 250}
	os.WriteFile(model, []byte(wrap(`{modelTopology:{class_name:"Model",config:{trainable:!1}},weightsManifest:[{paths:["group1-shard1of1"],weights:[{name:"w",shape:[4],dtype:"float32",quantization:{min:-.5,scale:.25,dtype:"uint8"}}]}]}`)), 0o644)
	os.WriteFile(shard, []byte(wrap(`"`+base64.StdEncoding.EncodeToString(weights)+`"`)), 0o644)
	out := filepath.Join(dir, "out")
	if err := convert(out, model, []string{shard}); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(out, "group1-shard1of1.bin"))
	if err != nil || string(bin) != string(weights) {
		t.Fatalf("shard %v %v", bin, err)
	}
	b, err := os.ReadFile(filepath.Join(out, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ModelTopology   map[string]any `json:"modelTopology"`
		WeightsManifest []struct {
			Paths []string `json:"paths"`
		} `json:"weightsManifest"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.WeightsManifest[0].Paths[0] != "group1-shard1of1.bin" || !strings.Contains(string(b), `"trainable":false`) {
		t.Errorf("model.json %s (%v)", b, err)
	}
	if err := convert(out, model, nil); err == nil {
		t.Error("no shard: no error")
	}
	os.WriteFile(shard, []byte(wrap(`{not:"a string"}`)), 0o644)
	if err := convert(out, model, []string{shard}); err == nil || !strings.Contains(err.Error(), "not one string") {
		t.Errorf("shard without a string: %v", err)
	}
}
