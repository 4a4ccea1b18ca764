package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// Cut splits a model at a layer: the trunk is every layer before the
// named one (the input side, Keras's include_top=False), the head the
// named one and every layer after it. The name is a dotted layer name
// inside nested Sequentials ("layer4", "features.14"); "" cuts just below
// the model's head. Both halves share the model's layers (and weights).
func Cut(m *models.Model, at string) (trunk, head *nn.Sequential, err error) {
	if at == "" {
		if len(m.Head) == 0 {
			return nil, nil, fmt.Errorf("transfer: %s has no head to cut below", m.Arch)
		}
		at = m.Head[0]
	}
	trunk, head = nn.NewSequential(), nn.NewSequential()
	if err := cutSeq(m.Sequential, at, trunk, head); err != nil {
		return nil, nil, fmt.Errorf("transfer: cut %s at %q: %w", m.Arch, at, err)
	}
	return trunk, head, nil
}

// cutSeq appends s's layers before the dotted name to trunk and the rest
// to head, descending into a nested Sequential when the name does.
func cutSeq(s *nn.Sequential, at string, trunk, head *nn.Sequential) error {
	first, rest, nested := strings.Cut(at, ".")
	found := false
	for _, c := range s.Children() {
		switch {
		case found:
			head.Add(c.Name, c.Value)
		case c.Name != first:
			trunk.Add(c.Name, c.Value)
		default:
			found = true
			if !nested {
				head.Add(c.Name, c.Value)
				continue
			}
			w, ok := c.Value.(interface{ AsSequential() *nn.Sequential })
			if !ok {
				return fmt.Errorf("%q is not a Sequential, it cannot be cut inside", c.Name)
			}
			t, h := nn.NewSequential(), nn.NewSequential()
			if err := cutSeq(w.AsSequential(), rest, t, h); err != nil {
				return err
			}
			trunk.Add(c.Name, t)
			head.Add(c.Name, h)
		}
	}
	if !found {
		return fmt.Errorf("no layer %q", first)
	}
	return nil
}

// Features is a dataset of precomputed trunk outputs: examples of shape
// Shape (e.g. [84] after LeNet's fc2, [7, 7, 64] inside a CNN) with their
// labels. It implements nn.Dataset, so a head trains on it with nn.Fit.
type Features struct {
	X       []float32
	Labels  []int
	Shape   []int
	Classes int
	// Key identifies the trunk, data and cut the features came from.
	Key string
}

// Len returns the number of examples.
func (f *Features) Len() int { return len(f.Labels) }

// ExampleShape returns one feature example's shape.
func (f *Features) ExampleShape() []int { return f.Shape }

// NumClasses returns the number of classes.
func (f *Features) NumClasses() int { return f.Classes }

// Load copies the examples idx into x and their labels into labels.
func (f *Features) Load(x []float32, labels []int, idx []int) error {
	e := prod(f.Shape)
	if len(x) != len(idx)*e || (labels != nil && len(labels) != len(idx)) {
		return fmt.Errorf("transfer: Load of %d features of %d floats into %d floats and %d labels", len(idx), e, len(x), len(labels))
	}
	for j, i := range idx {
		if i < 0 || i >= f.Len() {
			return fmt.Errorf("transfer: feature index %d out of [0, %d)", i, f.Len())
		}
		copy(x[j*e:(j+1)*e], f.X[i*e:(i+1)*e])
		if labels != nil {
			labels[j] = f.Labels[i]
		}
	}
	return nil
}

// Extract runs the trunk once over the dataset in inference mode (running
// BatchNorm statistics, no dropout) and returns the features. A batch the
// trunk cannot take, and a failure on the GPU (the error wraps the
// *tensor.DeviceError, for errors.As), are errors; a bug panics on.
func Extract(ctx context.Context, trunk nn.Layer, d nn.Dataset, batch int) (_ *Features, err error) {
	defer tensor.RecoverDevice("transfer: extracting features", &err)
	if batch <= 0 {
		batch = 256
	}
	f := &Features{Classes: d.NumClasses()}
	b := nn.NewBatcher(d, batch)
	idx := make([]int, 0, batch)
	for s := 0; s < d.Len(); s += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx = idx[:0]
		for i := s; i < min(s+batch, d.Len()); i++ {
			idx = append(idx, i)
		}
		x, labels, err := b.Batch(idx)
		if err != nil {
			return nil, fmt.Errorf("transfer: extracting features: %w", err)
		}
		y, err := nn.Predict(trunk, x)
		if err != nil {
			return nil, fmt.Errorf("transfer: extracting features: %w", err)
		}
		if f.Shape == nil {
			f.Shape = append([]int(nil), y.Shape()[1:]...)
			f.X = make([]float32, 0, d.Len()*prod(f.Shape))
		}
		f.X = append(f.X, y.Data()...)
		f.Labels = append(f.Labels, labels...)
	}
	return f, nil
}

// Cache keeps extracted features in memory and, when Dir is set, on disk
// as safetensors files, keyed by a hash of the trunk's weights and
// buffers, the data (every example and label) and the cut point, so a
// changed model, dataset or cut never reuses stale features.
type Cache struct {
	Dir string

	mu  sync.Mutex
	mem map[string]*Features
}

