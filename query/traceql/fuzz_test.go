package traceql

import (
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every accepted
// query prints to a form that parses back to the same form, and that
// evaluating, analysing and aggregating an accepted query does not panic.
func FuzzParse(f *testing.F) {
	for _, c := range validQueries {
		f.Add(c.in)
	}
	for _, c := range invalidQueries {
		f.Add(c.in)
	}
	for _, c := range conformanceCases {
		f.Add(c.query)
	}
	for _, c := range metricsCases {
		f.Add(c.query)
	}
	traces := conformanceTraces()
	cyc := Trace{Spans: []Span{{ID: spanID(1, 1), ParentID: spanID(1, 2)}, {ID: spanID(1, 2), ParentID: spanID(1, 1)}}}
	traces = append(traces, cyc)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse(%q) error %T is not a *ParseError", src, err)
			}
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", src, s, err)
		}
		if q2.String() != s {
			t.Fatalf("Parse(%q) = %q, which prints as %q", src, s, q2.String())
		}
		// The normalised form means the same: it matches the same spans.
		for i := range traces {
			a, err := q.Eval(&traces[i])
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			b, _ := q2.Eval(&traces[i])
			if resultKey(a) != resultKey(b) {
				t.Fatalf("%q and its normalised form %q differ on trace %d: %s vs %s", src, s, i, resultKey(a), resultKey(b))
			}
		}
		for _, alt := range q.Required() {
			for _, c := range alt {
				_ = c.Matches(&traces[0].Spans[0])
				_ = c.String()
			}
		}
		_ = q.Fields()
		_ = q.NeedsTree()
		if q.IsMetrics() {
			m, err := q.NewMetrics(conformanceT0, conformanceT0+int64(120e9), int64(30e9))
			if err != nil {
				t.Fatal(err)
			}
			for i := range traces {
				m.Observe(&traces[i])
			}
			_ = m.Result()
			data, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var d Metrics
			if err := d.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary of %q's partial: %v", s, err)
			}
		}
	})
}

// FuzzMetricsUnmarshal checks that no input makes the decoder panic, and
// that what it accepts encodes to bytes it decodes to the same encoding.
func FuzzMetricsUnmarshal(f *testing.F) {
	traces := conformanceTraces()
	for _, c := range metricsCases {
		q, err := Parse(c.query)
		if err != nil {
			f.Fatal(err)
		}
		m, _ := q.NewMetrics(conformanceT0, conformanceT0+int64(120e9), int64(30e9))
		for i := range traces {
			m.Observe(&traces[i])
		}
		data, _ := m.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte("TQLM\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Metrics
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		_ = m.Result()
		b1, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var m2 Metrics
		if err := m2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("re-encoded partial does not decode: %v", err)
		}
		b2, _ := m2.MarshalBinary()
		if string(b1) != string(b2) {
			t.Fatal("encoding is not stable")
		}
		if err := m2.Merge(&m); err != nil {
			t.Fatalf("Merge with itself: %v", err)
		}
	})
}

// resultKey summarises results: the spans of each spanset with their
// attributes.
func resultKey(sets []Spanset) string {
	k := ""
	for _, ss := range sets {
		k += "[" + attrsString(ss.Attributes) + ":"
		for _, m := range ss.Spans {
			k += " " + spanLabel(m.Span) + "{" + attrsString(m.Attributes) + "}"
		}
		k += "]"
	}
	return k
}
