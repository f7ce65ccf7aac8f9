package tempo

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// The JSON answers, shaped as Tempo's gogo jsonpb writes the messages of
// pkg/tempopb/tempo.proto: lowerCamelCase names in field order, zero
// scalars and empty repeated fields left out, 64-bit integers as strings,
// enums by name. Slices that Tempo's combiners always allocate (traces,
// tagNames, scopes, tagValues, series, labels) are written even when
// empty, as Tempo writes them.

// searchResponse is tempopb.SearchResponse.
type searchResponse struct {
	Traces  []*traceSearchMetadata `json:"traces"`
	Metrics searchMetrics          `json:"metrics"`
}

// traceSearchMetadata is tempopb.TraceSearchMetadata.
type traceSearchMetadata struct {
	TraceID           string                  `json:"traceID,omitempty"`
	RootServiceName   string                  `json:"rootServiceName,omitempty"`
	RootTraceName     string                  `json:"rootTraceName,omitempty"`
	StartTimeUnixNano uint64                  `json:"startTimeUnixNano,string,omitempty"`
	DurationMs        uint32                  `json:"durationMs,omitempty"`
	SpanSet           *spanSet                `json:"spanSet,omitempty"`
	SpanSets          []*spanSet              `json:"spanSets,omitempty"`
	ServiceStats      map[string]serviceStats `json:"serviceStats,omitempty"`
}

// serviceStats is tempopb.ServiceStats.
type serviceStats struct {
	SpanCount  uint32 `json:"spanCount,omitempty"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

// spanSet is tempopb.SpanSet.
type spanSet struct {
	Spans      []searchSpan `json:"spans,omitempty"`
	Matched    uint32       `json:"matched,omitempty"`
	Attributes []keyValue   `json:"attributes,omitempty"`
}

// searchSpan is tempopb.Span.
type searchSpan struct {
	SpanID            string     `json:"spanID,omitempty"`
	Name              string     `json:"name,omitempty"`
	StartTimeUnixNano uint64     `json:"startTimeUnixNano,string,omitempty"`
	DurationNanos     uint64     `json:"durationNanos,string,omitempty"`
	Attributes        []keyValue `json:"attributes,omitempty"`
}

// searchMetrics is tempopb.SearchMetrics (the fields Starling fills).
type searchMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces,omitempty"`
	InspectedBytes  uint64 `json:"inspectedBytes,string,omitempty"`
	CompletedJobs   uint32 `json:"completedJobs,omitempty"`
	TotalJobs       uint32 `json:"totalJobs,omitempty"`
}

// metadataMetrics is tempopb.MetadataMetrics; Starling reports none of
// its fields, so it is written as {} as Tempo writes an empty one.
type metadataMetrics struct{}

// searchTagsResponse is tempopb.SearchTagsResponse.
type searchTagsResponse struct {
	TagNames []string        `json:"tagNames"`
	Metrics  metadataMetrics `json:"metrics"`
}

// searchTagsV2Response is tempopb.SearchTagsV2Response.
type searchTagsV2Response struct {
	Scopes  []searchTagsV2Scope `json:"scopes"`
	Metrics metadataMetrics     `json:"metrics"`
}

// searchTagsV2Scope is tempopb.SearchTagsV2Scope.
type searchTagsV2Scope struct {
	Name string   `json:"name,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// searchTagValuesResponse is tempopb.SearchTagValuesResponse.
type searchTagValuesResponse struct {
	TagValues []string        `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

// searchTagValuesV2Response is tempopb.SearchTagValuesV2Response.
type searchTagValuesV2Response struct {
	TagValues []tagValueJSON  `json:"tagValues"`
	Metrics   metadataMetrics `json:"metrics"`
}

// tagValueJSON is tempopb.TagValue.
type tagValueJSON struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
}

// queryRangeResponse is tempopb.QueryRangeResponse.
type queryRangeResponse struct {
	Series  []timeSeries  `json:"series"`
	Metrics searchMetrics `json:"metrics"`
}

// timeSeries is tempopb.TimeSeries.
type timeSeries struct {
	Labels    []keyValue     `json:"labels"`
	Samples   []sampleJSON   `json:"samples,omitempty"`
	Exemplars []exemplarJSON `json:"exemplars,omitempty"`
}

// sampleJSON is tempopb.Sample.
type sampleJSON struct {
	TimestampMs int64     `json:"timestampMs,string,omitempty"`
	Value       jsonFloat `json:"value,omitempty"`
}

// exemplarJSON is tempopb.Exemplar.
type exemplarJSON struct {
	Labels      []keyValue `json:"labels"`
	Value       jsonFloat  `json:"value,omitempty"`
	TimestampMs int64      `json:"timestampMs,string,omitempty"`
}

