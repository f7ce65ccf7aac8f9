package traceql

import "time"

// The conformance data set for this package's internal tests (the fuzz
// seeds, the soundness of Required, the benchmarks). It lives in
// traceqltest, which imports this package, so an internal test cannot
// import it: conformance_test.go (package traceql_test, compiled into the
// same test binary) hands it over with SetConformance in its init, which
// runs before any test.

// ConformanceCase is traceqltest.Case.
type ConformanceCase struct {
	Query  string
	Traces []int
	Spans  []string
}

// Conformance is what SetConformance hands over: traceqltest's T0,
// Traces, Cases, TraceID, SpanID and SpanLabel.
type Conformance struct {
	T0      int64
	Traces  func(t0 int64) []Trace
	Cases   []ConformanceCase
	TraceID func(k int) [16]byte
	SpanID  func(k, n int) [8]byte
	Label   func(*Span) string
}

var conformance Conformance

// SetConformance installs the data set; conformance_test.go's init calls it.
func SetConformance(c Conformance) {
	if c.T0 != conformanceT0 {
		panic("traceqltest.T0 is not conformanceT0")
	}
	conformance = c
	conformanceCases = conformanceCases[:0]
	for _, cc := range c.Cases {
		conformanceCases = append(conformanceCases, conformanceCase{query: cc.Query, traces: cc.Traces, spans: cc.Spans})
	}
}

// conformanceT0 is the start of the first trace (traceqltest.T0, a
// constant here for the package-level variables of the tests); trace k
// starts (k-1)*10s later.
const conformanceT0 = int64(1_700_000_000) * int64(time.Second)

// conformanceCase is a query and what it matches: traces by number and,
// if spans is set, the exact matched spans as "trace:span name".
type conformanceCase struct {
	query  string
	traces []int
	spans  []string
}

var conformanceCases []conformanceCase

// conformanceTraces returns the data set: twelve traces.
func conformanceTraces() []Trace { return conformance.Traces(conformanceT0) }

func traceID(k int) [16]byte   { return conformance.TraceID(k) }
func spanID(k, n int) [8]byte  { return conformance.SpanID(k, n) }
func spanLabel(s *Span) string { return conformance.Label(s) }

func str(k, v string) Attr       { return Attr{Key: k, Value: StringValue(v)} }
func num(k string, v int64) Attr { return Attr{Key: k, Value: IntValue(v)} }
