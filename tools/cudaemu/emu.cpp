// cudaemu: a fake libcuda.so.1 for machines without a GPU. It exports the
// driver API entry points graft binds (kernels/cuda/driver.go) over host
// memory, and runs graft's kernels, compiled from their CUDA C source by
// g++ into this library, on the CPU: a launch runs its blocks one after
// another, each block's threads as fibers switched at the barriers.
// Launches are synchronous; streams and events are placeholders. See
// README.md for what it checks and what it cannot.
//
// build.sh has gen-registry.sh write kernels_all.inc (an #include of every
// .cu file) and registry.inc (EMU_KERNEL(name, max threads) per kernel)
// before compiling this file.
#include "emu.h"
#include <csetjmp>
#include <cstdarg>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <ucontext.h>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

uint3 emu_tid;
dim3e emu_block_idx, emu_block_dim, emu_grid_dim;

namespace {
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cudaemu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

// ---- fibers ----
//
// A fiber is one GPU thread. Fibers live as long as the library: fiber i
// runs thread i (linear index) of every block, looping over body. The
// first switch into a fiber is setcontext; every later switch is
// _setjmp/_longjmp, which, unlike swapcontext, makes no system call.

enum State { RUN, AT_SYNC, AT_WARP, DONE };

struct Fiber {
    jmp_buf jb;
    ucontext_t start;
    bool started;
    State state;
    uint3 tid;
    int linear;
    unsigned mask;   // at AT_WARP: the lanes of the warp barrier
    int from;        // at AT_WARP: the lane whose value it reads, or -1
    int phase;       // which exchange buffer its next shuffle uses
    char* stack;
};

const size_t STACK = 256 << 10;
std::vector<Fiber*> fibers;
jmp_buf main_jb;
Fiber* cur;
void (*body)(void*);
void* body_arg;
unsigned char xbuf[2][1024][8]; // the shuffles' values, double-buffered

#if EMU_ASAN
void* main_fake_stack;
const void* main_stack_bottom;
size_t main_stack_size;
#endif

// to_main switches from the running fiber back to the scheduler.
void to_main() {
#if EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, main_stack_bottom, main_stack_size);
#endif
    if (!_setjmp(cur->jb)) _longjmp(main_jb, 1);
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &main_stack_bottom, &main_stack_size);
#endif
}

void fiber_main() {
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &main_stack_bottom, &main_stack_size);
#endif
    for (;;) {
        body(body_arg);
        cur->state = DONE;
        to_main();
    }
}

// resume runs fiber f until it next waits or finishes its thread.
void resume(Fiber* f) {
    cur = f;
    emu_tid = f->tid;
    if (_setjmp(main_jb)) {
#if EMU_ASAN
        __sanitizer_finish_switch_fiber(main_fake_stack, nullptr, nullptr);
#endif
        return;
    }
#if EMU_ASAN
    __sanitizer_start_switch_fiber(&main_fake_stack, f->stack, STACK);
#endif
    if (!f->started) {
        f->started = true;
        setcontext(&f->start);
    }
    _longjmp(f->jb, 1);
}

Fiber* new_fiber(int linear) {
    Fiber* f = new Fiber();
    f->linear = linear;
    f->stack = static_cast<char*>(malloc(STACK));
    if (!f->stack || getcontext(&f->start) != 0) fatal("cannot make a fiber");
    f->start.uc_stack.ss_sp = f->stack;
    f->start.uc_stack.ss_size = STACK;
    f->start.uc_link = nullptr;
    makecontext(&f->start, fiber_main, 0);
    return f;
}

void wait_as(State s) {
    cur->state = s;
    to_main();
}

// Static __shared__ arrays live in section cudaemu_shared (emu.h); the
// linker brackets it with these.
extern "C" char __start_cudaemu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_cudaemu_shared[] __attribute__((weak, visibility("hidden")));

