package jaeger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// The envelope of every answer and the way errors are written, as Jaeger's
// cmd/query/app/http_handler.go (structuredResponse, structuredError,
// handleError, writeJSON) and json_marshaler.go do.

// prettyPrintIndent is Jaeger's indent for ?prettyPrint=true.
const prettyPrintIndent = "    "

// errTraceNotFound is spanstore.ErrTraceNotFound's text, the message of a
// 404 and of the per-trace errors of a search by trace IDs.
var errTraceNotFound = errors.New("trace not found")

// response is Jaeger's structuredResponse. Only the service and operation
// lists set Total; Limit and Offset are always 0. Errors is null unless a
// search by trace IDs missed some.
type response struct {
	Data   any             `json:"data"`
	Total  int             `json:"total"`
	Limit  int             `json:"limit"`
	Offset int             `json:"offset"`
	Errors []responseError `json:"errors"`
}

// responseError is Jaeger's structuredError: Code is set on the error of a
// failed request, TraceID on the error of one missing trace of a search by
// trace IDs.
type responseError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

// writeJSON writes resp with status 200 as application/json, indented when
// the request has prettyPrint set to anything but "false". A value that
// does not encode answers 500, in Jaeger's words.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, resp *response) {
	pretty := r.URL.Query().Get("prettyPrint")
	var (
		body []byte
		err  error
	)
	if pretty != "" && pretty != "false" {
		body, err = json.MarshalIndent(resp, "", prettyPrintIndent)
	} else {
		body, err = json.Marshal(resp)
	}
	if err != nil {
		err = fmt.Errorf("failed writing HTTP response: failed marshalling HTTP response to JSON: %w", err)
		a.writeError(w, r, err, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(body); err != nil {
		a.logger.Debug("jaeger api: writing response", "path", r.URL.Path, "err", err)
	}
}

// writeError answers err with code as Jaeger's handleError does: the
// envelope with one error {code, msg}, written by http.Error, so with
// Content-Type text/plain, X-Content-Type-Options nosniff and a final
// newline, exactly as Jaeger sends it. A 500 is logged (at debug level
// when the client went away).
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error, code int) {
	if code == http.StatusInternalServerError {
		if r.Context().Err() != nil {
			a.logger.Debug("jaeger api: request cancelled", "path", r.URL.Path, "err", err)
		} else {
			a.logger.Error("jaeger api: internal server error", "path", r.URL.Path, "err", err)
		}
	}
	body, mErr := json.Marshal(&response{Errors: []responseError{{Code: code, Msg: err.Error()}}})
	if mErr != nil { // cannot happen: the envelope holds only strings and ints
		body = []byte(`{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":500,"msg":"internal error"}]}`)
	}
	http.Error(w, string(body), code)
}
