//go:build amd64 && !purego

package kernels

// asmCompiled reports whether this build holds the assembly kernels.
const asmCompiled = true
