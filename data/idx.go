package data

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// IDX magic numbers: two zero bytes, the element type (0x08 = unsigned
// byte) and the number of dimensions.
const (
	idxImagesMagic = 0x00000803 // ubyte, 3 dimensions: n, rows, columns
	idxLabelsMagic = 0x00000801 // ubyte, 1 dimension: n
)

// maxGzipBytes caps how much a gzipped file may decompress to: a header
// promising more is rejected rather than read.
const maxGzipBytes = 1 << 31

// dataFile is an open data file, transparently decompressed when it starts
// with the gzip magic bytes.
type dataFile struct {
	path    string
	f       *os.File
	gzipped bool      // the file starts with the gzip magic bytes
	r       io.Reader // what to read from: the gzip stream or the buffered file
	left    int64     // plain files: bytes not yet read; gzipped files: -1
}

// openData opens path, detecting gzip by its magic bytes (not by name).
func openData(path string) (*dataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &FileError{Path: path, Err: err}
	}
	if st.IsDir() {
		f.Close()
		return nil, fileErr(path, "is a directory")
	}
	br := bufio.NewReaderSize(f, 1<<16)
	d := &dataFile{path: path, f: f, r: br, left: st.Size()}
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		d.gzipped = true
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, d.wrap(err, "gzip header")
		}
		d.r, d.left = gz, -1
	}
	return d, nil
}

// Close closes the file.
func (d *dataFile) Close() error { return d.f.Close() }

// wrap turns a read error into a *FileError saying what was being read.
func (d *dataFile) wrap(err error, what string) error {
	var ce flate.CorruptInputError
	switch {
	case d.gzipped && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return fileErr(d.path, "truncated gzip stream (reading %s)", what)
	case d.gzipped && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce)):
		return fileErr(d.path, "corrupt gzip stream (reading %s): %v", what, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fileErr(d.path, "truncated (reading %s)", what)
	}
	return fileErr(d.path, "reading %s: %v", what, err)
}

// readHeader reads len(h) big-endian uint32 words.
func (d *dataFile) readHeader(h []uint32, what string) error {
	buf := make([]byte, 4*len(h))
	if _, err := io.ReadFull(d.r, buf); err != nil {
		return d.wrap(err, what)
	}
	for i := range h {
		h[i] = binary.BigEndian.Uint32(buf[4*i:])
	}
	if d.left >= 0 {
		d.left -= int64(len(buf))
	}
	return nil
}

// readBody reads want bytes of payload. For a plain file it checks want
// against the bytes left in the file before allocating; for a gzipped file
// it rejects want > maxGzipBytes and otherwise reads incrementally, so a
// lying header costs no more memory than the stream really holds. describe
// says what the header promised, for the truncation message. For gzipped
// files the rest of the stream is drained so that its checksum is verified.
func (d *dataFile) readBody(want uint64, describe string) ([]byte, error) {
	if d.left >= 0 {
		if want > uint64(d.left) {
			return nil, fileErr(d.path, "truncated: header says %s, got only %d bytes", describe, d.left)
		}
		buf := make([]byte, want)
		if n, err := io.ReadFull(d.r, buf); err != nil {
			return nil, fileErr(d.path, "truncated: header says %s, got only %d bytes (%v)", describe, n, err)
		}
		return buf, nil
	}
	if want > maxGzipBytes || want > math.MaxInt {
		return nil, fileErr(d.path, "absurd header: %s is %d bytes, more than the %d-byte limit", describe, want, int64(maxGzipBytes))
	}
	buf, err := io.ReadAll(io.LimitReader(d.r, int64(want)))
	if err != nil {
		return nil, d.wrap(err, describe)
	}
	if uint64(len(buf)) < want {
		return nil, fileErr(d.path, "truncated: header says %s, got only %d bytes", describe, len(buf))
	}
	if _, err := io.Copy(io.Discard, d.r); err != nil {
		return nil, d.wrap(err, "end of gzip stream")
	}
	return buf, nil
}

// describeMagic explains a wrong IDX magic number.
func describeMagic(found, want uint32) string {
	hint := ""
	switch found {
	case idxImagesMagic:
		hint = " (an IDX image file)"
	case idxLabelsMagic:
		hint = " (an IDX label file)"
	default:
		if found>>16 != 0 {
			hint = " (not an IDX file)"
		}
	}
	kind := "IDX images: unsigned bytes, 3 dimensions"
	if want == idxLabelsMagic {
		kind = "IDX labels: unsigned bytes, 1 dimension"
	}
	return fmt.Sprintf("wrong magic number 0x%08x%s, expected 0x%08x (%s)", found, hint, want, kind)
}

