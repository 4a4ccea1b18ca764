// Package onnx decodes the parts of ONNX files that graft reads: a
// model's graph (nodes with their names and attributes, initializers,
// inputs and outputs with their shapes), its operator sets and metadata,
// and TensorProto files (float, integer and boolean tensors). It is a
// small reader of the protobuf wire format, not a general protobuf
// library; malformed input gives an error, never a panic, and nothing is
// allocated beyond what the bytes hold: float tensors of a model keep
// their raw bytes (a view of the input) until Float32s converts them.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Model is the decoded subset of an ONNX ModelProto.
type Model struct {
	IRVersion int64
	Opset     int64 // version of the default ("" or "ai.onnx") operator set
	// Opsets maps every imported operator set's domain to its version.
	Opsets   map[string]int64
	Producer string // producer_name and producer_version
	Nodes    []Node
	// Initializers are the graph's constant tensors, by name, and
	// InitOrder their names in file order.
	Initializers map[string]*Tensor
	InitOrder    []string
	Inputs       []string // graph input names, in order
	Outputs      []string // graph output names, in order
	// Shapes holds the declared shapes of the graph's inputs and outputs
	// (−1 for a symbolic or unknown dimension), by name.
	Shapes map[string][]int
	// Metadata is the model's metadata_props.
	Metadata map[string]string
	// Sparse counts sparse initializers, which are not decoded.
	Sparse int
}

// Node is one graph node.
type Node struct {
	Name           string
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
	// Graph is set for a graph-valued attribute (If, Loop), not decoded.
	Graph bool
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
// every numeric type (exact for all types but 64-bit integers beyond 2^53),
// except in a model's float, float16 and double tensors with raw data,
// which keep Raw (a view of the decoded bytes) and leave Values nil:
// Float32s and Float64s read either.
type Tensor struct {
	Name     string
	Dims     []int
	DataType int32
	Values   []float64
	Raw      []byte
	// External is set when the data lives in another file
	// (data_location EXTERNAL): its location, offset and length entries.
	External map[string]string
}

// Len returns the number of elements the dimensions hold.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// ReadModel decodes the ONNX model file at path. The model's raw tensors
// are views of the file's bytes, read whole into memory.
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
	m := &Model{Initializers: map[string]*Tensor{}, Opsets: map[string]int64{},
		Shapes: map[string][]int{}, Metadata: map[string]string{}}
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == 0:
			m.IRVersion = int64(f.v)
		case (f.num == 2 || f.num == 3) && f.wire == 2:
			m.Producer = strings.TrimSpace(m.Producer + " " + string(f.b))
		case f.num == 14 && f.wire == 2: // metadata_props
			k, v, err := stringPair(f.b)
			if err != nil {
				return nil, err
			}
			m.Metadata[k] = v
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
			if domain == "ai.onnx" {
				domain = ""
			}
			m.Opsets[domain] = version
			if domain == "" {
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
			t, err := decodeTensor(f.b, true)
			if err != nil {
				return err
			}
			if _, dup := m.Initializers[t.Name]; !dup {
				m.InitOrder = append(m.InitOrder, t.Name)
			}
			m.Initializers[t.Name] = t
		case 15:
			m.Sparse++
		case 11, 12: // input, output ValueInfoProto
			name, shape, err := valueInfo(f.b)
			if err != nil {
				return err
			}
			if f.num == 11 {
				m.Inputs = append(m.Inputs, name)
			} else {
				m.Outputs = append(m.Outputs, name)
			}
			if shape != nil {
				m.Shapes[name] = shape
			}
		}
	}
	return nil
}

// stringPair decodes a StringStringEntryProto.
func stringPair(b []byte) (k, v string, err error) {
	fs, err := fields(b)
	if err != nil {
		return "", "", err
	}
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == 2:
			k = string(f.b)
		case f.num == 2 && f.wire == 2:
			v = string(f.b)
		}
	}
	return k, v, nil
}

// sub returns the payload of the last length-delimited field num of b.
func sub(b []byte, num int) ([]byte, bool, error) {
	fs, err := fields(b)
	if err != nil {
		return nil, false, err
	}
	var out []byte
	found := false
	for _, f := range fs {
		if f.num == num && f.wire == 2 {
			out, found = f.b, true
		}
	}
	return out, found, nil
}

