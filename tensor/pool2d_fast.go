package tensor

import (
	"math"
)

// The CPU backend's pooling loops: the taps of a window come from index
// ranges computed once per output pixel instead of a callback per tap, and
// few channels (C < 16, the first layers of small models) run as plain
// loops rather than vector calls that would each handle a fraction of a
// register.

// tapRange returns the window's kernel rows [kh0, kh1) and columns
// [kw0, kw1) whose taps fall inside the input.
func (g poolGeom) tapRange(oh, ow int) (kh0, kh1, kw0, kw1 int) {
	h0, w0 := oh*g.sh-g.p.PadTop, ow*g.sw-g.p.PadLeft
	kh0, kh1 = firstInside(h0, g.dh, g.p.KH, g.h)
	kw0, kw1 = firstInside(w0, g.dw, g.p.KW, g.w)
	return
}

// firstInside returns the k range with 0 ≤ start + k·step < size, k < n.
func firstInside(start, step, n, size int) (k0, k1 int) {
	if start < 0 {
		k0 = ceilDiv(-start, step)
	}
	k1 = n
	if last := start + (n-1)*step; last >= size {
		k1 = n - ceilDiv(last-size+1, step)
	}
	return min(k0, n), max(k1, 0)
}

// maxRowsFast is maxRows for the CPU backend.
func (g poolGeom) maxRowsFast(y, x *Tensor, r0, r1 int) {
	c := g.c
	for r := r0; r < r1; r++ {
		n, oh := r/g.oh, r%g.oh
		for ow := 0; ow < g.ow; ow++ {
			out := y.data[((n*g.oh+oh)*g.ow+ow)*c:][:c]
			kh0, kh1, kw0, kw1 := g.tapRange(oh, ow)
			if kh0 >= kh1 || kw0 >= kw1 {
				for i := range out {
					out[i] = float32(math.Inf(-1))
				}
				continue
			}
			first := true
			for kh := kh0; kh < kh1; kh++ {
				row := ((n*g.h + oh*g.sh - g.p.PadTop + kh*g.dh) * g.w) * c
				for kw := kw0; kw < kw1; kw++ {
					src := x.data[row+(ow*g.sw-g.p.PadLeft+kw*g.dw)*c:][:c]
					switch {
					case first:
						copy(out, src) // max(−∞, v) = v, NaN included
						first = false
					case c >= 16:
						maxF32(g.kn, out, out, src)
					default:
						for i, v := range src {
							out[i] = max(out[i], v) // NaN propagates, as maxF32's
						}
					}
				}
			}
		}
	}
}

// maxBackFast is maxBackImages for the CPU backend, without branches on
// the data (a max pool's argmax is random, so branches on it mispredict):
// each window's maximum and its first position are tracked through
// comparison flags and masks, then dy is added there. With assembly
// kernels (the AVX2 and AVX-512 tiers) maxBackKernel does it 8 channels
// at a time.
func (g poolGeom) maxBackFast(dx, x, dy *Tensor, n0, n1 int) {
	if g.kn.conv16 && g.p.KH*g.p.KW <= math.MaxInt32 {
		g.maxBackKernel(dx, x, dy, n0, n1)
		return
	}
	c := g.c
	hwc := g.h * g.w * c
	buf := argmaxBufs.Get()
	defer argmaxBufs.Put(buf)
	buf.grow(c)
	best, arg := buf.best[:c], buf.arg[:c]
	for n := n0; n < n1; n++ {
		clear(dx.data[n*hwc : (n+1)*hwc]) // image by image, so the adds below hit the cache
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				kh0, kh1, kw0, kw1 := g.tapRange(oh, ow)
				if kh0 >= kh1 || kw0 >= kw1 {
					continue
				}
				first := true
				for kh := kh0; kh < kh1; kh++ {
					row := ((n*g.h + oh*g.sh - g.p.PadTop + kh*g.dh) * g.w) * c
					for kw := kw0; kw < kw1; kw++ {
						xo := row + (ow*g.sw-g.p.PadLeft+kw*g.dw)*c
						src := x.data[xo:][:c]
						if first {
							copy(best, src)
							for i := range arg {
								arg[i] = xo + i
							}
							first = false
							continue
						}
						for i, v := range src {
							m := best[i]
							var gt, vn, mn int
							if v > m {
								gt = 1
							}
							if v != v {
								vn = 1
							}
							if m != m {
								mn = 1
							}
							take := gt | (vn &^ mn) // v > m, or v the first NaN
							best[i] = max(m, v)
							arg[i] ^= (arg[i] ^ (xo + i)) & -take
						}
					}
				}
				d := dy.data[((n*g.oh+oh)*g.ow+ow)*c:][:c]
				for i, a := range arg {
					dx.data[a] += d[i]
				}
			}
		}
	}
}