// ReadIDXImages reads an IDX image file (magic 0x00000803: n images of h×w
// unsigned bytes, row-major), gzipped or not, and returns the pixels
// (n·h·w bytes, image after image), n, h and w. Errors name the file: a
// wrong magic number (saying what was found and expected), a truncated or
// corrupt gzip stream, data shorter than the header promises, or a header
// too large to be real (checked before allocating).
func ReadIDXImages(path string) (pix []uint8, n, h, w int, err error) {
	d, err := openData(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer d.Close()
	var hdr [4]uint32
	if err := d.readHeader(hdr[:1], "IDX magic number"); err != nil {
		return nil, 0, 0, 0, err
	}
	if hdr[0] != idxImagesMagic {
		return nil, 0, 0, 0, fileErr(path, "%s", describeMagic(hdr[0], idxImagesMagic))
	}
	if err := d.readHeader(hdr[1:], "IDX image header"); err != nil {
		return nil, 0, 0, 0, err
	}
	cnt, rows, cols := uint64(hdr[1]), uint64(hdr[2]), uint64(hdr[3])
	if rows == 0 || cols == 0 {
		return nil, 0, 0, 0, fileErr(path, "header says images of %dx%d: a dimension is zero", rows, cols)
	}
	want := cnt * rows * cols // < 2^96 in general; rows*cols < 2^64, checked below
	if rows*cols != 0 && want/(rows*cols) != cnt {
		return nil, 0, 0, 0, fileErr(path, "absurd header: %d images of %dx%d", cnt, rows, cols)
	}
	describe := fmt.Sprintf("%d images of %dx%d", cnt, rows, cols)
	if rows*cols > maxGzipBytes {
		return nil, 0, 0, 0, fileErr(path, "absurd header: %s", describe)
	}
	pix, err = d.readBody(want, describe)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return pix, int(cnt), int(rows), int(cols), nil
}

// ReadIDXLabels reads an IDX label file (magic 0x00000801: n unsigned
// bytes), gzipped or not. Errors name the file, as for ReadIDXImages.
func ReadIDXLabels(path string) ([]uint8, error) {
	d, err := openData(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var hdr [2]uint32
	if err := d.readHeader(hdr[:1], "IDX magic number"); err != nil {
		return nil, err
	}
	if hdr[0] != idxLabelsMagic {
		return nil, fileErr(path, "%s", describeMagic(hdr[0], idxLabelsMagic))
	}
	if err := d.readHeader(hdr[1:], "IDX label header"); err != nil {
		return nil, err
	}
	return d.readBody(uint64(hdr[1]), fmt.Sprintf("%d labels", hdr[1]))
}

// LoadIDX loads an IDX image file and its IDX label file (each gzipped or
// not) as a Set of Shape [h, w, 1] with X = (pixel/255 − mean)/std.
// classes names the classes; if it is empty, the classes are named "0",
// "1", … up to the largest label. Errors name the file: anything
// ReadIDXImages or ReadIDXLabels reports, a different number of images and
// labels, a label ≥ len(classes), or a std that is zero or not finite.
func LoadIDX(imagesPath, labelsPath string, classes []string, mean, std float32) (*Set, error) {
	if err := checkNorm([]float32{mean}, []float32{std}, 1); err != nil {
		return nil, fmt.Errorf("data: LoadIDX %s: %w", imagesPath, err)
	}
	pix, n, h, w, err := ReadIDXImages(imagesPath)
	if err != nil {
		return nil, err
	}
	lab, err := ReadIDXLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(lab) != n {
		return nil, fmt.Errorf("data: count mismatch: file %s has %d images but file %s has %d labels", imagesPath, n, labelsPath, len(lab))
	}
	labels := make([]int, n)
	for i, l := range lab {
		labels[i] = int(l)
	}
	classes, err = checkLabels(labelsPath, labels, classes, func(i int) int { return 0 })
	if err != nil {
		return nil, err
	}
	m, s := []float32{mean}, []float32{std}
	return &Set{
		X:       ToFloat(pix, m, s, 1),
		Labels:  labels,
		Shape:   []int{h, w, 1},
		Classes: classes,
		Mean:    m,
		Std:     s,
	}, nil
}

// checkLabels checks every label against classes (or, if classes is empty,
// names the classes "0".."max") and returns the class names to use. line
// maps an example index to its line number for the error (0: none).
func checkLabels(path string, labels []int, classes []string, line func(i int) int) ([]string, error) {
	if len(classes) == 0 {
		maxL := -1
		for _, l := range labels {
			maxL = max(maxL, l)
		}
		classes = make([]string, maxL+1)
		for c := range classes {
			classes[c] = fmt.Sprint(c)
		}
		return classes, nil
	}
	for i, l := range labels {
		if l < 0 || l >= len(classes) {
			return nil, &FileError{Path: path, Line: line(i), Err: fmt.Errorf("label %d of example %d out of range: %d classes", l, i, len(classes))}
		}
	}
	return append([]string(nil), classes...), nil
}
