package text

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxLine bounds a text line (a 65536-value vector of long numbers fits).
const maxLine = 16 << 20

// readLine returns the next line without its end, growing buf only for
// lines longer than the reader's buffer; io.EOF after the last line.
func readLine(r *bufio.Reader, buf []byte) ([]byte, []byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf = append(buf[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(buf) > maxLine {
				return nil, buf, fmt.Errorf("line longer than %d bytes", maxLine)
			}
			line, err = r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil && err != io.EOF {
		return nil, buf, err
	}
	if err == io.EOF && len(line) == 0 {
		return nil, buf, io.EOF
	}
	return bytes.TrimRight(line, "\r\n"), buf, nil
}

// fields splits a line at spaces and tabs into out (reused).
func fields(line []byte, out [][]byte) [][]byte {
	out = out[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			out = append(out, line[i:j])
		}
		i = j
	}
	return out
}

// header parses a "count dim" line; ok is false when the line is not one.
func header(f [][]byte) (count, dim int, ok bool) {
	if len(f) != 2 {
		return 0, 0, false
	}
	c, err1 := strconv.Atoi(string(f[0]))
	d, err2 := strconv.Atoi(string(f[1]))
	if err1 != nil || err2 != nil || c < 0 || d <= 0 {
		return 0, 0, false
	}
	return c, d, true
}

// readText reads GloVe/word2vec/fastText text vectors.
func readText(r *bufio.Reader, name string, b *builder) error {
	var (
		buf   []byte
		fs    [][]byte
		count = -1
		words int
		lineN int
	)
	fail := func(err error) error { return &ParseError{Path: name, Line: lineN, Err: err} }
	for {
		var line []byte
		var err error
		line, buf, err = readLine(r, buf)
		lineN++
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		fs = fields(line, fs)
		if len(fs) == 0 {
			if lineN == 1 {
				return fail(errors.New("empty first line"))
			}
			continue // a blank line (some files end with one)
		}
		if lineN == 1 {
			if c, d, ok := header(fs); ok {
				count = c
				b.hint = c
				if err := b.setDim(d); err != nil {
					return fail(err)
				}
				continue
			}
		}
		if b.dim == 0 {
			if err := b.setDim(len(fs) - 1); err != nil {
				return fail(fmt.Errorf("first vector line: %w", err))
			}
		}
		if len(fs)-1 != b.dim {
			return fail(fmt.Errorf("word %q has %d values, want %d", fs[0], len(fs)-1, b.dim))
		}
		row, err := b.add(string(fs[0]))
		if err == errStop {
			return errStop
		}
		if err != nil {
			return fail(err)
		}
		for i, f := range fs[1:] {
			v, err := parseFloat32(f)
			if err != nil {
				return fail(fmt.Errorf("word %q, value %d: %w", fs[0], i+1, err))
			}
			row[i] = v
		}
		words++
	}
	if count >= 0 && words != count {
		return &ParseError{Path: name, Line: 1, Err: fmt.Errorf("header announces %d words, the file has %d", count, words)}
	}
	return nil
}

// readBinary reads word2vec's binary format.
func readBinary(r *bufio.Reader, name string, b *builder) error {
	line, _, err := readLine(r, nil)
	if err != nil {
		return &ParseError{Path: name, Line: 1, Err: fmt.Errorf("header: %w", err)}
	}
	off := int64(len(line) + 1)
	count, dim, ok := header(fields(line, nil))
	if !ok {
		return &ParseError{Path: name, Line: 1, Err: fmt.Errorf("header %q is not \"count dim\"", line)}
	}
	if err := b.setDim(dim); err != nil {
		return &ParseError{Path: name, Line: 1, Err: err}
	}
	b.hint, b.maxFloats = count, b.maxFloats/2 // 4 bytes a value, not 2
	raw := make([]byte, 4*dim)
	var word []byte
	for n := 0; n < count; n++ {
		start := off
		fail := func(err error) error {
			return &ParseError{Path: name, Offset: start, Err: fmt.Errorf("word %d of %d: %w", n+1, count, err)}
		}
		word = word[:0]
		for {
			c, err := r.ReadByte()
			if err != nil {
				return fail(fmt.Errorf("file ends inside a word: %w", io.ErrUnexpectedEOF))
			}
			off++
			if c == ' ' {
				break
			}
			if c == '\n' && len(word) == 0 {
				continue // the newline some writers put after each vector
			}
			if len(word) >= 4096 {
				return fail(errors.New("word longer than 4096 bytes"))
			}
			word = append(word, c)
		}
		row, err := b.add(string(word))
		if err == errStop {
			return errStop
		}
		if err != nil {
			return fail(err)
		}
		if _, err := io.ReadFull(r, raw); err != nil {
			return fail(fmt.Errorf("vector of %q: %w", word, io.ErrUnexpectedEOF))
		}
		off += int64(len(raw))
		for i := range row {
			v := float32frombits(raw[4*i:])
			if v != v || v > maxF32 || v < -maxF32 {
				return fail(fmt.Errorf("word %q, value %d is not finite", word, i+1))
			}
			row[i] = v
		}
	}
	return nil
}