// maxBackKernel is maxBackFast on the MaxPoolBackAVX2 and
// MaxPoolBackStoreAVX2 kernels (tap indices are int32 lanes there, hence
// the window-size check of the caller; offsets are ints). The
// output columns fall into runs whose windows have the same taps inside
// the input (the left edge, the interior, the right edge); each run of a
// row is one kernel call (or a few, to keep calls short) with one tap
// offset table. When the windows tile the input (no overlap, no gap, no
// uncovered edge: a 2×2 stride-2 pool of an even-sized input), every
// position of dx is stored exactly once and dx is not cleared first.
func (g poolGeom) maxBackKernel(dx, x, dy *Tensor, n0, n1 int) {
	c := g.c
	hwc := g.h * g.w * c
	buf := maxBackBufs.Get()
	defer maxBackBufs.Put(buf)
	runs := buf.runs[:0]
	for ow := 0; ow < g.ow; ow++ {
		kw0, kw1 := firstInside(ow*g.sw-g.p.PadLeft, g.dw, g.p.KW, g.w)
		if k := len(runs) - 1; k >= 0 && runs[k].kw0 == kw0 && runs[k].kw1 == kw1 {
			runs[k].ow1++
			continue
		}
		runs = append(runs, owRun{ow, ow + 1, kw0, kw1})
	}
	buf.runs = runs
	if taps := min(g.p.KH, g.h) * min(g.p.KW, g.w); cap(buf.toff) < taps { // a window's most taps inside
		buf.toff = make([]int, taps)
	}
	toff := buf.toff[:cap(buf.toff)]
	tabH, tabW := -1, -1 // the taps toff holds
	xs := g.sw * c * 4
	tiles := func(k, d, s, pad, out, size int) bool {
		return (k == 1 || d == 1) && s == k && (out-1)*s-pad+k >= size
	}
	store := tiles(g.p.KH, g.dh, g.sh, g.p.PadTop, g.oh, g.h) && tiles(g.p.KW, g.dw, g.sw, g.p.PadLeft, g.ow, g.w)
	rowLen := g.w * c
	for n := n0; n < n1; n++ {
		img := dx.data[n*hwc : (n+1)*hwc]
		cleared := 0 // rows of img cleared: just ahead of the windows, so that the adds hit the cache
		if store {
			cleared = g.h
		}
		for oh := 0; oh < g.oh; oh++ {
			h0 := oh*g.sh - g.p.PadTop
			kh0, kh1 := firstInside(h0, g.dh, g.p.KH, g.h)
			if kh0 >= kh1 {
				continue
			}
			if end := h0 + (kh1-1)*g.dh + 1; end > cleared {
				clear(img[cleared*rowLen : end*rowLen])
				cleared = end
			}
			for _, r := range runs {
				nkh, nkw := kh1-kh0, r.kw1-r.kw0
				if nkw <= 0 {
					continue
				}
				if nkh != tabH || nkw != tabW {
					t := 0
					for i := 0; i < nkh; i++ {
						for j := 0; j < nkw; j++ {
							toff[t] = (i*g.dh*g.w + j*g.dw) * c * 4
							t++
						}
					}
					tabH, tabW = nkh, nkw
				}
				nt := nkh * nkw
				// at most about 64Ki tap-channels per call: assembly is
				// not preempted
				step := max(1, (1<<16)/(nt*c))
				for ow := r.ow0; ow < r.ow1; ow += step {
					nw := min(step, r.ow1-ow)
					xo := ((n*g.h+h0+kh0*g.dh)*g.w + ow*g.sw - g.p.PadLeft + r.kw0*g.dw) * c
					yo := ((n*g.oh+oh)*g.ow + ow) * c
					callMaxPoolBack(store, nw, nt, c, x.data[xo:], dx.data[xo:], xs, toff[:nt], dy.data[yo:])
				}
			}
		}
		clear(img[cleared*rowLen:])
	}
}

// owRun is the output columns [ow0, ow1) whose windows have the kernel
// columns [kw0, kw1) inside the input.
type owRun struct{ ow0, ow1, kw0, kw1 int }

// maxBackBuf is one part's column runs and tap offset table.
type maxBackBuf struct {
	runs []owRun
	toff []int
}

var maxBackBufs = freeList[maxBackBuf]{}

// avgRowsFast is avgRows for the CPU backend.
func (g poolGeom) avgRowsFast(y, x *Tensor, r0, r1 int) {
	c := g.c
	for r := r0; r < r1; r++ {
		n, oh := r/g.oh, r%g.oh
		for ow := 0; ow < g.ow; ow++ {
			out := y.data[((n*g.oh+oh)*g.ow+ow)*c:][:c]
			clear(out)
			kh0, kh1, kw0, kw1 := g.tapRange(oh, ow)
			for kh := kh0; kh < kh1; kh++ {
				row := ((n*g.h + oh*g.sh - g.p.PadTop + kh*g.dh) * g.w) * c
				for kw := kw0; kw < kw1; kw++ {
					src := x.data[row+(ow*g.sw-g.p.PadLeft+kw*g.dw)*c:][:c]
					if c >= 16 {
						addF32(g.kn, out, out, src)
						continue
					}
					for i, v := range src {
						out[i] += v
					}
				}
			}
			if d := g.divisor(oh, ow); d > 0 {
				inv := 1 / d
				for i := range out {
					out[i] *= inv
				}
			}
		}
	}
}

// avgBackFast is avgBackImages for the CPU backend.
func (g poolGeom) avgBackFast(dx, dy *Tensor, n0, n1 int) {
	c := g.c
	hwc := g.h * g.w * c
	clear(dx.data[n0*hwc : n1*hwc])
	for n := n0; n < n1; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				d := g.divisor(oh, ow)
				if d == 0 {
					continue
				}
				inv := 1 / d
				src := dy.data[((n*g.oh+oh)*g.ow+ow)*c:][:c]
				kh0, kh1, kw0, kw1 := g.tapRange(oh, ow)
				for kh := kh0; kh < kh1; kh++ {
					row := ((n*g.h + oh*g.sh - g.p.PadTop + kh*g.dh) * g.w) * c
					for kw := kw0; kw < kw1; kw++ {
						dst := dx.data[row+(ow*g.sw-g.p.PadLeft+kw*g.dw)*c:][:c]
						if c >= 16 {
							axpyF32(g.kn, dst, inv, src)
							continue
						}
						for i, v := range src {
							dst[i] += inv * v
						}
					}
				}
			}
		}
	}
}
