package transfer

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
)

// ProbePoint is how well one layer's features separate the target's
// classes: a point of the layer-wise probe's curve.
type ProbePoint struct {
	// Cut is the layer the features are taken below ("" for pixels, the
	// input itself); Groups how many layer groups lie below it.
	Cut    string `json:"cut"`
	Groups int    `json:"groups"`
	// Dims is the length of a feature vector as probed (maps larger than
	// maxProbeDims are average-pooled 2×2 until they fit).
	Dims int `json:"dims"`
	// Linear is the cross-validated accuracy of a linear probe (ridge
	// regression onto the classes, ProbeFolds folds); Centroid the
	// leave-one-out accuracy of the nearest class centroid.
	Linear   float64 `json:"linear"`
	Centroid float64 `json:"centroid"`
}

// Name is the point's label: its cut, or "pixels".
func (p ProbePoint) Name() string {
	if p.Groups == 0 {
		return "pixels"
	}
	return p.Cut
}

// ProbeFolds is the number of folds of the linear probe's cross-validation.
const ProbeFolds = 5

// maxProbeDims bounds the features a probe reads per example: larger maps
// are average-pooled 2×2 (spatially) until they fit, so a probe costs
// about as much at every layer.
const maxProbeDims = 4096

// boundaries returns the layers at which each layer group above the first
// starts: cutting there leaves 1, 2, … groups below.
func boundaries(m *models.Model) []string {
	var b []string
	for _, g := range m.Groups[1:] {
		b = append(b, g[0])
	}
	return b
}

// segments splits m's trunk at the group boundaries into consecutive
// pieces: the first maps pixels to the features below boundary 0, each
// next one those to the features below the next boundary.
func segments(m *models.Model) ([]*nn.Sequential, error) {
	bs := boundaries(m)
	segs := make([]*nn.Sequential, len(bs))
	for i, b := range bs {
		trunk, _, err := Cut(m, b)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			segs[i] = trunk
			continue
		}
		below, seg := nn.NewSequential(), nn.NewSequential()
		if err := cutSeq(trunk, bs[i-1], below, seg); err != nil {
			return nil, fmt.Errorf("transfer: group boundary %q: %w", bs[i-1], err)
		}
		segs[i] = seg
	}
	return segs, nil
}

// LayerFeatures returns the base's features of d below every group
// boundary (index i: i+1 groups below), from one forward pass in
// inference mode, through the cache when c is not nil (keyed by the
// trunk below each cut and the data, as Cache.Extract is). Errors are as
// Extract's.
func LayerFeatures(ctx context.Context, base *models.Model, d nn.Dataset, c *Cache) (_ []*Features, err error) {
	defer tensor.RecoverDevice("transfer: probing layers", &err)
	bs := boundaries(base)
	segs, err := segments(base)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(bs))
	out := make([]*Features, len(bs))
	hits := 0
	if c != nil {
		for i, b := range bs {
			trunk, _, err := Cut(base, b)
			if err != nil {
				return nil, err
			}
			if keys[i], err = Key(trunk, d, b); err != nil {
				return nil, err
			}
			c.mu.Lock()
			if f, ok := c.mem[keys[i]]; ok {
				out[i] = f
				hits++
			}
			c.mu.Unlock()
		}
		if hits == len(bs) {
			return out, nil
		}
	}
	const batch = 256
	b := nn.NewBatcher(d, batch)
	for i := range out {
		out[i] = &Features{Classes: d.NumClasses(), Key: keys[i]}
	}
	for s := 0; s < d.Len(); s += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := make([]int, 0, batch)
		for i := s; i < min(s+batch, d.Len()); i++ {
			idx = append(idx, i)
		}
		x, labels, err := b.Batch(idx)
		if err != nil {
			return nil, fmt.Errorf("transfer: probing layers: %w", err)
		}
		var y *tensor.Tensor = x
		for i, seg := range segs {
			if y, err = nn.Predict(seg, y); err != nil {
				return nil, fmt.Errorf("transfer: probing layers below %s: %w", bs[i], err)
			}
			f := out[i]
			if f.Shape == nil {
				f.Shape = append([]int(nil), y.Shape()[1:]...)
			}
			f.X = append(f.X, y.Data()...)
			f.Labels = append(f.Labels, labels...)
		}
	}
	if c != nil {
		for i := range out {
			c.put(keys[i], out[i])
		}
	}
	return out, nil
}

// Probe scores the base's features of the probe set below every group
// boundary, and the pixels, by a cross-validated linear probe and the
// nearest centroid: the layer-wise curve of how specific the base's
// layers are to its own task (Yosinski et al. 2014 measured it by
// retraining; a probe reads it off the frozen features, Alain & Bengio
// 2016). The first point is the pixels'.
func Probe(ctx context.Context, base *models.Model, probe *Features, c *Cache, seed uint64) ([]ProbePoint, error) {
	feats, err := LayerFeatures(ctx, base, probe, c)
	if err != nil {
		return nil, err
	}
	bs := boundaries(base)
	points := []ProbePoint{scoreFeatures("", 0, probe, seed)}
	for i, f := range feats {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		points = append(points, scoreFeatures(bs[i], i+1, f, seed))
	}
	return points, nil
}

