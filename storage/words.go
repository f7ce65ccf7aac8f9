package storage

import (
	"unicode"
	"unicode/utf8"
)

// A word is a maximal run of letters, digits and '_', compared lower-case.
// Log bodies are indexed by their words and the `q` of a log search is split
// the same way, so both sides always agree.

// forEachWord calls fn with each lower-cased word of s; the slice is reused
// between calls. buf is scratch space, returned for reuse.
func forEachWord(s string, buf []byte, fn func(word []byte)) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
				buf = append(buf, c)
				continue
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				buf = utf8.AppendRune(buf, unicode.ToLower(r))
				continue
			}
		}
		if len(buf) > 0 {
			fn(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		fn(buf)
	}
	return buf
}

// Words returns the distinct lower-cased words of s in order of appearance.
func Words(s string) []string {
	var out []string
	seen := map[string]bool{}
	forEachWord(s, nil, func(w []byte) {
		if !seen[string(w)] {
			seen[string(w)] = true
			out = append(out, string(w))
		}
	})
	return out
}
