//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels/amd64"
)

// callMaxPoolBack runs MaxPoolBackAVX2, or MaxPoolBackStoreAVX2 when
// store is set: for nw windows xs bytes apart, each with the nt taps at
// byte offsets toff (ascending from ≥ 0) from x and dx, and n channels,
// it adds dy to dx at the first tap holding each channel's maximum (+0 at
// the other taps), or stores there dy and +0 elsewhere.
func callMaxPoolBack(store bool, nw, nt, n int, x, dx []float32, xs int, toff []int, dy []float32) {
	_ = toff[nt-1]
	last := (nw-1)*xs/4 + toff[nt-1]/4 + n - 1
	_ = x[last]
	_ = dx[last]
	_ = dy[nw*n-1]
	if store {
		amd64.MaxPoolBackStoreAVX2(nw, nt, n, &x[0], &dx[0], xs, &toff[0], &dy[0])
		return
	}
	amd64.MaxPoolBackAVX2(nw, nt, n, &x[0], &dx[0], xs, &toff[0], &dy[0])
}