// valueInfo decodes a ValueInfoProto's name and, for a tensor type with a
// shape, its dimensions (−1 for symbolic ones).
func valueInfo(b []byte) (string, []int, error) {
	fs, err := fields(b)
	if err != nil {
		return "", nil, err
	}
	var name string
	var shape []int
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == 2:
			name = string(f.b)
		case f.num == 2 && f.wire == 2: // TypeProto
			tt, ok, err := sub(f.b, 1) // tensor_type
			if err != nil || !ok {
				if err != nil {
					return "", nil, err
				}
				continue
			}
			sh, ok, err := sub(tt, 2) // shape
			if err != nil {
				return "", nil, err
			}
			if !ok {
				continue
			}
			dims, err := fields(sh)
			if err != nil {
				return "", nil, err
			}
			shape = []int{}
			for _, d := range dims {
				if d.num != 1 || d.wire != 2 {
					continue
				}
				dfs, err := fields(d.b)
				if err != nil {
					return "", nil, err
				}
				v := -1
				for _, df := range dfs {
					if df.num == 1 && df.wire == 0 && int64(df.v) >= 0 && df.v < 1<<31 {
						v = int(df.v)
					}
				}
				shape = append(shape, v)
			}
		}
	}
	return name, shape, nil
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
		case 3:
			n.Name = string(f.b)
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
			if a.T, err = decodeTensor(f.b, true); err != nil {
				return "", a, err
			}
		case 6, 11:
			a.Graph = true
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

// DecodeTensor decodes a TensorProto, its values into Values.
func DecodeTensor(b []byte) (*Tensor, error) { return decodeTensor(b, false) }

// floatRaw reports whether raw data of the type stays raw in a model.
func floatRaw(dt int32) bool { return dt == Float || dt == Float16 || dt == Double }

var rawSize = map[int32]int{Float: 4, Uint8: 1, Int8: 1, Int32: 4, Int64: 8, Bool: 1, Float16: 2, Double: 8}

func decodeTensor(b []byte, keepRaw bool) (*Tensor, error) {
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
		case 13: // external_data
			k, v, err := stringPair(f.b)
			if err != nil {
				return nil, err
			}
			if t.External == nil {
				t.External = map[string]string{}
			}
			t.External[k] = v
		case 14:
			if f.v == 1 && t.External == nil {
				t.External = map[string]string{}
			}
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
	if t.External != nil {
		if _, ok := rawSize[t.DataType]; !ok {
			return nil, fmt.Errorf("onnx: tensor %q: unsupported data type %d", t.Name, t.DataType)
		}
		return t, nil // the caller reads the data from its file
	}
	switch {
	case hasRaw:
		size := rawSize[t.DataType]
		if size == 0 {
			return nil, fmt.Errorf("onnx: tensor %q: unsupported data type %d", t.Name, t.DataType)
		}
		if len(raw) != n*size {
			return nil, fmt.Errorf("onnx: tensor %q: %d bytes of raw data for %d elements of %d bytes", t.Name, len(raw), n, size)
		}
		if keepRaw && floatRaw(t.DataType) {
			t.Raw = raw
			return t, nil
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

// SetRaw gives the tensor its data as raw little-endian bytes (read from
// an external file), checking the length against the dimensions.
func (t *Tensor) SetRaw(raw []byte) error {
	size := rawSize[t.DataType]
	if size == 0 {
		return fmt.Errorf("onnx: tensor %q: unsupported data type %d", t.Name, t.DataType)
	}
	if len(raw) != t.Len()*size {
		return fmt.Errorf("onnx: tensor %q: %d bytes of data for %d elements of %d bytes", t.Name, len(raw), t.Len(), size)
	}
	if floatRaw(t.DataType) {
		t.Raw, t.Values = raw, nil
		return nil
	}
	dec, err := decodeTensor(append(encodeHeader(t), raw...), false)
	if err != nil {
		return err
	}
	t.Values = dec.Values
	return nil
}

// encodeHeader writes dims and data type and the raw_data key and length,
// so SetRaw can decode integer data through decodeTensor.
func encodeHeader(t *Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = binary.AppendUvarint(append(b, 0x08), uint64(d))
	}
	b = binary.AppendUvarint(append(b, 0x10), uint64(t.DataType))
	size := rawSize[t.DataType]
	return binary.AppendUvarint(append(b, 0x4a), uint64(t.Len()*size))
}

// Float32s returns the values as float32.
func (t *Tensor) Float32s() []float32 {
	if t.Raw != nil {
		out := make([]float32, t.Len())
		switch t.DataType {
		case Float:
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
			}
		case Float16:
			for i := range out {
				out[i] = halfToFloat(binary.LittleEndian.Uint16(t.Raw[2*i:]))
			}
		case Double:
			for i := range out {
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Raw[8*i:])))
			}
		}
		return out
	}
	out := make([]float32, len(t.Values))
	for i, v := range t.Values {
		out[i] = float32(v)
	}
	return out
}

// Float64s returns the values as float64.
func (t *Tensor) Float64s() []float64 {
	if t.Raw == nil {
		return t.Values
	}
	if t.DataType == Double {
		out := make([]float64, t.Len())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Raw[8*i:]))
		}
		return out
	}
	f := t.Float32s()
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}
