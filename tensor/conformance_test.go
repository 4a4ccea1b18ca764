package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/childtest"
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/kernels/cuda"
)

// The conformance suite: every Backend method, on shapes with ragged
// edges, against the Reference backend. It runs on the CPU at every kernel
// tier this machine has and, when a GPU answers (or on the CUDA emulator,
// TestConformanceOnEmulator), on the CUDA backend.

// confCase is one call of a backend method: run builds its inputs from r
// (the same values for every backend) and returns the tensors it wrote
// (and, for a scalar result, a one-element tensor).
type confCase struct {
	name string
	tol  float64 // |got − want| ≤ tol·max|want| elementwise; 0: the same bits
	run  func(b Backend, r *rand.Rand) []*Tensor
}

func confRand(r *rand.Rand, shape ...int) *Tensor {
	return RandNormal(r.Uint64(), 0, 1, shape...)
}

func confPos(r *rand.Rand, shape ...int) *Tensor { // values in [0.5, 1.5)
	return RandUniform(r.Uint64(), 0.5, 1.5, shape...)
}

func confScale(t *Tensor, f float32) {
	for i := range t.Data() {
		t.data[i] *= f
	}
}

// confNaN is a tensor of NaNs, on b's device: outputs must be written
// whole (on a GPU the NaNs are in the device memory the output gets).
func confNaN(b Backend, shape ...int) *Tensor {
	t := Full(float32(math.NaN()), shape...)
	if _, ok := b.(CUDA); ok {
		b.Scale(t, 1, t)
	}
	return t
}

