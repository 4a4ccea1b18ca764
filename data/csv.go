package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// LoadCSV loads a CSV image table, gzipped or plain (detected from the
// content, not the name). Each row is "label,p0,p1,…" with h·w·c pixel
// values 0..255 in HWC order (row-major, channels last). The first line is
// taken as a header and skipped when its first field is not an integer;
// empty lines and Windows line endings are accepted. Pixels are normalised
// per channel as (p/255 − mean[ch])/std[ch]; mean and std hold c values or
// one for every channel. classes names the classes; if it is empty the
// classes are named "0", "1", … up to the largest label.
//
// Errors name the file and line: a wrong number of fields, a value that is
// not an integer, a pixel outside 0..255, a label out of range, a
// truncated gzip stream, or a file with no data rows.
func LoadCSV(path string, h, w, c int, classes []string, mean, std []float32) (*Set, error) {
	if h <= 0 || w <= 0 || c <= 0 || h > math.MaxInt32/w || h*w > math.MaxInt32/c {
		return nil, fmt.Errorf("data: LoadCSV %s: invalid example shape %dx%dx%d", path, h, w, c)
	}
	if err := checkNorm(mean, std, c); err != nil {
		return nil, fmt.Errorf("data: LoadCSV %s: %w", path, err)
	}
	d, err := openData(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()

	size := h * w * c
	fields := size + 1
	lut := normTables(mean, std, c)
	// A read error (a truncated gzip stream) must not surface as a short
	// last line: the split function returns it as soon as input ends.
	rec := &errRecorder{r: d.r}
	sc := bufio.NewScanner(rec)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && rec.err != nil && rec.err != io.EOF {
			return 0, nil, rec.err
		}
		return bufio.ScanLines(data, atEOF)
	})
	sc.Buffer(make([]byte, 0, 64<<10), 16*fields+1<<20)

	var (
		x       []float32
		labels  []int
		lines   []int // line number of each example, for label errors
		lineNo  int
		started bool // a non-empty line has been seen
	)
	for sc.Scan() {
		lineNo++
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		first := !started
		started = true
		if n := bytes.Count(line, []byte{','}) + 1; n != fields {
			if first && !isInteger(firstField(line)) {
				continue // header
			}
			return nil, lineErr(path, lineNo, "%d fields, want %d (label + %d pixel values for %dx%dx%d)", n, fields, size, h, w, c)
		}
		rest := line
		var f []byte
		f, rest = cut(rest)
		label, ok := parseInt(f)
		if !ok {
			if first {
				continue // header
			}
			return nil, lineErr(path, lineNo, "field 1 (label): %q is not an integer", bytes.TrimSpace(f))
		}
		if label < 0 || (len(classes) > 0 && label >= int64(len(classes))) || label > math.MaxInt32 {
			return nil, lineErr(path, lineNo, "label %d out of range: %d classes", label, len(classes))
		}
		base := len(x)
		x = slices.Grow(x, size)[:base+size]
		for i := range size {
			f, rest = cut(rest)
			v, ok := parseInt(f)
			if !ok {
				return nil, lineErr(path, lineNo, "field %d: %q is not an integer pixel value", i+2, bytes.TrimSpace(f))
			}
			if v < 0 || v > 255 {
				return nil, lineErr(path, lineNo, "field %d: pixel value %d out of range 0..255", i+2, v)
			}
			x[base+i] = lut[i%c][v]
		}
		labels = append(labels, int(label))
		lines = append(lines, lineNo)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, lineErr(path, lineNo+1, "line too long for %d fields", fields)
		}
		return nil, d.wrap(err, fmt.Sprintf("line %d", lineNo+1))
	}
	if len(labels) == 0 {
		return nil, fileErr(path, "no data rows")
	}
	classes, err = checkLabels(path, labels, classes, func(i int) int { return lines[i] })
	if err != nil {
		return nil, err
	}
	return &Set{
		X:       x,
		Labels:  labels,
		Shape:   []int{h, w, c},
		Classes: classes,
		Mean:    expand(mean, c),
		Std:     expand(std, c),
	}, nil
}

// cut splits off the first comma-separated field.
func cut(b []byte) (field, rest []byte) {
	if i := bytes.IndexByte(b, ','); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// firstField returns the first comma-separated field.
func firstField(b []byte) []byte {
	f, _ := cut(b)
	return f
}

// isInteger reports whether b parses as an integer field.
func isInteger(b []byte) bool {
	_, ok := parseInt(b)
	return ok
}

// parseInt parses a decimal integer field, allowing surrounding spaces, a
// sign, and an integral decimal form such as "12.0". Values are clamped to
// ±2^40 so that range checks stay simple.
func parseInt(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	var v int64
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	for ; i < len(b); i++ {
		ch := b[i]
		if ch < '0' || ch > '9' {
			return parseIntegral(b)
		}
		if v < 1<<40 {
			v = v*10 + int64(ch-'0')
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseIntegral accepts a float form of an integer ("3.0", "1e2").
func parseIntegral(b []byte) (int64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, false
	}
	f = max(min(f, 1<<40), -(1 << 40))
	return int64(f), true
}

// errRecorder passes reads through and remembers the last error.
type errRecorder struct {
	r   io.Reader
	err error
}

// Read reads from the underlying reader, recording its error.
func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
