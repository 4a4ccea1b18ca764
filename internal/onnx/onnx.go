// Package onnx decodes the parts of ONNX files that graft's conformance
// tests read: a model's graph nodes with their attributes, and TensorProto
// files (float, integer and boolean tensors). It is a small reader of the
// protobuf wire format, not a general protobuf library; malformed input
// gives an error, never a panic.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// Model is the decoded subset of an ONNX ModelProto.
type Model struct {
	Opset int64 // version of the default ("" or "ai.onnx") operator set
	Nodes []Node
	// Initializers are the graph's constant tensors, by name.
	Initializers map[string]*Tensor
	Inputs       []string // graph input names, in order
	Outputs      []string // graph output names, in order
}

// Node is one graph node.
type Node struct {
	OpType, Domain string
	Inputs         []string
	Outputs        []string
	Attrs          map[string]Attr
}

// Attr is a node attribute; the field its type uses is set.
type Attr struct {
	F       float32
	I       int64
	S       string
	T       *Tensor
	Floats  []float32
	Ints    []int64
	Strings []string
	Type    int64
}

// Data types of TensorProto.
const (
	Float   = 1
	Uint8   = 2
	Int8    = 3
	Int32   = 6
	Int64   = 7
	Bool    = 9
	Float16 = 10
	Double  = 11
)

// Tensor is a decoded TensorProto. Values are converted to float64 for
// every numeric type (exact for all types but 64-bit integers beyond 2^53).
type Tensor struct {
	Name     string
	Dims     []int
	DataType int32
	Values   []float64
}

// ReadModel decodes the ONNX model file at path.
func ReadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := DecodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadTensor decodes the TensorProto file at path.
func ReadTensor(path string) (*Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := DecodeTensor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// field is one decoded protobuf field.
type field struct {
	num  int
	wire int
	v    uint64 // varint, fixed32 or fixed64 value
	b    []byte // length-delimited payload
}

var errTruncated = errors.New("onnx: truncated protobuf")

// fields splits a protobuf message into its fields.
func fields(b []byte) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errTruncated
		}
		b = b[n:]
		f := field{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errTruncated
			}
			f.v, b = v, b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errTruncated
			}
			f.v, b = binary.LittleEndian.Uint64(b), b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, errTruncated
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return nil, errTruncated
			}
			f.v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		default:
			return nil, fmt.Errorf("onnx: unsupported wire type %d for field %d", f.wire, f.num)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// DecodeModel decodes a ModelProto.
func DecodeModel(b []byte) (*Model, error) {
	fs, err := fields(b)
	if err != nil {
		return nil, err
	}
	m := &Model{Initializers: map[string]*Tensor{}}
	for _, f := range fs {
		switch {
		case f.num == 7 && f.wire == 2: // graph
			if err := decodeGraph(f.b, m); err != nil {
				return nil, err
			}
		case f.num == 8 && f.wire == 2: // opset_import
			ofs, err := fields(f.b)
			if err != nil {
				return nil, err
			}
			var domain string
			var version int64
			for _, of := range ofs {
				switch of.num {
				case 1:
					domain = string(of.b)
				case 2:
					version = int64(of.v)
				}
			}
			if domain == "" || domain == "ai.onnx" {
				m.Opset = version
			}
		}
	}
	return m, nil
}

func decodeGraph(b []byte, m *Model) error {
	fs, err := fields(b)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.wire != 2 {
			continue
		}
		switch f.num {
		case 1:
			n, err := decodeNode(f.b)
			if err != nil {
				return err
			}
			m.Nodes = append(m.Nodes, n)
		case 5:
			t, err := DecodeTensor(f.b)
			if err != nil {
				return err
			}
			m.Initializers[t.Name] = t
		case 11, 12: // input, output ValueInfoProto: name is field 1
			vfs, err := fields(f.b)
			if err != nil {
				return err
			}
			for _, vf := range vfs {
				if vf.num == 1 && vf.wire == 2 {
					if f.num == 11 {
						m.Inputs = append(m.Inputs, string(vf.b))
					} else {
						m.Outputs = append(m.Outputs, string(vf.b))
					}
				}
			}
		}
	}
	return nil
}

func decodeNode(b []byte) (Node, error) {
	n := Node{Attrs: map[string]Attr{}}
	fs, err := fields(b)
	if err != nil {
		return n, err
	}
	for _, f := range fs {
		switch f.num {
		case 1:
			n.Inputs = append(n.Inputs, string(f.b))
		case 2:
			n.Outputs = append(n.Outputs, string(f.b))
		case 4:
			n.OpType = string(f.b)
		case 7:
			n.Domain = string(f.b)
		case 5:
			name, a, err := decodeAttr(f.b)
			if err != nil {
				return n, err
			}
			n.Attrs[name] = a
		}
	}
	return n, nil
}

