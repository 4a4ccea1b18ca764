package tensor

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/graftml/graft/kernels/cuda"
)

// The state bits of a device mirror: which sides hold the current values.
const (
	onHost uint8 = 1 << iota
	onDevice
)

// mirror is a tensor's storage on the device, shared by its views.
type mirror struct {
	g     *gpu
	mem   *devMem // nil until first used on the device
	state uint8
}

// devMem is a mirror's device memory; a cleanup gives it back to the
// allocator when the mirror is collected.
type devMem struct {
	g *gpu
	b cuda.Block
}

// newTensor returns a tensor over data, with a device mirror (holding
// nothing yet) when the default backend is a GPU.
func newTensor(shape []int, data []float32) *Tensor {
	t := &Tensor{shape: shape, data: data}
	if g := activeGPU(); g != nil {
		t.dev = &mirror{g: g, state: onHost}
	}
	return t
}

// newStore returns an empty mirror on c's GPU: the host holds the values.
func (c CUDA) newStore() deviceStore { return &mirror{g: c.g, state: onHost} }

// toHost, discard and backend make a mirror a deviceStore.
func (m *mirror) toHost(t *Tensor, write bool) { m.g.toHost(t, write) }
func (m *mirror) discard(t *Tensor)            { m.g.discardDevice(t) }
func (m *mirror) backend() Backend             { return CUDA{m.g} }

// mirrorIn returns t's mirror, nil when it has none (or another
// backend's device copy).
func mirrorIn(t *Tensor) *mirror {
	m, _ := t.dev.(*mirror)
	return m
}

// upload queues a copy of host's values to dst and counts it.
func (g *gpu) upload(op string, dst cuda.DevicePtr, host unsafe.Pointer, bytes int) {
	g.fail(op, cuda.MemcpyHtoDAsync(dst, host, uintptr(bytes), g.stream))
	g.stats.HostToDevice++
	g.stats.HostToDeviceBytes += int64(bytes)
}

// download copies src to host, waits for it, and counts it.
func (g *gpu) download(op string, host unsafe.Pointer, src cuda.DevicePtr, bytes int) {
	g.fail(op, cuda.MemcpyDtoHAsync(host, src, uintptr(bytes), g.stream))
	g.fail(op, g.stream.Synchronize())
	g.stats.DeviceToHost++
	g.stats.DeviceToHostBytes += int64(bytes)
}

// mirrorOf returns t's mirror, attaching one to a tensor that follows the
// default backend and has none (made while the CPU was the default), or
// has the default GPU's while this is another GPU backend (its values come
// to the host first; views made of it before keep the old copy).
func (g *gpu) mirrorOf(t *Tensor) *mirror {
	if t.be != nil {
		if c, ok := t.be.(CUDA); !ok || c.g != g {
			panic(fmt.Sprintf("tensor: a tensor %v of %s given to the GPU backend %s: move it (MoveTo) first", t.shape, t.be.Name(), g.info.Name))
		}
	}
	m := mirrorIn(t)
	if t.dev != nil && (m == nil || m.g != g) {
		// t follows the default backend (a placed t is g's, checked
		// above) and has the default GPU's copy: its values come to the
		// host, and it takes this GPU's copy
		t.hostRead()
		if err := g.ctx.SetCurrent(); err != nil {
			panic(&DeviceError{"moving a tensor between device backends", err})
		}
		m = nil
	}
	if m == nil {
		m = &mirror{g: g, state: onHost}
		t.dev = m
	}
	g.live = append(g.live, m)
	return m
}

// memOf returns t's device memory, allocating it on first use.
func (g *gpu) memOf(op string, t *Tensor, m *mirror) cuda.DevicePtr {
	if m.mem == nil {
		b, err := g.alloc.Alloc(4 * len(t.data))
		for try := 0; err != nil && try < 3; try++ {
			// unreachable tensors may hold device memory: collect them and
			// give their cleanups time to run
			runtime.GC()
			time.Sleep(time.Millisecond << try)
			b, err = g.alloc.Alloc(4 * len(t.data))
		}
		if err != nil {
			panic(&DeviceError{op, err})
		}
		m.mem = &devMem{g: g, b: b}
		runtime.AddCleanup(m, func(d *devMem) { d.g.alloc.Free(d.b) }, m.mem)
	}
	return m.mem.b.Ptr
}

