package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The tokens Tokenize puts in place of URLs, e-mail addresses and numbers.
const (
	URLTok   = "<url>"
	EmailTok = "<email>"
	NumTok   = "<num>"
)

// maxWord bounds a token; longer runs (encoded data, hashes) are dropped.
const maxWord = 40

// Tokenize lower-cases s (Unicode) and splits it into tokens: runs of
// letters and digits (a run of digits, with inner '.' or ',', becomes
// NumTok), URLs (http://, https://, ftp://, www.) become URLTok and e-mail
// addresses EmailTok; Clean's HTMLTok stays one token. Punctuation and symbols separate tokens; runs longer
// than 40 characters are dropped. Invalid UTF-8 separates tokens too, so
// binary data yields few tokens. It appends to dst and stops at max tokens
// when max > 0. Time is linear in len(s).
func Tokenize(dst []string, s string, max int) []string {
	s = strings.ToLower(s)
	i := 0
	for i < len(s) && (max <= 0 || len(dst) < max) {
		// skip to the next token start
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			if r == '<' && strings.HasPrefix(s[i:], HTMLTok) {
				dst = append(dst, HTMLTok)
				i += len(HTMLTok)
				continue
			}
			i += n
			continue
		}
		if tok, end, ok := special(s, i); ok {
			dst = append(dst, tok)
			i = end
			continue
		}
		j := i
		digits := true
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if isWordRune(r) {
				if r < '0' || r > '9' {
					digits = false
				}
				j += n
				continue
			}
			// inner '.' or ',' of a number: 3.14, 1,000
			if digits && (r == '.' || r == ',') && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
				continue
			}
			break
		}
		switch {
		case digits:
			dst = append(dst, NumTok)
		case j-i <= maxWord:
			dst = append(dst, s[i:j])
		}
		i = j
	}
	return dst
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z'
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// special recognises a URL or an e-mail address starting at s[i] (a word
// rune), returning its token and end.
func special(s string, i int) (string, int, bool) {
	rest := s[i:]
	if strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://") ||
		strings.HasPrefix(rest, "ftp://") || strings.HasPrefix(rest, "www.") {
		return URLTok, i + urlEnd(rest), true
	}
	// an address: word chars and ._%+- then '@' then a dotted domain
	j := 0
	for j < len(rest) && j < 64 && (isASCIIWord(rest[j]) || strings.IndexByte("._%+-", rest[j]) >= 0) {
		j++
	}
	if j == 0 || j >= len(rest) || rest[j] != '@' {
		return "", 0, false
	}
	k, dots := j+1, 0
	for k < len(rest) && k-j < 255 && (isASCIIWord(rest[k]) || rest[k] == '.' || rest[k] == '-') {
		if rest[k] == '.' {
			dots++
		}
		k++
	}
	for k > j+1 && rest[k-1] == '.' { // a sentence's full stop
		k--
		dots--
	}
	if dots == 0 || k == j+1 {
		return "", 0, false
	}
	return EmailTok, i + k, true
}

func isASCIIWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '_'
}

// urlEnd returns the length of the URL at the start of s: up to white
// space, a quote or an angle bracket, less trailing punctuation.
func urlEnd(s string) int {
	j := 0
	for j < len(s) {
		c := s[j]
		if c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c >= 0x80 {
			break
		}
		j++
	}
	for j > 0 && strings.IndexByte(".,;:!?)]}", s[j-1]) >= 0 {
		j--
	}
	return j
}
