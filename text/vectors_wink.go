package text

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a minimal streaming JSON tokenizer over a refilled buffer:
// enough for the wink embeddings file, fast, and bounded in memory
// (strings and numbers over maxToken bytes are errors).
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	base     int64 // file offset of buf[0]
	eof      bool
	err      error
	tok      []byte // scratch for strings
}

const maxToken = 1 << 16

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, 1<<20)}
}

func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// fill makes at least n bytes available when the input has them,
// reporting whether it does.
func (s *scanner) fill(n int) bool {
	for s.end-s.pos < n && !s.eof {
		if s.pos > 0 {
			copy(s.buf, s.buf[s.pos:s.end])
			s.base += int64(s.pos)
			s.end -= s.pos
			s.pos = 0
		}
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.err = err
			s.eof = true
		}
	}
	return s.end-s.pos >= n
}

// peek skips white space and returns the next byte (0 at the end).
func (s *scanner) peek() byte {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c
			}
		}
		if !s.fill(1) {
			return 0
		}
	}
}

// unexpected describes the next byte against what was wanted.
func (s *scanner) unexpected(want string) error {
	if c := s.peek(); c != 0 {
		return fmt.Errorf("found %q, want %s", c, want)
	}
	return s.errorf("unexpected end of input, want %s", want)
}

func (s *scanner) errorf(format string, args ...any) error {
	if s.err != nil {
		return s.err
	}
	return fmt.Errorf(format, args...)
}

// expect consumes the byte c after white space.
func (s *scanner) expect(c byte) error {
	got := s.peek()
	if got != c {
		if got == 0 {
			return s.errorf("unexpected end of input, want %q", c)
		}
		return fmt.Errorf("found %q, want %q", got, c)
	}
	s.pos++
	return nil
}

// str reads a JSON string into s.tok (valid UTF-8, escapes decoded) and
// returns it; the slice is valid until the next call.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	s.tok = s.tok[:0]
	for {
		if s.pos >= s.end && !s.fill(1) {
			return nil, s.errorf("unexpected end of input inside a string")
		}
		// copy the plain run in one go
		run := s.pos
		for run < s.end {
			c := s.buf[run]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			run++
		}
		s.tok = append(s.tok, s.buf[s.pos:run]...)
		s.pos = run
		if len(s.tok) > maxToken {
			return nil, fmt.Errorf("string longer than %d bytes", maxToken)
		}
		if s.pos >= s.end {
			continue
		}
		c := s.buf[s.pos]
		s.pos++
		switch {
		case c == '"':
			if !utf8.Valid(s.tok) {
				return nil, fmt.Errorf("string %q is not valid UTF-8", s.tok)
			}
			return s.tok, nil
		case c < 0x20:
			return nil, fmt.Errorf("control character %#x inside a string", c)
		}
		if !s.fill(1) {
			return nil, s.errorf("unexpected end of input inside an escape")
		}
		e := s.buf[s.pos]
		s.pos++
		switch e {
		case '"', '\\', '/':
			s.tok = append(s.tok, e)
		case 'b':
			s.tok = append(s.tok, '\b')
		case 'f':
			s.tok = append(s.tok, '\f')
		case 'n':
			s.tok = append(s.tok, '\n')
		case 'r':
			s.tok = append(s.tok, '\r')
		case 't':
			s.tok = append(s.tok, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				if s.fill(2) && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
					s.pos += 2
					r2, err := s.hex4()
					if err != nil {
						return nil, err
					}
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
			}
			s.tok = utf8.AppendRune(s.tok, r)
		default:
			return nil, fmt.Errorf("bad escape \\%c", e)
		}
	}
}

func (s *scanner) hex4() (rune, error) {
	if !s.fill(4) {
		return 0, s.errorf("unexpected end of input inside \\u escape")
	}
	v, err := strconv.ParseUint(string(s.buf[s.pos:s.pos+4]), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("bad \\u escape %q", s.buf[s.pos:s.pos+4])
	}
	s.pos += 4
	return rune(v), nil
}

// numChar marks the bytes a JSON number is made of.
var numChar = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()

// number returns the bytes of the next number (valid until the next call).
func (s *scanner) number() ([]byte, error) {
	if s.pos < s.end && !numChar[s.buf[s.pos]] {
		s.peek() // white space before the number: rare in these files
	}
	if s.end-s.pos < 64 {
		s.fill(64)
	}
	buf := s.buf[s.pos:s.end]
	i := 0
	for i < len(buf) && numChar[buf[i]] {
		i++
	}
	if i == 0 {
		if len(buf) == 0 {
			return nil, s.errorf("unexpected end of input, want a number")
		}
		return nil, fmt.Errorf("found %q, want a number", buf[0])
	}
	if i >= 64 && i == len(buf) {
		return nil, errors.New("number longer than 64 bytes")
	}
	s.pos += i
	return buf[:i], nil
}

