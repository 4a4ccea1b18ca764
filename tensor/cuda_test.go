package tensor

import (
	"slices"
	"testing"

	"github.com/graftml/graft/internal/cudatest"
)

// The CUDA backend's tensor states: these run on a CUDA backend made for
// the test, on the emulator where GRAFT_CUDAEMU_LIB names it (see
// internal/cudatest), else on a GPU, and skip where neither is.

// testCUDA returns a new CUDA backend with opts (Library set by
// cudatest.Library), or skips tb where no device answers.
func testCUDA(tb testing.TB, opts CUDAOptions) CUDA {
	tb.Helper()
	return cudatest.Open(tb, "tensor", func(lib string) (CUDA, error) {
		opts.Library = lib
		return NewCUDAWith(opts)
	})
}

// copiesSince returns the copies up and down since s.
func copiesSince(c CUDA, s GPUStats) (up, down int64) {
	n := c.Stats()
	return n.HostToDevice - s.HostToDevice, n.DeviceToHost - s.DeviceToHost
}

func TestCUDAStateMachine(t *testing.T) {
	c := testCUDA(t, CUDAOptions{})
	on := func(x *Tensor) *Tensor { x.MoveTo(c); return x }
	check := func(what string, got, want []float32) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	s := c.Stats()
	x := on(FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	v := x.Reshape(3, 2)
	c.Scale(v, 2, v) // through a view: x sees it
	if up, down := copiesSince(c, s); up != 1 || down != 0 {
		t.Errorf("an operation on a new tensor copied %d up, %d down; want 1, 0", up, down)
	}
	check("x after scaling its view", x.Data(), []float32{2, 4, 6, 8, 10, 12})

	s = c.Stats()
	x.Set(100, 0, 0) // a host write, then an in-place operation
	c.Scale(x, 1, x)
	if got := x.At(0, 0); got != 100 {
		t.Errorf("Set before an operation: At = %v, want 100", got)
	}
	if up, down := copiesSince(c, s); up != 1 || down != 1 {
		t.Errorf("Set, Scale, At copied %d up, %d down; want 1, 1", up, down)
	}

	y := ZerosOn(c, 2, 3)
	c.Scale(y, 1, x)
	cl := y.Clone() // y lives on the device: cloned there
	c.Scale(y, 0, y)
	check("clone of a device tensor after the original changed", cl.Data(), []float32{100, 4, 6, 8, 10, 12})
	check("the original", y.Data(), make([]float32, 6))

	d := x.Data() // written through Data, then used
	d[1] = 7
	z := ZerosOn(c, 2, 3)
	c.Add(z, x, x)
	check("a write through Data reaches the device", z.Data(), []float32{200, 14, 12, 16, 20, 24})

	// an operation that runs on the CPU (softmax over the first axis) with
	// a device-resident input, and its output used on the device again
	c.Scale(z, 0.01, z)
	sm, want := ZerosOn(c, 2, 3), Zeros(2, 3)
	c.Softmax(sm, z, 0, false)
	Reference{}.Softmax(want, FromSlice(slices.Clone(z.Data()), 2, 3), 0, false)
	c.Scale(sm, 2, sm)
	Reference{}.Scale(want, 2, want)
	check("softmax on the CPU between device operations", sm.Data(), want.Data())

	// a tensor that follows the default backend has no mirror: one is
	// attached when it is given to the GPU
	old := &Tensor{shape: []int{3}, data: []float32{1, 2, 3}}
	c.Scale(old, 3, old)
	check("a tensor without a mirror", old.Data(), []float32{3, 6, 9})
	if old.dev == nil {
		t.Error("no mirror attached")
	}

	// the host backends bring such a tensor's device values to the host
	// before reading it, and their writes are what the device reads next
	for _, host := range []Backend{CPU{}, Reference{}} {
		c.Scale(old, 2, old) // 3 6 9 → 6 12 18, on the device alone
		got := &Tensor{shape: []int{3}, data: make([]float32, 3)}
		host.Scale(got, 1, old)
		check(host.Name()+" reading a tensor the GPU wrote", got.data, []float32{6, 12, 18})
		host.Scale(old, 0.5, old) // back to 3 6 9, on the host
		c.Scale(old, 1, old)
		check("the GPU reading what "+host.Name()+" wrote", old.Data(), []float32{3, 6, 9})
	}
}

// TestCUDAMemoryPressure transposes fresh inputs that nothing refers to
// after the call, on a backend with so little device memory (MemoryLimit)
// that allocating the output collects garbage: an input's memory must not
// go to its own operation's output.
func TestCUDAMemoryPressure(t *testing.T) {
	c := testCUDA(t, CUDAOptions{MemoryLimit: 200000})
	for i := range 40 {
		want := RandNormal(uint64(i), 0, 1, 2, 32, 32, 8)
		host := slices.Clone(want.data)
		input := func() *Tensor { return FromSlice(slices.Clone(host), 2, 32, 32, 8) }
		y := Zeros(2, 8, 32, 32)
		c.NHWCToNCHW(y, input())
		ref := Zeros(2, 8, 32, 32)
		nhwcToNCHW(ref, want)
		if !slices.Equal(y.Data(), ref.data) {
			t.Fatalf("round %d: the transpose of a collected input is wrong", i)
		}
	}
	m := c.Stats().Memory
	t.Logf("memory: %+v", m)
	if m.DriverAllocs*65536 > 200000 || m.InUse+m.Cached > 200000 {
		t.Errorf("the backend went past its MemoryLimit of 200000 bytes: %+v", m)
	}
}
