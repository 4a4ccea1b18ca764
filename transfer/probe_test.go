package transfer

import (
	"context"
	"slices"
	"testing"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// synthetic returns n examples per class of classes classes in d
// dimensions: class c is a unit spike on dimension c plus noise of
// scale noise (separable), or, when noise < 0, pure noise.
func synthetic(n, classes, d int, noise float64, seed uint64) *Features {
	f := &Features{Shape: []int{d}, Classes: classes}
	r := seed*0x9e3779b97f4a7c15 + 1
	rnd := func() float64 {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		return float64(r%1_000_000)/1_000_000 - 0.5
	}
	for i := 0; i < n*classes; i++ {
		l := i % classes
		for j := 0; j < d; j++ {
			v := rnd()
			if noise >= 0 {
				v *= noise
				if j == l {
					v += 1
				}
			}
			f.X = append(f.X, float32(v))
		}
		f.Labels = append(f.Labels, l)
	}
	return f
}

func TestLinearProbe(t *testing.T) {
	if acc := linearProbe(synthetic(20, 4, 50, 0.3, 1), 5, 1); acc < 0.95 {
		t.Errorf("separable classes: linear probe %.3f, want ≥ 0.95", acc)
	}
	// noise: cross-validation keeps the probe near chance (0.25) even
	// with more dimensions than examples, where a fit on all would be perfect
	if acc := linearProbe(synthetic(20, 4, 200, -1, 2), 5, 1); acc > 0.5 {
		t.Errorf("pure noise: linear probe %.3f, want near 0.25", acc)
	}
	if acc := linearProbe(synthetic(1, 1, 3, 0, 1), 5, 1); acc != 0 {
		t.Errorf("one example: %.3f", acc)
	}
}

func TestPooled(t *testing.T) {
	f := &Features{Shape: []int{130, 130, 1}, Classes: 2, Labels: []int{0}}
	f.X = make([]float32, 130*130)
	for i := range f.X {
		f.X[i] = float32(i % 2) // columns alternate 0, 1: every 2×2 mean is 0.5
	}
	p := pooled(f)
	if prod(p.Shape) > maxProbeDims || p.Shape[2] != 1 || p.Shape[0] != 32 {
		t.Fatalf("pooled shape %v", p.Shape)
	}
	for _, v := range p.X {
		if v != 0.5 {
			t.Fatalf("pooled value %v, want 0.5", v)
		}
	}
	flat := &Features{Shape: []int{5000}, X: make([]float32, 5000), Labels: []int{0}}
	if pooled(flat) != flat {
		t.Error("flat features were pooled")
	}
}

// LayerFeatures' one pass gives, at every cut, what the trunk below it
// gives on its own, and a second call comes from the cache.
func TestLayerFeaturesOnePass(t *testing.T) {
	m := models.MNISTCNN(models.Options{Seed: 3})
	d := synthetic(3, 2, 28*28, 1, 4)
	d.Shape = []int{28, 28, 1}
	c := &Cache{}
	feats, err := LayerFeatures(context.Background(), m, d, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != len(m.Groups)-1 {
		t.Fatalf("%d cuts, want %d", len(feats), len(m.Groups)-1)
	}
	for i, b := range boundaries(m) {
		trunk, _, err := Cut(m, b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Extract(context.Background(), trunk, d, 4)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(feats[i].X, want.X) || len(feats[i].Labels) != d.Len() {
			t.Errorf("below %s: the one pass differs from the trunk's own", b)
		}
	}
	again, err := LayerFeatures(context.Background(), m, d, c)
	if err != nil {
		t.Fatal(err)
	}
	if again[1] != feats[1] {
		t.Error("a second probe of the same data was not served from the cache")
	}
	var _ nn.Dataset = feats[0]
}

func TestHasBatchNorm(t *testing.T) {
	if hasBatchNorm(models.MNISTCNN(models.Options{})) || !hasBatchNorm(models.ResNet18CIFAR(models.Options{Width: 0.125})) {
		t.Error("hasBatchNorm")
	}
}
