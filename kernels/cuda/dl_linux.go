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
