package wire

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
