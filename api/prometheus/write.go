package prometheus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/starling-otel/starling/api/prometheus/remotewrite"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Remote write receiver: POST /api/v1/write (and under the API prefix),
// protobuf + snappy, remote write 1.0 and 2.0 by Content-Type, as
// Prometheus' own receiver answers it:
//
//   - 204 No Content once every sample is stored with the durability of
//     any write (on every in-sync copy);
//   - 400 with the series and the reason for a body that must not be sent
//     again (bad snappy, malformed protobuf, invalid labels or histograms,
//     times out of bounds). Starling refuses the whole request on the first
//     bad series, so nothing of it is written (Prometheus writes the good
//     samples of a request it answers 400);
//   - 415 for a Content-Type or Content-Encoding it does not take;
//   - 503 (with Retry-After) or 500 when the write could not be stored:
//     the sender retries, and writes are idempotent.
//
// For 2.0 the X-Prometheus-Remote-Write-*-Written headers say what was
// stored.

// Writer stores a decoded write: the node, through its frontends. Called
// from request goroutines, calls overlap; it blocks until the write is
// stored or ctx ends. The request aliases the decoded body: Writer copies
// what it keeps before returning.
type Writer interface {
	Write(ctx context.Context, req *tsdb.WriteRequest) (WriteResult, error)
}

// WriteResult is what a Writer did with a request it did not fail.
type WriteResult struct {
	// Rejected counts samples refused as the client's fault (with Message
	// naming the first series and why): the handler answers 400.
	Rejected int
	Message  string
}

// ErrRetryable marks a Writer error the sender should retry (503).
var ErrRetryable = errors.New("temporarily unavailable")

// WriteHandler is the remote write receiver.
type WriteHandler struct {
	w       Writer
	log     *slog.Logger
	maxBody int64
	scratch sync.Pool // *writeScratch
	cfg     remotewrite.Config
}

// writeScratch is what one request reuses: a decoder and the body buffer.
type writeScratch struct {
	d    *remotewrite.Decoder
	body []byte
}

// readBody reads r into buf, grown to the announced length (n < 0:
// unknown) first: one allocation at most, none when buf is large enough.
func readBody(r io.Reader, n int64, buf []byte) ([]byte, error) {
	if n > 0 && int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1) // +1: the read that sees EOF
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// NewWriteHandler returns a receiver storing through w. maxBody bounds
// the compressed body and cfg the decoded one.
func NewWriteHandler(w Writer, cfg remotewrite.Config, maxBody int64, log *slog.Logger) (*WriteHandler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w: Writer", ErrMissingDependency)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WriteHandler{w: w, log: log, maxBody: maxBody, cfg: cfg}, nil
}

// Header names of remote write 2.0's answer.
const (
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	headerExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

func (h *WriteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	version, err := writeVersion(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		http.Error(w, fmt.Sprintf("unsupported compression: %s. Only snappy compression is supported", enc), http.StatusUnsupportedMediaType)
		return
	}
	sc, _ := h.scratch.Get().(*writeScratch)
	if sc == nil {
		d, err := remotewrite.NewDecoder(h.cfg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sc = &writeScratch{d: d}
	}
	defer h.scratch.Put(sc)
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.maxBody), r.ContentLength, sc.body[:0])
	if cap(body) <= h.cfg.MaxRetainedBytes {
		sc.body = body
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := sc.d
	req, err := d.Decode(body, version)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := h.w.Write(r.Context(), req)
	switch {
	case err != nil && errors.Is(err, ErrRetryable):
		w.Header().Set("Retry-After", "1")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		h.log.Error("remote write", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case res.Rejected > 0:
		http.Error(w, res.Message, http.StatusBadRequest)
		return
	}
	if version == remotewrite.V2 {
		var samples, hists, exemplars int
		for _, s := range req.Series {
			samples += len(s.Samples)
			hists += len(s.Histograms)
			exemplars += len(s.Exemplars)
		}
		w.Header().Set(headerSamplesWritten, strconv.Itoa(samples))
		w.Header().Set(headerHistogramsWritten, strconv.Itoa(hists))
		w.Header().Set(headerExemplarsWritten, strconv.Itoa(exemplars))
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeVersion reads the protocol version from a Content-Type: empty or
// application/x-protobuf is 1.0; a proto parameter names the message.
func writeVersion(ct string) (remotewrite.Version, error) {
	if ct == "" {
		return remotewrite.V1, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-protobuf" {
		return 0, fmt.Errorf("unsupported Content-Type %q: want application/x-protobuf", ct)
	}
	return remotewrite.VersionOf(params["proto"])
}
