package node

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
)

// Field-by-field comparison of what was sent with what the API returns.
// Spans are compared as spanView (built from the SDK's recorded spans or
// from pdata), logs and metric points through jsonEqual (the expected value
// in Go types guides how the API's JSON is read).

type eventView struct {
	Name  string
	Time  int64
	Attrs map[string]any
}

type linkView struct {
	TraceID, SpanID string
	TraceState      string
	Attrs           map[string]any
}

type spanView struct {
	TraceID, SpanID, ParentSpanID string
	TraceState                    string
	Name                          string
	Kind                          int
	Start, End                    int64
	Attrs                         map[string]any
	Events                        []eventView
	Links                         []linkView
	Status                        string
	StatusMessage                 string
	Resource                      map[string]any
	Scope, ScopeVersion           string
}

// attrRaw turns an OTel attribute value into the value pcommon's AsRaw
// gives for the same OTLP AnyValue.
func attrRaw(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	case attribute.STRING:
		return v.AsString()
	case attribute.BYTESLICE:
		return v.AsByteSlice()
	case attribute.BOOLSLICE:
		return sliceAny(v.AsBoolSlice())
	case attribute.INT64SLICE:
		return sliceAny(v.AsInt64Slice())
	case attribute.FLOAT64SLICE:
		return sliceAny(v.AsFloat64Slice())
	case attribute.STRINGSLICE:
		return sliceAny(v.AsStringSlice())
	case attribute.SLICE:
		out := []any{}
		for _, e := range v.AsSlice() {
			out = append(out, attrRaw(e))
		}
		return out
	case attribute.MAP:
		return attrsRaw(v.AsMap())
	}
	return nil
}

func sliceAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func attrsRaw(kvs []attribute.KeyValue) map[string]any {
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		out[string(kv.Key)] = attrRaw(kv.Value)
	}
	return out
}

// pcommon's AsRaw turns bytes into []byte; an empty map into an empty map.
func mapRaw(m pcommon.Map) map[string]any {
	out := m.AsRaw()
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func statusName(c ptrace.StatusCode) string {
	switch c {
	case ptrace.StatusCodeOk:
		return "ok"
	case ptrace.StatusCodeError:
		return "error"
	}
	return "unset"
}

func hexID(b []byte) string {
	if len(b) == 0 || allZero(b) {
		return ""
	}
	return hex.EncodeToString(b)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// pdataSpans returns every span of td by span id.
func pdataSpans(td ptrace.Traces) map[string]spanView {
	out := map[string]spanView{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				tid, sid, pid := s.TraceID(), s.SpanID(), s.ParentSpanID()
				v := spanView{
					TraceID: hexID(tid[:]), SpanID: hexID(sid[:]), ParentSpanID: hexID(pid[:]),
					TraceState: s.TraceState().AsRaw(), Name: s.Name(), Kind: int(s.Kind()),
					Start: int64(s.StartTimestamp()), End: int64(s.EndTimestamp()),
					Attrs: mapRaw(s.Attributes()), Status: statusName(s.Status().Code()), StatusMessage: s.Status().Message(),
					Resource: mapRaw(rs.Resource().Attributes()), Scope: ss.Scope().Name(), ScopeVersion: ss.Scope().Version(),
				}
				for e := 0; e < s.Events().Len(); e++ {
					ev := s.Events().At(e)
					v.Events = append(v.Events, eventView{Name: ev.Name(), Time: int64(ev.Timestamp()), Attrs: mapRaw(ev.Attributes())})
				}
				for l := 0; l < s.Links().Len(); l++ {
					ln := s.Links().At(l)
					ltid, lsid := ln.TraceID(), ln.SpanID()
					v.Links = append(v.Links, linkView{TraceID: hexID(ltid[:]), SpanID: hexID(lsid[:]), TraceState: ln.TraceState().AsRaw(), Attrs: mapRaw(ln.Attributes())})
				}
				out[v.SpanID] = v
			}
		}
	}
	return out
}

// diffStruct reports every field of two structs of the same type that
// differs, by field name.
func diffStruct(want, got any) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var out []string
	for i := 0; i < wv.NumField(); i++ {
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !reflect.DeepEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", wv.Type().Field(i).Name, g, w))
		}
	}
	return out
}

// compareSpans checks that got holds exactly the spans of want, each equal
// field by field.
func compareSpans(t *testing.T, want, got map[string]spanView) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d spans, want %d", len(got), len(want))
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g, ok := got[id]
		if !ok {
			t.Errorf("span %s (%s) missing", id, want[id].Name)
			continue
		}
		for _, d := range diffStruct(want[id], g) {
			t.Errorf("span %s (%s): %s", id, want[id].Name, d)
		}
	}
}

// jsonify turns an expected value into the JSON form the API renders for
// it (bytes as base64; numbers stay typed for jsonEqual).
func jsonify(v any) any {
	switch x := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonify(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonify(e)
		}
		return out
	}
	return v
}