// queryInstantResponse is tempopb.QueryInstantResponse.
type queryInstantResponse struct {
	Series  []instantSeries `json:"series,omitempty"`
	Metrics searchMetrics   `json:"metrics"`
}

// instantSeries is tempopb.InstantSeries.
type instantSeries struct {
	Labels []keyValue `json:"labels"`
	Value  jsonFloat  `json:"value,omitempty"`
}

// keyValue is tempopb.common.v1.KeyValue with a scalar value.
type keyValue struct {
	Key   string   `json:"key,omitempty"`
	Value anyValue `json:"value"`
}

// anyValue is tempopb.common.v1.AnyValue restricted to the scalars search
// and metrics answers carry. Its one member is written even when zero, as
// jsonpb writes oneof members; a value with none is {}.
type anyValue struct {
	kind valueKind
	s    string
	i    int64
	f    float64
	b    bool
}

type valueKind uint8

const (
	kindNone valueKind = iota
	kindString
	kindInt
	kindDouble
	kindBool
)

func (v anyValue) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	switch v.kind {
	case kindString:
		b = append(b, `{"stringValue":`...)
		b = appendJSONString(b, v.s)
	case kindInt:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, v.i, 10)
		b = append(b, '"')
	case kindDouble:
		b = append(b, `{"doubleValue":`...)
		b = appendJSONFloat(b, v.f)
	case kindBool:
		b = append(b, `{"boolValue":`...)
		b = strconv.AppendBool(b, v.b)
	default:
		b = append(b, '{')
	}
	return append(b, '}'), nil
}

// sortKey is how Tempo's sortResponse compares label values: by the proto
// text of the AnyValue, that is its member's name then its value (ints
// compare as text there too).
func (v anyValue) sortKey() string {
	switch v.kind {
	case kindString:
		return `string_value:"` + v.s + `"`
	case kindInt:
		return "int_value:" + strconv.FormatInt(v.i, 10)
	case kindDouble:
		return "double_value:" + strconv.FormatFloat(v.f, 'g', -1, 64)
	case kindBool:
		return "bool_value:" + strconv.FormatBool(v.b)
	}
	return ""
}

// typedValue converts a search attribute.
func typedValue(a *starlingpb.TypedAttribute) anyValue {
	switch x := a.GetValue().(type) {
	case *starlingpb.TypedAttribute_StringValue:
		return anyValue{kind: kindString, s: x.StringValue}
	case *starlingpb.TypedAttribute_IntValue:
		return anyValue{kind: kindInt, i: x.IntValue}
	case *starlingpb.TypedAttribute_DoubleValue:
		return anyValue{kind: kindDouble, f: x.DoubleValue}
	case *starlingpb.TypedAttribute_BoolValue:
		return anyValue{kind: kindBool, b: x.BoolValue}
	}
	return anyValue{}
}

// labelValue converts a metrics label value (see Label).
func labelValue(v any) anyValue {
	switch x := v.(type) {
	case string:
		return anyValue{kind: kindString, s: x}
	case time.Duration:
		return anyValue{kind: kindString, s: x.String()}
	case int64:
		return anyValue{kind: kindInt, i: x}
	case int:
		return anyValue{kind: kindInt, i: int64(x)}
	case int32:
		return anyValue{kind: kindInt, i: int64(x)}
	case uint32:
		return anyValue{kind: kindInt, i: int64(x)}
	case float64:
		return anyValue{kind: kindDouble, f: x}
	case float32:
		return anyValue{kind: kindDouble, f: float64(x)}
	case bool:
		return anyValue{kind: kindBool, b: x}
	case nil:
		return anyValue{kind: kindString, s: "nil"} // Tempo's Static of TypeNil
	}
	return anyValue{kind: kindString, s: fmt.Sprint(v)}
}

func typedAttributes(attrs []*starlingpb.TypedAttribute) []keyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]keyValue, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, keyValue{Key: a.GetKey(), Value: typedValue(a)})
	}
	return out
}

// labels converts series labels; never nil (Tempo allocates them).
func labels(ls []Label) []keyValue {
	out := make([]keyValue, 0, len(ls))
	for _, l := range ls {
		out = append(out, keyValue{Key: l.Key, Value: labelValue(l.Value)})
	}
	return out
}

// jsonFloat is a double as jsonpb writes it: a JSON number, or the strings
// "NaN", "Infinity" and "-Infinity".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	return appendJSONFloat(nil, float64(f)), nil
}

// clampU32 saturates n into a uint32.
func clampU32[T int | int64 | uint64](n T) uint32 {
	if n <= 0 {
		return 0
	}
	if uint64(n) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}
