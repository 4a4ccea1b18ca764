package models

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/graftml/graft/nn"
)

// ArchImported is the Arch of a model built by an importer (ONNX,
// TF.js, …) rather than by New: no name rebuilds it, so its checkpoints
// carry its topology (the layer tree and every layer's configuration).
const ArchImported = "imported"

// Metadata keys of an imported model's checkpoints.
const (
	MetaTopology = "graft_topology"
	MetaHead     = "graft_head"
	MetaGroups   = "graft_groups"
	MetaSource   = "graft_source"
)

// NewImported returns a Model around an imported layer tree: its
// top-level children are the trunk, then the head (the named children);
// groups list layer names from the input up, the last the head. The
// model must be describable by nn.EncodeTopology.
func NewImported(s *nn.Sequential, inputShape []int, head []string, groups [][]string, source string) (*Model, error) {
	topo, err := nn.EncodeTopology(s)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	m := &Model{Sequential: s, Arch: ArchImported, InputShape: slices.Clone(inputShape), Head: head, Groups: groups}
	if len(inputShape) == 3 {
		m.Options = Options{InChans: inputShape[2], Size: inputShape[0]}
	}
	if d := lastDenseOf(m); d != nil {
		m.Options.Classes = d.Out
	}
	m.Extra = map[string]string{MetaTopology: string(topo), MetaSource: source}
	if err := m.putStructureInto(m.Extra); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) putStructureInto(extra map[string]string) error {
	h, err := json.Marshal(m.Head)
	if err != nil {
		return err
	}
	g, err := json.Marshal(m.Groups)
	if err != nil {
		return err
	}
	extra[MetaHead], extra[MetaGroups] = string(h), string(g)
	return nil
}

// lastDenseOf returns the last Dense layer of the head.
func lastDenseOf(m *Model) *nn.Dense {
	var d *nn.Dense
	for _, h := range m.Head {
		l, err := nn.Find(m, h)
		if err != nil {
			continue
		}
		nn.Walk(l, func(_ string, x nn.Layer) {
			if dd, ok := x.(*nn.Dense); ok {
				d = dd
			}
		})
	}
	return d
}

// Imported reports whether m was built by an importer.
func (m *Model) Imported() bool { return m.Arch == ArchImported }

// Clone returns an independent copy of an imported model, its layer
// tree rebuilt from its current topology (a replaced head included) and
// its weights and buffers copied.
func (m *Model) Clone() (*Model, error) {
	if !m.Imported() {
		return nil, fmt.Errorf("models: Clone of %s: build it again with New", m.Arch)
	}
	topo, err := nn.EncodeTopology(m.Sequential)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	l, err := nn.DecodeTopology(topo, nn.NumParams(m)+numBuffers(m)+1)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	s, ok := l.(*nn.Sequential)
	if !ok {
		return nil, fmt.Errorf("models: topology of a %T", l)
	}
	if _, err := nn.LoadState(nn.StateDict(m), s, nn.LoadOptions{}); err != nil {
		return nil, fmt.Errorf("models: copying: %w", err)
	}
	c := *m
	c.Sequential = s
	c.InputShape = slices.Clone(m.InputShape)
	c.Head = slices.Clone(m.Head)
	c.Groups = slices.Clone(m.Groups)
	c.Mean, c.Std = slices.Clone(m.Mean), slices.Clone(m.Std)
	c.Extra = map[string]string{}
	maps.Copy(c.Extra, m.Extra)
	c.Extra[MetaTopology] = string(topo)
	return &c, nil
}

func numBuffers(l nn.Layer) int {
	n := 0
	for _, b := range nn.Buffers(l) {
		n += b.Value.Value.Len()
	}
	return n
}

// FromMeta rebuilds an imported model's layer tree from checkpoint
// metadata (its weights still to load); maxElems bounds the values it may
// hold (the checkpoint's).
func FromMeta(meta nn.Meta, maxElems int) (*Model, error) {
	topo, ok := meta.Extra[MetaTopology]
	if !ok {
		return nil, fmt.Errorf("models: the checkpoint of an imported model has no topology")
	}
	l, err := nn.DecodeTopology([]byte(topo), maxElems)
	if err != nil {
		return nil, err
	}
	s, ok := l.(*nn.Sequential)
	if !ok {
		return nil, fmt.Errorf("models: the topology is a %T, not a Sequential", l)
	}
	m := &Model{Sequential: s, Arch: ArchImported, InputShape: slices.Clone(meta.InputShape), Extra: map[string]string{},
		Mean: slices.Clone(meta.Mean), Std: slices.Clone(meta.Std)}
	maps.Copy(m.Extra, meta.Extra)
	if err := json.Unmarshal([]byte(meta.Extra[MetaHead]), &m.Head); err != nil {
		return nil, fmt.Errorf("models: metadata %s: %w", MetaHead, err)
	}
	if err := json.Unmarshal([]byte(meta.Extra[MetaGroups]), &m.Groups); err != nil {
		return nil, fmt.Errorf("models: metadata %s: %w", MetaGroups, err)
	}
	for _, g := range m.Groups {
		for _, name := range g {
			if _, err := nn.Find(m, name); err != nil {
				return nil, fmt.Errorf("models: group layer: %w", err)
			}
		}
	}
	if o, err := ParseOptions(meta.Options); err == nil {
		m.Options = o
	}
	return m, nil
}

// Reinit re-initialises an imported model with each layer's own
// initialiser from seed (the from-scratch baseline).
func (m *Model) Reinit(seed uint64) { nn.Reinit(m, seed) }
