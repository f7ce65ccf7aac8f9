package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/annotations"
)

// The JSON envelope and the error types of Prometheus' web/api/v1/api.go.

type status string

const (
	statusSuccess status = "success"
	statusError   status = "error"

	// statusClientClosedConnection is nginx's non-standard code, which
	// Prometheus answers when the client went away during the query.
	statusClientClosedConnection = 499

	// maxWarnings and maxInfos are Prometheus' caps on the annotations of
	// one response; the rest is summed up in "N more ... omitted".
	maxWarnings = 10
	maxInfos    = 10
)

// errorType is the "errorType" of an error envelope.
type errorType string

const (
	errorTimeout   errorType = "timeout"
	errorCanceled  errorType = "canceled"
	errorExec      errorType = "execution"
	errorBadData   errorType = "bad_data"
	errorInternal  errorType = "internal"
	errorCostLimit errorType = "cost_limit"
)

// statusCode is Prometheus' getDefaultErrorCode (internal, and anything
// else, is 500).
func (t errorType) statusCode() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec, errorCostLimit:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return statusClientClosedConnection
	case errorTimeout:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

type apiError struct {
	typ errorType
	err error
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.typ, e.err) }

// response is the envelope of every answer.
type response struct {
	Status    status   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// result is what an endpoint returns: data or an error, the annotations,
// and a finalizer to run after the response is written (closing the query
// or querier whose memory the data still uses).
type result struct {
	data      any
	err       *apiError
	warnings  annotations.Annotations
	finalizer func()
}

type endpoint func(r *http.Request) result

func errResult(typ errorType, err error) result {
	return result{err: &apiError{typ, err}}
}

// invalidParam is Prometheus' invalidParamError.
func invalidParam(err error, parameter string) result {
	return errResult(errorBadData, fmt.Errorf("invalid parameter %q: %w", parameter, err))
}

// storageError is Prometheus' returnAPIError: the type of an error that
// came out of the engine or the storage.
func storageError(err error) *apiError {
	if err == nil {
		return nil
	}
	var (
		eqc   promql.ErrQueryCanceled
		eqt   promql.ErrQueryTimeout
		es    promql.ErrStorage
		etms  promql.ErrTooManySeries
		etmss promql.ErrTooManySamplesRead
	)
	switch {
	case errors.As(err, &eqc):
		return &apiError{errorCanceled, err}
	case errors.As(err, &eqt):
		return &apiError{errorTimeout, err}
	case errors.As(err, &etms), errors.As(err, &etmss):
		return &apiError{errorCostLimit, err}
	case errors.As(err, &es):
		return &apiError{errorInternal, err}
	case errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	}
	return &apiError{errorExec, err}
}

// respond writes a success envelope. query positions the annotations
// ("(1:5)") and may be empty.
func (a *API) respond(w http.ResponseWriter, r *http.Request, data any, warnings annotations.Annotations, query string) {
	warn, info := warnings.AsStrings(query, maxWarnings, maxInfos)
	resp := &response{Status: statusSuccess, Data: data, Warnings: warn, Infos: info}
	w.Header().Set("Content-Type", "application/json")
	if _, ok := data.(*queryData); !ok {
		// Encoded whole first, so that an encoding error can still answer
		// 500, as Prometheus does.
		b, err := a.codec.encode(resp)
		if err != nil {
			a.logger.Error("prometheus api: encoding response", "url", r.URL.String(), "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
		if n, err := w.Write(b); err != nil {
			a.logger.Debug("prometheus api: writing response", "url", r.URL.String(), "bytesWritten", n, "err", err)
		}
		return
	}
	// A query's answer may be megabytes: streamed, so that it is written
	// and compressed while it is encoded (its values encode without fail).
	w.WriteHeader(http.StatusOK)
	if err := a.codec.encodeTo(w, resp); err != nil {
		a.logger.Debug("prometheus api: writing response", "url", r.URL.String(), "err", err)
	}
}

// respondError writes an error envelope. As in Prometheus, the warnings
// of a failed request are not sent.
func (a *API) respondError(w http.ResponseWriter, apiErr *apiError, data any) {
	b, err := a.codec.encode(&response{
		Status:    statusError,
		ErrorType: string(apiErr.typ),
		Error:     apiErr.err.Error(),
		Data:      data,
	})
	if err != nil {
		a.logger.Error("prometheus api: encoding error response", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apiErr.typ.statusCode())
	if n, err := w.Write(b); err != nil {
		a.logger.Debug("prometheus api: writing error response", "bytesWritten", n, "err", err)
	}
}