// skip skips one value of any kind.
func (s *scanner) skip(depth int) error {
	if depth > 64 {
		return errors.New("values nested deeper than 64")
	}
	switch c := s.peek(); c {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		s.pos++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		if s.peek() == closing {
			s.pos++
			return nil
		}
		for {
			if c == '{' {
				if _, err := s.str(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case closing:
				s.pos++
				return nil
			default:
				return s.unexpected(fmt.Sprintf("',' or %q", closing))
			}
		}
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if s.fill(len(lit)) && string(s.buf[s.pos:s.pos+len(lit)]) == lit {
				s.pos += len(lit)
				return nil
			}
		}
		return errors.New("bad literal")
	case 0:
		return s.errorf("unexpected end of input, want a value")
	default:
		_, err := s.number()
		return err
	}
}

// readWink reads the wink embeddings JSON: an object whose "dimensions"
// gives the dimension and whose "vectors" maps each word to its values
// followed by two more numbers (the vector's L2 norm and the word's index),
// which are checked for being numbers and dropped. Other keys are skipped.
func readWink(r io.Reader, name string, b *builder) error {
	s := newScanner(r)
	var at int64
	fail := func(err error) error {
		if err == errStop {
			return err
		}
		return &ParseError{Path: name, Offset: at, Err: err}
	}
	at = s.offset()
	if err := s.expect('{'); err != nil {
		return fail(err)
	}
	sawVectors := false
	for first := true; ; first = false {
		at = s.offset()
		if s.peek() == '}' && first {
			s.pos++
			break
		}
		key, err := s.str()
		if err != nil {
			return fail(err)
		}
		k := string(key)
		if err := s.expect(':'); err != nil {
			return fail(err)
		}
		at = s.offset()
		switch k {
		case "dimensions":
			nb, err := s.number()
			if err != nil {
				return fail(fmt.Errorf("\"dimensions\": %w", err))
			}
			d, err := strconv.Atoi(string(nb))
			if err != nil {
				return fail(fmt.Errorf("\"dimensions\" %q is not an integer", nb))
			}
			if b.dim != 0 && b.dim != d {
				return fail(fmt.Errorf("\"dimensions\" is %d, the vectors have %d", d, b.dim))
			}
			if err := b.setDim(d); err != nil {
				return fail(err)
			}
		case "size":
			nb, err := s.number()
			if err != nil {
				return fail(fmt.Errorf("\"size\": %w", err))
			}
			if n, err := strconv.Atoi(string(nb)); err == nil && n > 0 {
				b.hint = n
			}
		case "vectors":
			sawVectors = true
			if err := readWinkVectors(s, b, &at); err != nil {
				return fail(err)
			}
		default:
			if err := s.skip(0); err != nil {
				return fail(fmt.Errorf("value of %q: %w", k, err))
			}
		}
		at = s.offset()
		switch s.peek() {
		case ',':
			s.pos++
			continue
		case '}':
			s.pos++
		default:
			return fail(fmt.Errorf("after the value of %q: %w", k, s.unexpected("',' or '}'")))
		}
		break
	}
	if !sawVectors {
		return fail(errors.New("no \"vectors\" object"))
	}
	return nil
}

// readWinkVectors reads the "vectors" object.
func readWinkVectors(s *scanner, b *builder, at *int64) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	var vals []float32
	for {
		*at = s.offset()
		w, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := s.expect('['); err != nil {
			return fmt.Errorf("word %q: %w", w, err)
		}
		// read the values into vals first: the dimension may not be known
		vals = vals[:0]
		if s.peek() != ']' {
			for {
				nb, err := s.number()
				if err != nil {
					return fmt.Errorf("word %q, value %d: %w", w, len(vals)+1, err)
				}
				v, err := parseFloat32(nb)
				if err != nil {
					return fmt.Errorf("word %q, value %d: %w", w, len(vals)+1, err)
				}
				if len(vals) > 1<<16+2 {
					return fmt.Errorf("word %q has more than %d values", w, 1<<16+2)
				}
				vals = append(vals, v)
				c := s.peek()
				if c == ',' {
					s.pos++
					continue
				}
				if c == ']' {
					break
				}
				return fmt.Errorf("word %q: %w", w, s.unexpected("',' or ']' in its values"))
			}
		}
		s.pos++
		if b.dim == 0 {
			if err := b.setDim(len(vals) - 2); err != nil {
				return fmt.Errorf("word %q: %d values: %w", w, len(vals), err)
			}
		}
		if len(vals) != b.dim+2 {
			return fmt.Errorf("word %q has %d values, want %d (the vector, its norm and the word's index)", w, len(vals), b.dim+2)
		}
		row, err := b.add(string(w))
		if err != nil {
			return err
		}
		copy(row, vals[:b.dim])
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return fmt.Errorf("after the vector of %q: %w", w, s.unexpected("',' or '}'"))
		}
	}
}
