package transfer_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

// Fixtures shared by the package's tests. The MNIST CNN is trained by
// graft on MNIST (testdata/mnistcnn/README.md); the digits are
// scikit-learn's 8×8 digits scaled to MNIST's 28×28 layout.
const (
	baseCheckpoint = "../testdata/mnistcnn/mnistcnn.safetensors"
	digitsPath     = "../testdata/digits/digits.csv.gz"
)

// loadBase returns a fresh MNIST CNN loaded from the checkpoint.
func loadBase(t testing.TB) *models.Model {
	t.Helper()
	m, meta, err := transfer.FromCheckpoint(baseCheckpoint)
	if err != nil {
		t.Fatalf("FromCheckpoint: %v", err)
	}
	if meta.Arch != "mnistcnn" || m.Arch != "mnistcnn" {
		t.Fatalf("FromCheckpoint: arch %q (meta %q), want mnistcnn", m.Arch, meta.Arch)
	}
	return m
}

var digitsOnce = sync.OnceValues(func() (*data.Set, error) { return data.LoadDigits(digitsPath) })

// digits returns the whole digits set (shared: do not modify it).
func digits(t testing.TB) *data.Set {
	t.Helper()
	d, err := digitsOnce()
	if err != nil {
		t.Fatalf("LoadDigits: %v", err)
	}
	return d
}

// digitsShot returns k digits per class and the rest (seeded split).
func digitsShot(t testing.TB, k int, seed uint64) (shot, rest *data.Set) {
	t.Helper()
	shot, rest, err := digits(t).FewShotSplit(k, seed)
	if err != nil {
		t.Fatalf("FewShotSplit(%d, %d): %v", k, seed, err)
	}
	return shot, rest
}

var fashionOnce = sync.OnceValues(func() (*data.Set, error) {
	train, _, err := data.FashionMNIST()
	return train, err
})

// fashion returns Fashion-MNIST's training set, or skips the test when the
// dataset is not installed.
func fashion(t testing.TB) *data.Set {
	t.Helper()
	d, err := fashionOnce()
	if err != nil {
		t.Skipf("Fashion-MNIST not available (install it with `apt-get install -y dataset-fashion-mnist`): %v", err)
	}
	return d
}

// first returns the first n examples of s (a copy).
func first(s *data.Set, n int) *data.Set {
	idx := make([]int, min(n, s.Len()))
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// randomSet returns n random examples of the shape with labels i mod classes.
func randomSet(seed uint64, n, classes int, shape ...int) *data.Set {
	e := 1
	for _, d := range shape {
		e *= d
	}
	s := &data.Set{X: tensor.RandNormal(seed, 0, 1, n*e).Data(), Labels: make([]int, n), Shape: shape}
	for i := range s.Labels {
		s.Labels[i] = i % classes
	}
	for c := 0; c < classes; c++ {
		s.Classes = append(s.Classes, string(rune('a'+c)))
	}
	return s
}

// smallResNet is ResNet-18 (CIFAR stem) at width 0.125: 8 base channels,
// BatchNorms and residual blocks with downsampling shortcuts.
func smallResNet(seed uint64) *models.Model {
	return models.ResNet18CIFAR(models.Options{Width: 0.125, Seed: seed})
}

// batchNorms returns the model's BatchNorm layers by dotted name.
func batchNorms(m nn.Layer) map[string]*nn.BatchNorm {
	out := map[string]*nn.BatchNorm{}
	nn.Walk(m, func(name string, l nn.Layer) {
		if bn, ok := l.(*nn.BatchNorm); ok {
			out[name] = bn
		}
	})
	return out
}

// under reports whether the dotted name is one of the prefixes or below one.
func under(name string, prefixes ...string) bool {
	for _, p := range prefixes {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// groupsBelow returns the layer names of the model's groups below n.
func groupsBelow(m *models.Model, n int) []string {
	var out []string
	for _, g := range m.Groups[:n] {
		out = append(out, g...)
	}
	return out
}

// trainableFlags records every parameter's Trainable flag.
func trainableFlags(m nn.Layer) map[string]bool {
	out := map[string]bool{}
	for _, p := range nn.Parameters(m) {
		out[p.Name] = p.Value.Trainable
	}
	return out
}

// freezeStatsFlags records every BatchNorm's FreezeStats switch.
func freezeStatsFlags(m nn.Layer) map[string]bool {
	out := map[string]bool{}
	for name, bn := range batchNorms(m) {
		out[name] = bn.FreezeStats
	}
	return out
}
