// Package models builds graft's reference architectures with PyTorch's
// parameter names (torchvision's where torchvision has the model), each
// with a trunk/head split and layer groups, the units the transfer
// package freezes by depth.
package models

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// Model is an architecture built as a Sequential of named top-level
// children, with what transfer learning needs to know about it.
type Model struct {
	*nn.Sequential
	// Arch and Options rebuild the model (see New); they go into
	// checkpoints.
	Arch    string
	Options Options
	// InputShape is one example's shape (H, W, C).
	InputShape []int
	// Head names the top-level children that form the classifier; the
	// ones before them are the trunk, whose output is the features.
	Head []string
	// Groups are layer groups from the input up, each a list of layer
	// names (dotted, as in parameter names); the last is the head.
	Groups [][]string
	// Mean and Std are the per-channel normalisation of pixels in [0, 1]
	// the model expects, when known (an imported model's).
	Mean, Std []float32
	// Extra is more checkpoint metadata: an imported model's topology,
	// head and groups (see NewImported).
	Extra map[string]string
}

// Options are the knobs of an architecture; zero fields take the
// architecture's defaults.
type Options struct {
	Classes int     // default 10 (1000 for resnet18)
	Width   float64 // width multiplier (ResNet: base channels / 64; MobileNetV2: torchvision's width_mult); default 1
	InChans int     // input channels; default the architecture's (1 for the MNIST models, 3 otherwise)
	Size    int     // input height and width; default 28, 32 or 224
	Seed    uint64  // initialisation seed
}

// Map returns the options as strings, for checkpoint metadata.
func (o Options) Map() map[string]string {
	return map[string]string{
		"classes": strconv.Itoa(o.Classes), "width": strconv.FormatFloat(o.Width, 'g', -1, 64),
		"in_chans": strconv.Itoa(o.InChans), "size": strconv.Itoa(o.Size),
	}
}

// ParseOptions reads options written by Map.
func ParseOptions(m map[string]string) (Options, error) {
	var o Options
	var err error
	geti := func(k string, v *int) {
		if s, ok := m[k]; ok && err == nil {
			*v, err = strconv.Atoi(s)
		}
	}
	geti("classes", &o.Classes)
	geti("in_chans", &o.InChans)
	geti("size", &o.Size)
	if s, ok := m["width"]; ok && err == nil {
		o.Width, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return o, fmt.Errorf("models: options %v: %w", m, err)
	}
	return o, nil
}

// Archs lists the architectures New builds.
func Archs() []string {
	names := make([]string, 0, len(builders))
	for k := range builders {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

var builders = map[string]func(Options) *Model{
	"lenet5":        LeNet5,
	"mnistcnn":      MNISTCNN,
	"resnet18":      ResNet18,
	"resnet18cifar": ResNet18CIFAR,
	"mobilenetv2":   MobileNetV2,
}

// New builds an architecture by name.
func New(arch string, o Options) (*Model, error) {
	b, ok := builders[arch]
	if !ok {
		return nil, fmt.Errorf("models: unknown architecture %q (known: %s)", arch, strings.Join(Archs(), ", "))
	}
	if o.Classes < 0 || o.Width < 0 || o.InChans < 0 || o.Size < 0 {
		return nil, fmt.Errorf("models: negative option in %+v", o)
	}
	return b(o), nil
}

// Trunk returns the names of the top-level children before the head.
func (m *Model) Trunk() []string {
	var out []string
	for _, c := range m.Children() {
		if !slices.Contains(m.Head, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Meta returns the checkpoint metadata of the model.
func (m *Model) Meta() nn.Meta {
	meta := nn.Meta{Arch: m.Arch, Options: m.Options.Map(), InputShape: slices.Clone(m.InputShape)}
	meta.Mean, meta.Std = slices.Clone(m.Mean), slices.Clone(m.Std)
	if m.Imported() {
		// the topology as the tree is now (a replaced head included)
		meta.Extra = map[string]string{}
		maps.Copy(meta.Extra, m.Extra)
		if topo, err := nn.EncodeTopology(m.Sequential); err == nil {
			meta.Extra[MetaTopology] = string(topo)
		}
		if err := m.putStructureInto(meta.Extra); err != nil {
			delete(meta.Extra, MetaHead)
		}
	}
	return meta
}

func defaults(o Options, classes, inChans, size int) Options {
	if o.Classes == 0 {
		o.Classes = classes
	}
	if o.Width == 0 {
		o.Width = 1
	}
	if o.InChans == 0 {
		o.InChans = inChans
	}
	if o.Size == 0 {
		o.Size = size
	}
	return o
}

// seeds hands out a distinct seed per layer from the model's seed.
type seeds struct{ base, n uint64 }

func (s *seeds) next() uint64 {
	s.n++
	return s.base*0x100000001b3 + s.n*0x9e3779b97f4a7c15
}

func randNormal(seed uint64, std float32, n int) []float32 {
	return tensor.RandNormal(seed, 0, std, n).Data()
}
