package tensor

// Reference convolutions: the defining loops, in float64, over
// x [N,H,W,C] (NHWC), w [O, C/G, KH, KW] (OIHW) and y [N,OH,OW,O], where
// output channel o belongs to group g = o / (O/G) and reads input channels
// g·C/G + c for c < C/G, and
//
//	ih = oh·strideH − padTop + kh·dilationH,  iw = ow·strideW − padLeft + kw·dilationW
//
// (positions outside the input read as zero).

// Conv2D computes y[n,oh,ow,o] = bias[o] + Σ_{c,kh,kw} x[n,ih,iw,g·C/G+c]·w[o,c,kh,kw].
// bias may be nil.
func (Reference) Conv2D(y, x, w, bias *Tensor, p ConvParams) {
	hostOnly(y, x, w, bias)
	g := convDims("Conv2D", x, w, y, bias, p)
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				for o := 0; o < g.o; o++ {
					var s float64
					if bias != nil {
						s = float64(bias.data[o])
					}
					refConvTaps(g, n, oh, ow, o, func(xi, wi int) {
						s += float64(x.data[xi]) * float64(w.data[wi])
					})
					y.data[((n*g.oh+oh)*g.ow+ow)*g.o+o] = float32(s)
				}
			}
		}
	}
}

// Conv2DBackwardData computes dx[n,ih,iw,ci] = Σ dy[n,oh,ow,o]·w[o,c,kh,kw]
// over every (oh, ow, o, kh, kw) whose tap reads x[n,ih,iw,ci].
func (Reference) Conv2DBackwardData(dx, dy, w *Tensor, p ConvParams) {
	hostOnly(dx, dy, w)
	g := convDims("Conv2DBackwardData", dx, w, dy, nil, p)
	acc := make([]float64, len(dx.data))
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				for o := 0; o < g.o; o++ {
					d := float64(dy.data[((n*g.oh+oh)*g.ow+ow)*g.o+o])
					refConvTaps(g, n, oh, ow, o, func(xi, wi int) {
						acc[xi] += d * float64(w.data[wi])
					})
				}
			}
		}
	}
	for i, v := range acc {
		dx.data[i] = float32(v)
	}
}

// Conv2DBackwardWeights computes dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,oh,ow,o]·x[n,ih,iw,g·C/G+c]
// and, when db is not nil, db[o] = Σ_{n,oh,ow} dy[n,oh,ow,o].
func (Reference) Conv2DBackwardWeights(dw, db, x, dy *Tensor, p ConvParams) {
	hostOnly(dw, db, x, dy)
	g := convDims("Conv2DBackwardWeights", x, dw, dy, db, p)
	acc := make([]float64, len(dw.data))
	bacc := make([]float64, g.o)
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				for o := 0; o < g.o; o++ {
					d := float64(dy.data[((n*g.oh+oh)*g.ow+ow)*g.o+o])
					bacc[o] += d
					refConvTaps(g, n, oh, ow, o, func(xi, wi int) {
						acc[wi] += d * float64(x.data[xi])
					})
				}
			}
		}
	}
	for i, v := range acc {
		dw.data[i] = float32(v)
	}
	if db != nil {
		for i, v := range bacc {
			db.data[i] = float32(v)
		}
	}
}

// refConvTaps calls f(xi, wi) with the storage indices of x and w for every
// tap of output (n, oh, ow, o) that falls inside the input.
func refConvTaps(g convGeom, n, oh, ow, o int, f func(xi, wi int)) {
	grp := o / g.og
	for c := 0; c < g.cg; c++ {
		for kh := 0; kh < g.kh; kh++ {
			ih := oh*g.p.StrideH - g.p.PadTop + kh*g.p.DilationH
			if ih < 0 || ih >= g.h {
				continue
			}
			for kw := 0; kw < g.kw; kw++ {
				iw := ow*g.p.StrideW - g.p.PadLeft + kw*g.p.DilationW
				if iw < 0 || iw >= g.w {
					continue
				}
				f(((n*g.h+ih)*g.w+iw)*g.c+grp*g.cg+c, ((o*g.cg+c)*g.kh+kh)*g.kw+kw)
			}
		}
	}
}