func conformanceCases() []confCase {
	var cs []confCase
	add := func(tol float64, run func(b Backend, r *rand.Rand) []*Tensor, format string, args ...any) {
		cs = append(cs, confCase{fmt.Sprintf(format, args...), tol, run})
	}
	for _, s := range [][3]int{{1, 1, 1}, {7, 17, 33}, {33, 7, 17}, {64, 65, 66}, {3, 5, 0}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, beta := range []float32{0, 0.5} {
				m, n, k := s[0], s[1], s[2]
				add(1e-5, func(b Backend, r *rand.Rand) []*Tensor {
					a, bb := confRand(r, m, k), confRand(r, k, n)
					if tr[0] {
						a = confRand(r, k, m)
					}
					if tr[1] {
						bb = confRand(r, n, k)
					}
					c := confNaN(b, m, n)
					if beta != 0 {
						c = confRand(r, m, n)
					}
					b.MatMul(c, a, bb, tr[0], tr[1], 1.5, beta)
					return []*Tensor{c}
				}, "MatMul/%dx%dx%d/t%v%v/beta=%v", m, n, k, tr[0], tr[1], beta)
			}
		}
	}
	for _, n := range []int{1, 17, 1000} {
		add(0, func(b Backend, r *rand.Rand) []*Tensor {
			x, y := confRand(r, n), confRand(r, n)
			z1, z2, z3, z4 := confNaN(b, n), confNaN(b, n), confNaN(b, n), confRand(r, n)
			b.Add(z1, x, y)
			b.Mul(z2, x, y)
			b.Scale(z3, -0.75, x)
			b.Add(x, x, y) // in place
			return []*Tensor{z1, z2, z3, x, z4}
		}, "Elementwise/%d", n)
		add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
			x, y := confRand(r, n), confRand(r, n)
			b.Axpy(y, 0.3, x)
			return []*Tensor{y}
		}, "Axpy/%d", n)
		add(0, func(b Backend, r *rand.Rand) []*Tensor {
			x, dy := confRand(r, n), confRand(r, n)
			x.Data()[0] = 0
			y, dx := confNaN(b, n), confNaN(b, n)
			b.ReLU(y, x)
			b.ReLUGrad(dx, x, dy)
			return []*Tensor{y, dx}
		}, "ReLU/%d", n)
		for a := ActReLU; a <= ActGELU; a++ {
			add(2e-6, func(b Backend, r *rand.Rand) []*Tensor {
				x, dy := confRand(r, n), confRand(r, n)
				confScale(x, 4) // reach ReLU6's top
				y, dx := confNaN(b, n), confNaN(b, n)
				b.Activate(y, x, a, 0.1)
				b.ActivateGrad(dx, x, y, dy, a, 0.1)
				return []*Tensor{y, dx}
			}, "Activation/%v/%d", a, n)
		}
	}
	for _, axis := range []int{0, 1, 2, -1} {
		add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
			src := confRand(r, 3, 17, 5)
			shape := []int{3, 17, 5}
			ax := (axis + 3) % 3
			shape = append(shape[:ax:ax], shape[ax+1:]...)
			s, m := confNaN(b, shape...), confNaN(b, shape...)
			b.Sum(s, src, axis)
			b.Max(m, src, axis)
			return []*Tensor{s, m}
		}, "Reduce/axis=%d", axis)
	}
	pad1 := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	for _, c := range []struct {
		n, h, w, c, o, kh, kw int
		p                     ConvParams
		bias                  bool
	}{
		{2, 9, 7, 3, 8, 3, 3, pad1, true},
		{1, 8, 8, 16, 17, 3, 3, ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, false},
		{2, 7, 9, 12, 12, 3, 3, ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 12}, true},
		{2, 6, 5, 33, 7, 1, 1, ConvParams{}, true},
		{1, 9, 9, 8, 6, 3, 3, ConvParams{PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2, Groups: 2}, false},
		{2, 12, 11, 1, 6, 5, 5, ConvParams{PadTop: 2, PadLeft: 1}, true},
	} {
		add(1e-5, func(b Backend, r *rand.Rand) []*Tensor {
			x, w := confRand(r, c.n, c.h, c.w, c.c), confRand(r, c.o, c.c/max(c.p.Groups, 1), c.kh, c.kw)
			var bias, db *Tensor
			if c.bias {
				bias, db = confRand(r, c.o), confNaN(b, c.o)
			}
			oh, ow := c.p.OutSize(c.h, c.w, c.kh, c.kw)
			y, dy := confNaN(b, c.n, oh, ow, c.o), confRand(r, c.n, oh, ow, c.o)
			dx, dw := confNaN(b, c.n, c.h, c.w, c.c), confNaN(b, w.Shape()...)
			b.Conv2D(y, x, w, bias, c.p)
			b.Conv2DBackwardData(dx, dy, w, c.p)
			b.Conv2DBackwardWeights(dw, db, x, dy, c.p)
			out := []*Tensor{y, dx, dw}
			if db != nil {
				out = append(out, db)
			}
			return out
		}, "Conv2D/%dx%dx%dx%d/o=%d/k=%dx%d/%+v", c.n, c.h, c.w, c.c, c.o, c.kh, c.kw, c.p)
	}
	for _, p := range []PoolParams{
		{KH: 3, KW: 3, ConvParams: ConvParams{StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}},
		{KH: 3, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 1, PadTop: 1, PadBottom: 1}, CountIncludePad: true},
		{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}, CeilMode: true},
	} {
		add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
			x := confRand(r, 2, 7, 9, 5)
			oh, ow := p.OutSize(7, 9)
			y1, y2, dy := confNaN(b, 2, oh, ow, 5), confNaN(b, 2, oh, ow, 5), confRand(r, 2, oh, ow, 5)
			dx1, dx2 := confNaN(b, 2, 7, 9, 5), confNaN(b, 2, 7, 9, 5)
			b.MaxPool2D(y1, x, p)
			b.MaxPool2DBackward(dx1, x, dy, p)
			b.AvgPool2D(y2, x, p)
			b.AvgPool2DBackward(dx2, dy, p)
			return []*Tensor{y1, dx1, y2, dx2}
		}, "Pool/%dx%d/%+v", p.KH, p.KW, p.ConvParams)
	}
	add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
		x, dy := confRand(r, 3, 5, 7, 17), confRand(r, 3, 17)
		y, dx := confNaN(b, 3, 17), confNaN(b, 3, 5, 7, 17)
		b.GlobalAvgPool(y, x)
		b.GlobalAvgPoolBackward(dx, dy)
		return []*Tensor{y, dx}
	}, "GlobalAvgPool")
	for _, relu := range []bool{false, true} {
		add(1e-5, func(b Backend, r *rand.Rand) []*Tensor {
			const c = 19
			x, dy := confRand(r, 2, 5, 3, c), confRand(r, 2, 5, 3, c)
			gamma, beta, rm, rv := confPos(r, c), confRand(r, c), confRand(r, c), confPos(r, c)
			p := BatchNormParams{Momentum: 0.1, Eps: 1e-5, UnbiasedVar: true, ReLU: relu}
			y, sm, si := confNaN(b, x.Shape()...), confNaN(b, c), confNaN(b, c)
			b.BatchNormTrain(y, x, gamma, beta, rm, rv, sm, si, p)
			dx, dg, db := confNaN(b, x.Shape()...), confNaN(b, c), confNaN(b, c)
			b.BatchNormBackward(dx, dg, db, x, dy, gamma, sm, si)
			dg2, db2 := confNaN(b, c), confNaN(b, c)
			b.BatchNormBackward(nil, dg2, db2, x, dy, gamma, sm, si)
			yi := confNaN(b, x.Shape()...)
			b.BatchNormInference(yi, x, gamma, beta, rm, rv, p)
			return []*Tensor{y, rm, rv, sm, si, dx, dg, db, dg2, db2, yi}
		}, "BatchNorm/relu=%v", relu)
	}
	for _, axis := range []int{1, 0} {
		for _, log := range []bool{false, true} {
			add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
				x, dy := confRand(r, 7, 33), confRand(r, 7, 33)
				confScale(x, 5)
				y, dx := confNaN(b, 7, 33), confNaN(b, 7, 33)
				b.Softmax(y, x, axis, log)
				b.SoftmaxGrad(dx, y, dy, axis, log)
				return []*Tensor{y, dx}
			}, "Softmax/axis=%d/log=%v", axis, log)
		}
	}
	for _, sm := range []float32{0, 0.1} {
		add(1e-6, func(b Backend, r *rand.Rand) []*Tensor {
			logits := confRand(r, 37, 10)
			confScale(logits, 3)
			labels := make([]int, 37)
			for i := range labels {
				labels[i] = r.IntN(10)
			}
			grad := confNaN(b, 37, 10)
			loss := b.SoftmaxCrossEntropy(grad, logits, labels, sm)
			loss2 := b.SoftmaxCrossEntropy(nil, logits, labels, sm)
			return []*Tensor{grad, FromSlice([]float32{loss, loss2}, 2)}
		}, "SoftmaxCrossEntropy/smoothing=%v", sm)
	}
	add(0, func(b Backend, r *rand.Rand) []*Tensor {
		x := confRand(r, 5, 33)
		y, mask := confNaN(b, 5, 33), confNaN(b, 5, 33)
		b.Dropout(y, mask, x, 0.3, 42)
		return []*Tensor{y, mask}
	}, "Dropout")
	add(0, func(b Backend, r *rand.Rand) []*Tensor {
		x1, x2 := confRand(r, 2, 3, 4), confRand(r, 2, 5, 4)
		cat, s1, s2 := confNaN(b, 2, 8, 4), confNaN(b, 2, 3, 4), confNaN(b, 2, 5, 4)
		b.Concat(cat, 1, x1, x2)
		b.Split(cat, 1, s1, s2)
		pd := confNaN(b, 4, 12, 6)
		b.Pad(pd, cat, [][2]int{{1, 1}, {2, 2}, {0, 2}}, PadReflect, 0)
		return []*Tensor{cat, s1, s2, pd}
	}, "ConcatSplitPad")
	for _, n := range []int{1, 17, 70000} {
		add(0, func(b Backend, r *rand.Rand) []*Tensor {
			w1, w2, w3, buf := confRand(r, n), confRand(r, n), confRand(r, n), confNaN(b, n)
			g := confRand(r, n)
			b.SGDStep(w1, g, nil, 0.1, 0, 1e-4, false, false)
			b.SGDStep(w2, g, buf, 0.1, 0.9, 1e-4, false, true)
			b.SGDStep(w2, g, buf, 0.1, 0.9, 1e-4, true, false)
			m, v := Zeros(n), Zeros(n)
			for _, dec := range []bool{false, true} {
				b.AdamStep(w3, g, m, v, AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01,
					StepSize: 1e-3 / 0.1, SqrtBC2: float32(math.Sqrt(0.001)), Decoupled: dec})
			}
			return []*Tensor{w1, w2, buf, w3, m, v}
		}, "Optimizers/%d", n)
	}
	add(0, func(b Backend, r *rand.Rand) []*Tensor {
		bias := confRand(r, 17)
		y := confNaN(b, 33, 17)
		b.BroadcastRows(y, bias)
		x := confRand(r, 3, 5, 7, 17)
		nchw, back := confNaN(b, 3, 17, 5, 7), confNaN(b, 3, 5, 7, 17)
		b.NHWCToNCHW(nchw, x)
		b.NCHWToNHWC(back, nchw)
		return []*Tensor{y, nchw, back}
	}, "Layout")
	// empty batches and sizes: nothing to compute, and nothing may fail
	add(0, func(b Backend, r *rand.Rand) []*Tensor {
		p := ConvParams{PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		x, w, bias := confRand(r, 0, 5, 5, 3), confRand(r, 4, 3, 3, 3), confRand(r, 4)
		y, dy, dx := confNaN(b, 0, 5, 5, 4), confRand(r, 0, 5, 5, 4), confNaN(b, 0, 5, 5, 3)
		dw, db := confNaN(b, 4, 3, 3, 3), confNaN(b, 4)
		b.Conv2D(y, x, w, bias, p)
		b.Conv2DBackwardData(dx, dy, w, p)
		b.Conv2DBackwardWeights(dw, db, x, dy, p)
		pp := PoolParams{KH: 2, KW: 2, ConvParams: ConvParams{StrideH: 2, StrideW: 2}}
		py, pdx := confNaN(b, 0, 2, 2, 3), confNaN(b, 0, 5, 5, 3)
		b.MaxPool2D(py, x, pp)
		b.MaxPool2DBackward(pdx, x, py, pp)
		g := confNaN(b, 0, 3)
		b.GlobalAvgPool(g, x)
		c := confNaN(b, 0, 7)
		b.MatMul(c, confRand(r, 0, 5), confRand(r, 5, 7), false, false, 1, 0)
		return []*Tensor{y, dx, dw, db, py, pdx, g, c}
	}, "Empty")
	return cs
}

