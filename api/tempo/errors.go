package tempo

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// Errors of the package: the first two are for the Querier to wrap, the
// others come from New and Config.Validate.
var (
	// ErrBadQuery marks a Querier error caused by the request (a TraceQL
	// query that does not parse, an identifier the store does not know): it
	// answers 400 with the error's text, as Tempo's frontend answers
	// "invalid TraceQL query: ...". BadQuery wraps an error so that its text
	// is kept exactly.
	ErrBadQuery = errors.New("bad query")
	// ErrNotFound marks a Querier error for something that does not exist:
	// it answers 404 with the error's text. Trace answers a missing trace
	// with found=false instead, which the trace endpoints answer as Tempo
	// does (see traceV1 and traceV2).
	ErrNotFound = errors.New("not found")
	// ErrInvalidConfig wraps every error of Config.Validate.
	ErrInvalidConfig = errors.New("tempo api: invalid config")
	// ErrMissingQuerier is returned by New when the Querier is nil.
	ErrMissingQuerier = errors.New("tempo api: missing querier")
)

// statusError keeps the text of err and matches sentinel with errors.Is.
type statusError struct {
	sentinel error
	err      error
}

func (e *statusError) Error() string   { return e.err.Error() }
func (e *statusError) Unwrap() []error { return []error{e.sentinel, e.err} }

// BadQuery returns an error matching ErrBadQuery (and err) whose text is
// err's text, so that the 400 body reads as the Querier wrote it. It
// returns nil for nil.
func BadQuery(err error) error {
	if err == nil {
		return nil
	}
	return &statusError{sentinel: ErrBadQuery, err: err}
}

// NotFound returns an error matching ErrNotFound (and err) whose text is
// err's text. It returns nil for nil.
func NotFound(err error) error {
	if err == nil {
		return nil
	}
	return &statusError{sentinel: ErrNotFound, err: err}
}

// statusClientClosedRequest is the non-standard 499 that Tempo (like
// nginx) answers for a request whose client went away.
const statusClientClosedRequest = 499

// writeText answers code with msg as plain text. Tempo's frontend writes
// error bodies without a Content-Type, which Go's server sniffs as
// text/plain; setting it keeps the answer the same for every body.
func writeText(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg))
}

// badRequest answers a parameter error: 400 with the error's text and no
// trailing newline, as the frontend's httpInvalidRequest writes it.
func badRequest(w http.ResponseWriter, err error) {
	writeText(w, http.StatusBadRequest, err.Error())
}

// querierError answers an error of the Querier the way Tempo's frontend
// answers its pipeline's errors (modules/frontend/handler.go writeError and
// the queriers' handleError): ErrBadQuery 400 and ErrNotFound 404 with the
// text; context.Canceled 499 "context canceled"; context.DeadlineExceeded
// 504 "context deadline exceeded"; anything else 500 with the text and a
// newline, as the querier's http.Error writes it.
func (a *API) querierError(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case errors.Is(err, ErrBadQuery):
		writeText(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		writeText(w, http.StatusNotFound, err.Error())
	case errors.Is(err, context.Canceled):
		writeText(w, statusClientClosedRequest, context.Canceled.Error())
	case errors.Is(err, context.DeadlineExceeded):
		a.logger.LogAttrs(r.Context(), slog.LevelWarn, "tempo api: query timed out",
			slog.String("op", op), slog.String("err", err.Error()))
		writeText(w, http.StatusGatewayTimeout, context.DeadlineExceeded.Error())
	default:
		a.logger.LogAttrs(r.Context(), slog.LevelError, "tempo api: query failed",
			slog.String("op", op), slog.String("err", err.Error()))
		writeText(w, http.StatusInternalServerError, err.Error()+"\n")
	}
}
