// Package jslit converts a JavaScript object literal, as bundlers write
// data into .js files, to JSON by parsing it: nothing is evaluated.
//
// It accepts objects (keys: identifiers, strings or numbers), arrays,
// strings in double or single quotes (escapes \n \t \r \b \f \v \0 \xHH
// \uHHHH \u{H…} and escaped characters), numbers (".5", "5.", "1e-3",
// hex "0x1f"), true, false, !0 (true), !1 (false), null and "void 0" (as
// null). Anything else (a function, an expression, a variable) is an
// error naming its position.
package jslit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays.
const maxDepth = 256

type parser struct {
	src []byte
	pos int
	out bytes.Buffer
}

// ToJSON converts the literal at the start of src (after spaces) and
// returns its JSON and how many bytes of src it used.
func ToJSON(src []byte) ([]byte, int, error) {
	p := &parser{src: src}
	if err := p.value(0); err != nil {
		return nil, 0, err
	}
	return p.out.Bytes(), p.pos, nil
}

// Exported converts the first literal assigned to "exports" in a
// bundled module (module.exports={…} or a.exports="…"); assignments of
// anything else (module.exports=e()) are passed over.
func Exported(src []byte) ([]byte, error) {
	const key = "exports="
	var first error
	for off := 0; ; {
		i := bytes.Index(src[off:], []byte(key))
		if i < 0 {
			break
		}
		at := off + i + len(key)
		out, _, err := ToJSON(src[at:])
		if err == nil {
			return out, nil
		}
		if first == nil {
			first = fmt.Errorf("jslit: the value after byte %d: %w", at, err)
		}
		off = at
	}
	if first == nil {
		first = errors.New("jslit: no \"exports=\" in the file")
	}
	return nil, first
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", p.pos, fmt.Sprintf(format, a...))
}

func (p *parser) space() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) has(s string) bool { return bytes.HasPrefix(p.src[p.pos:], []byte(s)) }

func (p *parser) value(depth int) error {
	if depth > maxDepth {
		return p.errf("nested more than %d deep", maxDepth)
	}
	p.space()
	if p.pos >= len(p.src) {
		return p.errf("unexpected end")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(s)
		p.out.Write(b)
		return nil
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case p.has("!0"):
		p.pos += 2
		p.out.WriteString("true")
	case p.has("!1"):
		p.pos += 2
		p.out.WriteString("false")
	case p.word("true"), p.word("false"), p.word("null"):
		id := p.ident()
		p.out.WriteString(id)
	case p.has("void 0"):
		p.pos += 6
		p.out.WriteString("null")
	default:
		return p.errf("not a literal: %q", abbrev(p.src[p.pos:]))
	}
	return nil
}

// word reports whether the identifier w starts at pos.
func (p *parser) word(w string) bool {
	if !p.has(w) {
		return false
	}
	end := p.pos + len(w)
	return end == len(p.src) || !isIdent(p.src[end])
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *parser) ident() string {
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
		p.pos++
	}
	return string(p.src[start:p.pos])
}

func (p *parser) object(depth int) error {
	p.pos++ // {
	p.out.WriteByte('{')
	for n := 0; ; n++ {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			p.out.WriteByte('}')
			return nil
		}
		if n > 0 {
			p.out.WriteByte(',')
		}
		if p.pos >= len(p.src) {
			return p.errf("unterminated object")
		}
		var key string
		switch c := p.src[p.pos]; {
		case c == '"' || c == '\'':
			s, err := p.str()
			if err != nil {
				return err
			}
			key = s
		case isIdent(c):
			key = p.ident()
		default:
			return p.errf("object key %q", abbrev(p.src[p.pos:]))
		}
		b, _ := json.Marshal(key)
		p.out.Write(b)
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errf("no ':' after key %q", key)
		}
		p.pos++
		p.out.WriteByte(':')
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos >= len(p.src) || p.src[p.pos] != '}' {
			return p.errf("expected ',' or '}' in an object")
		}
	}
}

func (p *parser) array(depth int) error {
	p.pos++ // [
	p.out.WriteByte('[')
	for n := 0; ; n++ {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
			p.out.WriteByte(']')
			return nil
		}
		if n > 0 {
			p.out.WriteByte(',')
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ']' {
			return p.errf("expected ',' or ']' in an array")
		}
	}
}

func (p *parser) number() error {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("+-.0123456789eExXabcdefABCDEF", p.src[p.pos]) >= 0 {
		if (p.src[p.pos] == '+' || p.src[p.pos] == '-') && p.pos > start && p.src[p.pos-1] != 'e' && p.src[p.pos-1] != 'E' {
			break
		}
		p.pos++
	}
	lit := string(p.src[start:p.pos])
	s := strings.TrimPrefix(lit, "+")
	var v float64
	var err error
	if h, ok := strings.CutPrefix(strings.TrimPrefix(s, "-"), "0x"); ok {
		var u uint64
		u, err = strconv.ParseUint(h, 16, 64)
		v = float64(u)
		if strings.HasPrefix(s, "-") {
			v = -v
		}
	} else {
		v, err = strconv.ParseFloat(s, 64)
	}
	if err != nil || strings.ContainsAny(s, "xX") && !strings.Contains(s, "0x") {
		return p.errf("number %q", lit)
	}
	if v == 0 && strings.HasPrefix(s, "-") {
		p.out.WriteString("-0")
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return p.errf("number %q", lit)
	}
	p.out.Write(b)
	return nil
}

func (p *parser) str() (string, error) {
	q := p.src[p.pos]
	p.pos++
	var sb strings.Builder
	for {
		if p.pos >= len(p.src) {
			return "", p.errf("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return sb.String(), nil
		case c == '\n':
			return "", p.errf("newline in a string")
		case c != '\\':
			sb.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.src) {
			return "", p.errf("unterminated string")
		}
		e := p.src[p.pos]
		p.pos++
		switch e {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'v':
			sb.WriteByte('\v')
		case '0':
			sb.WriteByte(0)
		case 'x', 'u':
			n := 2
			if e == 'u' {
				n = 4
				if p.pos < len(p.src) && p.src[p.pos] == '{' {
					end := bytes.IndexByte(p.src[p.pos:], '}')
					if end < 0 || end > 9 {
						return "", p.errf("bad \\u{} escape")
					}
					r, err := strconv.ParseUint(string(p.src[p.pos+1:p.pos+end]), 16, 32)
					if err != nil || r > utf8.MaxRune {
						return "", p.errf("bad \\u{} escape")
					}
					sb.WriteRune(rune(r))
					p.pos += end + 1
					continue
				}
			}
			if p.pos+n > len(p.src) {
				return "", p.errf("short \\%c escape", e)
			}
			r, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
			if err != nil {
				return "", p.errf("bad \\%c escape", e)
			}
			sb.WriteRune(rune(r))
			p.pos += n
		case '\n':
			// a line continuation
		default:
			sb.WriteByte(e)
		}
	}
}

func abbrev(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return string(bytes.ToValidUTF8(b, nil))
}
