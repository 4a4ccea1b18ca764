package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/kernels"
)

// FuzzSgemm checks every tier this machine runs against SgemmRef on shapes,
// transposes, scalars, strides and packing modes chosen by the fuzzer.
//
//	go test -run '^$' -fuzz FuzzSgemm ./tensor
func FuzzSgemm(f *testing.F) {
	f.Add(uint16(7), uint16(17), uint16(33), uint8(0), uint8(1), uint8(0), uint64(1))
	f.Add(uint16(1), uint16(1), uint16(1), uint8(3), uint8(2), uint8(1), uint64(2))
	f.Add(uint16(13), uint16(49), uint16(257), uint8(1), uint8(3), uint8(2), uint64(3))
	f.Add(uint16(97), uint16(5), uint16(300), uint8(2), uint8(0), uint8(3), uint64(4))
	f.Fuzz(func(t *testing.T, m, n, k uint16, trans, scal, pack uint8, seed uint64) {
		// Keep each case small enough for the reference loop.
		dm, dn, dk := int(m)%260, int(n)%260, int(k)%520
		if dm*dn*dk > 4<<20 {
			t.Skip("too large for the reference")
		}
		alpha := scalars[int(scal)%len(scalars)]
		beta := scalars[int(scal/4)%len(scalars)]
		mode := []string{"", "none", "a", "b", "ab"}[int(pack)%5]
		for _, tier := range kernels.TestTiers() {
			cpu := cpuFor(t, tier, CPUOptions{GemmPack: mode})
			r := rand.New(rand.NewPCG(seed, 9))
			g := newGemmCase(r, trans&1 != 0, trans&2 != 0, dm, dn, dk, alpha, beta)
			g.check(t, g.run(sgemmOnCPU(cpu)), g.run(SgemmRef))
			if t.Failed() {
				t.Fatalf("tier %s, GemmPack %q", tier, mode)
			}
		}
	})
}