// Key returns the cache key of a trunk, a dataset and a cut name.
func Key(trunk nn.Layer, d nn.Dataset, cut string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "graft features v1\ncut %q\n", cut)
	hashWeights(h, trunk)
	fmt.Fprintf(h, "data %d %v %d\n", d.Len(), d.ExampleShape(), d.NumClasses())
	e := prod(d.ExampleShape())
	const chunk = 256
	x := make([]float32, chunk*e)
	labels := make([]int, chunk)
	idx := make([]int, 0, chunk)
	var lb [8]byte
	for s := 0; s < d.Len(); s += chunk {
		idx = idx[:0]
		for i := s; i < min(s+chunk, d.Len()); i++ {
			idx = append(idx, i)
		}
		n := len(idx)
		if err := d.Load(x[:n*e], labels[:n], idx); err != nil {
			return "", fmt.Errorf("transfer: hashing the data: %w", err)
		}
		hashFloats(h, x[:n*e])
		for _, l := range labels[:n] {
			binary.LittleEndian.PutUint64(lb[:], uint64(l))
			h.Write(lb[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashWeights writes a layer's parameters and buffers into h: each one's
// name, shape and values.
func hashWeights(h hash.Hash, l nn.Layer) {
	for _, p := range nn.Parameters(l) {
		fmt.Fprintf(h, "param %s %v\n", p.Name, p.Value.Value.Shape())
		hashFloats(h, p.Value.Value.Data())
	}
	for _, b := range nn.Buffers(l) {
		fmt.Fprintf(h, "buffer %s %v\n", b.Name, b.Value.Value.Shape())
		hashFloats(h, b.Value.Value.Data())
	}
}

func hashFloats(h hash.Hash, v []float32) {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, f := range v[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
		}
		h.Write(buf[:4*n])
		v = v[n:]
	}
}

// Extract returns the trunk's features of the dataset from the cache, or
// computes and stores them; hit says whether they came from the cache.
// Errors are as Extract's.
func (c *Cache) Extract(ctx context.Context, trunk nn.Layer, d nn.Dataset, cut string, batch int) (f *Features, hit bool, err error) {
	defer tensor.RecoverDevice("transfer: extracting features", &err)
	key, err := Key(trunk, d, cut)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	if c.mem == nil {
		c.mem = map[string]*Features{}
	}
	f, hit = c.mem[key]
	c.mu.Unlock()
	if hit {
		return f, true, nil
	}
	if c.Dir != "" {
		f, err = readFeatures(c.path(key), key, d.Len())
		switch {
		case err == nil:
			c.put(key, f)
			return f, true, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, err
		}
	}
	f, err = Extract(ctx, trunk, d, batch)
	if err != nil {
		return nil, false, err
	}
	f.Key = key
	c.put(key, f)
	if c.Dir != "" {
		if err := writeFeatures(c.path(key), f); err != nil {
			return nil, false, err
		}
	}
	return f, false, nil
}

func (c *Cache) put(key string, f *Features) {
	c.mu.Lock()
	if c.mem == nil {
		c.mem = map[string]*Features{}
	}
	c.mem[key] = f
	c.mu.Unlock()
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, "features-"+key[:32]+".safetensors")
}

func writeFeatures(path string, f *Features) error {
	labels := make([]int64, len(f.Labels))
	for i, l := range f.Labels {
		labels[i] = int64(l)
	}
	shape := append([]int{f.Len()}, f.Shape...)
	file := &safetensors.File{
		Tensors: map[string]*safetensors.Tensor{
			"x":      {DType: safetensors.F32, Shape: shape, F32: f.X},
			"labels": {DType: safetensors.I64, Shape: []int{len(labels)}, I64: labels},
		},
		Metadata: map[string]string{"key": f.Key, "classes": fmt.Sprint(f.Classes)},
	}
	if err := safetensors.WriteFile(path, file); err != nil {
		return fmt.Errorf("transfer: feature cache: %w", err)
	}
	return nil
}

func readFeatures(path, key string, n int) (*Features, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	file, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transfer: feature cache: %w", err)
	}
	x, l := file.Tensors["x"], file.Tensors["labels"]
	var classes int
	_, serr := fmt.Sscan(file.Metadata["classes"], &classes)
	if file.Metadata["key"] != key || x == nil || l == nil || x.DType != safetensors.F32 || l.DType != safetensors.I64 ||
		len(x.Shape) < 1 || x.Shape[0] != n || len(l.I64) != n || len(x.F32) != prod(x.Shape) || serr != nil {
		return nil, fmt.Errorf("transfer: feature cache %s does not hold the features of key %s", path, key[:16])
	}
	f := &Features{X: x.F32, Shape: x.Shape[1:], Classes: classes, Key: key}
	for _, v := range l.I64 {
		if v < 0 || int(v) >= classes {
			return nil, fmt.Errorf("transfer: feature cache %s: label %d out of range", path, v)
		}
		f.Labels = append(f.Labels, int(v))
	}
	return f, nil
}
