package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"unicode/utf8"
)

// headerEntry is one tensor's entry in a written header.
type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// plan is a checked File ready to be written: its padded header and its
// tensors in data-buffer order.
type plan struct {
	header  []byte
	names   []string
	tensors []*Tensor
}

// Write writes f to w in safetensors format: F32 tensors as F32 and I64
// tensors as I64, laid out contiguously in sorted-name order, the header's
// keys sorted and "__metadata__" present only when f.Metadata is non-empty.
//
// f is checked in full before anything is written: a tensor of any other
// dtype (convert F16 and BF16 tensors to F32 first), a length that does not
// match the shape, a negative dimension, or a name or metadata string that is
// not valid UTF-8 is an error naming the tensor.
func Write(w io.Writer, f *File) error {
	p, err := makePlan(f)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := p.emit(w); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFile writes f to path (see Write) atomically: it writes a temporary
// file in the same directory, syncs and closes it, renames it over path and
// syncs the directory. On any error before the rename the temporary file is
// removed and an existing file at path is left as it was. The file is
// created with permission 0644.
func WriteFile(path string, f *File) (err error) {
	p, err := makePlan(f)
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if err != nil {
			if !renamed {
				tmp.Close() // may already be closed; the error is moot
				os.Remove(tmpName)
			}
			err = fmt.Errorf("safetensors: %s: %w", path, err)
		}
	}()
	if err = p.emit(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	renamed = true
	// The file is in place; make the rename durable.
	if runtime.GOOS != "windows" {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	return nil
}

// makePlan checks f and builds its header.
func makePlan(f *File) (*plan, error) {
	if f == nil {
		return nil, errors.New("nil File")
	}
	p := &plan{names: make([]string, 0, len(f.Tensors))}
	for name := range f.Tensors {
		p.names = append(p.names, name)
	}
	sort.Strings(p.names)

	hdr := make(map[string]any, len(f.Tensors)+1)
	var off int64
	for _, name := range p.names {
		t := f.Tensors[name]
		if name == metadataKey {
			return nil, fmt.Errorf("tensor name %q is reserved for metadata", name)
		}
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("tensor %q: name is not valid UTF-8", name)
		}
		if t == nil {
			return nil, fmt.Errorf("tensor %q: nil Tensor", name)
		}
		shape := make([]int, len(t.Shape)) // never nil: a scalar is "shape": []
		n := 1
		for i, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: shape %v has negative dimension %d", name, t.Shape, d)
			}
			if d != 0 && n > math.MaxInt/8/d {
				return nil, fmt.Errorf("tensor %q: shape %v: element count overflows", name, t.Shape)
			}
			shape[i] = d
			n *= d
		}
		var have, esize int
		switch t.DType {
		case F32:
			if len(t.I64) != 0 {
				return nil, fmt.Errorf("tensor %q: dtype F32 but I64 holds %d values", name, len(t.I64))
			}
			have, esize = len(t.F32), 4
		case I64:
			if len(t.F32) != 0 {
				return nil, fmt.Errorf("tensor %q: dtype I64 but F32 holds %d values", name, len(t.F32))
			}
			have, esize = len(t.I64), 8
		default:
			return nil, fmt.Errorf("tensor %q: cannot write dtype %q (graft writes F32 and I64; set DType to F32 to write F16 or BF16 tensors as float32)", name, t.DType)
		}
		if have != n {
			return nil, fmt.Errorf("tensor %q: shape %v holds %d elements but %s has %d", name, t.Shape, n, t.DType, have)
		}
		end := off + int64(n)*int64(esize)
		hdr[name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, end}}
		off = end
		p.tensors = append(p.tensors, t)
	}
	if len(f.Metadata) > 0 {
		for k, v := range f.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %q: key or value is not valid UTF-8", k)
			}
		}
		hdr[metadataKey] = f.Metadata
	}

	var buf bytes.Buffer
	buf.Write(make([]byte, 8)) // the length, filled in below
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hdr); err != nil { // map keys come out sorted
		return nil, fmt.Errorf("header: %v", err)
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	p.header = buf.Bytes()
	n := len(p.header) - 8
	if n > maxHeader {
		return nil, fmt.Errorf("header is %d bytes, over the %d-byte limit", n, maxHeader)
	}
	binary.LittleEndian.PutUint64(p.header, uint64(n))
	return p, nil
}

// emit writes the planned file to w, converting tensors through a small
// buffer.
func (p *plan) emit(w io.Writer) error {
	if _, err := w.Write(p.header); err != nil {
		return err
	}
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	for i, t := range p.tensors {
		var err error
		switch t.DType {
		case F32:
			err = writeChunks(w, buf, t.F32, 4, func(b []byte, x float32) {
				binary.LittleEndian.PutUint32(b, math.Float32bits(x))
			})
		case I64:
			err = writeChunks(w, buf, t.I64, 8, func(b []byte, x int64) {
				binary.LittleEndian.PutUint64(b, uint64(x))
			})
		}
		if err != nil {
			return fmt.Errorf("tensor %q: %w", p.names[i], err)
		}
	}
	return nil
}

// writeChunks encodes xs, esize bytes each, into buf and writes it to w a
// buffer at a time.
func writeChunks[T any](w io.Writer, buf []byte, xs []T, esize int, put func([]byte, T)) error {
	per := len(buf) / esize
	for len(xs) > 0 {
		k := min(per, len(xs))
		for i, x := range xs[:k] {
			put(buf[i*esize:], x)
		}
		if _, err := w.Write(buf[:k*esize]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}
