package tensor

import (
	"fmt"
	"slices"
)

// Concat copies srcs, joined along axis, into dst. Every src has dst's
// shape except along axis, where their sizes add up to dst's.
func (Reference) Concat(dst *Tensor, axis int, srcs ...*Tensor) {
	hostOnly(dst)
	hostOnly(srcs...)
	concat(dst, axis, srcs, false)
}

// Concat is Reference.Concat.
func (cpu CPU) Concat(dst *Tensor, axis int, srcs ...*Tensor) {
	sameBackend("Concat", cpu, dst)
	sameBackend("Concat", cpu, srcs...)
	concat(dst, axis, srcs, false)
}

// Split is Concat's backward: it copies the parts of src along axis into
// dsts (the concatenation's inputs' gradients).
func (Reference) Split(src *Tensor, axis int, dsts ...*Tensor) {
	hostOnly(src)
	hostOnly(dsts...)
	concat(src, axis, dsts, true)
}

// Split is Reference.Split.
func (cpu CPU) Split(src *Tensor, axis int, dsts ...*Tensor) {
	sameBackend("Split", cpu, src)
	sameBackend("Split", cpu, dsts...)
	concat(src, axis, dsts, true)
}

func concat(whole *Tensor, axis int, parts []*Tensor, split bool) {
	op := "Concat"
	if split {
		op = "Split"
	}
	outer, inner, axis := concatDims(op, whole, axis, parts)
	row := whole.shape[axis] * inner
	off := 0
	for _, p := range parts {
		run := p.shape[axis] * inner
		for o := 0; o < outer; o++ {
			w := whole.data[o*row+off : o*row+off+run]
			q := p.data[o*run : (o+1)*run]
			if split {
				copy(q, w)
			} else {
				copy(w, q)
			}
		}
		off += run
	}
}

// concatDims checks the parts of a concatenation along axis and returns
// the sizes before and after the axis, and the axis (not negative).
func concatDims(op string, whole *Tensor, axis int, parts []*Tensor) (outer, inner, ax int) {
	if axis < 0 {
		axis += whole.Rank()
	}
	if axis < 0 || axis >= whole.Rank() {
		panic(fmt.Sprintf("tensor.%s: no axis %d in shape %v", op, axis, whole.shape))
	}
	sum := 0
	for _, p := range parts {
		ok := p.Rank() == whole.Rank()
		for d := 0; ok && d < p.Rank(); d++ {
			ok = d == axis || p.shape[d] == whole.shape[d]
		}
		if !ok {
			panic(fmt.Sprintf("tensor.%s: part %v does not fit %v along axis %d", op, p.shape, whole.shape, axis))
		}
		sum += p.shape[axis]
	}
	if sum != whole.shape[axis] {
		panic(fmt.Sprintf("tensor.%s: parts add up to %d along axis %d, whole %v has %d", op, sum, axis, whole.shape, whole.shape[axis]))
	}
	outer, inner = 1, 1
	for _, d := range whole.shape[:axis] {
		outer *= d
	}
	for _, d := range whole.shape[axis+1:] {
		inner *= d
	}
	return outer, inner, axis
}

// PadMode is how Pad fills the border.
type PadMode int

// The padding modes, as ONNX names them.
const (
	PadConstant PadMode = iota // the given value
	PadReflect                 // mirror without repeating the edge: 3 2 | 1 2 3 | 2 1
	PadEdge                    // repeat the edge: 1 1 | 1 2 3 | 3 3
)

// Pad copies src into dst with pads[d] = {before, after} elements added
// along each dimension d, filled as mode says. Negative pads crop.
func (Reference) Pad(dst, src *Tensor, pads [][2]int, mode PadMode, value float32) {
	hostOnly(dst, src)
	pad(dst, src, pads, mode, value)
}

// Pad is Reference.Pad.
func (cpu CPU) Pad(dst, src *Tensor, pads [][2]int, mode PadMode, value float32) {
	sameBackend("Pad", cpu, dst, src)
	pad(dst, src, pads, mode, value)
}

func pad(dst, src *Tensor, pads [][2]int, mode PadMode, value float32) {
	padDims(dst, src, pads, mode)
	idx := make([]int, dst.Rank())
	for i := range dst.data {
		// unravel i in dst, map each coordinate back into src
		rem := i
		for d := dst.Rank() - 1; d >= 0; d-- {
			idx[d] = rem % dst.shape[d]
			rem /= dst.shape[d]
		}
		so, inside := 0, true
		for d, c := range idx {
			s := c - pads[d][0]
			n := src.shape[d]
			if s < 0 || s >= n {
				switch mode {
				case PadConstant:
					inside = false
				case PadEdge:
					s = min(max(s, 0), n-1)
				case PadReflect:
					period := 2 * (n - 1)
					if period == 0 {
						s = 0
					} else {
						s = ((s % period) + period) % period
						if s >= n {
							s = period - s
						}
					}
				}
			}
			so = so*n + s
		}
		if inside {
			dst.data[i] = src.data[so]
		} else {
			dst.data[i] = value
		}
	}
}

