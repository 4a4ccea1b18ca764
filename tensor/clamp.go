package tensor

// Clamp writes y = min(max(x, lo), hi) elementwise with Go's min and max
// (of two equal zeros max gives +0 and min −0; a NaN stays a NaN, its
// sign and payload unspecified), bit for bit the plain loop on every
// other value, over host data: the vector kernel where there
// is one, on several threads for large tensors. y may be x.
func Clamp(y, x *Tensor, lo, hi float32) {
	mustSameShape("Clamp", y, x)
	c := clampCalls.Get()
	c.kn, c.y, c.x, c.lo, c.hi = hostKernels(y), y.Data(), x.Data(), lo, hi
	parallel(min(goMaxProcs(), len(c.y)/relu6Grain), c)
	c.kn, c.y, c.x = nil, nil, nil
	clampCalls.Put(c)
}

// hostKernels returns the kernel set of t's backend when it is a CPU,
// else of the process's tier: for the package's functions over host data.
func hostKernels(t *Tensor) *gemmKernel {
	if c, ok := t.Backend().(CPU); ok {
		return c.kern()
	}
	return cpuKernel()
}

// clampCall is Clamp over a slice cut into parts of whole cache lines.
type clampCall struct {
	kn     *gemmKernel
	y, x   []float32
	lo, hi float32
}

var clampCalls = freeList[clampCall]{}

func (c *clampCall) run(part, parts int) {
	lo, hi := lineParts(len(c.y), part, parts)
	clampF32(c.kn, c.y[lo:hi], c.x[lo:hi], c.lo, c.hi)
}

// clampF32 is Clamp over slices.
func clampF32(kn *gemmKernel, y, x []float32, lo, hi float32) {
	x = x[:len(y)]
	i := 0
	if lo == lo && hi == hi {
		i = clampFast(kn, y, x, lo, hi)
	}
	for ; i < len(y); i++ {
		y[i] = min(max(x[i], lo), hi)
	}
}
