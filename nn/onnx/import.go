// Package onnx imports ONNX models into graft: an ONNX file becomes an
// nn.Graph of graft layers that runs, trains and saves like any other
// model, with the parameter names of the file's initializers (so a model
// exported from PyTorch keeps its state_dict names, layer1.0.conv1.weight).
//
// Activations are NHWC in graft and NCHW in ONNX: the importer converts
// once, at import. Convolution weights stay OIHW, constants broadcast
// against 4-D activations are permuted to NHWC, channel axes are mapped,
// and Flatten and Reshape keep PyTorch's (C, H, W) element order, so a
// Gemm after them reads its weights unchanged. The graph takes NHWC input.
//
// The operators are those of CNN classifiers exported from PyTorch, Keras
// and Paddle at opsets 7 to 17 (see Supported). An unsupported operator or
// attribute is an error listing every node that has one; a truncated or
// hostile file is an error, never a panic, and the memory used is bounded
// by what the file holds.
//
// The protobuf is read by graft's own small wire-format reader
// (internal/onnx), not by generated code: the importer needs a few dozen
// fields of onnx.proto, the reader is fuzzed, and it keeps float tensors
// as views of the file's bytes until they become parameters.
package onnx

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	ionnx "github.com/graftml/graft/internal/onnx"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// Imported is an ONNX model as a graft graph, with what the file says
// about it.
type Imported struct {
	Graph *nn.Graph
	// InputShape is the declared input's (H, W, C), −1 for a dynamic
	// dimension.
	InputShape []int
	// Opset is the default domain's operator set version.
	Opset    int64
	Producer string
	// Metadata is the model's metadata_props.
	Metadata map[string]string
	// Consts names the initializers that became constants of layers
	// rather than parameters (shapes, scales), for reports.
	Consts []string
}

// MinOpset and MaxOpset bound the operator sets the importer reads.
const (
	MinOpset = 7
	MaxOpset = 21
)

// UnsupportedError lists every node the importer cannot convert.
type UnsupportedError struct {
	Nodes []NodeError
}

// NodeError is one node's problem.
type NodeError struct {
	Name, Op string
	Opset    int64
	Reason   string
}

// Error lists the nodes on one line, separated by semicolons.
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "onnx: %d node(s) cannot be imported: ", len(e.Nodes))
	for i, n := range e.Nodes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "node %q (%s, opset %d): %s", n.Name, n.Op, n.Opset, n.Reason)
	}
	return b.String()
}