// padDims checks Pad's shapes: dst is src with pads added (negative
// crops); reflection needs pads shorter than their dimension.
func padDims(dst, src *Tensor, pads [][2]int, mode PadMode) {
	if len(pads) != src.Rank() || dst.Rank() != src.Rank() {
		panic(fmt.Sprintf("tensor.Pad: %d pads for src %v, dst %v", len(pads), src.shape, dst.shape))
	}
	for d, p := range pads {
		if dst.shape[d] != src.shape[d]+p[0]+p[1] {
			panic(fmt.Sprintf("tensor.Pad: src %v with pads %v gives dim %d = %d, dst is %v", src.shape, pads, d, src.shape[d]+p[0]+p[1], dst.shape))
		}
		if mode == PadReflect && (p[0] >= src.shape[d] || p[1] >= src.shape[d]) && src.shape[d] > 0 {
			panic(fmt.Sprintf("tensor.Pad: reflect pads %v need at most %d along dim %d", p, src.shape[d]-1, d))
		}
	}
}

// layoutDims checks a transpose between NCHW and NHWC: src [N,C,H,W] and
// dst [N,H,W,C] when toNHWC, else src [N,H,W,C] and dst [N,C,H,W].
func layoutDims(op string, dst, src *Tensor, toNHWC bool) {
	ok := src.Rank() == 4
	if ok && toNHWC {
		ok = slices.Equal(dst.shape, []int{src.shape[0], src.shape[2], src.shape[3], src.shape[1]})
	} else if ok {
		ok = slices.Equal(dst.shape, []int{src.shape[0], src.shape[3], src.shape[1], src.shape[2]})
	}
	if !ok {
		panic(fmt.Sprintf("tensor.%s: src %v, dst %v", op, src.shape, dst.shape))
	}
}

// NCHWToNHWC copies src [N,C,H,W] into dst [N,H,W,C] on the default
// backend.
func NCHWToNHWC(dst, src *Tensor) { dst.Backend().NCHWToNHWC(dst, src) }

// NHWCToNCHW copies src [N,H,W,C] into dst [N,C,H,W] on the default
// backend.
func NHWCToNCHW(dst, src *Tensor) { dst.Backend().NHWCToNCHW(dst, src) }

// NCHWToNHWC copies src [N,C,H,W] into dst [N,H,W,C].
func (Reference) NCHWToNHWC(dst, src *Tensor) {
	hostOnly(dst, src)
	nchwToNHWC(dst, src)
}

// NCHWToNHWC is Reference.NCHWToNHWC.
func (cpu CPU) NCHWToNHWC(dst, src *Tensor) {
	sameBackend("NCHWToNHWC", cpu, dst, src)
	nchwToNHWC(dst, src)
}

// NHWCToNCHW copies src [N,H,W,C] into dst [N,C,H,W].
func (Reference) NHWCToNCHW(dst, src *Tensor) {
	hostOnly(dst, src)
	nhwcToNCHW(dst, src)
}

// NHWCToNCHW is Reference.NHWCToNCHW.
func (cpu CPU) NHWCToNCHW(dst, src *Tensor) {
	sameBackend("NHWCToNCHW", cpu, dst, src)
	nhwcToNCHW(dst, src)
}

func nchwToNHWC(dst, src *Tensor) {
	layoutDims("NCHWToNHWC", dst, src, true)
	n, c, h, w := src.shape[0], src.shape[1], src.shape[2], src.shape[3]
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				dst.data[(i*h*w+p)*c+ch] = src.data[(i*c+ch)*h*w+p]
			}
		}
	}
}

func nhwcToNCHW(dst, src *Tensor) {
	layoutDims("NHWCToNCHW", dst, src, false)
	n, h, w, c := src.shape[0], src.shape[1], src.shape[2], src.shape[3]
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				dst.data[(i*c+ch)*h*w+p] = src.data[(i*h*w+p)*c+ch]
			}
		}
	}
}

// broadcastDims checks y [rows, cols] against b [cols].
func broadcastDims(y, b *Tensor) (rows, cols int) {
	if y.Rank() != 2 || b.Rank() != 1 || b.shape[0] != y.shape[1] {
		panic(fmt.Sprintf("tensor.BroadcastRows: y %v (want [rows, cols]), b %v (want [cols])", y.shape, b.shape))
	}
	return y.shape[0], y.shape[1]
}

// BroadcastRows sets every row of y [rows, cols] to b [cols].
func (Reference) BroadcastRows(y, b *Tensor) {
	hostOnly(y, b)
	broadcastRows(y, b)
}

// BroadcastRows is Reference.BroadcastRows.
func (cpu CPU) BroadcastRows(y, b *Tensor) {
	sameBackend("BroadcastRows", cpu, y, b)
	broadcastRows(y, b)
}

func broadcastRows(y, b *Tensor) {
	rows, cols := broadcastDims(y, b)
	for i := 0; i < rows; i++ {
		copy(y.data[i*cols:(i+1)*cols], b.data)
	}
}

// ImageToFloat converts 8-bit HWC pixels (an image's bytes, channels
// interleaved) into dst [H,W,C] or [1,H,W,C]: (v/255 − mean[c]) / std[c].
// mean and std have one value per channel, or one for all.
func ImageToFloat(dst *Tensor, pix []uint8, mean, std []float32) {
	c := dst.shape[dst.Rank()-1]
	if len(pix) != dst.Len() || (len(mean) != c && len(mean) != 1) || len(std) != len(mean) {
		panic(fmt.Sprintf("tensor.ImageToFloat: %d bytes for %v, %d means, %d stds", len(pix), dst.shape, len(mean), len(std)))
	}
	dst.hostWrite() // on a GPU, dst's host values become the current ones
	for i, v := range pix {
		ch := 0
		if len(mean) > 1 {
			ch = i % c
		}
		dst.data[i] = (float32(v)/255 - mean[ch]) / std[ch]
	}
}