// conformCompare reports the first element of got that is not within tol
// of want (NaN must meet NaN).
func conformCompare(got, want *Tensor, tol float64) string {
	if !got.SameShape(want) {
		return fmt.Sprintf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g, w := got.Data(), want.Data()
	var scale float64
	for _, v := range w {
		if !math.IsNaN(float64(v)) {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	for i := range w {
		gi, wi := float64(g[i]), float64(w[i])
		if math.IsNaN(gi) != math.IsNaN(wi) || (tol == 0 && !math.IsNaN(wi) && g[i] != w[i]) ||
			(!math.IsNaN(wi) && math.Abs(gi-wi) > tol*scale) {
			return fmt.Sprintf("element %d of %d: %v, want %v (tolerance %g of %g)", i, len(w), g[i], w[i], tol, scale)
		}
	}
	return ""
}

// runConformance runs every case on b against the Reference backend.
func runConformance(t *testing.T, b Backend) {
	for _, c := range conformanceCases() {
		want := c.run(Reference{}, rand.New(rand.NewPCG(1, 2)))
		got := c.run(b, rand.New(rand.NewPCG(1, 2)))
		for i := range want {
			if msg := conformCompare(got[i], want[i], c.tol); msg != "" {
				t.Errorf("%s on %s: output %d: %s", c.name, b.Name(), i, msg)
			}
		}
	}
}

// TestConformance runs the suite on the CPU backend at every tier, and on
// the CUDA backend when a GPU (or the emulator) answers.
func TestConformance(t *testing.T) {
	t.Run("cpu", func(t *testing.T) {
		forEachTier(t, func(t *testing.T, tier kernels.Tier) { runConformance(t, CPU{}) })
	})
	t.Run("cuda", func(t *testing.T) {
		c, ok := Default().(CUDA)
		if !ok {
			if _, err := cuda.Probe(); err != nil {
				t.Skipf("no GPU (%v): the CUDA backend's suite runs on a GPU, and on the emulator in TestConformanceOnEmulator", err)
			}
			var err error
			if c, err = NewCUDA(); err != nil {
				t.Fatalf("a GPU answers, but NewCUDA: %v", err)
			}
		}
		t.Log(c.Name())
		runConformance(t, c)
		s := c.Stats()
		t.Logf("copies: %d up (%d bytes), %d down (%d bytes); memory %+v", s.HostToDevice, s.HostToDeviceBytes, s.DeviceToHost, s.DeviceToHostBytes, s.Memory)
	})
}

// emuHint says how to build the CUDA emulator and point the tests at it.
const emuHint = "tools/cudaemu/build.sh /tmp/cudaemu && GRAFT_CUDAEMU_LIB=/tmp/cudaemu/libcuda.so.1 go test ./tensor"

// TestConformanceOnEmulator runs the CUDA backend's tests (the suite's
// cuda half and TestCUDA…) without a GPU, in a child test binary whose
// driver library is tools/cudaemu's emulator, named by GRAFT_CUDAEMU_LIB.
// It skips when that is unset, except under CI=true, and with -short.
func TestConformanceOnEmulator(t *testing.T) {
	lib := childtest.EmulatorLib(t, emuHint)
	stdout, stderr, code := childtest.ExecTests(t, `^(TestConformance|TestCUDA\w*)$`, "GRAFT_CUDA_LIB="+lib, "GRAFT_DEVICE=cuda")
	out := stdout + stderr
	if code != 0 {
		t.Fatalf("the CUDA backend's tests failed on the emulator (exit %d):\n%s", code, out)
	}
	if !strings.Contains(out, "cudaemu (fibers on the CPU)") {
		t.Fatalf("the child's device is not the emulator: is %s tools/cudaemu's libcuda.so.1?\n%s", lib, out)
	}
	// again with little device memory, for the test that needs it
	stdout, stderr, code = childtest.ExecTests(t, `^TestCUDAMemoryPressure$`, "GRAFT_CUDA_LIB="+lib, "GRAFT_DEVICE=cuda", "CUDAEMU_MEM_LIMIT=200000")
	if code != 0 || !strings.Contains(stdout, "--- PASS: TestCUDAMemoryPressure") {
		t.Fatalf("TestCUDAMemoryPressure on the emulator (exit %d):\n%s%s", code, stdout, stderr)
	}
	out += stdout
	for _, m := range regexp.MustCompile(`(?m)^\s*--- (PASS|SKIP|FAIL): (\S+) \(([^)]*)\)$`).FindAllStringSubmatch(out, -1) {
		if m[1] == "SKIP" && (strings.HasPrefix(m[2], "TestConformance/cuda") || strings.HasPrefix(m[2], "TestCUDAStateMachine")) {
			t.Errorf("%s skipped on the emulator:\n%s", m[2], out)
		}
		t.Logf("%s: %s on the emulator (%s)", m[2], m[1], m[3])
	}
}
