package tensor

// FusedAct is an elementwise activation a kernel applies to its output as
// it stores it (Conv2DAct), instead of a separate pass over memory: the
// same values, bit for bit, as the layer's output followed by ReLU or
// Clamp (a NaN stays a NaN, its payload unspecified). The zero value does
// nothing.
type FusedAct struct {
	Kind FusedKind
	// Lo and Hi are FuseClamp's bounds (not NaN).
	Lo, Hi float32
}

// FusedKind names a FusedAct.
type FusedKind uint8

// The fused activations.
const (
	// FuseNone leaves the output as it is.
	FuseNone FusedKind = iota
	// FuseReLU sets values below zero to +0, as ReLU (−0 and NaN kept).
	FuseReLU
	// FuseClamp computes min(max(y, Lo), Hi) with Go's min and max, as
	// Clamp: ONNX's Clip, ReLU6 as Clip(0, 6).
	FuseClamp
)

// ReLUAct returns the fused ReLU.
func ReLUAct() FusedAct { return FusedAct{Kind: FuseReLU} }

// ClampAct returns the fused clamp to [lo, hi] (neither NaN).
func ClampAct(lo, hi float32) FusedAct { return FusedAct{Kind: FuseClamp, Lo: lo, Hi: hi} }

// apply runs the activation over y in place (vector kernels where there
// are some, one thread).
func (a FusedAct) apply(kn *gemmKernel, y []float32) {
	switch a.Kind {
	case FuseReLU:
		reluF32(kn, y, y)
	case FuseClamp:
		clampF32(kn, y, y, a.Lo, a.Hi)
	}
}

// applyParallel runs the activation over all of y in place, on several
// threads for long slices.
func (a FusedAct) applyParallel(kn *gemmKernel, y []float32) {
	switch a.Kind {
	case FuseReLU:
		reluParallel(kn, y, y)
	case FuseClamp:
		c := clampCalls.Get()
		c.kn, c.y, c.x, c.lo, c.hi = kn, y, y, a.Lo, a.Hi
		parallel(min(goMaxProcs(), len(c.y)/relu6Grain), c)
		c.kn, c.y, c.x = nil, nil, nil
		clampCalls.Put(c)
	}
}

// reluParallel is reluF32 cut into parts of whole cache lines on up to
// GOMAXPROCS threads for large slices (each element computed alike).
func reluParallel(kn *gemmKernel, y, x []float32) {
	c := reluCalls.Get()
	c.kn, c.y, c.x = kn, y, x
	parallel(min(goMaxProcs(), len(y)/relu6Grain), c)
	c.kn, c.y, c.x = nil, nil, nil
	reluCalls.Put(c)
}

type reluCall struct {
	kn   *gemmKernel
	y, x []float32
}

var reluCalls = freeList[reluCall]{}

func (c *reluCall) run(part, parts int) {
	lo, hi := lineParts(len(c.y), part, parts)
	reluF32(c.kn, c.y[lo:hi], c.x[lo:hi])
}

// ConvActer is a Backend whose convolution applies a FusedAct as it
// writes its output (the CPU). Conv2DAct falls back to a separate pass
// on the others.
type ConvActer interface {
	// Conv2DAct is Conv2D followed by act, in one pass where it can.
	Conv2DAct(y, x, w, bias *Tensor, p ConvParams, act FusedAct)
}

// Conv2DAct computes y = act(conv(x, w) + bias) on y's backend:
// bit for bit Conv2D followed by ReLU or Clamp on y, the activation fused
// into the convolution's store where the backend can (ConvActer), a
// separate pass where not.
func Conv2DAct(y, x, w, bias *Tensor, p ConvParams, act FusedAct) {
	be := y.Backend()
	if ca, ok := be.(ConvActer); ok {
		ca.Conv2DAct(y, x, w, bias, p, act)
		return
	}
	be.Conv2D(y, x, w, bias, p)
	switch act.Kind {
	case FuseReLU:
		be.ReLU(y, y)
	case FuseClamp:
		Clamp(y, y, act.Lo, act.Hi)
	}
}

// AddAct computes z = act(x + y) elementwise on z's backend: bit
// for bit Add followed by ReLU or Clamp on z, in one pass over cache-sized
// chunks on several threads on the CPU. z may be x or y.
func AddAct(z, x, y *Tensor, act FusedAct) {
	be := z.Backend()
	if _, ok := be.(CPU); !ok {
		be.Add(z, x, y)
		switch act.Kind {
		case FuseReLU:
			be.ReLU(z, z)
		case FuseClamp:
			Clamp(z, z, act.Lo, act.Hi)
		}
		return
	}
	mustSameShape("AddAct", z, x, y)
	sameBackend("AddAct", be, z, x, y)
	addAct(be.(CPU).kern(), z.data, x.data, y.data, act)
}

// addActChunk is how many floats addAct adds before applying the
// activation to them (while they are in L1).
const addActChunk = 2048

// addAct is AddAct over slices, on up to GOMAXPROCS threads for long
// ones (each element computed alike whatever the parts).
func addAct(kn *gemmKernel, z, x, y []float32, act FusedAct) {
	c := addActCalls.Get()
	c.kn, c.z, c.x, c.y, c.act = kn, z, x, y, act
	parallel(min(goMaxProcs(), len(z)/relu6Grain), c)
	*c = addActCall{}
	addActCalls.Put(c)
}

type addActCall struct {
	kn      *gemmKernel
	z, x, y []float32
	act     FusedAct
}

var addActCalls = freeList[addActCall]{}

func (c *addActCall) run(part, parts int) {
	lo, hi := lineParts(len(c.z), part, parts)
	for i := lo; i < hi; i += addActChunk {
		e := min(i+addActChunk, hi)
		addF32(c.kn, c.z[i:e], c.x[i:e], c.y[i:e])
		c.act.apply(c.kn, c.z[i:e])
	}
}
