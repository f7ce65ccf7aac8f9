package traceql

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lexer turns a query into tokens. Whitespace, line comments (// to the
// end of the line) and block comments (/* */) separate tokens.
type lexer struct {
	src  string
	pos  int
	toks []token
}

// lex returns the tokens of src, ending with a tEOF token.
func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		if err := l.skip(); err != nil {
			return nil, err
		}
		if l.pos >= len(src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: len(src), end: len(src)})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

// skip skips whitespace and comments.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		switch {
		case unicode.IsSpace(r):
			l.pos += n
		case strings.HasPrefix(l.src[l.pos:], "//"):
			if i := strings.IndexByte(l.src[l.pos:], '\n'); i >= 0 {
				l.pos += i + 1
			} else {
				l.pos = len(l.src)
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			i := strings.Index(l.src[l.pos+2:], "*/")
			if i < 0 {
				return errAt(l.src, len(l.src), `the end of the comment "*/"`, "")
			}
			l.pos += 2 + i + 2
		default:
			return nil
		}
	}
	return nil
}

// emit appends a token from start to the current position.
func (l *lexer) emit(k tokKind, start int) *token {
	l.toks = append(l.toks, token{kind: k, pos: start, end: l.pos})
	return &l.toks[len(l.toks)-1]
}

// peekAt returns the byte at the current position plus i, or 0.
func (l *lexer) peekAt(i int) byte {
	if l.pos+i < len(l.src) {
		return l.src[l.pos+i]
	}
	return 0
}

// operatorAt returns the operator token that starts s and its length,
// trying longer spellings first.
func operatorAt(s string) (tokKind, int) {
	ops := [...]struct {
		s string
		k tokKind
	}{
		{"!>>", tNotDesc}, {"!<<", tNotAnc}, {"&>>", tUnionDesc}, {"&<<", tUnionAnc},
		{"&&", tAnd}, {"||", tOr}, {"!=", tNeq}, {"!~", tNre}, {"!>", tNotChild}, {"!<", tNotParent},
		{"&>", tUnionChild}, {"&<", tUnionParent}, {"&~", tUnionSibling}, {"=~", tRe},
		{">>", tDesc}, {"<<", tAnc}, {">=", tGte}, {"<=", tLte},
		{"{", tLBrace}, {"}", tRBrace}, {"(", tLParen}, {")", tRParen}, {",", tComma}, {"|", tPipe},
		{"!", tNot}, {"=", tEq}, {">", tGt}, {"<", tLt}, {"~", tTilde},
		{"+", tAdd}, {"-", tSub}, {"*", tMul}, {"/", tDiv}, {"%", tMod}, {"^", tPow},
	}
	for _, o := range ops {
		if strings.HasPrefix(s, o.s) {
			return o.k, len(o.s)
		}
	}
	return tEOF, 0
}

// next lexes one token at the current (non-space) position.
func (l *lexer) next() error {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case c == '"':
		s, err := l.quoted()
		if err != nil {
			return err
		}
		l.emit(tString, start).s = s
		return nil
	case c == '`':
		i := strings.IndexByte(l.src[l.pos+1:], '`')
		if i < 0 {
			return errAt(l.src, start, "a closing `", "")
		}
		l.pos += 1 + i + 1
		l.emit(tString, start).s = l.src[start+1 : l.pos-1]
		return nil
	case c >= '0' && c <= '9':
		return l.number()
	case c == '.':
		if d := l.peekAt(1); d >= '0' && d <= '9' {
			j := l.pos + 1
			for j < len(l.src) && l.src[j] >= '0' && l.src[j] <= '9' {
				j++
			}
			if r, _ := utf8.DecodeRuneInString(l.src[j:]); j == len(l.src) || !isNameRune(r) {
				return l.number()
			}
		}
		l.pos++
		name, err := l.name()
		if err != nil {
			return err
		}
		if name == "" {
			return errAt(l.src, start, "an attribute name after the dot", l.src[start:l.pos])
		}
		l.emit(tAttr, start).s = name
		return nil
	case isWordStart(c):
		for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
			l.pos++
		}
		word := l.src[start:l.pos]
		if l.peekAt(0) == ':' && isWordStart(l.peekAt(1)) {
			l.pos++
			for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
				l.pos++
			}
			l.emit(tIdent, start).s = l.src[start:l.pos]
			return nil
		}
		if l.peekAt(0) == '.' {
			if r, _ := utf8.DecodeRuneInString(l.src[l.pos+1:]); l.pos+1 < len(l.src) && (isNameRune(r) || r == '"') {
				l.pos++
				name, err := l.name()
				if err != nil {
					return err
				}
				t := l.emit(tAttr, start)
				t.scope, t.s = word, name
				return nil
			}
		}
		l.emit(tIdent, start).s = word
		return nil
	case c == '$':
		return unsupportedAt(l.src, start, "template variables ($name)")
	}
	if k, n := operatorAt(l.src[l.pos:]); n > 0 {
		l.pos += n
		l.emit(k, start)
		return nil
	}
	r, n := utf8.DecodeRuneInString(l.src[l.pos:])
	if c == '&' {
		return errAt(l.src, start, "&&, &>>, &>, &<<, &< or &~", "&")
	}
	return errAt(l.src, start, "a token", l.src[start:start+n]+invalidNote(r))
}