// poison_shared fills shared memory with 0xff bytes (a float NaN), so that
// a block that reads what it did not write sees NaN rather than what the
// previous block left. Under ASan a plain loop: the section holds ASan's
// redzones, which memset would report.
__attribute__((no_sanitize("address"))) void poison_shared() {
    if (+__start_cudaemu_shared == +__stop_cudaemu_shared) return;
    if (!EMU_ASAN) return (void)memset(__start_cudaemu_shared, 0xff, __stop_cudaemu_shared - __start_cudaemu_shared);
    for (char* p = __start_cudaemu_shared; p < __stop_cudaemu_shared; p++) *(volatile char*)p = (char)0xff;
}

// release_warps releases the warp barriers whose lanes have all arrived
// and reports whether it released any. A lane that has finished its
// thread, or that reads from a lane outside the barrier, is an error.
bool release_warps(int n) {
    bool released = false;
    for (int w = 0; w * 32 < n; w++) {
        int lo = w * 32, hi = min(n, lo + 32);
        unsigned waiting = 0, exists = hi - lo == 32 ? ~0u : (1u << (hi - lo)) - 1;
        for (int i = lo; i < hi; i++)
            if (fibers[i]->state == AT_WARP) waiting |= 1u << (i - lo);
        if (!waiting) continue;
        unsigned ready = 0;
        for (int i = lo; i < hi; i++) {
            const Fiber* f = fibers[i];
            if (f->state != AT_WARP) continue;
            unsigned bit = 1u << (i - lo), m = f->mask;
            if (!(m & bit)) fatal("thread (%u,%u,%u) of block (%u,%u,%u): a warp operation whose mask %#x leaves out its own lane %d",
                                  f->tid.x, f->tid.y, f->tid.z, emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, m, i - lo);
            if (m & ~exists) fatal("block (%u,%u,%u): mask %#x names lanes of warp %d that the block (%d threads) does not have",
                                   emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, m, w, n);
            for (int j = lo; j < hi; j++)
                if ((m >> (j - lo) & 1) && fibers[j]->state == DONE)
                    fatal("block (%u,%u,%u): thread %d's warp operation (mask %#x) waits for thread %d, which has returned",
                          emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, i, m, j);
            if ((m & waiting) != m) continue; // some lanes still elsewhere (a __syncthreads: deadlock, found later)
            if (f->from >= 0 && !(m >> f->from & 1))
                fatal("block (%u,%u,%u): thread %d reads lane %d, outside the shuffle's mask %#x",
                      emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, i, f->from, m);
            ready |= bit;
        }
        for (int i = lo; i < hi; i++)
            if (ready >> (i - lo) & 1) fibers[i]->state = RUN;
        released |= ready != 0;
    }
    return released;
}

// run_block runs f(arg) on every thread of block emu_block_idx.
void run_block(void (*f)(void*), void* arg) {
    const int n = emu_block_dim.x * emu_block_dim.y * emu_block_dim.z;
    while ((int)fibers.size() < n) fibers.push_back(new_fiber(fibers.size()));
    body = f, body_arg = arg;
    poison_shared();
    for (int i = 0; i < n; i++) {
        Fiber* fb = fibers[i];
        fb->state = RUN;
        fb->phase = 0;
        fb->tid = uint3{i % emu_block_dim.x, i / emu_block_dim.x % emu_block_dim.y, i / emu_block_dim.x / emu_block_dim.y};
    }
    for (;;) {
        for (int i = 0; i < n; i++)
            if (fibers[i]->state == RUN) resume(fibers[i]);
        if (release_warps(n)) continue;
        int sync = 0, warp = 0, live = 0;
        for (int i = 0; i < n; i++) {
            State s = fibers[i]->state;
            live += s != DONE;
            sync += s == AT_SYNC;
            warp += s == AT_WARP;
        }
        if (live == 0) return;
        if (sync == live) { // threads that have returned do not count, as on a GPU
            for (int i = 0; i < n; i++)
                if (fibers[i]->state == AT_SYNC) fibers[i]->state = RUN;
            continue;
        }
        // Some threads at __syncthreads, others at a warp barrier that
        // waits for them, or returned: a GPU would hang or worse.
        fatal("deadlock in block (%u,%u,%u) of %d threads: %d at __syncthreads, %d at a warp barrier, %d returned",
              emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, n, sync, warp, n - live);
    }
}
} // namespace

void emu_syncthreads() { wait_as(AT_SYNC); }

