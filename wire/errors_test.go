package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestErrorIsMatchesByCode(t *testing.T) {
	sentinels := map[Code]error{
		CodeBadVersion:    ErrBadVersion,
		CodeNotFound:      ErrNotFound,
		CodeFrameTooLarge: ErrFrameTooLarge,
		CodeMalformed:     ErrMalformed,
		CodeQuotaExceeded: ErrQuotaExceeded,
		CodeBadSignature:  ErrBadSignature,
		CodeStaleRecord:   ErrStaleRecord,
		CodeNotReady:      ErrNotReady,
		CodeBusy:          ErrBusy,
		CodeTimeout:       ErrTimeout,
	}
	for code, sentinel := range sentinels {
		err := fmt.Errorf("handler: %w", NewError(code, "detail"))
		for other, s := range sentinels {
			if got := errors.Is(err, s); got != (other == code) {
				t.Errorf("errors.Is(%v, sentinel %v) = %v", code, other, got)
			}
		}
		for _, local := range []error{ErrHopExceeded, ErrNoBootstrap, ErrTransportDown} {
			if errors.Is(err, local) {
				t.Errorf("errors.Is(%v, %v) = true", code, local)
			}
		}
		if got := CodeOf(err); got != code {
			t.Errorf("CodeOf(%v) = %v", code, got)
		}
		if !errors.Is(ErrorFromCode(code, "x"), sentinel) {
			t.Errorf("ErrorFromCode(%v) does not match its sentinel", code)
		}
	}
}

func TestQuotaHitKinds(t *testing.T) {
	err := fmt.Errorf("admit: %w", QuotaHit("peer_rps"))
	if !errors.Is(err, ErrQuotaExceeded) {
		t.Fatal("QuotaHit does not match ErrQuotaExceeded")
	}
	if !errors.Is(err, QuotaHit("peer_rps")) || errors.Is(err, QuotaHit("max_inflight")) {
		t.Fatal("QuotaHit kinds not told apart")
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != "peer_rps" || e.Code != CodeQuotaExceeded {
		t.Fatalf("errors.As gave %+v", e)
	}
	if CodeOf(err) != CodeQuotaExceeded {
		t.Fatalf("CodeOf = %v", CodeOf(err))
	}
	if got := err.Error(); !strings.Contains(got, "1429 quota_exceeded (peer_rps)") {
		t.Fatalf("Error() = %q", got)
	}
}

func TestLocalOnlyErrors(t *testing.T) {
	locals := []*Error{ErrHopExceeded, ErrNoBootstrap, ErrTransportDown}
	for _, l := range locals {
		err := fmt.Errorf("lookup: %w", wrapError(0, l.Kind, "why", io.ErrClosedPipe))
		for _, o := range locals {
			if errors.Is(err, o) != (o == l) {
				t.Errorf("errors.Is(%s, %s) wrong", l.Kind, o.Kind)
			}
		}
		if CodeOf(err) != 0 {
			t.Errorf("CodeOf(%s) = %v, want 0 (not sendable)", l.Kind, CodeOf(err))
		}
		if !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("%s does not unwrap to its cause", l.Kind)
		}
		if errors.Is(err, ErrMalformed) {
			t.Errorf("%s matches ErrMalformed", l.Kind)
		}
	}
}

func TestCodeOfForeignErrors(t *testing.T) {
	cases := []struct {
		err  error
		want Code
	}{
		{nil, CodeOK},
		{context.DeadlineExceeded, CodeTimeout},
		{fmt.Errorf("dial: %w", os.ErrDeadlineExceeded), CodeTimeout},
		{errors.New("something else"), 0},
		{context.Canceled, 0},
	}
	for _, c := range cases {
		if got := CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestErrorFromCode(t *testing.T) {
	if err := ErrorFromCode(CodeOK, "fine"); err != nil {
		t.Fatalf("CodeOK gave %v", err)
	}
	err := ErrorFromCode(1234, "odd")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "unknown code 1234") {
		t.Fatalf("unknown code gave %v", err)
	}
	err = ErrorFromCode(CodeBusy, "queue full")
	if got := err.Error(); got != "wire: 1501 busy: queue full" {
		t.Fatalf("Error() = %q", got)
	}
	env := Envelope{Flags: FlagResp, Code: CodeStaleRecord, Reason: "expired"}
	if !errors.Is(env.Err(), ErrStaleRecord) {
		t.Fatalf("Envelope.Err = %v", env.Err())
	}
	req := Envelope{Flags: FlagReq}
	if req.Err() != nil {
		t.Fatal("request envelope has an error")
	}
}

func TestCodeStringAndValid(t *testing.T) {
	names := map[Code]string{
		CodeOK: "ok", CodeBadVersion: "bad_version", CodeNotFound: "not_found",
		CodeFrameTooLarge: "frame_too_large", CodeMalformed: "malformed",
		CodeQuotaExceeded: "quota_exceeded", CodeBadSignature: "bad_signature",
		CodeStaleRecord: "stale_record", CodeNotReady: "not_ready", CodeBusy: "busy",
		CodeTimeout: "timeout",
	}
	for c, n := range names {
		if c.String() != n || !c.Valid() {
			t.Errorf("%d: String %q Valid %v", c, c.String(), c.Valid())
		}
	}
	for _, c := range []Code{0, 1, 999, 1001, 1401, 1500, 1509, 65535} {
		if c.Valid() {
			t.Errorf("%d is valid", c)
		}
	}
	if Code(0).String() != "none" || Code(1234).String() != "code(1234)" {
		t.Errorf("String of 0 / unknown: %q %q", Code(0).String(), Code(1234).String())
	}
	if OpFindNode.String() != "find_node" || Opcode(9).String() != "op(9)" {
		t.Errorf("Opcode.String: %q %q", OpFindNode.String(), Opcode(9).String())
	}
}

func TestTruncationWrapsUnexpectedEOF(t *testing.T) {
	env := NewRequest(OpPing, 1, 1)
	b, err := AppendEnvelope(nil, &env, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got Envelope
	err = DecodeEnvelope(b[:len(b)-1], &got)
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated envelope: %v", err)
	}
}