func decodeAttr(b []byte) (string, Attr, error) {
	var a Attr
	var name string
	fs, err := fields(b)
	if err != nil {
		return "", a, err
	}
	for _, f := range fs {
		switch f.num {
		case 1:
			name = string(f.b)
		case 2:
			a.F = math.Float32frombits(uint32(f.v))
		case 3:
			a.I = int64(f.v)
		case 4:
			a.S = string(f.b)
		case 5:
			if a.T, err = DecodeTensor(f.b); err != nil {
				return "", a, err
			}
		case 7:
			if f.wire == 2 {
				fl, err := packedFixed32(f.b)
				if err != nil {
					return "", a, err
				}
				a.Floats = append(a.Floats, fl...)
			} else {
				a.Floats = append(a.Floats, math.Float32frombits(uint32(f.v)))
			}
		case 8:
			if f.wire == 2 {
				vs, err := packedVarints(f.b)
				if err != nil {
					return "", a, err
				}
				for _, v := range vs {
					a.Ints = append(a.Ints, int64(v))
				}
			} else {
				a.Ints = append(a.Ints, int64(f.v))
			}
		case 9:
			a.Strings = append(a.Strings, string(f.b))
		case 20:
			a.Type = int64(f.v)
		}
	}
	return name, a, nil
}

func packedFixed32(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errTruncated
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

func packedVarints(b []byte) ([]uint64, error) {
	var out []uint64
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errTruncated
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// DecodeTensor decodes a TensorProto.
func DecodeTensor(b []byte) (*Tensor, error) {
	fs, err := fields(b)
	if err != nil {
		return nil, err
	}
	t := &Tensor{}
	var raw []byte
	var hasRaw bool
	var floats []float32
	var varints []uint64
	var doubles []float64
	for _, f := range fs {
		switch f.num {
		case 1:
			if f.wire == 2 {
				vs, err := packedVarints(f.b)
				if err != nil {
					return nil, err
				}
				for _, v := range vs {
					t.Dims = append(t.Dims, int(int64(v)))
				}
			} else {
				t.Dims = append(t.Dims, int(int64(f.v)))
			}
		case 2:
			t.DataType = int32(f.v)
		case 4: // float_data
			if f.wire == 2 {
				fl, err := packedFixed32(f.b)
				if err != nil {
					return nil, err
				}
				floats = append(floats, fl...)
			} else {
				floats = append(floats, math.Float32frombits(uint32(f.v)))
			}
		case 5, 7: // int32_data, int64_data
			if f.wire == 2 {
				vs, err := packedVarints(f.b)
				if err != nil {
					return nil, err
				}
				varints = append(varints, vs...)
			} else {
				varints = append(varints, f.v)
			}
		case 8:
			t.Name = string(f.b)
		case 9:
			raw, hasRaw = f.b, true
		case 10: // double_data
			if f.wire == 2 {
				if len(f.b)%8 != 0 {
					return nil, errTruncated
				}
				for i := 0; i < len(f.b); i += 8 {
					doubles = append(doubles, math.Float64frombits(binary.LittleEndian.Uint64(f.b[i:])))
				}
			} else {
				doubles = append(doubles, math.Float64frombits(f.v))
			}
		}
	}
	n := 1
	for _, d := range t.Dims {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return nil, fmt.Errorf("onnx: tensor %q has bad dims %v", t.Name, t.Dims)
		}
		n *= d
	}
	switch {
	case hasRaw:
		size := map[int32]int{Float: 4, Uint8: 1, Int8: 1, Int32: 4, Int64: 8, Bool: 1, Float16: 2, Double: 8}[t.DataType]
		if size == 0 {
			return nil, fmt.Errorf("onnx: tensor %q: unsupported data type %d", t.Name, t.DataType)
		}
		if len(raw) != n*size {
			return nil, fmt.Errorf("onnx: tensor %q: %d bytes of raw data for %d elements of %d bytes", t.Name, len(raw), n, size)
		}
		t.Values = make([]float64, n)
		for i := range t.Values {
			p := raw[i*size:]
			switch t.DataType {
			case Float:
				t.Values[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case Uint8, Bool:
				t.Values[i] = float64(p[0])
			case Int8:
				t.Values[i] = float64(int8(p[0]))
			case Int32:
				t.Values[i] = float64(int32(binary.LittleEndian.Uint32(p)))
			case Int64:
				t.Values[i] = float64(int64(binary.LittleEndian.Uint64(p)))
			case Float16:
				t.Values[i] = float64(halfToFloat(binary.LittleEndian.Uint16(p)))
			case Double:
				t.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(p))
			}
		}
	case len(floats) > 0:
		t.Values = make([]float64, len(floats))
		for i, v := range floats {
			t.Values[i] = float64(v)
		}
	case len(varints) > 0:
		t.Values = make([]float64, len(varints))
		for i, v := range varints {
			if t.DataType == Int64 {
				t.Values[i] = float64(int64(v))
			} else {
				t.Values[i] = float64(int32(v))
			}
		}
	case len(doubles) > 0:
		t.Values = doubles
	}
	if len(t.Values) != n {
		return nil, fmt.Errorf("onnx: tensor %q: %d values for dims %v", t.Name, len(t.Values), t.Dims)
	}
	return t, nil
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		return float32(math.Copysign(float64(mant)/1024/16384, float64(int32(sign>>31)*-2+1)))
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Float32s returns the values as float32.
func (t *Tensor) Float32s() []float32 {
	out := make([]float32, len(t.Values))
	for i, v := range t.Values {
		out[i] = float32(v)
	}
	return out
}
