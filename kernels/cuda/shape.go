package cuda

import "math"

// MaxAxis queues dst[o, j] = max over a of src[o, a, j] for src
// [outer, r, inner] and dst [outer, inner]; NaN propagates and r = 0 gives
// −∞, as graft's tensor.Max.
func (k *Kernels) MaxAxis(s Stream, outer, r, inner int, dst, src DevicePtr) error {
	out, err := reduceCheck("MaxAxis", outer, r, inner, dst, src)
	if err != nil || out == 0 {
		return err
	}
	return k.launch1D("MaxAxis", kMaxAxis, out, s, int64(out), int32(r), int32(inner), dst, src)
}

// CopyStrided queues dst[o·dstStride + j] = src[o·srcStride + j] for
// o < rows and j < n (floats): one part of a concatenation along an axis,
// or of its inverse. The rows must not overlap.
func (k *Kernels) CopyStrided(s Stream, rows, n, dstStride, srcStride int, dst, src DevicePtr) error {
	v := argCheck{op: "CopyStrided"}
	v.sizes("rows,n", rows, n)
	if dstStride < n || srcStride < n {
		v.failf("strides %d (dst) and %d (src) shorter than a row of %d", dstStride, srcStride, n)
	}
	total := v.product("rows·n", false, rows, n)
	v.ptrs(total > 0, "dst,src", dst, src)
	if v.err != nil || total == 0 {
		return v.err
	}
	return k.launch1D(v.op, kCopyStrided, total, s, int64(rows), int64(n), int64(dstStride), int64(srcStride), dst, src)
}

// MaxPadRank is the most dimensions Pad takes.
const MaxPadRank = 8

// PadMode is how Pad fills the border, numbered as graft's tensor.PadMode:
// 0 a constant, 1 reflection without repeating the edge, 2 the edge.
type PadMode int32

// padArgs mirrors the kernels' struct PadArgs (shape.cu).
type padArgs struct {
	Rank, Mode int32
	Value      float32
	DShape     [MaxPadRank]int32
	SShape     [MaxPadRank]int32
	Before     [MaxPadRank]int32
}

// Pad queues dst = src with before[d] elements added ahead of dimension d
// (negative crops) and as many after as dst's shape leaves, filled as mode
// says (value for a constant), as graft's tensor.Pad. Reflection needs
// every source dimension longer than its pads.
func (k *Kernels) Pad(s Stream, dshape, sshape, before []int, mode PadMode, value float32, dst, src DevicePtr) error {
	v := argCheck{op: "Pad"}
	rank := len(dshape)
	if rank > MaxPadRank || len(sshape) != rank || len(before) != rank || rank == 0 {
		v.failf("rank %d (dst %v, src %v, before %v): want 1 to %d, the same for all", rank, dshape, sshape, before, MaxPadRank)
		return v.err
	}
	if mode < 0 || mode > 2 {
		v.failf("unknown mode %d", mode)
	}
	a := &padArgs{Rank: int32(rank), Mode: int32(mode), Value: value}
	for d := 0; d < rank; d++ {
		if dshape[d] < 0 || dshape[d] > math.MaxInt32 || sshape[d] < 0 || sshape[d] > math.MaxInt32 {
			v.failf("dim %d: dst %d, src %d, want 0 ≤ size < 2³¹", d, dshape[d], sshape[d])
		}
		if after := dshape[d] - sshape[d] - before[d]; dshape[d] > 0 && (sshape[d] == 0 && mode != 0 || before[d] >= 1<<31 || before[d] < -sshape[d] || after < -sshape[d]) {
			v.failf("dim %d: src %d cannot give dst %d with %d before", d, sshape[d], dshape[d], before[d])
		}
		a.DShape[d], a.SShape[d], a.Before[d] = int32(dshape[d]), int32(sshape[d]), int32(before[d])
	}
	n := v.product("dst elements", false, dshape...)
	v.product("src elements", false, sshape...)
	v.ptrs(n > 0, "dst", dst)
	if v.err != nil || n == 0 {
		return v.err
	}
	return k.launch1D(v.op, kPad, n, s, int64(n), a, dst, src)
}

// Dropout queues mask[i] = 0 where draw(seed, i) < p, else scale, and
// y[i] = x[i]·mask[i], for i < n: draw is graft's counter-based generator
// (tensor.Dropout): splitmix64 of seed + (i+1)·0x9e3779b97f4a7c15, its top
// 24 bits over 2²⁴. y may be x.
func (k *Kernels) Dropout(s Stream, n int, p, scale float32, seed uint64, y, mask, x DevicePtr) error {
	v := argCheck{op: "Dropout"}
	v.sizes("n", n)
	v.ptrs(n > 0, "y,mask,x", y, mask, x)
	if !(p >= 0 && p < 1) {
		v.failf("probability %v outside [0, 1)", p)
	}
	if v.err != nil || n == 0 {
		return v.err
	}
	return k.launch1D(v.op, kDropout, n, s, int64(n), p, scale, seed, y, mask, x)
}