// in returns t's device address with its current values there (copied up
// if the host holds newer ones); nil gives 0.
func (g *gpu) in(op string, t *Tensor) cuda.DevicePtr {
	if t == nil {
		return 0
	}
	m := g.mirrorOf(t)
	p := g.memOf(op, t, m)
	if m.state&onDevice == 0 {
		if len(t.data) > 0 {
			g.upload(op, p, unsafe.Pointer(&t.data[0]), 4*len(t.data))
		}
		m.state |= onDevice
	}
	return p
}

// out returns t's device address for an output that is written whole;
// once the kernel is queued (check), the device holds t's current values.
// nil gives 0.
func (g *gpu) out(op string, t *Tensor) cuda.DevicePtr {
	if t == nil {
		return 0
	}
	m := g.mirrorOf(t)
	p := g.memOf(op, t, m)
	g.pending = append(g.pending, m)
	return p
}

// inout is in for an output that is read too (y += …).
func (g *gpu) inout(op string, t *Tensor) cuda.DevicePtr {
	p := g.in(op, t)
	if t != nil {
		g.pending = append(g.pending, mirrorIn(t))
	}
	return p
}

// toHost copies t's values down from the device if the host's are stale;
// with write set, the host's become the only current ones.
// Only a copy needs the GPU's context: reading a current host copy takes
// the lock alone.
func (g *gpu) toHost(t *Tensor, write bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := mirrorIn(t)
	if m.state&onHost == 0 && len(t.data) > 0 {
		g.fail("Data", g.current())
		defer runtime.UnlockOSThread()
		g.download("Data", unsafe.Pointer(&t.data[0]), m.mem.b.Ptr, 4*len(t.data))
	}
	m.state |= onHost
	if write {
		m.state = onHost
	}
}

// hostRead makes t's host slice current, for reading.
func (t *Tensor) hostRead() {
	if d := t.dev; d != nil {
		d.toHost(t, false)
	}
}

// hostWrite makes t's host slice current and the only current copy, for
// writing.
func (t *Tensor) hostWrite() {
	if d := t.dev; d != nil {
		d.toHost(t, true)
	}
}

// cloneOnDevice returns a copy of t made on the device, or nil when the
// host holds t's current values (then a host copy is as cheap).
func (t *Tensor) cloneOnDevice() *Tensor {
	m := mirrorIn(t)
	if m == nil {
		return nil
	}
	g := m.g
	g.begin()
	defer g.end()
	if m.state&onHost != 0 {
		return nil
	}
	c := &Tensor{shape: append([]int(nil), t.shape...), data: make([]float32, len(t.data)), be: t.be, dev: &mirror{g: g, state: onHost}}
	src, dst := g.in("Clone", t), g.out("Clone", c)
	var err error
	if len(t.data) > 0 {
		err = cuda.MemcpyDtoDAsync(dst, src, uintptr(4*len(t.data)), g.stream)
	}
	g.check("Clone", err)
	return c
}

// onCPU runs f, a CPU operation, after bringing ins to the host and
// marking outs as written there.
func onCPU(ins, outs []*Tensor, f func()) {
	for _, t := range ins {
		if t != nil {
			t.hostRead()
		}
	}
	for _, t := range outs {
		if t != nil && t.dev != nil {
			t.dev.discard(t)
		}
	}
	f()
}

// discardDevice makes t's host values the current ones without copying
// them down: for an output about to be written whole on the host.
func (g *gpu) discardDevice(t *Tensor) {
	g.mu.Lock()
	defer g.mu.Unlock()
	mirrorIn(t).state = onHost
}
