package wire

import "strconv"

// Code is a result code carried in a response envelope (SPEC §3).
type Code uint16

// The closed code set of proto_ver 1.
const (
	CodeOK            Code = 1000
	CodeBadVersion    Code = 1400
	CodeNotFound      Code = 1404
	CodeFrameTooLarge Code = 1413
	CodeMalformed     Code = 1422
	CodeQuotaExceeded Code = 1429
	CodeBadSignature  Code = 1440
	CodeStaleRecord   Code = 1441
	CodeNotReady      Code = 1450
	CodeBusy          Code = 1501
	CodeTimeout       Code = 1508
)

// String returns the code's snake_case name (used as a metric label), "none"
// for 0 (no wire code) and "code(N)" for codes outside the set.
func (c Code) String() string {
	switch c {
	case 0:
		return "none"
	case CodeOK:
		return "ok"
	case CodeBadVersion:
		return "bad_version"
	case CodeNotFound:
		return "not_found"
	case CodeFrameTooLarge:
		return "frame_too_large"
	case CodeMalformed:
		return "malformed"
	case CodeQuotaExceeded:
		return "quota_exceeded"
	case CodeBadSignature:
		return "bad_signature"
	case CodeStaleRecord:
		return "stale_record"
	case CodeNotReady:
		return "not_ready"
	case CodeBusy:
		return "busy"
	case CodeTimeout:
		return "timeout"
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// Valid reports whether c is one of the codes of proto_ver 1.
func (c Code) Valid() bool {
	switch c {
	case CodeOK, CodeBadVersion, CodeNotFound, CodeFrameTooLarge, CodeMalformed,
		CodeQuotaExceeded, CodeBadSignature, CodeStaleRecord, CodeNotReady,
		CodeBusy, CodeTimeout:
		return true
	}
	return false
}
