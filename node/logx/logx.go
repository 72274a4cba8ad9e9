package logx

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// Service is the value of the service field of every line.
const Service = "svc-dht"

// Field names of SPEC §9.
const (
	KeyTS        = "ts"
	KeyLevel     = "level"
	KeyService   = "service"
	KeyEvent     = "event"
	KeyCorrID    = "corr_id"
	KeyOp        = "op"
	KeyPeerID    = "peer_id"
	KeyASN       = "asn"
	KeyReason    = "reason"
	KeyLatencyMS = "latency_ms"
	KeyHops      = "hops"
)

// Options configures New.
type Options struct {
	// Format is "json" (the default when empty) or "text" (log.format).
	Format string
	// Level is the minimum level logged; nil means info. A *slog.LevelVar
	// lets the runtime change it on a configuration reload (log.level).
	Level slog.Leveler
}

// ParseLevel parses a log.level value: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logx: level %q: want debug, info, warn or error", s)
}

// New returns a logger writing to w in the SPEC §9 shape (see the package
// documentation), with redaction of key material and record payloads. It
// fails on an unknown format or a nil writer.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	if w == nil {
		return nil, fmt.Errorf("logx: nil writer")
	}
	level := o.Level
	if level == nil {
		level = slog.LevelInfo
	}
	r := &redactor{}
	ho := &slog.HandlerOptions{Level: level, ReplaceAttr: r.replace}
	var h slog.Handler
	switch o.Format {
	case "", "json":
		h = slog.NewJSONHandler(w, ho)
	case "text":
		h = slog.NewTextHandler(w, ho)
	default:
		return nil, fmt.Errorf("logx: format %q: want json or text", o.Format)
	}
	return slog.New(h.WithAttrs([]slog.Attr{slog.String(KeyService, Service)})), nil
}

// levelName returns the lower-case name of l.
func levelName(l slog.Level) string {
	switch l {
	case slog.LevelDebug:
		return "debug"
	case slog.LevelInfo:
		return "info"
	case slog.LevelWarn:
		return "warn"
	case slog.LevelError:
		return "error"
	}
	return strings.ToLower(l.String())
}

// CorrID is the corr_id field: a request's correlation ID as 16 hex digits
// (a string, so that JSON readers with float64 numbers keep every bit).
func CorrID(id uint64) slog.Attr {
	var b [16]byte
	s := strconv.AppendUint(b[:0], id, 16)
	pad := 16 - len(s)
	copy(b[pad:], s)
	for i := range pad {
		b[i] = '0'
	}
	return slog.String(KeyCorrID, string(b[:]))
}

// Op is the op field: the opcode's name (find_node, provide, ...).
func Op(op wire.Opcode) slog.Attr { return slog.String(KeyOp, op.String()) }

// PeerID is the peer_id field: the NodeID as "b3:<64 hex>".
func PeerID(id kbucket.ID) slog.Attr { return slog.String(KeyPeerID, identity.KeyString(id)) }

// ASN is the asn field.
func ASN(asn uint32) slog.Attr { return slog.Uint64(KeyASN, uint64(asn)) }

// Reason is the reason field.
func Reason(s string) slog.Attr { return slog.String(KeyReason, s) }

// Err is the reason field holding err's message; for a nil err it is an
// empty attribute, which slog leaves out.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String(KeyReason, err.Error())
}

// Latency is the latency_ms field: d in milliseconds, to the microsecond.
func Latency(d time.Duration) slog.Attr {
	return slog.Float64(KeyLatencyMS, float64(d.Microseconds())/1000)
}

// Hops is the hops field.
func Hops(n int) slog.Attr { return slog.Int(KeyHops, n) }
