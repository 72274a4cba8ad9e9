package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/svc-dht/svc-dht/wire"
)

// KindInternal is the kind of an error outside the closed set: a failure of
// the node itself, answered 500 with code 1501.
const KindInternal = "internal"

// ErrUnreachable matches a Client error where the node's API could not be
// reached or gave no answer in time (connection refused, timeout, ...).
var ErrUnreachable = errors.New("node api unreachable")

// ErrorBody is the JSON body of every failed request.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo describes a failure: the SPEC code (always present), its name
// as SPEC §3 writes it, the error kind (quota kind, local-only error or
// "internal"; empty otherwise) and a human-readable reason.
type ErrorInfo struct {
	Code   wire.Code `json:"code"`
	Name   string    `json:"name"`
	Kind   string    `json:"kind,omitempty"`
	Reason string    `json:"reason"`
}

// CodeName returns the SPEC §3 name of a code ("Malformed", "NotFound"),
// or "" for a code outside the set.
func CodeName(c wire.Code) string {
	switch c {
	case wire.CodeOK:
		return "Ok"
	case wire.CodeBadVersion:
		return "BadVersion"
	case wire.CodeNotFound:
		return "NotFound"
	case wire.CodeFrameTooLarge:
		return "FrameTooLarge"
	case wire.CodeMalformed:
		return "Malformed"
	case wire.CodeQuotaExceeded:
		return "QuotaExceeded"
	case wire.CodeBadSignature:
		return "BadSignature"
	case wire.CodeStaleRecord:
		return "StaleRecord"
	case wire.CodeNotReady:
		return "NotReady"
	case wire.CodeBusy:
		return "Busy"
	case wire.CodeTimeout:
		return "Timeout"
	}
	return ""
}

// StatusOf returns the HTTP status for a SPEC code (see the package
// documentation).
func StatusOf(c wire.Code) int {
	switch c {
	case wire.CodeOK:
		return http.StatusOK
	case wire.CodeBadVersion, wire.CodeMalformed:
		return http.StatusBadRequest
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeFrameTooLarge:
		return http.StatusRequestEntityTooLarge
	case wire.CodeQuotaExceeded:
		return http.StatusTooManyRequests
	case wire.CodeNotReady, wire.CodeBusy:
		return http.StatusServiceUnavailable
	case wire.CodeTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Classify returns the HTTP status and error description for err, which
// must not be nil: errors of the closed set keep their code and kind,
// local-only errors get the nearest code, context deadlines are 1508, and
// anything else is 500 with code 1501 and kind "internal".
func Classify(err error) (int, ErrorInfo) {
	info := ErrorInfo{Reason: err.Error()}
	var we *wire.Error
	if errors.As(err, &we) {
		info.Kind = we.Kind
		if we.Code != 0 {
			info.Code = we.Code
			info.Name = CodeName(we.Code)
			return StatusOf(we.Code), info
		}
	}
	status := 0
	switch {
	case errors.Is(err, wire.ErrTransportDown):
		info.Code, status = wire.CodeTimeout, http.StatusBadGateway
	case errors.Is(err, wire.ErrHopExceeded):
		info.Code, status = wire.CodeTimeout, http.StatusGatewayTimeout
	case errors.Is(err, wire.ErrNoBootstrap):
		info.Code, status = wire.CodeNotReady, http.StatusServiceUnavailable
	case wire.CodeOf(err) == wire.CodeTimeout: // context or I/O deadline
		info.Code, status = wire.CodeTimeout, http.StatusGatewayTimeout
	default:
		info.Code, info.Kind, status = wire.CodeBusy, KindInternal, http.StatusInternalServerError
	}
	info.Name = CodeName(info.Code)
	return status, info
}

// APIError is a failure the node's API answered. It carries the HTTP status
// and the SPEC code, and unwraps to the matching *wire.Error, so that
// errors.Is(err, wire.ErrNotFound), errors.Is(err, wire.ErrTransportDown)
// or wire.CodeOf(err) work as on the node. An "internal" error, or an answer
// without a valid code (from something other than the node), unwraps to
// nothing.
type APIError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is the SPEC code of the answer (0 if the answer had none).
	Code wire.Code
	// Name is the code's SPEC name.
	Name string
	// Kind is the error kind (quota kind, local-only error, "internal").
	Kind string
	// Reason is the node's explanation.
	Reason string

	wire *wire.Error
}

// newAPIError builds an APIError and the wire error it unwraps to.
func newAPIError(status int, info ErrorInfo) *APIError {
	e := &APIError{Status: status, Code: info.Code, Name: info.Name, Kind: info.Kind, Reason: info.Reason}
	switch {
	case info.Kind == wire.KindTransportDown || info.Kind == wire.KindHopExceeded || info.Kind == wire.KindNoBootstrap:
		e.wire = &wire.Error{Kind: info.Kind, Reason: info.Reason}
	case info.Kind == KindInternal || !info.Code.Valid() || info.Code == wire.CodeOK:
	default:
		e.wire = &wire.Error{Code: info.Code, Kind: info.Kind, Reason: info.Reason}
	}
	return e
}

// Error renders "<code> <name>[ (<kind>)]: <reason>", or "HTTP <status>:
// <reason>" for an answer without a code.
func (e *APIError) Error() string {
	var s string
	if e.Code != 0 {
		s = strconv.Itoa(int(e.Code)) + " " + e.Name
		if e.Kind != "" {
			s += " (" + e.Kind + ")"
		}
	} else {
		s = "HTTP " + strconv.Itoa(e.Status)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns the *wire.Error the answer stands for, or nil.
func (e *APIError) Unwrap() error {
	if e.wire == nil {
		return nil
	}
	return e.wire
}
