//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"sync"

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

// bind points fptr (a pointer to a func variable) at the library's symbol
// name. The symbol is looked up first, so a missing one is an error
// rather than RegisterLibFunc's panic.
func bind(lib uintptr, fptr any, name string) error {
	sym, err := purego.Dlsym(lib, name)
	if err != nil {
		return err
	}
	purego.RegisterFunc(fptr, sym)
	return nil
}

// lookup returns the address of the library's symbol name.
func lookup(lib uintptr, name string) (uintptr, error) { return purego.Dlsym(lib, name) }

// call calls the C function at fn with integer arguments, without the
// reflection (and allocations) of a bound func: for the calls made at
// every operation.
func call(fn uintptr, args ...uintptr) result {
	buf := callArgs.Get().(*[maxCallArgs]uintptr) // SyscallN keeps its arguments: hand it a pooled copy
	n := copy(buf[:], args)
	r, _, _ := purego.SyscallN(fn, buf[:n]...)
	callArgs.Put(buf)
	return result(int32(r))
}

// maxCallArgs is the most arguments call passes (cuLaunchKernel's 11).
const maxCallArgs = 11

var callArgs = sync.Pool{New: func() any { return new([maxCallArgs]uintptr) }}