// invalidNote marks an invalid UTF-8 byte in an error.
func invalidNote(r rune) string {
	if r == utf8.RuneError {
		return " (invalid UTF-8)"
	}
	return ""
}

func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isWordByte(c byte) bool { return isWordStart(c) || (c >= '0' && c <= '9') }

// isNameRune reports whether r can appear unquoted in an attribute name:
// anything but white space, a quote and the characters { } ( ) = ~ ! < >
// & | ^ , (so span.http.status_code, .foo-bar and .a/b are names).
func isNameRune(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',', '"':
		return false
	}
	return true
}

// name reads an attribute name after its dot: unquoted runs and quoted
// segments ("...", with escapes) concatenated.
func (l *lexer) name() (string, error) {
	var b strings.Builder
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if r == '"' {
			s, err := l.quoted()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			continue
		}
		if !isNameRune(r) {
			break
		}
		b.WriteString(l.src[l.pos : l.pos+n])
		l.pos += n
	}
	return b.String(), nil
}

// quoted reads a double-quoted string with Go's escapes at the current
// position and returns its decoded contents.
func (l *lexer) quoted() (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return "", errAt(l.src, start, `a closing "`, "")
		}
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return b.String(), nil
		case '\\':
			v, mb, tail, err := strconv.UnquoteChar(l.src[l.pos:], '"')
			if err != nil {
				end := l.pos + 2
				if end > len(l.src) {
					end = len(l.src)
				}
				return "", errAt(l.src, l.pos, "a valid escape sequence", l.src[l.pos:end])
			}
			if mb {
				b.WriteRune(v)
			} else {
				b.WriteByte(byte(v))
			}
			l.pos = len(l.src) - len(tail)
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
}

// digits advances over decimal digits and returns them.
func (l *lexer) digits() string {
	s := l.pos
	for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
		l.pos++
	}
	return l.src[s:l.pos]
}

// isUnitStart reports whether a duration unit starts at the position.
func (l *lexer) isUnitStart() bool {
	if l.pos >= len(l.src) {
		return false
	}
	if isWordStart(l.src[l.pos]) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return r == 'µ' || r == 'μ'
}

// number lexes an integer, a float (1.5, .5, 1e3) or a duration (100ms,
// 1.5s, 1h30m).
func (l *lexer) number() error {
	start := l.pos
	intPart := l.digits()
	frac, isFloat := "", false
	if l.peekAt(0) == '.' && l.peekAt(1) >= '0' && l.peekAt(1) <= '9' {
		l.pos++
		frac, isFloat = l.digits(), true
	}
	hasExp := false
	if e := l.peekAt(0); e == 'e' || e == 'E' {
		d, s := l.peekAt(1), l.peekAt(2)
		if (d >= '0' && d <= '9') || ((d == '+' || d == '-') && s >= '0' && s <= '9') {
			l.pos += 2
			l.digits()
			isFloat, hasExp = true, true
		}
	}
	if l.isUnitStart() {
		if hasExp {
			return errAt(l.src, start, "a duration without an exponent", l.src[start:l.pos])
		}
		return l.duration(start, intPart, frac)
	}
	text := l.src[start:l.pos]
	if !isFloat {
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return errAt(l.src, start, "an integer within the int64 range", text)
		}
		l.emit(tInt, start).i = i
		return nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return errAt(l.src, start, "a number within the float64 range", text)
	}
	l.emit(tFloat, start).f = f
	return nil
}

// unitNanos returns the length of a duration unit in nanoseconds.
func unitNanos(u string) int64 {
	switch u {
	case "ns":
		return 1
	case "us", "µs", "μs":
		return 1e3
	case "ms":
		return 1e6
	case "s":
		return 1e9
	case "m":
		return 60e9
	case "h":
		return 3600e9
	}
	return 0
}

// duration lexes the rest of a duration whose first number was read.
func (l *lexer) duration(start int, intPart, frac string) error {
	var total int64
	for {
		us := l.pos
		for l.pos < len(l.src) {
			r, n := utf8.DecodeRuneInString(l.src[l.pos:])
			if !(r == 'µ' || r == 'μ' || (r < utf8.RuneSelf && isWordStart(byte(r)))) {
				break
			}
			l.pos += n
		}
		unit := unitNanos(l.src[us:l.pos])
		if unit == 0 {
			return errAt(l.src, us, "a duration unit (ns, us, µs, ms, s, m, h)", l.src[us:l.pos])
		}
		whole, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || whole > math.MaxInt64/unit {
			return errAt(l.src, start, "a duration within the int64 nanosecond range", l.src[start:l.pos])
		}
		v := whole * unit
		if frac != "" {
			f, _ := strconv.ParseFloat("0."+frac, 64)
			v += int64(math.Round(f * float64(unit)))
		}
		if v < 0 || total > math.MaxInt64-v {
			return errAt(l.src, start, "a duration within the int64 nanosecond range", l.src[start:l.pos])
		}
		total += v
		if c := l.peekAt(0); c < '0' || c > '9' {
			break
		}
		intPart, frac = l.digits(), ""
		if l.peekAt(0) == '.' && l.peekAt(1) >= '0' && l.peekAt(1) <= '9' {
			l.pos++
			frac = l.digits()
		}
		if !l.isUnitStart() {
			return errAt(l.src, l.pos, "a duration unit (ns, us, µs, ms, s, m, h)", l.src[start:l.pos])
		}
	}
	l.emit(tDuration, start).i = total
	return nil
}
