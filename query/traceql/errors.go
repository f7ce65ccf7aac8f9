package traceql

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// The errors of the package other than parse errors.
var (
	// ErrNotMetrics is returned by NewMetrics for a query without a
	// metrics function.
	ErrNotMetrics = errors.New("traceql: not a metrics query")
	// ErrRange is returned by NewMetrics for a bad start, end or step.
	ErrRange = errors.New("traceql: invalid metrics range (need start < end, step > 0 and at most 65536 steps)")
	// ErrIncompatible is returned by Merge for partials of different
	// queries or ranges.
	ErrIncompatible = errors.New("traceql: metrics partials of different queries or ranges")
	// ErrCorrupt is returned by UnmarshalBinary for malformed bytes.
	ErrCorrupt = errors.New("traceql: corrupt metrics partial")
	// ErrVersion is returned by UnmarshalBinary for an unknown format.
	ErrVersion = errors.New("traceql: unknown metrics partial version")
	// ErrTooManySpans is returned by Eval for a trace of more than
	// 2^31-1 spans.
	ErrTooManySpans = errors.New("traceql: trace has too many spans")
)

// ParseError is the error of Parse: where the query went wrong and what
// was expected there, or which construct is not supported.
type ParseError struct {
	Line, Column int    // 1-based; Column counts runes
	Expected     string // what was expected, e.g. "a comparison operator"
	Found        string // the token found; "" at the end of the query
	Unsupported  string // set instead of Expected for a refused construct, e.g. "with() hints"
	Detail       string // more about the error, e.g. the regular expression's complaint
}

// Error formats the error as
// "parse error at line 1, column 14: expected a comparison operator, found "foo"".
func (e *ParseError) Error() string {
	s := "parse error at line " + strconv.Itoa(e.Line) + ", column " + strconv.Itoa(e.Column) + ": "
	if e.Unsupported != "" {
		s += "unsupported: " + e.Unsupported
	} else {
		s += "expected " + e.Expected + ", found "
		if e.Found == "" {
			s += "end of query"
		} else {
			s += strconv.Quote(e.Found)
		}
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// position converts a byte offset of src into a 1-based line and column
// (in runes).
func position(src string, off int) (line, col int) {
	line, col = 1, 1
	for i, r := range src {
		if i >= off {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// errAt builds the ParseError for an offset.
func errAt(src string, off int, expected, found string) *ParseError {
	l, c := position(src, off)
	return &ParseError{Line: l, Column: c, Expected: expected, Found: shorten(found)}
}

// unsupportedAt builds the ParseError of a refused construct.
func unsupportedAt(src string, off int, what string) *ParseError {
	l, c := position(src, off)
	return &ParseError{Line: l, Column: c, Unsupported: what}
}

// shorten cuts a found text to 40 runes.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	n := 0
	for i := range s {
		if n == 40 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
