package transfer_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/transfer"
)

func mustKey(t *testing.T, trunk nn.Layer, d nn.Dataset, cut string) string {
	t.Helper()
	k, err := transfer.Key(trunk, d, cut)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	if len(k) < 32 {
		t.Fatalf("Key %q: too short", k)
	}
	return k
}

func nudge(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(1))) }

func TestKey(t *testing.T) {
	m := smallResNet(1)
	trunk, _, err := transfer.Cut(m, "")
	if err != nil {
		t.Fatal(err)
	}
	d := randomSet(1, 12, 3, 32, 32, 3)
	k := mustKey(t, trunk, d, "head")
	if k2 := mustKey(t, trunk, d, "head"); k2 != k {
		t.Error("Key is not deterministic")
	}
	// A copy of the model gives the same key: the key is the content.
	c, err := transfer.Copy(m)
	if err != nil {
		t.Fatal(err)
	}
	ctrunk, _, err := transfer.Cut(c, "")
	if err != nil {
		t.Fatal(err)
	}
	if mustKey(t, ctrunk, d, "head") != k {
		t.Error("a copy of the trunk has another key")
	}

	changes := []struct {
		name   string
		change func() (undo func())
	}{
		{"a trunk weight", func() func() {
			w := nn.Parameters(trunk)[3].Value.Value.Data()
			old := w[5]
			w[5] = nudge(old)
			return func() { w[5] = old }
		}},
		{"a BatchNorm running mean", func() func() {
			b := batchNorms(trunk)["layer2.1.bn2"].RunningMean.Value.Data()
			old := b[0]
			b[0] = nudge(old)
			return func() { b[0] = old }
		}},
		{"one data value", func() func() {
			i := len(d.X) - 1
			old := d.X[i]
			d.X[i] = nudge(old)
			return func() { d.X[i] = old }
		}},
		{"one label", func() func() {
			old := d.Labels[7]
			d.Labels[7] = (old + 1) % 3
			return func() { d.Labels[7] = old }
		}},
		{"the order of two examples", func() func() {
			e := 32 * 32 * 3
			swap := func() {
				for j := 0; j < e; j++ {
					d.X[j], d.X[e+j] = d.X[e+j], d.X[j]
				}
				d.Labels[0], d.Labels[1] = d.Labels[1], d.Labels[0]
			}
			swap()
			return swap
		}},
		{"one example fewer", func() func() {
			x, l := d.X, d.Labels
			d.X, d.Labels = d.X[:len(d.X)-32*32*3], d.Labels[:len(d.Labels)-1]
			return func() { d.X, d.Labels = x, l }
		}},
	}
	for _, c := range changes {
		undo := c.change()
		if mustKey(t, trunk, d, "head") == k {
			t.Errorf("Key unchanged after changing %s", c.name)
		}
		undo()
		if mustKey(t, trunk, d, "head") != k {
			t.Fatalf("Key not restored after undoing %s", c.name)
		}
	}
	for _, cut := range []string{"", "layer4", "head "} {
		if mustKey(t, trunk, d, cut) == k {
			t.Errorf("Key with cut %q equals the key with cut \"head\"", cut)
		}
	}
	// Another trunk of the same model (a different cut point) differs.
	t3, _, err := transfer.Cut(m, "layer3")
	if err != nil {
		t.Fatal(err)
	}
	if mustKey(t, t3, d, "head") == k {
		t.Error("the layer3 trunk has the key of the whole trunk")
	}
}

