package tensor

// Clamp writes y = min(max(x, lo), hi) elementwise with Go's min and max
// (of two equal zeros max gives +0 and min −0; a NaN stays a NaN, its
// sign and payload unspecified), bit for bit the plain loop on every
// other value, over host data: the vector kernel where there
// is one, on several threads for large tensors. y may be x.
func Clamp(y, x *Tensor, lo, hi float32) {
	mustSameShape("Clamp", y, x)
	c := clampCalls.Get()
	c.y, c.x, c.lo, c.hi = y.Data(), x.Data(), lo, hi
	parallel(min(goMaxProcs(), len(c.y)/relu6Grain), c)
	c.y, c.x = nil, nil
	clampCalls.Put(c)
}

// clampCall is Clamp over a slice cut into parts of whole cache lines.
type clampCall struct {
	y, x   []float32
	lo, hi float32
}

var clampCalls = freeList[clampCall]{}

func (c *clampCall) run(part, parts int) {
	lo, hi := lineParts(len(c.y), part, parts)
	clampF32(c.y[lo:hi], c.x[lo:hi], c.lo, c.hi)
}

// clampF32 is Clamp over slices.
func clampF32(y, x []float32, lo, hi float32) {
	x = x[:len(y)]
	i := 0
	if lo == lo && hi == hi {
		i = clampFast(y, x, lo, hi)
	}
	for ; i < len(y); i++ {
		y[i] = min(max(x[i], lo), hi)
	}
}
