package node

import (
	"bytes"
	"compress/flate"
	"flag"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// setFlagDefault sets a flag unless the command line gave it.
func setFlagDefault(tb testing.TB, name, value string) {
	given := false
	flag.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	if given || flag.Lookup(name) == nil {
		return
	}
	if err := flag.Set(name, value); err != nil {
		tb.Fatalf("set -%s: %v", name, err)
	}
}

var (
	fuzzPaths        = []string{"/v1/traces", "/v1/logs", "/v1/metrics", "/v1/other"}
	fuzzContentTypes = []string{"application/x-protobuf", "application/json", "application/protobuf", "application/json; charset=utf-8", "text/plain", ""}
	fuzzEncodings    = []string{"", "gzip", "deflate", "zstd", "identity", "br"}
)

// compress encodes b with a Content-Encoding the handler knows (others are
// sent as they are).
func compress(t testing.TB, enc string, b []byte) []byte {
	var buf bytes.Buffer
	switch enc {
	case "gzip":
		return gzipBytes(t, b)
	case "deflate":
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		_, _ = w.Write(b)
		_ = w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
	default:
		return b
	}
	return buf.Bytes()
}

// FuzzOTLPHTTPDecode posts arbitrary bodies with every content type and
// encoding to a started node's OTLP/HTTP handler: it must never panic and
// must answer 200, 400, 404 (unknown path), 413 or 415.
//
// The node's own goroutines (Badger compactors, actors, group commits) add
// coverage that varies from run to run, so many inputs look new; with the
// default -fuzzminimizetime of 60s the fuzzer spends its time minimising
// them and hardly executes. Unless -test.fuzzminimizetime is given, this
// target therefore minimises with a budget of a few executions.
func FuzzOTLPHTTPDecode(f *testing.F) {
	setFlagDefault(f, "test.fuzzminimizetime", "20x")
	n := startNode(f, func(c *Config) {
		c.MaxRequestBytes = 64 << 10
		c.Storage.RetentionInterval = time.Hour // fewer background wake-ups
	})
	h := n.otlpHTTPHandler()

	base := time.Now().Add(-time.Minute)
	seeds := [][]byte{
		must(ptraceotlp.NewExportRequestFromTraces(testTraces("fuzz", base)).MarshalProto()),
		must(plogotlp.NewExportRequestFromLogs(testLogs("fuzz", base)).MarshalProto()),
		must(pmetricotlp.NewExportRequestFromMetrics(testMetrics("fuzz", base)).MarshalProto()),
		must(ptraceotlp.NewExportRequestFromTraces(testTraces("fuzz", base)).MarshalJSON()),
		must(plogotlp.NewExportRequestFromLogs(testLogs("fuzz", base)).MarshalJSON()),
		must(pmetricotlp.NewExportRequestFromMetrics(testMetrics("fuzz", base)).MarshalJSON()),
		[]byte("{}"), []byte(""), []byte("\x0a\x00"), []byte(`{"resourceSpans":[{}]}`),
	}
	for i, s := range seeds {
		isJSON := i >= 3
		ct := uint8(0)
		if isJSON {
			ct = 1
		}
		f.Add(uint8(i%3), ct, uint8(0), false, s)
		f.Add(uint8(i%3), ct, uint8(1), true, s)
		f.Add(uint8(i%3), ct, uint8(3), true, s)
	}
	f.Add(uint8(0), uint8(0), uint8(1), false, []byte("\x1f\x8b\x08\x00garbage"))

	f.Fuzz(func(t *testing.T, path, ctype, enc uint8, compressBody bool, body []byte) {
		p := fuzzPaths[int(path)%len(fuzzPaths)]
		ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]
		e := fuzzEncodings[int(enc)%len(fuzzEncodings)]
		if compressBody {
			body = compress(t, e, body)
		}
		req := httptest.NewRequest(http.MethodPost, p, bytes.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if e != "" {
			req.Header.Set("Content-Encoding", e)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		case http.StatusNotFound:
			if p != "/v1/other" {
				t.Fatalf("POST %s: 404", p)
			}
		default:
			t.Fatalf("POST %s (%s, %s, %d bytes): status %d: %q", p, ct, e, len(body), rec.Code, rec.Body.Bytes())
		}
		if rec.Code != http.StatusNotFound && rec.Body.Len() == 0 && rec.Code != http.StatusOK {
			t.Fatalf("POST %s: status %d with an empty body", p, rec.Code)
		}
	})
}
