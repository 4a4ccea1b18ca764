package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// Digits geometry: 8×8 images of values 0..16, shown to MNIST models as
// 20×20 digits centred in 28×28, as MNIST's are.
const (
	digitsSide   = 8
	digitsMax    = 16
	digitsInner  = 20
	DigitsSide28 = 28
)

// LoadDigits reads scikit-learn's digits table (digits.csv.gz: 64 values
// 0..16 and the label last on each line; gzipped or plain) from path, see
// ReadDigits.
func LoadDigits(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, "%v", err)
	}
	defer f.Close()
	return ReadDigits(f, path)
}

// ReadDigits reads the digits table from r (name is used in errors): each
// 8×8 image is scaled to [0, 1], resized bilinearly to 20×20, padded with
// zeros to 28×28 (the digit centred, as in MNIST) and normalised with
// MNIST's mean and standard deviation, so a model trained on MNIST sees
// familiar inputs. Classes are "0".."9".
func ReadDigits(r io.Reader, name string) (*Set, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fileErr(name, "gzip: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	raw, err := io.ReadAll(br)
	if err != nil {
		return nil, fileErr(name, "truncated or corrupt: %v", err)
	}
	const inner, side = digitsInner, DigitsSide28
	s := &Set{Shape: []int{side, side, 1}, Classes: MNISTClasses, Mean: []float32{MNISTMean}, Std: []float32{MNISTStd}}
	img := make([]float32, digitsSide*digitsSide)
	big := make([]float32, inner*inner)
	off := (side - inner) / 2
	for line, rest := 1, raw; len(rest) > 0; line++ {
		var row []byte
		row, rest, _ = bytes.Cut(rest, []byte("\n"))
		row = bytes.TrimSpace(row)
		if len(row) == 0 {
			continue
		}
		fields := bytes.Split(row, []byte(","))
		if len(fields) != digitsSide*digitsSide+1 {
			return nil, lineErr(name, line, "%d fields, want %d (64 pixels and the label)", len(fields), digitsSide*digitsSide+1)
		}
		for i, f := range fields[:64] {
			v, ok := parseIntegral(f)
			if !ok || v < 0 || v > digitsMax {
				return nil, lineErr(name, line, "pixel %d is %q, want an integer 0..16", i, f)
			}
			img[i] = float32(v) / digitsMax
		}
		lab, ok := parseIntegral(fields[64])
		if !ok || lab < 0 || lab > 9 {
			return nil, lineErr(name, line, "label %q, want 0..9", fields[64])
		}
		Resize(big, inner, inner, img, digitsSide, digitsSide, 1)
		start := len(s.X)
		s.X = append(s.X, make([]float32, side*side)...)
		out := s.X[start:]
		for i := range out {
			out[i] = (0 - MNISTMean) / MNISTStd
		}
		for y := 0; y < inner; y++ {
			for x := 0; x < inner; x++ {
				out[(y+off)*side+x+off] = (big[y*inner+x] - MNISTMean) / MNISTStd
			}
		}
		s.Labels = append(s.Labels, int(lab))
	}
	if len(s.Labels) == 0 {
		return nil, fileErr(name, "no digits")
	}
	return s, nil
}

// Resize scales an h×w image of c interleaved channels to dst, nh×nw,
// bilinearly with half-pixel centres (PyTorch's interpolate with
// align_corners=False, without antialiasing).
func Resize(dst []float32, nh, nw int, src []float32, h, w, c int) {
	if len(dst) != nh*nw*c || len(src) != h*w*c {
		panic(fmt.Sprintf("data.Resize: %d floats for %dx%dx%d, %d for %dx%dx%d", len(dst), nh, nw, c, len(src), h, w, c))
	}
	coord := func(o, n, size int) (i0, i1 int, t float32) {
		f := (float32(o)+0.5)*float32(size)/float32(n) - 0.5
		f = max(f, 0)
		i0 = min(int(f), size-1)
		i1 = min(i0+1, size-1)
		return i0, i1, f - float32(i0)
	}
	for y := 0; y < nh; y++ {
		y0, y1, ty := coord(y, nh, h)
		for x := 0; x < nw; x++ {
			x0, x1, tx := coord(x, nw, w)
			for ch := 0; ch < c; ch++ {
				a := src[(y0*w+x0)*c+ch]*(1-tx) + src[(y0*w+x1)*c+ch]*tx
				b := src[(y1*w+x0)*c+ch]*(1-tx) + src[(y1*w+x1)*c+ch]*tx
				dst[(y*nw+x)*c+ch] = a*(1-ty) + b*ty
			}
		}
	}
}
