package node

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp): POST to
// /v1/traces, /v1/logs, /v1/metrics; protobuf or JSON bodies, optionally
// gzip, deflate or zstd compressed. Errors carry a google.rpc.Status in the
// request's encoding; 503 asks the client to retry.

const (
	contentProto = "application/x-protobuf"
	contentJSON  = "application/json"
)

// otlpSignal decodes one signal's requests and encodes its responses.
type otlpSignal struct {
	signal starlingpb.Signal
	// decode parses a body into an ingest request.
	decode func(body []byte, json bool) (*actors.IngestRequest, error)
	// respond encodes a success response with partial-success details.
	respond func(out ingestOutcome, json bool) ([]byte, error)
}

func (n *Node) otlpHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", n.otlpHandler(otlpSignal{
		signal: starlingpb.Signal_SIGNAL_TRACES,
		decode: func(b []byte, json bool) (*actors.IngestRequest, error) {
			req := ptraceotlp.NewExportRequest()
			err := unmarshal(req.UnmarshalJSON, req.UnmarshalProto, b, json)
			return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: req.Traces()}, err
		},
		respond: func(out ingestOutcome, json bool) ([]byte, error) {
			r := ptraceotlp.NewExportResponse()
			if out.rejected > 0 || out.message != "" {
				r.PartialSuccess().SetRejectedSpans(int64(out.rejected))
				r.PartialSuccess().SetErrorMessage(out.message)
			}
			return marshal(r.MarshalJSON, r.MarshalProto, json)
		},
	}))
	mux.Handle("/v1/logs", n.otlpHandler(otlpSignal{
		signal: starlingpb.Signal_SIGNAL_LOGS,
		decode: func(b []byte, json bool) (*actors.IngestRequest, error) {
			req := plogotlp.NewExportRequest()
			err := unmarshal(req.UnmarshalJSON, req.UnmarshalProto, b, json)
			return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_LOGS, Logs: req.Logs()}, err
		},
		respond: func(out ingestOutcome, json bool) ([]byte, error) {
			r := plogotlp.NewExportResponse()
			if out.rejected > 0 || out.message != "" {
				r.PartialSuccess().SetRejectedLogRecords(int64(out.rejected))
				r.PartialSuccess().SetErrorMessage(out.message)
			}
			return marshal(r.MarshalJSON, r.MarshalProto, json)
		},
	}))
	mux.Handle("/v1/metrics", n.otlpHandler(otlpSignal{
		signal: starlingpb.Signal_SIGNAL_METRICS,
		decode: func(b []byte, json bool) (*actors.IngestRequest, error) {
			req := pmetricotlp.NewExportRequest()
			err := unmarshal(req.UnmarshalJSON, req.UnmarshalProto, b, json)
			return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_METRICS, Metrics: req.Metrics()}, err
		},
		respond: func(out ingestOutcome, json bool) ([]byte, error) {
			r := pmetricotlp.NewExportResponse()
			if out.rejected > 0 || out.message != "" {
				r.PartialSuccess().SetRejectedDataPoints(int64(out.rejected))
				r.PartialSuccess().SetErrorMessage(out.message)
			}
			return marshal(r.MarshalJSON, r.MarshalProto, json)
		},
	}))
	return mux
}

func unmarshal(fromJSON, fromProto func([]byte) error, b []byte, json bool) error {
	if json {
		return fromJSON(b)
	}
	return fromProto(b)
}

func marshal(toJSON, toProto func() ([]byte, error), json bool) ([]byte, error) {
	if json {
		return toJSON()
	}
	return toProto()
}

// errTooLarge is returned by readBody for bodies over the limit.
var errTooLarge = errors.New("request body too large")

func (n *Node) otlpHandler(s otlpSignal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func(began time.Time) {
			n.metrics.requestSeconds.WithLabelValues(storage.SignalName(s.signal), "http").Observe(time.Since(began).Seconds())
		}(time.Now())
		isJSON := false
		fail := func(status int, code codes.Code, reason, format string, args ...any) {
			n.metrics.refuse(s.signal, "http", reason)
			writeStatus(w, status, code, fmt.Sprintf(format, args...), isJSON)
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			fail(http.StatusMethodNotAllowed, codes.Unimplemented, "unsupported", "method %s: OTLP/HTTP takes POST", r.Method)
			return
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case err == nil && mt == contentJSON:
			isJSON = true
		case err == nil && (mt == contentProto || mt == "application/protobuf"):
		default:
			isJSON = true
			fail(http.StatusUnsupportedMediaType, codes.InvalidArgument, "unsupported",
				"Content-Type %q: must be %s or %s", r.Header.Get("Content-Type"), contentProto, contentJSON)
			return
		}
		body, err := readBody(w, r, n.cfg.MaxRequestBytes)
		switch {
		case errors.Is(err, errTooLarge):
			fail(http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "too_large",
				"request body: larger than --max-request-bytes (%d bytes)", n.cfg.MaxRequestBytes)
			return
		case errors.Is(err, errUnsupportedEncoding):
			fail(http.StatusUnsupportedMediaType, codes.InvalidArgument, "unsupported", "%v", err)
			return
		case err != nil:
			fail(http.StatusBadRequest, codes.InvalidArgument, "malformed", "request body: %v", err)
			return
		}
		req, err := s.decode(body, isJSON)
		if err != nil {
			kind := "protobuf"
			if isJSON {
				kind = "JSON"
			}
			fail(http.StatusBadRequest, codes.InvalidArgument, "malformed", "request body is not a valid OTLP %s export request: %v", kind, err)
			return
		}
		out := n.ingest(r.Context(), req)
		if out.err != nil {
			if out.retryable {
				w.Header().Set("Retry-After", "1")
				writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, out.err.Error(), isJSON)
			} else {
				writeStatus(w, http.StatusInternalServerError, codes.Internal, out.err.Error(), isJSON)
			}
			return
		}
		b, err := s.respond(out, isJSON)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, codes.Internal, "encode response: "+err.Error(), isJSON)
			return
		}
		if isJSON {
			w.Header().Set("Content-Type", contentJSON)
		} else {
			w.Header().Set("Content-Type", contentProto)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	})
}

var errUnsupportedEncoding = errors.New("unsupported Content-Encoding")

// readBody reads and decompresses a request body; both the body on the
// wire and the decompressed body must fit in max bytes.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	raw := http.MaxBytesReader(w, r.Body, max)
	var rd io.Reader = raw
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, wrapRead(err)
		}
		defer gz.Close()
		rd = gz
	case "deflate":
		fl := flate.NewReader(raw)
		defer fl.Close()
		rd = fl
	case "zstd":
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(max)))
		if err != nil {
			return nil, wrapRead(err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("%w %q: must be gzip, deflate, zstd or none", errUnsupportedEncoding, enc)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(rd, max+1))
	if err != nil {
		return nil, wrapRead(err)
	}
	if n > max {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

func wrapRead(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return errTooLarge
	}
	return err
}

// writeStatus writes an OTLP error response: a google.rpc.Status in the
// request's encoding. msg may quote the request body: invalid UTF-8 is
// replaced, or protojson would refuse to encode the status.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string, json bool) {
	st := &spb.Status{Code: int32(code), Message: strings.ToValidUTF8(msg, "\uFFFD")}
	var b []byte
	if json {
		b, _ = protojson.Marshal(st)
		w.Header().Set("Content-Type", contentJSON)
	} else {
		b, _ = proto.Marshal(st)
		w.Header().Set("Content-Type", contentProto)
	}
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}