// Read imports the ONNX file at path. Tensors stored in external data
// files are read from beside it.
func Read(path string) (*Imported, error) {
	b, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer release()
	m, err := ionnx.DecodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	imp, err := importModel(m, filepath.Dir(path), true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return imp, nil
}

// Decode imports an ONNX model from its bytes; external data is an error.
func Decode(b []byte) (*Imported, error) {
	m, err := ionnx.DecodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return importModel(m, "", false)
}

// value is what the importer knows of a graph value: a constant (ONNX
// layout) or an activation of the graft graph.
type value struct {
	c *constant
	// an activation: its name in the graft graph, ONNX rank and shape
	// (ONNX order, −1 unknown)
	act   string
	shape []int
	// producer is the node that wrote the activation (nil for the input)
	producer *made
}

func (v *value) rank() int { return len(v.shape) }

// made is a layer the importer added, for peephole fusions.
type made struct {
	layer nn.Layer
	op    string
	path  string
}

type constant struct {
	name string // initializer or node output name
	dims []int
	f    []float32
}

func (c *constant) len() int { return len(c.f) }

// symBatch marks a dynamic batch dimension in a folded Shape.
const symBatch = -1 << 20

type builder struct {
	m      *ionnx.Model
	dir    string
	g      *nn.Graph
	vals   map[string]*value
	uses   map[string]int
	errs   []NodeError
	paths  map[string]bool
	failed map[string]bool
	mapped bool // the tensors' raw bytes are a mapped file
	scopes map[string]int
	// parents holds the scopes that contain others (a node there is named
	// scope.Op, beside the modules)
	parents map[string]bool
	consts  []string
	node    *ionnx.Node
	nodeI   int
}

func importModel(m *ionnx.Model, dir string, mapped bool) (*Imported, error) {
	if m.Opset < MinOpset || m.Opset > MaxOpset {
		if m.Opset == 0 {
			return nil, errors.New("onnx: the model imports no default operator set (is it an ONNX model?)")
		}
		return nil, fmt.Errorf("onnx: operator set %d is outside the supported %d–%d", m.Opset, MinOpset, MaxOpset)
	}
	if m.Sparse > 0 {
		return nil, fmt.Errorf("onnx: %d sparse initializers are not supported", m.Sparse)
	}
	b := &builder{m: m, dir: dir, mapped: mapped, vals: map[string]*value{}, uses: map[string]int{}, paths: map[string]bool{}, failed: map[string]bool{}, scopes: map[string]int{}, parents: map[string]bool{}}
	for _, name := range m.InitOrder {
		t := m.Initializers[name]
		c, err := b.constOf(t)
		if err != nil {
			return nil, err
		}
		b.vals[name] = &value{c: c}
	}
	var inputs []string
	for _, in := range m.Inputs {
		if _, ok := m.Initializers[in]; !ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 1 || len(m.Outputs) != 1 {
		return nil, fmt.Errorf("onnx: the graph has %d inputs and %d outputs; graft imports one of each", len(inputs), len(m.Outputs))
	}
	in, out := inputs[0], m.Outputs[0]
	shape, ok := m.Shapes[in]
	if !ok || (len(shape) != 4 && len(shape) != 2) {
		return nil, fmt.Errorf("onnx: input %q has shape %v; graft imports [N, C, H, W] or [N, F] inputs", in, shape)
	}
	b.g = nn.NewGraph(in)
	b.vals[in] = &value{act: in, shape: slices.Clone(shape)}

	live := liveNodes(m, out)
	for i := range m.Nodes {
		if !live[i] {
			continue
		}
		for _, x := range m.Nodes[i].Inputs {
			b.uses[x]++
		}
	}
	b.uses[out]++
	for i := range m.Nodes {
		if scope, _, ok := torchScope(m.Nodes[i].Name); ok && live[i] && !foldOps[m.Nodes[i].OpType] {
			b.scopes[scope]++
			for p := scope; strings.Contains(p, "."); {
				p = p[:strings.LastIndex(p, ".")]
				b.parents[p] = true
			}
		}
	}
	for i := range m.Nodes {
		if !live[i] {
			continue
		}
		n := &m.Nodes[i]
		b.node, b.nodeI = n, i
		if err := b.convert(n); err != nil {
			if errors.Is(err, errPoisoned) {
				continue // an input's node failed: that one is reported
			}
			b.errs = append(b.errs, NodeError{Name: n.Name, Op: n.OpType, Opset: m.Opset, Reason: err.Error()})
			for _, o := range n.Outputs {
				b.failed[o] = true
			}
		}
	}
	if len(b.errs) > 0 {
		return nil, &UnsupportedError{Nodes: b.errs}
	}
	v := b.vals[out]
	if v == nil || v.c != nil {
		return nil, fmt.Errorf("onnx: output %q is not computed from the input", out)
	}
	if err := b.g.SetOutput(v.act); err != nil {
		return nil, err
	}
	imp := &Imported{Graph: b.g, Opset: m.Opset, Producer: m.Producer, Metadata: m.Metadata, Consts: b.consts}
	if len(shape) == 4 {
		imp.InputShape = []int{shape[2], shape[3], shape[1]}
	} else {
		imp.InputShape = []int{shape[1]}
	}
	return imp, nil
}

// liveNodes marks the nodes the output depends on.
func liveNodes(m *ionnx.Model, out string) []bool {
	need := map[string]bool{out: true}
	live := make([]bool, len(m.Nodes))
	for i := len(m.Nodes) - 1; i >= 0; i-- {
		n := &m.Nodes[i]
		for _, o := range n.Outputs {
			if need[o] {
				live[i] = true
			}
		}
		if live[i] {
			for _, x := range n.Inputs {
				need[x] = true
			}
		}
	}
	return live
}

// constOf converts an initializer or constant tensor to float32.
func (b *builder) constOf(t *ionnx.Tensor) (*constant, error) {
	if t.External != nil {
		if err := b.readExternal(t); err != nil {
			return nil, err
		}
	}
	switch t.DataType {
	case ionnx.Float, ionnx.Float16, ionnx.Double, ionnx.Int64, ionnx.Int32, ionnx.Int8, ionnx.Uint8, ionnx.Bool:
	default:
		return nil, fmt.Errorf("onnx: tensor %q: data type %d is not supported", t.Name, t.DataType)
	}
	c := &constant{name: t.Name, dims: slices.Clone(t.Dims), f: t.Float32s()}
	if b.mapped && t.External == nil {
		dropPages(t.Raw)
	}
	return c, nil
}

// readExternal reads a tensor's data from its external file, which must
// be a plain file beside the model.
func (b *builder) readExternal(t *ionnx.Tensor) error {
	loc := t.External["location"]
	if b.dir == "" {
		return fmt.Errorf("onnx: tensor %q is stored in external file %q; read the model from its file (Read), not bytes", t.Name, loc)
	}
	if loc == "" || filepath.IsAbs(loc) || strings.Contains(filepath.ToSlash(loc), "..") {
		return fmt.Errorf("onnx: tensor %q: external data location %q must be a relative path beside the model", t.Name, loc)
	}
	var off, n int64
	if _, err := fmt.Sscan(orZero(t.External["offset"]), &off); err != nil || off < 0 {
		return fmt.Errorf("onnx: tensor %q: bad external offset %q", t.Name, t.External["offset"])
	}
	f, err := os.Open(filepath.Join(b.dir, loc))
	if err != nil {
		return fmt.Errorf("onnx: tensor %q: %w", t.Name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := int64(t.Len()) * int64(map[int32]int{ionnx.Float: 4, ionnx.Float16: 2, ionnx.Double: 8, ionnx.Int64: 8, ionnx.Int32: 4, ionnx.Int8: 1, ionnx.Uint8: 1, ionnx.Bool: 1}[t.DataType])
	n = size
	if s, ok := t.External["length"]; ok {
		if _, err := fmt.Sscan(s, &n); err != nil || n != size {
			return fmt.Errorf("onnx: tensor %q: external length %q, want %d bytes", t.Name, s, size)
		}
	}
	if off+n > st.Size() {
		return fmt.Errorf("onnx: tensor %q: external data %s[%d:%d] beyond the file's %d bytes", t.Name, loc, off, off+n, st.Size())
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return fmt.Errorf("onnx: tensor %q: %w", t.Name, err)
	}
	return t.SetRaw(buf)
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// Supported lists the operators the importer converts.
func Supported() []string {
	ops := make([]string, 0, len(converters))
	for k := range converters {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

type converter func(b *builder, n *ionnx.Node) error

var errPoisoned = errors.New("an input failed")

var converters map[string]converter

func init() {
	converters = map[string]converter{
		"Conv": (*builder).conv, "BatchNormalization": (*builder).batchNorm,
		"Relu": (*builder).act, "LeakyRelu": (*builder).act, "Sigmoid": (*builder).act, "Tanh": (*builder).act,
		"HardSigmoid": (*builder).act, "HardSwish": (*builder).act, "Clip": (*builder).clip,
		"Add": (*builder).binary, "Sub": (*builder).binary, "Mul": (*builder).binary, "Div": (*builder).binary,
		"GlobalAveragePool": (*builder).globalPool, "AveragePool": (*builder).pool, "MaxPool": (*builder).pool,
		"Flatten": (*builder).flatten, "Reshape": (*builder).reshape, "Squeeze": (*builder).squeeze, "Unsqueeze": (*builder).squeeze,
		"Gemm": (*builder).gemm, "MatMul": (*builder).matmul, "Concat": (*builder).concat, "Pad": (*builder).pad,
		"Constant": (*builder).constantNode, "Identity": (*builder).identity, "Dropout": (*builder).dropout,
		"Softmax": (*builder).softmax, "Transpose": (*builder).transpose, "Shape": (*builder).shapeOp,
		"Gather": (*builder).gather, "Slice": (*builder).slice, "Cast": (*builder).cast, "ConstantOfShape": (*builder).constantOfShape,
	}
}

func (b *builder) convert(n *ionnx.Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Errorf("operator domain %q is not supported", n.Domain)
	}
	c, ok := converters[n.OpType]
	if !ok {
		return errors.New("operator not supported")
	}
	for _, in := range n.Inputs {
		if b.failed[in] {
			for _, o := range n.Outputs {
				b.failed[o] = true
			}
			return errPoisoned
		}
		if in != "" && b.vals[in] == nil {
			return fmt.Errorf("input %q is not available (an earlier node failed, or the graph is not sorted)", in)
		}
	}
	if len(n.Outputs) == 0 {
		return errors.New("node has no output")
	}
	return c(b, n)
}

// input returns input i, or nil when absent.
func (b *builder) input(n *ionnx.Node, i int) *value {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	return b.vals[n.Inputs[i]]
}

// anyIn checks the node's attributes against the names it understands and
// returns its input 0, activation or constant.
func (b *builder) anyIn(n *ionnx.Node, attrs ...string) (*value, error) {
	if err := known(n, attrs...); err != nil {
		return nil, err
	}
	v := b.input(n, 0)
	if v == nil {
		return nil, errors.New("no input")
	}
	return v, nil
}

func (b *builder) actIn(n *ionnx.Node, i int) (*value, error) {
	v := b.input(n, i)
	if v == nil {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	if v.c != nil {
		return nil, fmt.Errorf("input %d (%q) is a constant where an activation is expected", i, n.Inputs[i])
	}
	return v, nil
}

func (b *builder) constIn(n *ionnx.Node, i int) (*constant, error) {
	v := b.input(n, i)
	if v == nil {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	if v.c == nil {
		return nil, fmt.Errorf("input %d (%q) is computed; graft needs a constant there", i, n.Inputs[i])
	}
	return v.c, nil
}

// setConst records a folded constant output.
func (b *builder) setConst(n *ionnx.Node, dims []int, f []float32) {
	b.vals[n.Outputs[0]] = &value{c: &constant{name: n.Outputs[0], dims: dims, f: f}}
}

// alias makes output 0 the same value as v.
func (b *builder) alias(n *ionnx.Node, v *value) { b.vals[n.Outputs[0]] = v }

// add puts a layer into the graph: its path from the parameter names
// (params maps the layer's local names to initializer names) or the node.
func (b *builder) add(n *ionnx.Node, l nn.Layer, params map[string]string, shape []int, ins ...*value) error {
	names := make([]string, len(ins))
	for i, v := range ins {
		names[i] = v.act
	}
	out := n.Outputs[0]
	for try := 0; ; try++ {
		p := b.path(n, params, try)
		err := b.g.Add(p, l, out, names...)
		if err == nil {
			b.paths[p] = true
			b.vals[out] = &value{act: out, shape: shape, producer: &made{layer: l, op: n.OpType, path: p}}
			return nil
		}
		if try > 20 || !strings.Contains(err.Error(), "two layers") && !strings.Contains(err.Error(), "not a namespace") {
			return err
		}
	}
}

// path names a layer: the common prefix of its parameters' initializer
// names when they are prefix.local (PyTorch's state_dict), else the
// node's name made a single identifier.
func (b *builder) path(n *ionnx.Node, params map[string]string, try int) string {
	prefix := ""
	ok := len(params) > 0
	for local, init := range params {
		p, found := strings.CutSuffix(init, "."+local)
		if !found || p == "" || (prefix != "" && p != prefix) || strings.Contains(p, "..") ||
			strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.ContainsAny(p, "/: ") {
			ok = false
			break
		}
		prefix = p
	}
	if !ok {
		prefix = ""
		if scope, op, isTorch := torchScope(n.Name); isTorch {
			switch {
			case scope == "":
				prefix = sanitize(op)
			case b.scopes[scope] == 1 && !b.parents[scope]:
				prefix = scope
			default:
				prefix = scope + "." + sanitize(op)
			}
		}
		if prefix == "" {
			prefix = sanitize(n.Name)
		}
		if prefix == "" {
			prefix = sanitize(n.OpType + "_" + n.Outputs[0])
		}
	}
	if try > 0 {
		prefix = fmt.Sprintf("%s_%d", prefix, try+1)
	}
	return prefix
}

// torchScope reads a node name of PyTorch's exporter (1.13 and later),
// "/layer1/layer1.0/conv1/Conv", as the module's state_dict prefix
// ("layer1.0.conv1") and the operator's name ("Conv"). Each part of the
// path is a module's name relative to the last part it extends
// ("block", "block.0"), so nested Sequentials read right.
func torchScope(name string) (scope, op string, ok bool) {
	if !strings.HasPrefix(name, "/") {
		return "", "", false
	}
	comps := strings.Split(name[1:], "/")
	op = comps[len(comps)-1]
	prev := ""
	for _, c := range comps[:len(comps)-1] {
		if c == "" || strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".") || strings.Contains(c, "..") ||
			strings.ContainsFunc(c, func(r rune) bool {
				return !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}) {
			return "", "", false
		}
		switch {
		case prev != "" && strings.HasPrefix(c, prev+"."):
			scope += c[len(prev):]
		case scope == "":
			scope = c
		default:
			scope += "." + c
		}
		prev = c
	}
	return scope, op, true
}

// foldOps are operators that become no layer of their own in exports
// (shape arithmetic), so they do not count as a scope's layers.
var foldOps = map[string]bool{"Constant": true, "Shape": true, "Gather": true, "Cast": true, "Slice": true,
	"ConstantOfShape": true, "Identity": true, "Unsqueeze": true, "Concat": false}

func sanitize(s string) string {
	var out []rune
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			out = append(out, r)
		} else if len(out) > 0 && out[len(out)-1] != '_' {
			out = append(out, '_')
		}
	}
	return strings.Trim(string(out), "_")
}

// attribute helpers

func attrInt(n *ionnx.Node, name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.I
	}
	return def
}

func attrFloat(n *ionnx.Node, name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok {
		return a.F
	}
	return def
}

func attrInts(n *ionnx.Node, name string) ([]int, bool) {
	a, ok := n.Attrs[name]
	if !ok {
		return nil, false
	}
	out := make([]int, len(a.Ints))
	for i, v := range a.Ints {
		if v > math.MaxInt32 || v < math.MinInt32 {
			return nil, false
		}
		out[i] = int(v)
	}
	return out, true
}

// known reports which attributes a converter reads; any other is an
// error, so nothing is silently ignored.
func known(n *ionnx.Node, names ...string) error {
	var bad []string
	for k, a := range n.Attrs {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
		if a.Graph {
			return fmt.Errorf("graph attribute %q is not supported", k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("attribute(s) %s not supported", strings.Join(bad, ", "))
	}
	return nil
}

// onlyOutput checks that outputs other than the first are unused.
func (b *builder) onlyOutput(n *ionnx.Node) error {
	for _, o := range n.Outputs[1:] {
		if o != "" && b.uses[o] > 0 {
			return fmt.Errorf("output %q is used; graft computes only the first output", o)
		}
	}
	return nil
}

// nhwcAxis maps an ONNX axis of a rank-4 activation to graft's NHWC axis.
func nhwcAxis(a, rank int) int {
	if a < 0 {
		a += rank
	}
	if rank != 4 {
		return a
	}
	return [4]int{0, 3, 1, 2}[a]
}

func tensorOf(c *constant) *tensor.Tensor {
	return tensor.FromSlice(c.f, c.dims...)
}

func ints(c *constant) []int {
	out := make([]int, len(c.f))
	for i, v := range c.f {
		out[i] = int(v)
	}
	return out
}