// digitsTrunk returns the MNIST trunk and 30 digits.
func digitsTrunk(t *testing.T) (nn.Layer, *data.Set) {
	t.Helper()
	trunk, _, err := transfer.Cut(loadBase(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return trunk, first(digits(t), 30)
}

func sameFeatures(t *testing.T, what string, got, want *transfer.Features) {
	t.Helper()
	if got.Len() != want.Len() || !slices.Equal(got.Shape, want.Shape) || got.Classes != want.Classes ||
		!slices.Equal(got.Labels, want.Labels) || !tensorcheck.BitsEqual(got.X, want.X) || got.Key != want.Key {
		t.Errorf("%s: features %d of %v (%d classes, key %.8s) differ from %d of %v (%d classes, key %.8s)", what,
			got.Len(), got.Shape, got.Classes, got.Key, want.Len(), want.Shape, want.Classes, want.Key)
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestCacheHits(t *testing.T) {
	ctx := context.Background()
	trunk, d := digitsTrunk(t)
	want, err := transfer.Extract(ctx, trunk, d, 16)
	if err != nil {
		t.Fatal(err)
	}
	want.Key = mustKey(t, trunk, d, "head")

	// In memory only.
	mem := &transfer.Cache{}
	f, hit, err := mem.Extract(ctx, trunk, d, "head", 16)
	if err != nil || hit {
		t.Fatalf("first Extract: hit %v, %v", hit, err)
	}
	sameFeatures(t, "computed", f, want)
	f, hit, err = mem.Extract(ctx, trunk, d, "head", 16)
	if err != nil || !hit {
		t.Fatalf("second Extract: hit %v, %v", hit, err)
	}
	sameFeatures(t, "from memory", f, want)
	if _, hit, _ := mem.Extract(ctx, trunk, d, "other", 16); hit {
		t.Error("another cut name hit the cache")
	}
	if _, hit, _ := mem.Extract(ctx, trunk, first(d, 29), "head", 16); hit {
		t.Error("other data hit the cache")
	}

	// On disk: a fresh Cache over the same directory reads what the first
	// one wrote.
	dir := t.TempDir()
	c1 := &transfer.Cache{Dir: dir}
	if _, hit, err := c1.Extract(ctx, trunk, d, "head", 16); err != nil || hit {
		t.Fatalf("disk cache, first Extract: hit %v, %v", hit, err)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 || !strings.HasSuffix(files[0], ".safetensors") {
		t.Fatalf("cache directory holds %v, want one safetensors file", files)
	}
	c2 := &transfer.Cache{Dir: dir}
	f, hit, err = c2.Extract(ctx, trunk, d, "head", 16)
	if err != nil || !hit {
		t.Fatalf("fresh Cache over the directory: hit %v, %v", hit, err)
	}
	sameFeatures(t, "from disk", f, want)

	// A changed trunk misses and writes a second file.
	w := nn.Parameters(trunk)[0].Value.Value.Data()
	w[0] = nudge(w[0])
	c3 := &transfer.Cache{Dir: dir}
	f, hit, err = c3.Extract(ctx, trunk, d, "head", 16)
	if err != nil || hit {
		t.Fatalf("changed trunk: hit %v, %v", hit, err)
	}
	if f.Key == want.Key {
		t.Error("changed trunk: same key")
	}
	if n := len(cacheFiles(t, dir)); n != 2 {
		t.Errorf("%d cache files after two keys, want 2", n)
	}
}

// checkNotStale runs a fresh Cache over dir and accepts an error or
// freshly computed features, never what the bad file holds.
func checkNotStale(t *testing.T, what, dir string, trunk nn.Layer, d nn.Dataset, want *transfer.Features) {
	t.Helper()
	var f *transfer.Features
	var hit bool
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s: Extract panicked: %v", what, r)
			}
		}()
		f, hit, err = (&transfer.Cache{Dir: dir}).Extract(context.Background(), trunk, d, "head", 16)
	}()
	if err != nil {
		t.Logf("%s: error (accepted): %v", what, err)
		return
	}
	if f == nil {
		return
	}
	if hit {
		t.Errorf("%s: reported a cache hit", what)
	}
	sameFeatures(t, what, f, want)
	// A head must be able to train on what came back.
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s: loading the features panicked: %v", what, r)
			}
		}()
		x := make([]float32, 128*f.Len())
		if err := f.Load(x, nil, seqIdx(f.Len())); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}()
}

