package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A protobuf encoder for the tests' synthetic models (the subset of
// onnx.proto the importer reads).

type pb []byte

func (p pb) key(field, wire int) pb { return binary.AppendUvarint(p, uint64(field<<3|wire)) }

func (p pb) varint(field int, v int64) pb {
	return binary.AppendUvarint(p.key(field, 0), uint64(v))
}

func (p pb) bytes(field int, b []byte) pb {
	p = binary.AppendUvarint(p.key(field, 2), uint64(len(b)))
	return append(p, b...)
}

func (p pb) str(field int, s string) pb { return p.bytes(field, []byte(s)) }

func (p pb) f32(field int, f float32) pb {
	return binary.LittleEndian.AppendUint32(p.key(field, 5), math.Float32bits(f))
}

// tensorPB encodes a float (or int64 when ints is set) TensorProto.
func tensorPB(name string, dims []int, vals []float32, ints bool) pb {
	var t pb
	for _, d := range dims {
		t = t.varint(1, int64(d))
	}
	var raw []byte
	if ints {
		t = t.varint(2, 7)
		for _, v := range vals {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(int64(v)))
		}
	} else {
		t = t.varint(2, 1)
		for _, v := range vals {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	return t.str(8, name).bytes(9, raw)
}

type attr struct {
	name string
	i    *int64
	f    *float32
	s    string
	ints []int64
	t    pb
}

func ai(name string, v int64) attr     { return attr{name: name, i: &v} }
func af(name string, v float32) attr   { return attr{name: name, f: &v} }
func as(name, v string) attr           { return attr{name: name, s: v} }
func ais(name string, v ...int64) attr { return attr{name: name, ints: v} }

func (a attr) pb() pb {
	p := pb(nil).str(1, a.name)
	switch {
	case a.i != nil:
		p = p.varint(3, *a.i).varint(20, 2)
	case a.f != nil:
		p = p.f32(2, *a.f).varint(20, 1)
	case a.s != "":
		p = p.str(4, a.s).varint(20, 3)
	case a.t != nil:
		p = p.bytes(5, a.t).varint(20, 4)
	default:
		for _, v := range a.ints {
			p = p.varint(8, v)
		}
		p = p.varint(20, 7)
	}
	return p
}

type node struct {
	name, op string
	in, out  []string
	attrs    []attr
	domain   string
}

func (n node) pb() pb {
	var p pb
	for _, s := range n.in {
		p = p.str(1, s)
	}
	for _, s := range n.out {
		p = p.str(2, s)
	}
	p = p.str(3, n.name).str(4, n.op)
	for _, a := range n.attrs {
		p = p.bytes(5, a.pb())
	}
	if n.domain != "" {
		p = p.str(7, n.domain)
	}
	return p
}

func valueInfoPB(name string, shape []int) pb {
	var sh pb
	for _, d := range shape {
		if d < 0 {
			sh = sh.bytes(1, pb(nil).str(2, "n"))
		} else {
			sh = sh.bytes(1, pb(nil).varint(1, int64(d)))
		}
	}
	tt := pb(nil).varint(1, 1).bytes(2, sh)
	return pb(nil).str(1, name).bytes(2, pb(nil).bytes(1, tt))
}

type initT struct {
	name string
	dims []int
	vals []float32
	ints bool
	ext  pb // an encoded TensorProto used as it is
}

// modelPB encodes a model of one input and one output.
func modelPB(opset int64, in string, inShape []int, out string, nodes []node, inits []initT, meta map[string]string) []byte {
	var g pb
	for _, n := range nodes {
		g = g.bytes(1, n.pb())
	}
	g = g.str(2, "test")
	for _, t := range inits {
		if t.ext != nil {
			g = g.bytes(5, t.ext)
			continue
		}
		g = g.bytes(5, tensorPB(t.name, t.dims, t.vals, t.ints))
	}
	g = g.bytes(11, valueInfoPB(in, inShape))
	g = g.bytes(12, valueInfoPB(out, nil))
	m := pb(nil).varint(1, 8).str(2, "graft-test")
	m = m.bytes(7, g)
	m = m.bytes(8, pb(nil).str(1, "").varint(2, opset))
	for k, v := range meta {
		m = m.bytes(14, pb(nil).str(1, k).str(2, v))
	}
	return m
}

func paramList(imp *Imported) []string {
	var out []string
	for _, p := range nnParameters(imp) {
		out = append(out, p)
	}
	return out
}

// externalTensorPB encodes a float TensorProto whose data lives in a file.
func externalTensorPB(name string, dims []int, location string, offset, length int) pb {
	var t pb
	for _, d := range dims {
		t = t.varint(1, int64(d))
	}
	t = t.varint(2, 1).str(8, name)
	t = t.bytes(13, pb(nil).str(1, "location").str(2, location))
	t = t.bytes(13, pb(nil).str(1, "offset").str(2, fmt.Sprint(offset)))
	t = t.bytes(13, pb(nil).str(1, "length").str(2, fmt.Sprint(length)))
	return t.varint(14, 1)
}