int emu_lane() { return cur->linear & 31; }

void emu_warp_exchange(const void* v, void* out, int size, int from, unsigned mask) {
    Fiber* f = cur;
    const int ph = f->phase;
    if (size > 0) {
        memcpy(xbuf[ph][f->linear], v, size);
        f->phase ^= 1; // a lane can write the other buffer only after every lane has passed this barrier
    }
    f->mask = mask;
    f->from = from;
    wait_as(AT_WARP);
    if (from >= 0) memcpy(out, xbuf[ph][(f->linear & ~31) | from], size);
}

// ---- the kernels ----
// In an unnamed namespace: the statics of inline functions and templates
// (shared memory) are then not COMDAT, which section cudaemu_shared could
// not mix with the others. The Go side finds kernels through the registry.
namespace {
#include "kernels_all.inc"
}

namespace {
// Launch is a kernel: call unpacks the launch's parameter array into fn's
// arguments.
struct Launch {
    const char* name;
    void (*call)(void*, void**);
    void* fn;
    unsigned max_threads; // from __launch_bounds__, else the device's limit
};

template <class... A, size_t... I> void invoke(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(p[I])...);
}
template <class... A> void call(void* fn, void** p) {
    invoke(reinterpret_cast<void (*)(A...)>(fn), p, std::index_sequence_for<A...>{});
}
template <class... A> Launch entry(const char* name, void (*f)(A...), unsigned max_threads) {
    return Launch{name, &call<A...>, reinterpret_cast<void*>(f), max_threads};
}
// cudaemu_lb is __launch_bounds__'s first argument.
constexpr unsigned cudaemu_lb(unsigned max_threads, unsigned = 0, unsigned = 0) { return max_threads; }

#define EMU_KERNEL(name, max_threads) {#name, entry(#name, &name, max_threads)},
std::map<std::string, Launch> registry = {
#include "registry.inc"
};

std::mutex mu; // one launch at a time: the fibers and shared memory are global
} // namespace