func seqIdx(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestCacheBadFiles(t *testing.T) {
	ctx := context.Background()
	trunk, d := digitsTrunk(t)
	other := first(digits(t), 29)
	key := mustKey(t, trunk, d, "head")
	want, err := transfer.Extract(ctx, trunk, d, 16)
	if err != nil {
		t.Fatal(err)
	}
	want.Key = key

	// Learn the file names of both data sets' features.
	ref := t.TempDir()
	if _, _, err := (&transfer.Cache{Dir: ref}).Extract(ctx, trunk, d, "head", 16); err != nil {
		t.Fatal(err)
	}
	name := cacheFiles(t, ref)[0]
	good, err := os.ReadFile(filepath.Join(ref, name))
	if err != nil {
		t.Fatal(err)
	}
	oref := t.TempDir()
	if _, _, err := (&transfer.Cache{Dir: oref}).Extract(ctx, trunk, other, "head", 16); err != nil {
		t.Fatal(err)
	}
	otherFile, err := os.ReadFile(filepath.Join(oref, cacheFiles(t, oref)[0]))
	if err != nil {
		t.Fatal(err)
	}

	write := func(t *testing.T, b []byte) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("another key's file", func(t *testing.T) {
		checkNotStale(t, "another key's file", write(t, otherFile), trunk, d, want)
	})
	for _, n := range []int{0, 7, 100, len(good) / 2, len(good) - 1} {
		checkNotStale(t, "truncated file", write(t, good[:n]), trunk, d, want)
	}
	t.Run("flipped header byte", func(t *testing.T) {
		b := slices.Clone(good)
		b[12] ^= 0xff
		checkNotStale(t, "flipped header byte", write(t, b), trunk, d, want)
	})
	t.Run("good file", func(t *testing.T) {
		f, hit, err := (&transfer.Cache{Dir: write(t, good)}).Extract(ctx, trunk, d, "head", 16)
		if err != nil || !hit {
			t.Fatalf("a copy of the good file: hit %v, %v", hit, err)
		}
		sameFeatures(t, "good file", f, want)
	})
}

// forged writes a cache file under the right name that carries the right
// key but contents that cannot be the key's features.
func forged(t *testing.T, name string, key string, x, labels *safetensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	file := &safetensors.File{
		Tensors:  map[string]*safetensors.Tensor{"x": x, "labels": labels},
		Metadata: map[string]string{"key": key, "classes": "10"},
	}
	if err := safetensors.WriteFile(filepath.Join(dir, name), file); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A cache file that carries the right key but does not hold one row of
// features per example (a file damaged or written by a buggy or older
// writer) must be rejected or recomputed: the examples and the features
// would not line up, and a head would train on a short or wrong set.
func TestCacheRejectsInconsistentFile(t *testing.T) {
	ctx := context.Background()
	trunk, d := digitsTrunk(t)
	key := mustKey(t, trunk, d, "head")
	want, err := transfer.Extract(ctx, trunk, d, 16)
	if err != nil {
		t.Fatal(err)
	}
	want.Key = key
	ref := t.TempDir()
	if _, _, err := (&transfer.Cache{Dir: ref}).Extract(ctx, trunk, d, "head", 16); err != nil {
		t.Fatal(err)
	}
	name := cacheFiles(t, ref)[0]

	labels := func(n int) *safetensors.Tensor {
		l := make([]int64, n)
		return &safetensors.Tensor{DType: safetensors.I64, Shape: []int{n}, I64: l}
	}
	t.Run("too few rows", func(t *testing.T) {
		x := &safetensors.Tensor{DType: safetensors.F32, Shape: []int{2, 128}, F32: make([]float32, 256)}
		checkNotStale(t, "2 rows for 30 examples", forged(t, name, key, x, labels(2)), trunk, d, want)
	})
	t.Run("integer features", func(t *testing.T) {
		x := &safetensors.Tensor{DType: safetensors.I64, Shape: []int{30, 128}, I64: make([]int64, 30*128)}
		checkNotStale(t, "I64 features", forged(t, name, key, x, labels(30)), trunk, d, want)
	})
}
