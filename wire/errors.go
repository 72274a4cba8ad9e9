package wire

import (
	"context"
	"errors"
	"os"
	"strconv"
)

// Error is the one error type of the protocol: every failure the node reports
// is an *Error, so the set is closed. An Error either carries a wire code
// (Code != 0, one of the codes of proto_ver 1, sent to the peer in a response
// envelope) or is local-only (Code == 0, identified by Kind, never sent).
//
// The set, and how each member is built:
//
//	wire code            sentinel           meaning
//	1400 bad_version     ErrBadVersion      proto_ver is not 1
//	1404 not_found       ErrNotFound        no value / providers for the key
//	1413 frame_too_large ErrFrameTooLarge   frame or record over its size cap
//	1422 malformed       ErrMalformed       undecodable or invalid message
//	1429 quota_exceeded  ErrQuotaExceeded   a quota was hit; QuotaHit(kind) says which
//	1440 bad_signature   ErrBadSignature    missing, undeclared or failing signature
//	1441 stale_record    ErrStaleRecord     record expired, from the future, or ttl too long
//	1450 not_ready       ErrNotReady        node not bootstrapped yet
//	1501 busy            ErrBusy            work queue full
//	1508 timeout         ErrTimeout         deadline passed
//	local-only           ErrHopExceeded     lookup used up its hop budget
//	local-only           ErrNoBootstrap     no seed answered
//	local-only           ErrTransportDown   connection or stream failed
//
// errors.Is matches an *Error against a sentinel by code (and, for local-only
// errors and quota kinds, by Kind), so errors.Is(QuotaHit("peer_rps"),
// ErrQuotaExceeded) is true. Use errors.As to read Kind and Reason.
type Error struct {
	// Code is the wire code, or 0 for a local-only error.
	Code Code
	// Kind refines the error: the quota kind of a QuotaHit, or the name of
	// a local-only error. Empty for other wire errors.
	Kind string
	// Reason is a human-readable detail. On the wire it is the envelope's
	// reason text.
	Reason string

	cause error
}

// Local-only error kinds.
const (
	KindHopExceeded   = "hop_exceeded"
	KindNoBootstrap   = "no_bootstrap"
	KindTransportDown = "transport_down"
)

// Sentinels of the closed error set. Compare with errors.Is; never modify.
var (
	ErrBadVersion    = &Error{Code: CodeBadVersion}
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrFrameTooLarge = &Error{Code: CodeFrameTooLarge}
	ErrMalformed     = &Error{Code: CodeMalformed}
	ErrQuotaExceeded = &Error{Code: CodeQuotaExceeded}
	ErrBadSignature  = &Error{Code: CodeBadSignature}
	ErrStaleRecord   = &Error{Code: CodeStaleRecord}
	ErrNotReady      = &Error{Code: CodeNotReady}
	ErrBusy          = &Error{Code: CodeBusy}
	ErrTimeout       = &Error{Code: CodeTimeout}

	ErrHopExceeded   = &Error{Kind: KindHopExceeded}
	ErrNoBootstrap   = &Error{Kind: KindNoBootstrap}
	ErrTransportDown = &Error{Kind: KindTransportDown}
)

// Error implements error: "wire: <code> <name>[ (<kind>)][: <reason>][: <cause>]".
func (e *Error) Error() string {
	s := "wire: "
	if e.Code != 0 {
		s += strconv.Itoa(int(e.Code)) + " " + e.Code.String()
		if e.Kind != "" {
			s += " (" + e.Kind + ")"
		}
	} else {
		s += e.Kind
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the underlying cause (for example io.ErrUnexpectedEOF for a
// truncated frame), if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether e matches target: target must be an *Error with the same
// code; for local-only errors the kinds must be equal, for wire errors a
// target without a kind matches every kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Code != e.Code {
		return false
	}
	if e.Code == 0 || t.Kind != "" {
		return t.Kind == e.Kind
	}
	return true
}

// QuotaHit returns the 1429 error for the quota named kind (for example
// "max_rps", "peer_rps", "max_inflight", "per_key"). It matches
// ErrQuotaExceeded under errors.Is.
func QuotaHit(kind string) *Error {
	return &Error{Code: CodeQuotaExceeded, Kind: kind}
}

// NewError returns an error of the closed set with the given code and reason.
// An unknown code is reported as CodeMalformed.
func NewError(code Code, reason string) *Error {
	if !code.Valid() || code == CodeOK {
		return &Error{Code: CodeMalformed, Reason: "unknown code " + strconv.Itoa(int(code)) + ": " + reason}
	}
	return &Error{Code: code, Reason: reason}
}

// ErrorFromCode turns the code and reason of a response envelope into an
// error: nil for CodeOK, an *Error otherwise (unknown codes become
// CodeMalformed).
func ErrorFromCode(code Code, reason string) error {
	if code == CodeOK {
		return nil
	}
	return NewError(code, reason)
}

// CodeOf returns the wire code to report for err: CodeOK for nil, the code
// of the *Error in err's chain, CodeTimeout for context.DeadlineExceeded and
// os.ErrDeadlineExceeded, and 0 for local-only errors and errors outside the
// set (the caller decides what to send, if anything).
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return CodeTimeout
	}
	return 0
}

// wrapError returns an *Error with the given code or kind, reason and cause.
func wrapError(code Code, kind, reason string, cause error) *Error {
	return &Error{Code: code, Kind: kind, Reason: reason, cause: cause}
}

// malformed returns a CodeMalformed error with the given reason.
func malformed(reason string) *Error {
	return &Error{Code: CodeMalformed, Reason: reason}
}
