package traceqltest

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/query/traceql"
)

// Pdata converts traces exactly into OTLP: one ResourceSpans per distinct
// resource attribute set (in order of first appearance), in it one
// ScopeSpans per distinct instrumentation scope (name, version and
// attributes), in it the spans in the order of the traces and their spans,
// with their IDs, parent IDs, name, kind, status, times, attributes,
// events and links. Attribute values keep their types: strings, ints,
// doubles, bools, nil (an empty value) and arrays of one scalar type.
// It panics on a value OTLP attributes cannot hold (a duration, status or
// kind), which the data set never has.
func Pdata(traces []traceql.Trace) ptrace.Traces {
	td := ptrace.NewTraces()
	resources := map[string]ptrace.ResourceSpans{}
	scopes := map[string]ptrace.ScopeSpans{}
	for ti := range traces {
		t := &traces[ti]
		for si := range t.Spans {
			s := &t.Spans[si]
			rk := attrsKey(s.Resource)
			rs, ok := resources[rk]
			if !ok {
				rs = td.ResourceSpans().AppendEmpty()
				putAttrs(rs.Resource().Attributes(), s.Resource)
				resources[rk] = rs
			}
			sk := rk + "\x00" + fmt.Sprintf("%q %q ", s.ScopeName, s.ScopeVersion) + attrsKey(s.ScopeAttrs)
			ss, ok := scopes[sk]
			if !ok {
				ss = rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName(s.ScopeName)
				ss.Scope().SetVersion(s.ScopeVersion)
				putAttrs(ss.Scope().Attributes(), s.ScopeAttrs)
				scopes[sk] = ss
			}
			putSpan(ss.Spans().AppendEmpty(), t.ID, s)
		}
	}
	return td
}

func putSpan(ps ptrace.Span, traceID [16]byte, s *traceql.Span) {
	ps.SetTraceID(pcommon.TraceID(traceID))
	ps.SetSpanID(pcommon.SpanID(s.ID))
	ps.SetParentSpanID(pcommon.SpanID(s.ParentID))
	ps.SetName(s.Name)
	ps.SetKind(ptrace.SpanKind(s.Kind))
	ps.Status().SetCode(ptrace.StatusCode(s.Status))
	ps.Status().SetMessage(s.StatusMessage)
	ps.SetStartTimestamp(pcommon.Timestamp(s.Start))
	ps.SetEndTimestamp(pcommon.Timestamp(s.End))
	putAttrs(ps.Attributes(), s.Attrs)
	for _, e := range s.Events {
		pe := ps.Events().AppendEmpty()
		pe.SetName(e.Name)
		pe.SetTimestamp(pcommon.Timestamp(e.Time))
		putAttrs(pe.Attributes(), e.Attrs)
	}
	for _, l := range s.Links {
		pl := ps.Links().AppendEmpty()
		pl.SetTraceID(pcommon.TraceID(l.TraceID))
		pl.SetSpanID(pcommon.SpanID(l.SpanID))
		putAttrs(pl.Attributes(), l.Attrs)
	}
}

// attrsKey identifies an attribute list by its keys, types and values.
func attrsKey(as []traceql.Attr) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%q:%d:%s;", a.Key, a.Value.Type(), a.Value.String())
	}
	return b.String()
}

func putAttrs(m pcommon.Map, as []traceql.Attr) {
	m.EnsureCapacity(len(as))
	for _, a := range as {
		putValue(m.PutEmpty(a.Key), a.Value)
	}
}

// putValue sets dst (empty) to v.
func putValue(dst pcommon.Value, v traceql.Value) {
	switch v.Type() {
	case traceql.TypeNil:
	case traceql.TypeString:
		dst.SetStr(v.Str())
	case traceql.TypeInt:
		dst.SetInt(v.Int())
	case traceql.TypeFloat:
		dst.SetDouble(v.Float())
	case traceql.TypeBool:
		dst.SetBool(v.Bool())
	case traceql.TypeStringArray:
		sl := dst.SetEmptySlice()
		for _, e := range v.Strings() {
			sl.AppendEmpty().SetStr(e)
		}
	case traceql.TypeIntArray:
		sl := dst.SetEmptySlice()
		for _, e := range v.Ints() {
			sl.AppendEmpty().SetInt(e)
		}
	case traceql.TypeFloatArray:
		sl := dst.SetEmptySlice()
		for _, e := range v.Floats() {
			sl.AppendEmpty().SetDouble(e)
		}
	case traceql.TypeBoolArray:
		sl := dst.SetEmptySlice()
		for _, e := range v.Bools() {
			sl.AppendEmpty().SetBool(e)
		}
	default:
		panic(fmt.Sprintf("traceqltest: an OTLP attribute cannot hold the %s value %s", v.Type(), v))
	}
}
