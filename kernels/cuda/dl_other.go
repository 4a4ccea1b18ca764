//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
	"fmt"
	"runtime"
)

// dlopen fails: the binding is built for linux/amd64 and linux/arm64 only.
func dlopen(string) (uintptr, error) {
	return 0, fmt.Errorf("%w: CUDA not supported on this platform (%s/%s)", ErrNoLibrary, runtime.GOOS, runtime.GOARCH)
}

// bindAddr is never reached, since dlopen fails.
func bindAddr(any, uintptr) {}

// lookup is never reached, since dlopen fails.
func lookup(uintptr, string) (uintptr, error) {
	return 0, errors.New("CUDA not supported on this platform")
}

// call is never reached, since dlopen fails.
func call(uintptr, ...uintptr) result { return 1 }

// callPtr is never reached, since dlopen fails.
func callPtr(fn, a0, a1, a2, a3 uintptr) result { return 1 }
