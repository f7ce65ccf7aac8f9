package prometheus

import (
	"errors"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/util/annotations"
)

// The encoding is Prometheus' byte for byte. The cases up to the
// exemplars are TestJsonCodec_Encode of Prometheus' web/api/v1/
// json_codec_test.go (v0.316.0) with their expected bytes unchanged; the
// rest cover what that test does not (histogram samples in a vector,
// label values JSON would HTML-escape, empty results, string and scalar
// results, the envelope's warnings and errors).
func TestCodecMatchesPrometheus(t *testing.T) {
	h := &histogram.FloatHistogram{
		Schema:          2,
		ZeroThreshold:   0.001,
		ZeroCount:       12,
		Count:           10,
		Sum:             20,
		PositiveSpans:   []histogram.Span{{Offset: 3, Length: 2}, {Offset: 1, Length: 3}},
		NegativeSpans:   []histogram.Span{{Offset: 2, Length: 2}},
		PositiveBuckets: []float64{1, 2, 2, 1, 1},
		NegativeBuckets: []float64{2, 1},
	}
	hJSON := `{"count":"10","sum":"20","buckets":[[1,"-1.6817928305074288","-1.414213562373095","1"],[1,"-1.414213562373095","-1.189207115002721","2"],[3,"-0.001","0.001","12"],[0,"1.414213562373095","1.6817928305074288","1"],[0,"1.6817928305074288","2","2"],[0,"2.378414230005442","2.82842712474619","2"],[0,"2.82842712474619","3.3635856610148576","1"],[0,"3.3635856610148576","4","1"]]}`
	for _, c := range []struct {
		data any
		want string
	}{
		{
			&queryData{ResultType: parser.ValueTypeVector, Result: promql.Vector{
				{Metric: labels.FromStrings("__name__", "foo"), T: 1000, F: 1},
				{Metric: labels.FromStrings("__name__", "bar"), T: 2000, F: 2},
			}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"foo"},"value":[1,"1"]},{"metric":{"__name__":"bar"},"value":[2,"2"]}]}}`,
		},
		{
			&queryData{ResultType: parser.ValueTypeMatrix, Result: promql.Matrix{
				{Metric: labels.FromStrings("__name__", "foo"), Floats: []promql.FPoint{{F: 1, T: 1000}}},
				{Metric: labels.FromStrings("__name__", "bar"), Floats: []promql.FPoint{{F: 2, T: 2000}}},
			}},
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"foo"},"values":[[1,"1"]]},{"metric":{"__name__":"bar"},"values":[[2,"2"]]}]}}`,
		},
		{ // repeated values (floatMemo), -0 after 0, NaN after NaN, and a histogram after floats
			&queryData{ResultType: parser.ValueTypeMatrix, Result: promql.Matrix{
				{Metric: labels.FromStrings("__name__", "foo"), Floats: []promql.FPoint{
					{F: 0.15333333333333332, T: 1000}, {F: 0.15333333333333332, T: 2000}, {F: 0.16, T: 3000},
					{F: 0, T: 4000}, {F: math.Copysign(0, -1), T: 5000}, {F: math.NaN(), T: 6000}, {F: math.NaN(), T: 7000}, {F: 1e-7, T: 8000}, {F: 1e-7, T: 9000},
				}, Histograms: []promql.HPoint{{H: h, T: 10000}}},
				{Metric: labels.FromStrings("__name__", "bar"), Floats: []promql.FPoint{{F: 0.16, T: 1000}, {F: 0.16, T: 2000}}},
			}},
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"foo"},"values":[[1,"0.15333333333333332"],[2,"0.15333333333333332"],[3,"0.16"],[4,"0"],[5,"-0"],[6,"NaN"],[7,"NaN"],[8,"1e-07"],[9,"1e-07"]],"histograms":[[10,` + hJSON + `]]},{"metric":{"__name__":"bar"},"values":[[1,"0.16"],[2,"0.16"]]}]}}`,
		},
		{
			&queryData{ResultType: parser.ValueTypeMatrix, Result: promql.Matrix{
				{Metric: labels.FromStrings("__name__", "foo"), Histograms: []promql.HPoint{{H: h, T: 1000}}},
			}},
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"foo"},"histograms":[[1,` + hJSON + `]]}]}}`,
		},
		{promql.FPoint{F: 0, T: 0}, `{"status":"success","data":[0,"0"]}`},
		{promql.FPoint{F: 20, T: 1}, `{"status":"success","data":[0.001,"20"]}`},
		{promql.FPoint{F: 20, T: 10}, `{"status":"success","data":[0.010,"20"]}`},
		{promql.FPoint{F: 20, T: 100}, `{"status":"success","data":[0.100,"20"]}`},
		{promql.FPoint{F: 20, T: 1001}, `{"status":"success","data":[1.001,"20"]}`},
		{promql.FPoint{F: 20, T: 1010}, `{"status":"success","data":[1.010,"20"]}`},
		{promql.FPoint{F: 20, T: 1100}, `{"status":"success","data":[1.100,"20"]}`},
		{promql.FPoint{F: 20, T: 12345678123456555}, `{"status":"success","data":[12345678123456.555,"20"]}`},
		{promql.FPoint{F: 20, T: -1}, `{"status":"success","data":[-0.001,"20"]}`},
		{promql.FPoint{F: math.NaN(), T: 0}, `{"status":"success","data":[0,"NaN"]}`},
		{promql.FPoint{F: math.Inf(1), T: 0}, `{"status":"success","data":[0,"+Inf"]}`},
		{promql.FPoint{F: math.Inf(-1), T: 0}, `{"status":"success","data":[0,"-Inf"]}`},
		{promql.FPoint{F: 1.2345678e6, T: 0}, `{"status":"success","data":[0,"1234567.8"]}`},
		{promql.FPoint{F: 1.2345678e-6, T: 0}, `{"status":"success","data":[0,"0.0000012345678"]}`},
		{promql.FPoint{F: 1.2345678e-67, T: 0}, `{"status":"success","data":[0,"1.2345678e-67"]}`},
		{
			[]exemplar.QueryResult{{
				SeriesLabels: labels.FromStrings("foo", "bar"),
				Exemplars:    []exemplar.Exemplar{{Labels: labels.FromStrings("trace_id", "abc"), Value: 100.123, Ts: 1234}},
			}},
			`{"status":"success","data":[{"seriesLabels":{"foo":"bar"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"100.123","timestamp":1.234}]}]}`,
		},
		{
			[]exemplar.QueryResult{{
				SeriesLabels: labels.FromStrings("foo", "bar"),
				Exemplars:    []exemplar.Exemplar{{Labels: labels.FromStrings("trace_id", "abc"), Value: math.Inf(1), Ts: 1234}},
			}},
			`{"status":"success","data":[{"seriesLabels":{"foo":"bar"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"+Inf","timestamp":1.234}]}]}`,
		},
		// Beyond Prometheus' test.
		{
			&queryData{ResultType: parser.ValueTypeVector, Result: promql.Vector{
				{Metric: labels.FromStrings("__name__", "h", "le<", "a&b"), T: 1500, H: h},
				{Metric: labels.EmptyLabels(), T: 1500, F: 1e21},
			}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h","le<":"a&b"},"histogram":[1.500,` + hJSON + `]},{"metric":{},"value":[1.500,"1e+21"]}]}}`,
		},
		{&queryData{ResultType: parser.ValueTypeVector, Result: promql.Vector{}}, `{"status":"success","data":{"resultType":"vector","result":[]}}`},
		{&queryData{ResultType: parser.ValueTypeMatrix, Result: promql.Matrix{}}, `{"status":"success","data":{"resultType":"matrix","result":[]}}`},
		{&queryData{ResultType: parser.ValueTypeScalar, Result: promql.Scalar{T: 1234, V: 0.5}}, `{"status":"success","data":{"resultType":"scalar","result":[1.234,"0.5"]}}`},
		{&queryData{ResultType: parser.ValueTypeString, Result: promql.String{T: 1000, V: "x"}}, `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`},
		{[]labels.Labels{labels.FromStrings("a", "<b>")}, `{"status":"success","data":[{"a":"<b>"}]}`},
		{[]string{"<b>"}, `{"status":"success","data":["\u003cb\u003e"]}`},
	} {
		b, err := newJSONCodec().encode(&response{Status: statusSuccess, Data: c.data})
		if err != nil {
			t.Fatalf("encode %v: %v", c.data, err)
		}
		if string(b) != c.want {
			t.Errorf("encode %v\n got %s\nwant %s", c.data, b, c.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	a := &API{codec: newJSONCodec()}
	var ws annotations.Annotations
	ws.Add(errors.New("w1"))
	ws.Add(annotations.NewPossibleNonCounterInfo("up", posrange.PositionRange{Start: 5, End: 7}))
	rec := httptest.NewRecorder()
	a.respond(rec, httptest.NewRequest("GET", "/", nil), []string{}, ws, "rate(up[5m])")
	if want := `{"status":"success","data":[],"warnings":["w1"],"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"up\" (1:6)"]}`; rec.Body.String() != want {
		t.Errorf("got  %s\nwant %s", rec.Body, want)
	}
	// More than ten warnings are summed up.
	ws = nil
	for i := range 12 {
		ws.Add(errors.New(string(rune('a' + i))))
	}
	warn, _ := ws.AsStrings("", maxWarnings, maxInfos)
	if len(warn) != 11 || warn[10] != "2 more warning annotations omitted" {
		t.Errorf("warnings %q", warn)
	}

	rec = httptest.NewRecorder()
	a.respondError(rec, &apiError{errorTimeout, errors.New("query timed out in query execution")}, nil)
	if want := `{"status":"error","errorType":"timeout","error":"query timed out in query execution"}`; rec.Code != 503 || rec.Body.String() != want {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	for typ, code := range map[errorType]int{errorBadData: 400, errorExec: 422, errorCostLimit: 422, errorCanceled: 499, errorTimeout: 503, errorInternal: 500} {
		if got := typ.statusCode(); got != code {
			t.Errorf("%s: %d, want %d", typ, got, code)
		}
	}
}