// jsonEqual compares an expected value (Go types: string, bool, int64,
// uint64, float64, []any, map[string]any, nil) with a value decoded from
// the API's JSON with UseNumber; it returns "" or what differs.
func jsonEqual(path string, want, got any) string {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Sprintf("%s: got %#v, want null", path, got)
		}
		return ""
	case string, bool:
		if got != want {
			return fmt.Sprintf("%s: got %#v, want %#v", path, got, want)
		}
		return ""
	case int:
		return jsonEqual(path, int64(w), got)
	case int64:
		n, ok := got.(json.Number)
		if i, err := strconv.ParseInt(string(n), 10, 64); !ok || err != nil || i != w {
			return fmt.Sprintf("%s: got %#v, want integer %d", path, got, w)
		}
		return ""
	case uint64:
		n, ok := got.(json.Number)
		if i, err := strconv.ParseUint(string(n), 10, 64); !ok || err != nil || i != w {
			return fmt.Sprintf("%s: got %#v, want integer %d", path, got, w)
		}
		return ""
	case float64:
		var f float64
		var err error
		switch g := got.(type) {
		case json.Number:
			f, err = g.Float64()
		case string: // NaN and infinities
			switch g {
			case "NaN":
				f = math.NaN()
			case "+Inf":
				f = math.Inf(1)
			case "-Inf":
				f = math.Inf(-1)
			default:
				err = fmt.Errorf("not a number")
			}
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil || !(f == w || math.IsNaN(f) && math.IsNaN(w)) {
			return fmt.Sprintf("%s: got %#v, want %v", path, got, w)
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %#v, want %d elements %#v", path, got, len(w), w)
		}
		for i := range w {
			if d := jsonEqual(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %#v, want an object", path, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s: unexpected key %q = %#v", path, k, g[k])
			}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s: missing key %q", path, k)
			}
			if d := jsonEqual(path+"."+k, w[k], gv); d != "" {
				return d
			}
		}
		return ""
	}
	return fmt.Sprintf("%s: cannot compare expected %T", path, want)
}

// logView is the expected API rendering of a log record.
type logView struct {
	Time, ObservedTime int64
	Severity           string
	SeverityNumber     int32
	Body               any // jsonify'd
	Service            string
	TraceID, SpanID    string
	EventName          string
	Attrs              map[string]any // jsonify'd
	Resource           map[string]any // jsonify'd
	Scope              string
}

// compareLog compares an API log with the expected view field by field.
func compareLog(t *testing.T, name string, want logView, got apiLog) {
	t.Helper()
	check := func(field string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s: got %#v, want %#v", name, field, g, w)
		}
	}
	check("time", nanos(t, got.Time), want.Time)
	if want.ObservedTime != 0 || got.ObservedTime != "" {
		if got.ObservedTime == "" {
			t.Errorf("%s: observedTime missing, want %d", name, want.ObservedTime)
		} else {
			check("observedTime", nanos(t, got.ObservedTime), want.ObservedTime)
		}
	}
	check("severity", got.Severity, want.Severity)
	check("severityNumber", got.SeverityNumber, want.SeverityNumber)
	check("service", got.Service, want.Service)
	check("traceID", got.TraceID, want.TraceID)
	check("spanID", got.SpanID, want.SpanID)
	check("eventName", got.EventName, want.EventName)
	check("scope", got.Scope, want.Scope)
	for _, d := range []string{
		jsonEqual("body", want.Body, got.Body),
		jsonEqual("attributes", want.Attrs, anyMap(got.Attributes)),
		jsonEqual("resource", want.Resource, anyMap(got.Resource)),
	} {
		if d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// anyMap makes a nil map comparable with an expected empty one.
func anyMap(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// pdataLogViews returns the expected API rendering of every log record in
// ld, keyed by body string.
func pdataLogViews(ld plog.Logs) map[string]logView {
	out := map[string]logView{}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		svc, _ := rl.Resource().Attributes().Get("service.name")
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				tid, sid := lr.TraceID(), lr.SpanID()
				v := logView{
					Time: int64(lr.Timestamp()), ObservedTime: int64(lr.ObservedTimestamp()),
					Severity: lr.SeverityText(), SeverityNumber: int32(lr.SeverityNumber()),
					Body: jsonify(lr.Body().AsRaw()), Service: svc.Str(),
					TraceID: hexID(tid[:]), SpanID: hexID(sid[:]), EventName: lr.EventName(),
					Attrs:    jsonify(mapRaw(lr.Attributes())).(map[string]any),
					Resource: jsonify(mapRaw(rl.Resource().Attributes())).(map[string]any),
					Scope:    sl.Scope().Name(),
				}
				out[lr.Body().AsString()] = v
			}
		}
	}
	return out
}
