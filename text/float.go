package text

import (
	"fmt"
	"math"
	"strconv"
)

// pow10f32 holds the powers of ten float32 represents exactly.
var pow10f32 = [...]float32{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseFloat32 parses a decimal number as strconv.ParseFloat(s, 32) would,
// correctly rounded, rejecting NaN and infinities. Numbers of at most 7
// significant digits and a decimal exponent within ±10 (nearly every word
// vector value) take a fast path of one exact float32 division or
// multiplication; others go to strconv.
func parseFloat32(s []byte) (float32, error) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	sawDigit := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		sawDigit = true
		if mant == 0 && s[i] == '0' {
			continue
		}
		mant = mant*10 + uint64(s[i]-'0')
		digits++
		if digits > 18 {
			return slowFloat32(s)
		}
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			sawDigit = true
			exp--
			if mant == 0 && s[i] == '0' {
				continue
			}
			mant = mant*10 + uint64(s[i]-'0')
			digits++
			if digits > 18 {
				return slowFloat32(s)
			}
		}
	}
	if !sawDigit {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		e := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if mant >= 1<<24 || exp < -10 || exp > 10 {
		return midFloat32(s, mant, exp, neg)
	}
	f := float32(mant)
	if exp < 0 {
		f /= pow10f32[-exp]
	} else {
		f *= pow10f32[exp]
	}
	if neg {
		f = -f
	}
	return f, nil
}

// pow10f64 holds the powers of ten float64 represents exactly.
var pow10f64 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// midFloat32 handles up to 15 significant digits and exponents within ±22
// by one exact float64 operation (correctly rounded, Clinger's fast path),
// then rounds to float32. The double rounding is exact unless the float64
// lands exactly half-way between two float32s; that case, and everything
// else, goes to strconv.
func midFloat32(s []byte, mant uint64, exp int, neg bool) (float32, error) {
	if mant >= 1<<53 || exp < -22 || exp > 22 {
		return slowFloat32(s)
	}
	f := float64(mant)
	if exp < 0 {
		f /= pow10f64[-exp]
	} else {
		f *= pow10f64[exp]
	}
	bits := math.Float64bits(f)
	if bits&(1<<29-1) == 1<<28 || f > maxF32 || (f != 0 && f < 0x1p-126) {
		return slowFloat32(s)
	}
	if neg {
		f = -f
	}
	return float32(f), nil
}

func slowFloat32(s []byte) (float32, error) {
	v, err := strconv.ParseFloat(string(s), 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a float32 number", s)
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return float32(v), nil
}

const maxF32 = math.MaxFloat32

// float32frombits decodes a little-endian float32.
func float32frombits(b []byte) float32 {
	return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}
