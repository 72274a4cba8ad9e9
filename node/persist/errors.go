package persist

import "errors"

// ErrCorrupt matches (errors.Is) every error that says a snapshot cannot be
// used: the caller reports it and carries on with an empty table or store.
var ErrCorrupt = errors.New("corrupt snapshot")

// Details of a *CorruptError; each also matches ErrCorrupt through it.
var (
	ErrTruncated = errors.New("truncated")
	ErrTrailing  = errors.New("trailing bytes after the payload")
	ErrMagic     = errors.New("bad magic")
	ErrVersion   = errors.New("unknown format version")
	ErrChecksum  = errors.New("bad checksum")
	ErrPayload   = errors.New("bad payload")
	ErrTooLarge  = errors.New("too large")
)

// ErrNoIdentity is returned by Amnesia.LoadIdentity: nothing is stored, the
// caller generates the identity in RAM.
var ErrNoIdentity = errors.New("persist: no stored identity (amnesia: generate one in RAM)")

// ErrKeyPermissions is matched by the error of a key file that group or
// others may access.
var ErrKeyPermissions = errors.New("key file permissions too open")

// CorruptError says why the snapshot at Path cannot be used. Err is one of
// the detail sentinels (ErrTruncated, ...), possibly wrapped with more
// context. errors.Is matches both ErrCorrupt and the detail.
type CorruptError struct {
	Path string
	Err  error
}

// Error renders "persist: corrupt snapshot PATH: DETAIL".
func (e *CorruptError) Error() string {
	return "persist: corrupt snapshot " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the detail.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
