//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels/amd64"
)

// sgdFast runs the SGD kernel for SGDUpdate's variant over all of w
// (AVX-512) or its leading multiple of 8 (AVX2); buf nil: no momentum.
func sgdFast(kn *gemmKernel, w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) int {
	if n := len(w); wide512(kn, n) {
		_ = g[n-1]
		if buf == nil {
			amd64.SGDAVX512(n, &w[0], &g[0], nil, lr, momentum, wd)
			return n
		}
		_ = buf[n-1]
		switch {
		case nesterov && first:
			amd64.SGDNesterovFirstAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		case nesterov:
			amd64.SGDNesterovAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		case first:
			amd64.SGDMomentumFirstAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		default:
			amd64.SGDMomentumAVX512(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
		}
		return n
	}
	n := vecLen(kn, len(w))
	if n == 0 {
		return 0
	}
	_ = g[n-1]
	if buf == nil {
		amd64.SGDAVX2(n, &w[0], &g[0], nil, lr, momentum, wd)
		return n
	}
	_ = buf[n-1]
	switch {
	case nesterov && first:
		amd64.SGDNesterovFirstAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	case nesterov:
		amd64.SGDNesterovAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	case first:
		amd64.SGDMomentumFirstAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	default:
		amd64.SGDMomentumAVX2(n, &w[0], &g[0], &buf[0], lr, momentum, wd)
	}
	return n
}

// adamFast runs the Adam (or AdamW) kernel over all of w (AVX-512) or its
// leading multiple of 8 (AVX2).
func adamFast(kn *gemmKernel, w, g, m, v []float32, c *adamConsts, decoupled bool) int {
	n, wide := vecLen(kn, len(w)), wide512(kn, len(w))
	if wide {
		n = len(w)
	}
	if n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	switch {
	case wide && decoupled:
		amd64.AdamWAVX512(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	case wide:
		amd64.AdamAVX512(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	case decoupled:
		amd64.AdamWAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	default:
		amd64.AdamAVX2(n, &w[0], &g[0], &m[0], &v[0], &c[0])
	}
	return n
}
