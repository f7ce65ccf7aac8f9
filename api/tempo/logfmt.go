package tempo

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxLogfmtLine is bufio.MaxScanTokenSize: the logfmt decoder Tempo uses
// reads the tags parameter line by line with a bufio.Scanner, which fails
// on a line that does not fit its 64 KiB buffer.
const maxLogfmtLine = 64 * 1024

// errLogfmtTooLong is bufio.ErrTooLong's text.
var errLogfmtTooLong = errors.New("bufio.Scanner: token too long")

// logfmtSyntaxError is a syntax error at a 1-based byte position of its
// line, as github.com/go-logfmt/logfmt reports it.
type logfmtSyntaxError struct {
	msg string
	pos int
}

func (e *logfmtSyntaxError) Error() string { return fmt.Sprintf("%s at pos %d", e.msg, e.pos) }

// decodeTags decodes the legacy search's tags parameter as Tempo's
// ParseSearchRequest does with go-logfmt: key=value pairs separated by
// white space over any number of lines, values optionally double-quoted
// with JSON escapes, a key without "=" having an empty value. The errors
// read as Tempo's: "invalid tags: <msg> at pos <n>" for syntax, "invalid
// tags: tag <k> has been set twice" for a repeated key.
func decodeTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
			if len(line)+1 > maxLogfmtLine {
				return nil, fmt.Errorf("invalid tags: %w", errLogfmtTooLong)
			}
		} else {
			line, s = s, ""
			if len(line) >= maxLogfmtLine {
				return nil, fmt.Errorf("invalid tags: %w", errLogfmtTooLong)
			}
		}
		line = strings.TrimSuffix(line, "\r")
		if err := decodeLogfmtLine(line, func(k, v string) error {
			if _, dup := tags[k]; dup {
				return fmt.Errorf("invalid tags: tag %s has been set twice", k)
			}
			tags[k] = v
			return nil
		}); err != nil {
			var se *logfmtSyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("invalid tags: %w", se)
			}
			return nil, err
		}
	}
	return tags, nil
}

// decodeLogfmtLine calls kv for each pair of one logfmt record, in order.
func decodeLogfmtLine(line string, kv func(k, v string) error) error {
	pos := 0
	for {
		// skip garbage: everything up to a byte above ' '
		for pos < len(line) && line[pos] <= ' ' {
			pos++
		}
		if pos >= len(line) {
			return nil
		}
		// key
		start, multibyte := pos, false
		for pos < len(line) {
			c := line[pos]
			if c == '=' || c == '"' || c <= ' ' {
				break
			}
			if c >= utf8.RuneSelf {
				multibyte = true
			}
			pos++
		}
		key := line[start:pos]
		if pos < len(line) && line[pos] == '"' {
			return &logfmtSyntaxError{msg: `unexpected '"'`, pos: pos + 1}
		}
		if multibyte && strings.ContainsRune(key, utf8.RuneError) {
			return &logfmtSyntaxError{msg: "invalid key", pos: pos + 1}
		}
		if pos >= len(line) || line[pos] != '=' {
			// a key alone (end of line or white space): empty value
			if err := kv(key, ""); err != nil {
				return err
			}
			continue
		}
		if key == "" {
			return &logfmtSyntaxError{msg: "unexpected '='", pos: pos + 1}
		}
		pos++ // the '='
		if pos >= len(line) || line[pos] <= ' ' {
			if err := kv(key, ""); err != nil {
				return err
			}
			continue
		}
		var value string
		if line[pos] == '"' {
			v, end, err := logfmtQuoted(line, pos)
			if err != nil {
				return err
			}
			value, pos = v, end
		} else {
			start = pos
			for pos < len(line) && line[pos] > ' ' {
				if c := line[pos]; c == '=' || c == '"' {
					return &logfmtSyntaxError{msg: fmt.Sprintf("unexpected %q", c), pos: pos + 1}
				}
				pos++
			}
			value = line[start:pos]
		}
		if err := kv(key, value); err != nil {
			return err
		}
	}
}

// logfmtQuoted reads the quoted value starting at line[start] == '"' and
// returns it with the position after its closing quote.
func logfmtQuoted(line string, start int) (string, int, error) {
	hasEsc, esc := false, false
	for p := start + 1; p < len(line); p++ {
		c := line[p]
		switch {
		case esc:
			esc = false
		case c == '\\':
			hasEsc, esc = true, true
		case c == '"':
			end := p + 1
			if !hasEsc {
				return line[start+1 : p], end, nil
			}
			v, ok := jsonUnquote(line[start:end])
			if !ok {
				return "", 0, &logfmtSyntaxError{msg: "invalid quoted value", pos: end + 1}
			}
			return v, end, nil
		}
	}
	return "", 0, &logfmtSyntaxError{msg: "unterminated quoted value", pos: len(line) + 1}
}

// jsonUnquote decodes a JSON string literal (quotes included) with the
// rules of encoding/json, which go-logfmt borrows: the escapes \" \\ \/ \'
// \b \f \n \r \t \uXXXX (surrogate pairs combined, lone surrogates
// replaced), no raw control characters or quotes, invalid UTF-8 replaced.
func jsonUnquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	s = s[1 : len(s)-1]
	var b bytes.Buffer
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				b.WriteByte(s[r])
				r++
			case 'b':
				b.WriteByte('\b')
				r++
			case 'f':
				b.WriteByte('\f')
				r++
			case 'n':
				b.WriteByte('\n')
				r++
			case 'r':
				b.WriteByte('\r')
				r++
			case 't':
				b.WriteByte('\t')
				r++
			case 'u':
				r--
				rr := getu4(s[r:])
				if rr < 0 {
					return "", false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b.WriteRune(dec)
						break
					}
					rr = unicode.ReplacementChar
				}
				b.WriteRune(rr)
			default:
				return "", false
			}
		case c == '"' || c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			r++
		default:
			rr, size := utf8.DecodeRuneInString(s[r:])
			r += size
			b.WriteRune(rr)
		}
	}
	return b.String(), true
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	v, err := strconv.ParseUint(s[2:6], 16, 64)
	if err != nil {
		return -1
	}
	return rune(v)
}
