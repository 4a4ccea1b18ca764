package text

import (
	"strings"
)

// HTMLTok marks a message that had HTML markup (Clean adds it once).
const HTMLTok = "<html>"

// keptHeaders are the mail headers whose values Clean keeps.
var keptHeaders = []string{"subject", "from", "to", "reply-to", "content-type", "x-mailer"}

// Clean turns a raw e-mail (or any text) into plain prose for Tokenize:
//   - a leading block of RFC 5322 headers ("Name: value" lines, folded
//     continuation lines, up to the first blank line) is reduced to the
//     values of Subject, From, To, Reply-To, Content-Type and X-Mailer;
//   - quoted-printable soft line breaks and =XX escapes are decoded;
//   - lines of base64 (long runs without spaces) are dropped, so binary
//     attachments add no tokens;
//   - HTML: <script> and <style> contents and all tags are removed,
//     character entities decoded, and HTMLTok added once.
//
// Text without headers passes through the header step unchanged. Time and
// memory are linear in len(s).
func Clean(s string) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	body := s
	if h, rest, ok := splitHeaders(s); ok {
		for _, line := range h {
			name, val, _ := strings.Cut(line, ":")
			name = strings.ToLower(strings.TrimSpace(name))
			for _, k := range keptHeaders {
				if name == k {
					b.WriteString(strings.TrimSpace(val))
					b.WriteByte('\n')
					break
				}
			}
		}
		body = rest
	}
	body = decodeQP(body)
	html := false
	for len(body) > 0 {
		whole := body
		line, rest, found := strings.Cut(body, "\n")
		body = rest
		if isBase64Line(line) {
			continue
		}
		if strings.IndexByte(line, '<') >= 0 || strings.IndexByte(line, '&') >= 0 {
			// HTML is handled on the rest of the text as a whole, since
			// tags span lines
			full := whole // line + "\n" + body
			if !found {
				full += "\n"
			}
			full = strings.ToLower(full)
			body = ""
			var had bool
			full, had = stripHTML(full)
			html = html || had
			for l := range strings.SplitSeq(full, "\n") {
				if !isBase64Line(l) {
					b.WriteString(l)
					b.WriteByte('\n')
				}
			}
			break
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if html {
		b.WriteString(" " + HTMLTok + " ")
	}
	return b.String()
}

// splitHeaders returns the header lines (continuations joined) and the
// body when s starts with at least one "Name: value" line followed, after
// the headers, by a blank line or the end.
func splitHeaders(s string) ([]string, string, bool) {
	var hs []string
	rest := s
	for len(rest) > 0 {
		line, r, found := strings.Cut(rest, "\n")
		l := strings.TrimRight(line, "\r")
		if l == "" {
			return hs, r, len(hs) > 0
		}
		if (l[0] == ' ' || l[0] == '\t') && len(hs) > 0 {
			if len(hs[len(hs)-1]) < 4096 { // a bound, so folding stays linear
				hs[len(hs)-1] += " " + strings.TrimSpace(l)
			}
		} else if isHeaderLine(l) {
			hs = append(hs, l)
		} else {
			return nil, s, false
		}
		if !found {
			return hs, "", len(hs) > 0
		}
		rest = r
	}
	return hs, "", len(hs) > 0
}

func isHeaderLine(l string) bool {
	i := strings.IndexByte(l, ':')
	if i <= 0 || i > 76 {
		return false
	}
	for j := 0; j < i; j++ {
		c := l[j]
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// isBase64Line reports a line that looks like base64 or uuencoded data:
// at least 40 bytes with no spaces, all from the base64 alphabet.
func isBase64Line(l string) bool {
	l = strings.TrimRight(l, "\r")
	if len(l) < 40 {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeQP decodes quoted-printable soft line breaks ("=\n") and =XX
// escapes wherever they occur (plain text rarely has them).
func decodeQP(s string) string {
	if strings.IndexByte(s, '=') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if s[i+1] == '\n' {
			i++
			continue
		}
		if s[i+1] == '\r' && i+2 < len(s) && s[i+2] == '\n' {
			i += 2
			continue
		}
		if i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

var entities = map[string]string{"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'",
	"copy": "©", "reg": "®", "euro": "€", "pound": "£", "mdash": "—", "ndash": "–", "hellip": "…"}

// stripHTML removes tags (and the contents of script and style elements)
// and decodes entities, reporting whether it found any tag. s is
// lower-case.
func stripHTML(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	had := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '<' && i+1 < len(s) && (isASCIIWord(s[i+1]) || s[i+1] == '/' || s[i+1] == '!'):
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), had
			}
			tag := s[i+1 : i+end] // s is lower-case
			had = true
			i += end + 1
			for _, skip := range []string{"script", "style"} {
				if strings.HasPrefix(tag, skip) {
					if k := strings.Index(s[i:], "</"+skip); k >= 0 {
						i += k
					} else {
						i = len(s)
					}
				}
			}
			b.WriteByte(' ')
		case c == '&':
			end := strings.IndexByte(s[i:min(len(s), i+10)], ';')
			if end > 1 {
				name := s[i+1 : i+end]
				if r, ok := entities[name]; ok {
					b.WriteString(r)
					i += end + 1
					continue
				}
				if name[0] == '#' {
					if r, ok := numericEntity(name[1:]); ok {
						b.WriteRune(r)
						i += end + 1
						continue
					}
				}
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), had
}

func numericEntity(s string) (rune, bool) {
	base := 10
	if len(s) > 0 && (s[0] == 'x' || s[0] == 'X') {
		base, s = 16, s[1:]
	}
	if len(s) == 0 || len(s) > 7 {
		return 0, false
	}
	var r rune
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok || int(d) >= base {
			return 0, false
		}
		r = r*rune(base) + rune(d)
	}
	if r > 0x10FFFF || r == 0 {
		return 0, false
	}
	return r, true
}
