package remotewrite

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/starling-otel/starling/storage/tsdb"
)

// The kinds of Error; errors.Is(err, ErrMalformed) and so on tell them apart.
var (
	// ErrSnappy: the body is not snappy block format.
	ErrSnappy = errors.New("remote write: body is not valid snappy (block format)")
	// ErrTooLarge: the decoded body would exceed Config.MaxDecodedBytes.
	ErrTooLarge = errors.New("remote write: decoded body too large")
	// ErrMalformed: the decoded body is not the protobuf message of its
	// version (truncated, a wrong wire type, an overlong varint, …).
	ErrMalformed = errors.New("remote write: malformed protobuf")
	// ErrWrongVersion: the body holds the top-level fields of the other
	// protocol version (a 2.0 body sent with a 1.0 Content-Type or back).
	ErrWrongVersion = errors.New("remote write: body of the other protocol version")
	// ErrInvalidLabels: a series' labels are not valid.
	ErrInvalidLabels = errors.New("remote write: invalid labels")
	// ErrInvalidReference: a 2.0 symbol reference is outside the symbols
	// table, or labels_refs has an odd length.
	ErrInvalidReference = errors.New("remote write: invalid symbol reference")
	// ErrInvalidHistogram: a native histogram sample is not valid. The Error
	// also wraps the histogram.Error when model/histogram found it.
	ErrInvalidHistogram = errors.New("remote write: invalid native histogram")
	// ErrInvalidMetadata: a metadata string is not valid UTF-8.
	ErrInvalidMetadata = errors.New("remote write: invalid metadata")
)

// Error is a body the Decoder refuses. Everything this package reports about
// a body is an *Error, and every one is the client's fault: an HTTP handler
// answers 400 and the sender must not retry (ClientFault). An error that is
// not an *Error (an unknown Version) is a bug of the caller.
type Error struct {
	// Kind is one of the Err… values above.
	Kind error
	// Offset is the byte offset in the decompressed body where the problem
	// is (for a series, where its TimeSeries message starts), or -1.
	Offset int
	// Index is the series' index among the request's timeseries, or -1.
	Index int
	// Series is the series as tsdb.LabelsString renders it, at most
	// maxSeriesText bytes and valid UTF-8, or "" when not known (the error
	// is not about a series, or its labels could not be read).
	Series string
	// Err is the detail, or nil.
	Err error
}

// ClientFault reports whether the client sent something wrong: answer 400
// and do not expect a retry. It is true for every Error.
func (e *Error) ClientFault() bool { return true }

// StatusCode is the HTTP status to answer with (400).
func (e *Error) StatusCode() int { return 400 }

// Error renders kind, series, offset and detail:
// remote write: invalid labels in series 3 up{job="a"} at byte 120: label "job" appears twice.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Index >= 0 {
		b.WriteString(" in series ")
		b.WriteString(strconv.Itoa(e.Index))
		if e.Series != "" {
			b.WriteByte(' ')
			b.WriteString(e.Series)
		}
	}
	if e.Offset >= 0 {
		b.WriteString(" at byte ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the detail, so that errors.Is(err,
// ErrTooLarge) and errors.As(err, &histogram.Error{}) both work.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// maxSeriesText bounds the rendering of a series in an error message.
const maxSeriesText = 200

// seriesText renders labels for an error message: valid UTF-8, cut at a
// rune boundary after maxSeriesText bytes.
func seriesText(ls []tsdb.Label) string {
	s := strings.ToValidUTF8(tsdb.LabelsString(ls), "\uFFFD")
	if len(s) <= maxSeriesText {
		return s
	}
	cut := maxSeriesText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
