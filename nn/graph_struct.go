package nn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Structure returns a layer tree that computes what g computes, made of
// Sequentials wherever g is a chain and Graphs only where it branches, so
// that the tools built for Sequential models (cutting a model at a layer,
// partial backward, layer groups by name) work on it.
//
// Consecutive nodes that share the first part of their names form one
// child of that name when they read one value and hand one value on (a
// ResNet's layer1, a MobileNet's features.3): nested names nest
// Sequentials, and the parameter names stay as they are. Where names do
// not give such a chain, the nodes are split where a single value is
// live; a run of nodes with no common name then becomes a Graph child
// named block<i>, whose parameters take that prefix. Nodes the output
// does not depend on are left out.
func Structure(g *Graph) (Layer, error) {
	if g.output == "" {
		return nil, fmt.Errorf("nn.Structure: the graph has no output")
	}
	var nodes []snode // the nodes that run: those the output depends on
	for i, n := range g.nodes {
		if g.live[i] {
			nodes = append(nodes, snode{GraphNode: n, parts: strings.Split(n.Name, ".")})
		}
	}
	return structure(nodes, g.input, g.output, 0, true)
}

type snode struct {
	GraphNode
	parts []string
}

// rel is the node's name below depth.
func (n snode) rel(depth int) string { return strings.Join(n.parts[depth:], ".") }

// liveAfter returns the values produced by nodes[:k] (or the input) that
// nodes[k:] read, or that are the output.
func liveAfter(nodes []snode, in, out string, k int) []string {
	made := map[string]bool{in: true}
	for _, n := range nodes[:k] {
		made[n.Output] = true
	}
	var live []string
	add := func(v string) {
		if made[v] && !slices.Contains(live, v) {
			live = append(live, v)
		}
	}
	for _, n := range nodes[k:] {
		for _, v := range n.Inputs {
			add(v)
		}
	}
	add(out)
	return live
}

func structure(nodes []snode, in, out string, depth int, top bool) (Layer, error) {
	if len(nodes) == 1 && len(nodes[0].parts) == depth && len(nodes[0].Inputs) == 1 {
		return nodes[0].Layer, nil // the run of one node named at depth−1
	}
	// runs of nodes sharing their next name part
	type run struct {
		name   string
		nodes  []snode
		in     string
		out    string
		simple bool
	}
	var runs []run
	for i := 0; i < len(nodes); {
		if len(nodes[i].parts) <= depth {
			return nil, fmt.Errorf("nn.Structure: node %q above depth %d", nodes[i].Name, depth)
		}
		name := nodes[i].parts[depth]
		j := i + 1
		for j < len(nodes) && len(nodes[j].parts) > depth && nodes[j].parts[depth] == name {
			j++
		}
		runs = append(runs, run{name: name, nodes: nodes[i:j]})
		i = j
	}
	cur := in
	names := map[string]bool{}
	ok := true
	start := 0
	for k := range runs {
		r := &runs[k]
		end := start + len(r.nodes)
		r.in = cur
		before := liveAfter(nodes, in, out, start)
		after := liveAfter(nodes, in, out, end)
		if names[r.name] || len(before) != 1 || before[0] != cur || len(after) != 1 {
			ok = false
			break
		}
		names[r.name] = true
		r.out = after[0]
		cur = r.out
		start = end
	}
	if ok {
		s := &Sequential{}
		for _, r := range runs {
			l, err := structure(r.nodes, r.in, r.out, depth+1, false)
			if err != nil {
				return nil, err
			}
			s.Add(r.name, l)
		}
		return s, nil
	}
	if !top {
		return graphOf(nodes, in, out, depth)
	}
	// split where one value is live; runs of nodes with a common first
	// name part keep it, the others become block<i>
	var segs [][2]int
	prev := 0
	for k := 1; k < len(nodes); k++ {
		if len(liveAfter(nodes, in, out, k)) == 1 {
			segs = append(segs, [2]int{prev, k})
			prev = k
		}
	}
	segs = append(segs, [2]int{prev, len(nodes)})
	s := &Sequential{}
	cur = in
	for i, sg := range segs {
		part := nodes[sg[0]:sg[1]]
		o := liveAfter(nodes, in, out, sg[1])[0]
		common := part[0].parts[depth]
		for _, n := range part {
			if n.parts[depth] != common {
				common = ""
				break
			}
		}
		var l Layer
		var err error
		name := common
		if common == "" || slices.ContainsFunc(s.layers, func(c Named[Layer]) bool { return c.Name == common }) {
			name = "block" + strconv.Itoa(i)
			l, err = graphOf(part, cur, o, depth)
		} else {
			l, err = structure(part, cur, o, depth+1, false)
		}
		if err != nil {
			return nil, err
		}
		s.Add(name, l)
		cur = o
	}
	return s, nil
}

// graphOf makes a Graph of nodes named below depth.
func graphOf(nodes []snode, in, out string, depth int) (Layer, error) {
	g := NewGraph(in)
	for _, n := range nodes {
		if err := g.Add(n.rel(depth), n.Layer, n.Output, n.Inputs...); err != nil {
			return nil, err
		}
	}
	if err := g.SetOutput(out); err != nil {
		return nil, err
	}
	return g, nil
}
