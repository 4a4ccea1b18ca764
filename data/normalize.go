package data

import (
	"fmt"
	"math"
)

// ToFloat converts HWC uint8 pixels with c channels to normalised float32:
// out[i] = (pix[i]/255 − mean[ch]) / std[ch], ch = i mod c, computed in
// float32 as PyTorch's ToTensor followed by Normalize does. mean and std
// each hold c values, or one value used for every channel. A c ≤ 0, a
// mean or std of another length, or len(pix) not a multiple of c is a
// programming error and panics, naming the lengths.
func ToFloat(pix []uint8, mean, std []float32, c int) []float32 {
	if c <= 0 {
		panic(fmt.Sprintf("data: ToFloat: %d channels", c))
	}
	if (len(mean) != c && len(mean) != 1) || (len(std) != c && len(std) != 1) {
		panic(fmt.Sprintf("data: ToFloat: %d means and %d standard deviations for %d channels (want %d or 1 each)", len(mean), len(std), c, c))
	}
	if len(pix)%c != 0 {
		panic(fmt.Sprintf("data: ToFloat: %d pixel values is not a multiple of %d channels", len(pix), c))
	}
	lut := normTables(mean, std, c)
	out := make([]float32, len(pix))
	if c == 1 {
		t := &lut[0]
		for i, p := range pix {
			out[i] = t[p]
		}
		return out
	}
	for i := 0; i < len(pix); i += c {
		for ch := range c {
			out[i+ch] = lut[ch][pix[i+ch]]
		}
	}
	return out
}

// normTables returns, per channel, the normalised value of each byte.
func normTables(mean, std []float32, c int) [][256]float32 {
	lut := make([][256]float32, c)
	for ch := range c {
		m, s := mean[0], std[0]
		if len(mean) == c {
			m = mean[ch]
		}
		if len(std) == c {
			s = std[ch]
		}
		for v := range 256 {
			x := float32(v) / 255
			lut[ch][v] = float32(float32(x-m) / s)
		}
	}
	return lut
}

// checkNorm validates normalisation parameters for c channels: c or 1 values
// each, every mean finite and every std finite and non-zero.
func checkNorm(mean, std []float32, c int) error {
	if len(mean) != c && len(mean) != 1 {
		return fmt.Errorf("%d mean values for %d channels (want %d or 1)", len(mean), c, c)
	}
	if len(std) != c && len(std) != 1 {
		return fmt.Errorf("%d std values for %d channels (want %d or 1)", len(std), c, c)
	}
	for i, m := range mean {
		if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return fmt.Errorf("mean[%d] = %v is not finite", i, m)
		}
	}
	for i, s := range std {
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("std[%d] = %v, want a finite non-zero value", i, s)
		}
	}
	return nil
}

// expand returns v with c values (repeating a single value).
func expand(v []float32, c int) []float32 {
	out := make([]float32, c)
	for i := range out {
		out[i] = v[0]
		if len(v) == c {
			out[i] = v[i]
		}
	}
	return out
}
