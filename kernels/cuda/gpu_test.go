package cuda

import (
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/graftml/graft/internal/cudatest"
)

// testPTX holds scale(y, x, a, n): y[i] = a·x[i] for i < n, one thread per
// element. PTX 7.0 for sm_50 is accepted by any CUDA 11+ driver, which
// compiles it for the GPU at hand.
const testPTX = `.version 7.0
.target sm_50
.address_size 64

.visible .entry scale(
	.param .u64 y,
	.param .u64 x,
	.param .f32 a,
	.param .u32 n
)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .f32 %f<3>;
	.reg .b64 %rd<8>;

	ld.param.u64 %rd1, [y];
	ld.param.u64 %rd2, [x];
	ld.param.f32 %f1, [a];
	ld.param.u32 %r1, [n];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	setp.ge.u32 %p1, %r5, %r1;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd3, %rd1;
	cvta.to.global.u64 %rd4, %rd2;
	mul.wide.u32 %rd5, %r5, 4;
	add.s64 %rd6, %rd4, %rd5;
	ld.global.f32 %f2, [%rd6];
	mul.f32 %f2, %f2, %f1;
	add.s64 %rd7, %rd3, %rd5;
	st.global.f32 [%rd7], %f2;
DONE:
	ret;
}
`

// probeForTest binds the driver library this process's GPU tests run on
// (the emulator where GRAFT_CUDAEMU_LIB names it, else the system's
// driver) and probes device 0. A named emulator that does not load fails
// tb.
func probeForTest(tb testing.TB) (Info, error) {
	tb.Helper()
	lib := cudatest.Library(tb, "kernels/cuda")
	if lib == "" {
		if err := Load(); err != nil {
			return Info{}, err
		}
	} else if err := LoadLibrary(lib); err != nil {
		tb.Fatalf("the emulator GRAFT_CUDAEMU_LIB=%s: %v", lib, err)
	}
	return Probe()
}

// primaryContext returns device 0's description and its primary context,
// released when t ends, or skips t where Probe finds no device.
func primaryContext(t *testing.T) (Info, Context) {
	t.Helper()
	info, err := probeForTest(t)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	dev, err := GetDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := dev.PrimaryContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctx.Release(); err != nil {
			t.Error(err)
		}
	})
	return info, ctx
}

// TestLaunchScale runs a kernel end to end on a GPU: module, memory,
// copies both ways (plain and on a stream), memset, launch, events. It is
// skipped where Probe finds no device.
func TestLaunchScale(t *testing.T) {
	info, ctx := primaryContext(t)
	if strings.HasPrefix(info.Name, "cudaemu") {
		t.Skipf("%s runs only the kernels compiled into it, not PTX", info.Name)
	}
	t.Log(info)
	const n = 1000 // not a multiple of the block: the tail threads must stay out
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i) - 300
	}
	got := make([]float32, n+1) // one more than written: a guard
	got[n] = 12345
	err := ctx.Do(func() error {
		m, err := LoadModule([]byte(testPTX))
		if err != nil {
			return err
		}
		defer m.Unload()
		fn, err := m.Function("scale")
		if err != nil {
			return err
		}
		if _, err := m.Function("nonesuch"); err == nil {
			t.Error("Function(nonesuch) found a kernel")
		}
		const bytes = n * 4
		dx, err := MemAlloc(bytes)
		if err != nil {
			return err
		}
		defer dx.Free()
		dy, err := MemAlloc(bytes + 4)
		if err != nil {
			return err
		}
		defer dy.Free()
		if err := MemsetD32(dy, math.Float32bits(-1), n+1); err != nil {
			return err
		}
		if err := MemcpyHtoD(dx, unsafe.Pointer(&x[0]), bytes); err != nil {
			return err
		}
		s, err := NewStream(StreamNonBlocking)
		if err != nil {
			return err
		}
		defer s.Destroy()
		start, err := NewEvent(0)
		if err != nil {
			return err
		}
		defer start.Destroy()
		end, err := NewEvent(0)
		if err != nil {
			return err
		}
		defer end.Destroy()
		a, count := float32(2.5), uint32(n)
		if err := start.Record(s); err != nil {
			return err
		}
		if err := Launch(fn, [3]uint32{(n + 255) / 256, 1, 1}, [3]uint32{256, 1, 1}, 0, s,
			unsafe.Pointer(&dy), unsafe.Pointer(&dx), unsafe.Pointer(&a), unsafe.Pointer(&count)); err != nil {
			return err
		}
		if err := end.Record(s); err != nil {
			return err
		}
		if err := MemcpyDtoHAsync(unsafe.Pointer(&got[0]), dy, bytes, s); err != nil {
			return err
		}
		if err := s.Synchronize(); err != nil {
			return err
		}
		if err := end.Synchronize(); err != nil {
			return err
		}
		d, err := ElapsedTime(start, end)
		if err != nil {
			return err
		}
		t.Logf("scale of %d floats: %v", n, d)
		// dx ← dy through the device, then back: the copies agree.
		if err := MemcpyDtoD(dx, dy, bytes); err != nil {
			return err
		}
		back := make([]float32, n)
		if err := MemcpyDtoH(unsafe.Pointer(&back[0]), dx, bytes); err != nil {
			return err
		}
		for i := range back {
			if back[i] != got[i] {
				t.Fatalf("after DtoD, x[%d] = %v, want %v", i, back[i], got[i])
			}
		}
		var guard float32
		if err := MemcpyDtoH(unsafe.Pointer(&guard), dy+bytes, 4); err != nil {
			return err
		}
		if guard != -1 {
			t.Errorf("the kernel wrote past n: y[n] = %v", guard)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if want := 2.5 * x[i]; got[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want)
		}
	}
	if got[n] != 12345 {
		t.Errorf("DtoH wrote past n bytes: %v", got[n])
	}
	if err := ctx.Synchronize(); err != nil {
		t.Error(err)
	}
}
