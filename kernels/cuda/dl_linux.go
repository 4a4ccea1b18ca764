//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// dlopen opens the shared library at path with RTLD_NOW|RTLD_GLOBAL.
func dlopen(path string) (uintptr, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNoLibrary, err)
	}
	return h, nil
}

// bindAddr points fptr (a pointer to a func variable) at the C function
// at addr.
func bindAddr(fptr any, addr uintptr) { purego.RegisterFunc(fptr, addr) }

// lookup returns the address of the library's symbol name.
func lookup(lib uintptr, name string) (uintptr, error) { return purego.Dlsym(lib, name) }

// call calls the C function at fn with integer arguments, without the
// reflection (and allocations) of a bound func: for the calls made at
// every operation. An argument must not be a Go pointer converted to
// uintptr (the memory could move or be freed during the call): those go
// through callPtr.
func call(fn uintptr, args ...uintptr) result {
	if len(args) > maxCallArgs {
		panic("cuda: call with more than 11 arguments")
	}
	var buf *[maxCallArgs]uintptr // SyscallN keeps its arguments: hand it a copy from the free list
	select {
	case buf = <-callArgs:
	default:
		buf = new([maxCallArgs]uintptr)
	}
	n := copy(buf[:], args)
	r, _, _ := purego.SyscallN(fn, buf[:n]...)
	select {
	case callArgs <- buf:
	default:
	}
	return result(int32(r))
}

// callPtr is call for a function some of whose arguments point to Go
// memory: go:uintptrescapes moves such an argument's object to the heap
// if it is on a stack (a stack can move during the call) and keeps it
// alive until the call returns. The conversions to uintptr must be
// written in the call's argument list.
//
//go:uintptrescapes
func callPtr(fn, a0, a1, a2, a3 uintptr) result { return call(fn, a0, a1, a2, a3) }

// maxCallArgs is the most arguments call passes (cuLaunchKernel's 11).
const maxCallArgs = 11

// callArgs is a free list of argument arrays: a channel rather than a
// sync.Pool, which garbage collection empties (so a call would allocate).
var callArgs = make(chan *[maxCallArgs]uintptr, 64)
