package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/graftml/graft/nn/safetensors"
)

// weight is one dequantized tensor of the manifest.
type weight struct {
	name  string
	shape []int
	data  []float32
	used  bool
}

// weights are a manifest's tensors by "<layer>/<variable>".
type weights map[string]*weight

// readWeights reads every manifest group's shards (concatenated, in
// order) and cuts them into its tensors.
func readWeights(groups []manifestGroup, shard func(string) ([]byte, error)) (weights, error) {
	out := weights{}
	for gi, g := range groups {
		var buf []byte
		for _, p := range g.Paths {
			b, err := shard(p)
			if err != nil {
				return nil, fmt.Errorf("weight shard %q: %v", p, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, s := range g.Weights {
			n := 1
			for _, d := range s.Shape {
				if d < 0 || (d > 0 && n > len(buf)/d) {
					return nil, fmt.Errorf("weight %q: shape %v larger than its shards", s.Name, s.Shape)
				}
				n *= d
			}
			size, dt := 4, s.DType
			if s.Quantization != nil {
				dt = s.Quantization.DType
				switch dt {
				case "uint8":
					size = 1
				case "uint16", "float16":
					size = 2
				default:
					return nil, fmt.Errorf("weight %q: quantization dtype %q", s.Name, dt)
				}
				if dt != "float16" && (s.Quantization.Min == nil || s.Quantization.Scale == nil) {
					return nil, fmt.Errorf("weight %q: quantization without min and scale", s.Name)
				}
				if s.DType != "float32" {
					return nil, fmt.Errorf("weight %q: quantized %s (only float32 is dequantized)", s.Name, s.DType)
				}
			} else if dt != "float32" && dt != "int32" {
				return nil, fmt.Errorf("weight %q: dtype %q", s.Name, dt)
			}
			if n > (len(buf)-off)/size {
				return nil, fmt.Errorf("weight %q (%v, %s) runs past the end of group %d's %d bytes", s.Name, s.Shape, dt, gi+1, len(buf))
			}
			b := buf[off : off+n*size]
			off += n * size
			data := make([]float32, n)
			switch dt {
			case "float32":
				for i := range data {
					data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case "int32":
				for i := range data {
					data[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
				}
			case "float16":
				for i := range data {
					data[i] = safetensors.HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
				}
			default:
				// As tfjs-core's dequantization: v·scale + min in
				// double precision, stored as float32.
				scale, lo := *s.Quantization.Scale, *s.Quantization.Min
				for i := range data {
					var q float64
					if size == 1 {
						q = float64(b[i])
					} else {
						q = float64(binary.LittleEndian.Uint16(b[2*i:]))
					}
					data[i] = float32(q*scale + lo)
				}
			}
			key := weightKey(s.Name)
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("two weights named %q", key)
			}
			out[key] = &weight{name: s.Name, shape: s.Shape, data: data}
		}
		if off != len(buf) {
			return nil, fmt.Errorf("weight group %d: %d bytes of shards, the manifest uses %d", gi+1, len(buf), off)
		}
	}
	return out, nil
}

// weightKey is a weight's "<layer>/<variable>": the last two parts of
// its name (tfjs-converter may prefix the model's name), without a ":0"
// suffix.
func weightKey(name string) string {
	name, _, _ = strings.Cut(name, ":")
	parts := strings.Split(name, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

// take returns layer's variable, checked against shape (nil: any shape of
// rank len(shape)); missing is an error unless optional.
func (w weights) take(layer, variable string, shape []int) (*weight, error) {
	t, ok := w[layer+"/"+variable]
	if !ok {
		return nil, fmt.Errorf("layer %q: no weight %s/%s in the manifest", layer, layer, variable)
	}
	if len(t.shape) != len(shape) {
		return nil, fmt.Errorf("layer %q: weight %s has shape %v, want rank %d", layer, t.name, t.shape, len(shape))
	}
	for i, d := range shape {
		if d >= 0 && t.shape[i] != d {
			return nil, fmt.Errorf("layer %q: weight %s has shape %v, want %v", layer, t.name, t.shape, shape)
		}
	}
	t.used = true
	return t, nil
}
