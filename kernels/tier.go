// Package kernels chooses the CPU kernel tier that graft's tensor
// operations run on.
//
// A tier names a family of kernels that share an instruction set:
// Generic (portable Go), AVX2 (AVX2+FMA assembly) and AVX512 (AVX-512
// F/BW/DQ/VL assembly). The best tier the CPU and operating system support
// is chosen once at start-up from cpuid; the environment variable
// GRAFT_CPU=generic|avx2|avx512 overrides the choice. That is the
// process's tier, the default CPU backend's; it never changes afterwards.
// Programs and tests that want another make a CPU backend of it
// (tensor.NewCPU): asking for a tier the machine cannot run is an error,
// never an illegal-instruction crash.
//
// A tier's geometry (tile shapes, panel widths) also runs where its
// instructions do not: a backend can run a tier whose own kernels are
// replaced by pure-Go stand-ins with the same contract and geometry
// (StandInsSupported), and TestTiers lists what tests walk, so that an
// AVX2-only machine still tests every path of the AVX-512 tier but the
// assembly itself.
package kernels

import (
	"fmt"
	"os"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Tier is a family of CPU kernels built on one instruction set.
type Tier int32

// The tiers, from slowest to fastest.
const (
	Generic Tier = iota // portable, blocked pure Go
	AVX2                // AVX2 + FMA Go assembly (amd64)
	AVX512              // AVX-512 F/BW/DQ/VL Go assembly (amd64)
)

// Tiers lists every tier in increasing order of speed.
var Tiers = []Tier{Generic, AVX2, AVX512}

// String returns the tier's name as GRAFT_CPU spells it.
func (t Tier) String() string {
	switch t {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Tier(%d)", int32(t))
}

// ParseTier reads a tier name as GRAFT_CPU spells it (case-insensitive).
func ParseTier(s string) (Tier, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512":
		return AVX512, nil
	}
	return 0, fmt.Errorf("kernels: unknown CPU tier %q (want generic, avx2 or avx512)", s)
}

// Supported reports whether this build and this CPU can run tier t, and if
// not, why.
func Supported(t Tier) (bool, string) {
	switch t {
	case Generic:
		return true, ""
	case AVX2, AVX512:
		if !asmCompiled {
			return false, "this binary has no assembly kernels (built for a non-amd64 GOARCH or with -tags purego)"
		}
		if t == AVX2 && !cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) {
			return false, "the CPU (or OS) lacks AVX2+FMA"
		}
		if t == AVX512 && !cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL) {
			return false, "the CPU (or OS) lacks AVX-512 F/BW/DQ/VL"
		}
		return true, ""
	}
	return false, "unknown tier"
}

// Best returns the fastest tier this build and CPU support.
func Best() Tier {
	for i := len(Tiers) - 1; i >= 0; i-- {
		if ok, _ := Supported(Tiers[i]); ok {
			return Tiers[i]
		}
	}
	return Generic
}

// Available lists the tiers this build and CPU support, slowest first.
func Available() []Tier {
	var ts []Tier
	for _, t := range Tiers {
		if ok, _ := Supported(t); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// The process's tier, chosen once at start-up from GRAFT_CPU: what
// tensor.CPU{} (the default CPU backend) runs on. Nothing changes it
// afterwards; a program or test that wants another tier makes a backend
// of it (tensor.NewCPU).
var current, reason = choose(os.Getenv("GRAFT_CPU"))

// choose picks the start-up tier from the GRAFT_CPU value env.
func choose(env string) (Tier, string) {
	best := Best()
	if env == "" || strings.EqualFold(env, "auto") {
		return best, fmt.Sprintf("best tier this CPU supports (%s)", cpuSummary())
	}
	t, err := ParseTier(env)
	if err != nil {
		return best, fmt.Sprintf("GRAFT_CPU=%q is not a tier; using the best supported", env)
	}
	if ok, why := Supported(t); !ok {
		return best, fmt.Sprintf("GRAFT_CPU=%s asked, but %s; using %s", t, why, best)
	}
	return t, fmt.Sprintf("GRAFT_CPU=%s", t)
}

// Current returns the process's tier: the best this CPU supports, or
// GRAFT_CPU's.
func Current() Tier { return current }

// Reason says why the start-up tier was chosen.
func Reason() string { return reason }

// StandInsSupported reports whether tier t can run with its own kernels
// replaced by pure-Go stand-ins, and if not, why: the AVX-512 tier can
// wherever the AVX2 tier runs (it borrows the AVX2 kernels it has none of
// its own for, which stay assembly).
func StandInsSupported(t Tier) (bool, string) {
	if t != AVX512 {
		return false, "only the avx512 tier has stand-ins"
	}
	if ok, why := Supported(AVX2); !ok {
		return false, "its stand-ins borrow the avx2 kernels: " + why
	}
	return true, ""
}

// A TestTier is a tier as tests walk it: its assembly, or its stand-ins.
type TestTier struct {
	Tier     Tier
	StandIns bool
}

// String returns the tier's name, with "-standins" for stand-ins.
func (t TestTier) String() string {
	if t.StandIns {
		return t.Tier.String() + "-standins"
	}
	return t.Tier.String()
}

// TestTiers lists the tiers tests walk, slowest first: every available
// tier, and the stand-ins of every tier this CPU lacks but can emulate
// (or of every tier that has them, when GRAFT_TEST_STANDINS=all, which
// checks the stand-ins on a machine with the real thing).
func TestTiers() []TestTier {
	all := os.Getenv("GRAFT_TEST_STANDINS") == "all"
	var ts []TestTier
	for _, t := range Tiers {
		ok, _ := Supported(t)
		if ok {
			ts = append(ts, TestTier{Tier: t})
		}
		if emu, _ := StandInsSupported(t); emu && (!ok || all) {
			ts = append(ts, TestTier{Tier: t, StandIns: true})
		}
	}
	return ts
}

// Caches holds per-core data-cache sizes in bytes.
type Caches struct {
	L1D, L2, L3 int
}

// CacheSizes returns the data-cache sizes cpuid reports, with conservative
// defaults (32 KiB, 256 KiB, 8 MiB) for levels it cannot detect.
func CacheSizes() Caches {
	c := Caches{L1D: cpuid.CPU.Cache.L1D, L2: cpuid.CPU.Cache.L2, L3: cpuid.CPU.Cache.L3}
	if c.L1D <= 0 {
		c.L1D = 32 << 10
	}
	if c.L2 <= 0 {
		c.L2 = 256 << 10
	}
	if c.L3 <= 0 {
		c.L3 = 8 << 10 << 10
	}
	return c
}

// CPUName returns the processor's brand string.
func CPUName() string { return strings.TrimSpace(cpuid.CPU.BrandName) }

// Features returns the CPU feature flags cpuid reports that matter to graft.
func Features() []string {
	var fs []string
	for _, f := range []cpuid.FeatureID{cpuid.SSE4, cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.AVX512VNNI, cpuid.AVX512BF16, cpuid.AVX512FP16, cpuid.AMXTILE} {
		if cpuid.CPU.Supports(f) {
			fs = append(fs, f.String())
		}
	}
	return fs
}

func cpuSummary() string {
	fs := Features()
	if len(fs) == 0 {
		return "no SIMD features detected"
	}
	return strings.Join(fs, " ")
}
