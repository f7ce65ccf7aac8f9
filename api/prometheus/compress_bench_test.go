package prometheus

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// benchMatrix is the answer of the metrics benchmark's range query: 100
// series of 241 points (an hour at 15 s) of rates, as the benchmark's
// counters give them (increases over 5 m: multiples of 1/300).
func benchMatrix() promql.Matrix {
	rng := rand.New(rand.NewPCG(1, 2))
	m := make(promql.Matrix, 100)
	for i := range m {
		m[i].Metric = labels.FromStrings("instance", "host-"+strconv.Itoa(i)+":9100")
		for j := range 241 {
			m[i].Floats = append(m[i].Floats, promql.FPoint{T: 1_700_000_000_000 + int64(j)*15_000, F: float64(rng.IntN(120)) / 300})
		}
	}
	return m
}

// matrixAnswer serves the matrix as a query_range answer through the
// compression handler, as the API does.
func matrixAnswer(m promql.Matrix) http.Handler {
	codec := newJSONCodec()
	return (&compression{}).handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_ = codec.encodeTo(w, &response{Status: statusSuccess, Data: &queryData{ResultType: parser.ValueTypeMatrix, Result: m}})
	}))
}

// TestCompressedMatrixAnswer: a streamed gzip answer decodes to the same
// bytes as the plain one.
func TestCompressedMatrixAnswer(t *testing.T) {
	h := matrixAnswer(benchMatrix())
	plain, zipped := httptest.NewRecorder(), httptest.NewRecorder()
	h.ServeHTTP(plain, httptest.NewRequest(http.MethodGet, "/", nil))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(zipped, req)
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", zipped.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Fatalf("gzip answer decodes to %d bytes, the plain one has %d", len(got), plain.Body.Len())
	}
}

// BenchmarkMatrixAnswer: encoding and compressing a range query's answer
// of 24,100 points.
func BenchmarkMatrixAnswer(b *testing.B) {
	h := matrixAnswer(benchMatrix())
	for _, enc := range []string{"identity", "gzip"} {
		b.Run("encoding="+enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", enc)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/answer")
		})
	}
}
