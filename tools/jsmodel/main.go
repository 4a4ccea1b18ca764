// Command jsmodel turns a TF.js layers model bundled as JavaScript files
// (as npm nsfwjs ships its models: model.min.js holding the model JSON as
// an object literal, group1-shard1of1.min.js the weights as one base64
// string) into a standard model.json and .bin shards, by parsing the
// literals (internal/jslit); nothing is evaluated.
//
//	go run ./tools/jsmodel -out DIR model.min.js group1-shard1of1.min.js ...
//
// The shards are written as <name>.bin, in the order given, and the
// weightsManifest's paths are rewritten to them (the manifest's first
// group's paths in order).
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graftml/graft/internal/jslit"
)

func main() {
	out := flag.String("out", "", "output folder")
	flag.Parse()
	if err := convert(*out, flag.Arg(0), flag.Args()[min(1, flag.NArg()):]); err != nil {
		fmt.Fprintln(os.Stderr, "jsmodel:", err)
		os.Exit(2)
	}
}

func convert(out, model string, shards []string) error {
	if out == "" || model == "" || len(shards) == 0 {
		return errors.New("usage: jsmodel -out DIR model.js shard.js ...")
	}
	src, err := os.ReadFile(model)
	if err != nil {
		return err
	}
	js, err := jslit.Exported(src)
	if err != nil {
		return fmt.Errorf("%s: %w", model, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return fmt.Errorf("%s: %w", model, err)
	}
	var names []string
	for _, s := range shards {
		src, err := os.ReadFile(s)
		if err != nil {
			return err
		}
		js, err := jslit.Exported(src)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		var b64 string
		if err := json.Unmarshal(js, &b64); err != nil {
			return fmt.Errorf("%s: the weights are not one string: %w", s, err)
		}
		bin, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(s), ".js"), ".min") + ".bin"
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), bin, 0o644); err != nil {
			return err
		}
		names = append(names, name)
	}
	man, ok := m["weightsManifest"].([]any)
	if !ok || len(man) == 0 {
		return fmt.Errorf("%s: no weightsManifest", model)
	}
	total := 0
	for _, g := range man {
		gm, ok := g.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: a weightsManifest entry is not an object", model)
		}
		paths, _ := gm["paths"].([]any)
		if total+len(paths) > len(names) {
			return fmt.Errorf("%s: the manifest names %d+ shards, %d given", model, total+len(paths), len(names))
		}
		for i := range paths {
			paths[i] = names[total+i]
		}
		total += len(paths)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "model.json"), b, 0o644)
}