// ---- the driver API ----
namespace {
typedef int CUresult;
enum : CUresult {
    SUCCESS = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    INVALID_CONFIGURATION = 9,
    INVALID_IMAGE = 200,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    LAUNCH_OUT_OF_RESOURCES = 701,
};

// The codes the library returns, with their names and what the last
// failure with each was about (cuGetErrorString).
struct Code {
    CUresult code;
    const char* name;
    char detail[512];
} codes[] = {
    {SUCCESS, "CUDA_SUCCESS", "no error"},
    {INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", ""},
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", ""},
    {INVALID_CONFIGURATION, "CUDA_ERROR_INVALID_CONFIGURATION", ""},
    {INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", ""},
    {INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", ""},
    {NOT_FOUND, "CUDA_ERROR_NOT_FOUND", ""},
    {LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", ""},
};

Code* lookup(CUresult r) {
    for (Code& c : codes)
        if (c.code == r) return &c;
    return nullptr;
}

// fail records why a call returns code and returns it.
CUresult fail(CUresult code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
CUresult fail(CUresult code, const char* fmt, ...) {
    Code* c = lookup(code);
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(c->detail, sizeof c->detail, "cudaemu: ");
    vsnprintf(c->detail + n, sizeof c->detail - n, fmt, ap);
    va_end(ap);
    return code;
}
} // namespace

// The only symbols the library exports (build.sh compiles with
// -fvisibility=hidden).
#pragma GCC visibility push(default)
extern "C" {
CUresult cuGetErrorName(CUresult r, const char** s) {
    const Code* c = lookup(r);
    *s = c ? c->name : nullptr;
    return c ? SUCCESS : INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult r, const char** s) {
    const Code* c = lookup(r);
    *s = !c ? nullptr : c->detail[0] ? c->detail : "cudaemu: an emulated error";
    return c ? SUCCESS : INVALID_VALUE;
}
CUresult cuInit(unsigned) { return SUCCESS; }
CUresult cuDriverGetVersion(int* v) { return *v = 12020, SUCCESS; }
CUresult cuDeviceGetCount(int* n) { return *n = 1, SUCCESS; }
CUresult cuDeviceGet(int* d, int o) {
    if (o != 0) return fail(INVALID_VALUE, "device %d: there is only device 0", o);
    return *d = 0, SUCCESS;
}
CUresult cuDeviceGetName(char* s, int n, int) { return snprintf(s, n, "cudaemu (fibers on the CPU)"), SUCCESS; }
CUresult cuDeviceGetAttribute(int* v, int a, int) {
    const char* sms = getenv("CUDAEMU_SMS");
    switch (a) {
    case 1: *v = 1024; break;       // MAX_THREADS_PER_BLOCK
    case 8: *v = 48 << 10; break;   // MAX_SHARED_MEMORY_PER_BLOCK
    case 10: *v = 32; break;        // WARP_SIZE
    case 16: *v = sms && atoi(sms) > 0 ? atoi(sms) : 4; break; // MULTIPROCESSOR_COUNT
    case 75: *v = 8; break;         // COMPUTE_CAPABILITY_MAJOR
    case 76: *v = 0; break;         // COMPUTE_CAPABILITY_MINOR
    case 97: *v = 163 << 10; break; // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    default: return fail(INVALID_VALUE, "device attribute %d is not emulated", a);
    }
    return SUCCESS;
}
CUresult cuDeviceTotalMem_v2(uint64_t* b, int) { return *b = 8ull << 30, SUCCESS; }
CUresult cuDevicePrimaryCtxRetain(uintptr_t* c, int) { return *c = 0x1234, SUCCESS; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { return SUCCESS; }
CUresult cuCtxPushCurrent_v2(uintptr_t) { return SUCCESS; }
CUresult cuCtxPopCurrent_v2(uintptr_t* c) { return *c = 0x1234, SUCCESS; }
CUresult cuCtxSetCurrent(uintptr_t) { return SUCCESS; }
CUresult cuCtxSynchronize() { return SUCCESS; }
// Device memory: CUDAEMU_MEM_LIMIT (bytes) caps what may be allocated at
// once, so that tests can run out of device memory.
static std::mutex mem_mu;
static std::unordered_map<uintptr_t, size_t> mem_sizes;
static size_t mem_used;
CUresult cuMemAlloc_v2(uintptr_t* p, size_t n) {
    if (n == 0) return fail(INVALID_VALUE, "cuMemAlloc of 0 bytes");
    static const char* lim = getenv("CUDAEMU_MEM_LIMIT");
    std::lock_guard<std::mutex> g(mem_mu);
    if (lim && mem_used + n > strtoull(lim, nullptr, 10))
        return fail(OUT_OF_MEMORY, "cannot allocate %zu bytes: %zu of CUDAEMU_MEM_LIMIT=%s in use", n, mem_used, lim);
    void* q = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!q) return fail(OUT_OF_MEMORY, "cannot allocate %zu bytes", n);
    mem_sizes[reinterpret_cast<uintptr_t>(q)] = n;
    mem_used += n;
    return *p = reinterpret_cast<uintptr_t>(q), SUCCESS;
}
CUresult cuMemFree_v2(uintptr_t p) {
    std::lock_guard<std::mutex> g(mem_mu);
    auto it = mem_sizes.find(p);
    if (it == mem_sizes.end()) return fail(INVALID_VALUE, "cuMemFree of %#lx, not allocated", (unsigned long)p);
    mem_used -= it->second;
    mem_sizes.erase(it);
    return free(reinterpret_cast<void*>(p)), SUCCESS;
}
CUresult cuMemcpyHtoD_v2(uintptr_t d, const void* s, size_t n) { return memcpy((void*)d, s, n), SUCCESS; }
CUresult cuMemcpyDtoH_v2(void* d, uintptr_t s, size_t n) { return memcpy(d, (const void*)s, n), SUCCESS; }
CUresult cuMemcpyDtoD_v2(uintptr_t d, uintptr_t s, size_t n) { return memmove((void*)d, (const void*)s, n), SUCCESS; }
CUresult cuMemcpyHtoDAsync_v2(uintptr_t d, const void* s, size_t n, uintptr_t) { return cuMemcpyHtoD_v2(d, s, n); }
CUresult cuMemcpyDtoHAsync_v2(void* d, uintptr_t s, size_t n, uintptr_t) { return cuMemcpyDtoH_v2(d, s, n); }
CUresult cuMemcpyDtoDAsync_v2(uintptr_t d, uintptr_t s, size_t n, uintptr_t) { return cuMemcpyDtoD_v2(d, s, n); }
CUresult cuMemsetD32_v2(uintptr_t d, unsigned v, size_t n) {
    for (size_t i = 0; i < n; i++) reinterpret_cast<unsigned*>(d)[i] = v;
    return SUCCESS;
}
CUresult cuStreamCreate(uintptr_t* s, unsigned) { return *s = 0x5678, SUCCESS; }
CUresult cuStreamDestroy_v2(uintptr_t) { return SUCCESS; }
CUresult cuStreamSynchronize(uintptr_t) { return SUCCESS; }
// cuModuleLoadData accepts any fatbin (it is not read: the kernels are
// compiled in) and refuses PTX and cubins, which cannot be run.
CUresult cuModuleLoadData(uintptr_t* m, const void* img) {
    unsigned magic;
    memcpy(&magic, img, 4);
    if (magic != 0xBA55ED50u)
        return fail(INVALID_IMAGE, "not a fatbin (magic %#x): the emulator runs only the kernels compiled into it, not PTX or cubins", magic);
    return *m = 0x9abc, SUCCESS;
}
CUresult cuModuleGetFunction(uintptr_t* f, uintptr_t, const char* name) {
    auto it = registry.find(name);
    if (it == registry.end()) return fail(NOT_FOUND, "no kernel %s among the %zu compiled in (rebuild the emulator)", name, registry.size());
    return *f = reinterpret_cast<uintptr_t>(&it->second), SUCCESS;
}
CUresult cuModuleUnload(uintptr_t) { return SUCCESS; }
CUresult cuEventCreate(uintptr_t* e, unsigned) { return *e = reinterpret_cast<uintptr_t>(new char), SUCCESS; }
CUresult cuEventRecord(uintptr_t, uintptr_t) { return SUCCESS; }
CUresult cuEventSynchronize(uintptr_t) { return SUCCESS; }
CUresult cuEventElapsedTime(float* ms, uintptr_t, uintptr_t) { return *ms = 1, SUCCESS; } // not a measurement
CUresult cuEventDestroy_v2(uintptr_t e) { return delete reinterpret_cast<char*>(e), SUCCESS; }

CUresult cuLaunchKernel(uintptr_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, uintptr_t, void** params, void** extra) {
    if (!f) return fail(INVALID_HANDLE, "launch of a null function");
    Launch* l = reinterpret_cast<Launch*>(f);
    const unsigned long long threads = (unsigned long long)bx * by * bz;
    if (threads == 0 || gx == 0 || gy == 0 || gz == 0 || bx > 1024 || by > 1024 || bz > 64 || threads > 1024 ||
        gx > 0x7fffffffu || gy > 65535 || gz > 65535 || shared > 48 << 10)
        return fail(INVALID_CONFIGURATION, "%s: grid %ux%ux%u, block %ux%ux%u, %u bytes dynamic shared memory",
                    l->name, gx, gy, gz, bx, by, bz, shared);
    if (threads > l->max_threads)
        return fail(LAUNCH_OUT_OF_RESOURCES, "%s: block of %llu threads, more than its __launch_bounds__ (%u)",
                    l->name, threads, l->max_threads);
    if (!params || extra) return fail(INVALID_VALUE, "%s: parameters must be passed in kernelParams", l->name);
    std::lock_guard<std::mutex> lock(mu);
    emu_grid_dim = dim3e{gx, gy, gz};
    emu_block_dim = dim3e{bx, by, bz};
    struct Arg {
        Launch* l;
        void** p;
    } a{l, params};
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++) {
                emu_block_idx = dim3e{x, y, z};
                run_block([](void* v) { Arg* a = static_cast<Arg*>(v); a->l->call(a->l->fn, a->p); }, &a);
            }
    return SUCCESS;
}
}
#pragma GCC visibility pop