func scoreFeatures(cut string, groups int, f *Features, seed uint64) ProbePoint {
	p := pooled(f)
	return ProbePoint{Cut: cut, Groups: groups, Dims: prod(p.Shape), Linear: linearProbe(p, ProbeFolds, seed), Centroid: nearestCentroidLOO(p)}
}

// pooled average-pools an [H, W, C] feature map 2×2 until it has at most
// maxProbeDims values (flat features are returned as they are).
func pooled(f *Features) *Features {
	for len(f.Shape) == 3 && prod(f.Shape) > maxProbeDims && f.Shape[0] >= 2 && f.Shape[1] >= 2 {
		h, w, c := f.Shape[0], f.Shape[1], f.Shape[2]
		nh, nw := h/2, w/2
		g := &Features{Shape: []int{nh, nw, c}, Labels: f.Labels, Classes: f.Classes}
		g.X = make([]float32, f.Len()*nh*nw*c)
		for n := 0; n < f.Len(); n++ {
			src, dst := f.X[n*h*w*c:(n+1)*h*w*c], g.X[n*nh*nw*c:(n+1)*nh*nw*c]
			for y := 0; y < nh; y++ {
				for x := 0; x < nw; x++ {
					for ch := 0; ch < c; ch++ {
						s := src[((2*y)*w+2*x)*c+ch] + src[((2*y)*w+2*x+1)*c+ch] + src[((2*y+1)*w+2*x)*c+ch] + src[((2*y+1)*w+2*x+1)*c+ch]
						dst[(y*nw+x)*c+ch] = s / 4
					}
				}
			}
		}
		f = g
	}
	return f
}

// zscored returns f's examples as rows of a matrix, each dimension
// centred and scaled to unit variance over the examples (constant
// dimensions become 0).
func zscored(f *Features) *mat.Dense {
	n, d := f.Len(), prod(f.Shape)
	z := mat.NewDense(n, d, nil)
	for j := 0; j < d; j++ {
		var mean, ss float64
		for i := 0; i < n; i++ {
			mean += float64(f.X[i*d+j])
		}
		mean /= float64(n)
		for i := 0; i < n; i++ {
			v := float64(f.X[i*d+j]) - mean
			ss += v * v
		}
		sd := math.Sqrt(ss/float64(n)) + 1e-6
		for i := 0; i < n; i++ {
			z.Set(i, j, (float64(f.X[i*d+j])-mean)/sd)
		}
	}
	return z
}

// linearProbe returns the k-fold cross-validated accuracy of ridge
// regression from z-scored features onto centred one-hot classes (a
// linear classifier with a closed form, in its kernel form since a probe
// set has fewer examples than dimensions), the best of three penalties
// (0.01, 0.1 and 1 times the mean squared norm of an example). Folds are
// stratified: the i-th example of a class (in a seeded order) goes to
// fold i mod k.
func linearProbe(f *Features, k int, seed uint64) float64 {
	n := f.Len()
	if n < 2 || f.Classes < 2 {
		return 0
	}
	z := zscored(f)
	var g mat.Dense
	g.Mul(z, z.T())
	fold := make([]int, n)
	seen := make([]int, f.Classes)
	order := seq(n)
	r := seed*0x9e3779b97f4a7c15 + 7
	for i := n - 1; i > 0; i-- {
		r ^= r << 13
		r ^= r >> 7
		r ^= r << 17
		j := int(r % uint64(i+1))
		order[i], order[j] = order[j], order[i]
	}
	for _, i := range order {
		l := f.Labels[i]
		fold[i] = seen[l] % k
		seen[l]++
	}
	var trace float64
	for i := 0; i < n; i++ {
		trace += g.At(i, i)
	}
	best := 0.0
	for _, scale := range []float64{0.01, 0.1, 1} {
		lambda := scale * trace / float64(n)
		correct := 0
		for fo := 0; fo < k; fo++ {
			var tr, te []int
			for i := 0; i < n; i++ {
				if fold[i] == fo {
					te = append(te, i)
				} else {
					tr = append(tr, i)
				}
			}
			if len(te) == 0 || len(tr) == 0 {
				continue
			}
			ktr := mat.NewSymDense(len(tr), nil)
			for a, i := range tr {
				for b := a; b < len(tr); b++ {
					v := g.At(i, tr[b])
					if a == b {
						v += lambda
					}
					ktr.SetSym(a, b, v)
				}
			}
			y := mat.NewDense(len(tr), f.Classes, nil)
			for a, i := range tr {
				for c := 0; c < f.Classes; c++ {
					v := -1 / float64(f.Classes)
					if f.Labels[i] == c {
						v += 1
					}
					y.Set(a, c, v)
				}
			}
			var ch mat.Cholesky
			if !ch.Factorize(ktr) {
				continue
			}
			var alpha mat.Dense
			if err := ch.SolveTo(&alpha, y); err != nil {
				continue
			}
			kte := mat.NewDense(len(te), len(tr), nil)
			for a, i := range te {
				for b, j := range tr {
					kte.Set(a, b, g.At(i, j))
				}
			}
			var pred mat.Dense
			pred.Mul(kte, &alpha)
			for a, i := range te {
				bc, bv := 0, math.Inf(-1)
				for c := 0; c < f.Classes; c++ {
					if v := pred.At(a, c); v > bv {
						bc, bv = c, v
					}
				}
				if bc == f.Labels[i] {
					correct++
				}
			}
		}
		best = math.Max(best, float64(correct)/float64(n))
	}
	return best
}
