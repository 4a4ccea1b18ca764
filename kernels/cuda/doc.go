// Package cuda binds the CUDA driver API (libcuda.so.1) at run time,
// without cgo.
//
// The driver library is opened with dlopen through
// github.com/ebitengine/purego the first time Load (or any function that
// needs the driver) is called, so programs build with CGO_ENABLED=0, need
// no CUDA toolkit to build, and start on machines without a GPU or driver:
// then every function returns an error, never panics. The environment
// variable GRAFT_CUDA_LIB names another library file to open instead of
// libcuda.so.1 (for tests). The binding exists on linux/amd64 and
// linux/arm64; elsewhere Load reports that CUDA is not supported on the
// platform.
//
// Errors: a library that cannot be opened gives an error matching
// ErrNoLibrary (errors.Is); a driver call that fails gives an *Error with
// the CUresult code, its name and its description from the driver.
//
// The context rule: the driver keeps a stack of current contexts per OS
// thread, and most calls (memory, modules, streams, events, launches) act
// on the calling thread's current context. Go moves goroutines between
// threads, so run such calls inside Context.Do, which locks the goroutine
// to its thread, pushes the context, runs the function and pops it again.
//
// Memory: an Allocator caches device memory in a context, so that blocks
// freed and allocated again (the buffers of each training step) cost no
// driver calls; MemAlloc and DevicePtr.Free are the uncached calls.
//
// Kernels: graft's CUDA C kernels (the .cu files here: SGEMM, convolution,
// pooling, batch norm, activations, softmax and cross-entropy, sums,
// optimizer updates) are compiled by tools/gen/cuda into kernels.fatbin
// (SASS for sm_80 and sm_90, PTX for compute_80), which is committed and
// embedded, so neither users nor CI need nvcc. LoadKernels loads it into a
// context; the methods of Kernels check their arguments (an *ArgError
// before anything is queued) and queue the kernels on a stream. They need a
// GPU of compute capability 8.0 or later. After editing a .cu file, run
//
//	go generate ./kernels/cuda
//
// (nvcc from CUDA 11.8 or later; on Debian apt-get install
// nvidia-cuda-toolkit), which also rewrites kernels_gen.go (the nvcc
// version and the kernel names, checked by the tests against the Go
// bindings). Without a GPU, the tests run the kernels' CUDA C source on
// the CPU emulator tools/cudaemu builds (TestKernelsOnEmulator, when
// GRAFT_CUDAEMU_LIB names it).
//
// The package is a leaf: it works on device pointers and knows nothing of
// tensors.
package cuda
