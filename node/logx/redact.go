package logx

import (
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"sync"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

var (
	errorType = reflect.TypeFor[error]()
	netIPType = reflect.TypeFor[net.IP]()
	idType    = reflect.TypeFor[kbucket.ID]()
)

// redactor is one logger's ReplaceAttr hook; it remembers, per type,
// whether values of that type must be redacted.
type redactor struct {
	sensitive sync.Map // reflect.Type -> bool
}

// replace renames the built-in keys and redacts sensitive values.
func (r *redactor) replace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.TimeKey:
			if a.Value.Kind() == slog.KindTime {
				return slog.Time(KeyTS, a.Value.Time().UTC())
			}
		case slog.MessageKey:
			return slog.Attr{Key: KeyEvent, Value: a.Value}
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok {
				return slog.String(KeyLevel, levelName(l))
			}
		}
	}
	if a.Value.Kind() != slog.KindAny {
		return a
	}
	v := a.Value.Any()
	switch x := v.(type) {
	case nil:
		return a
	case error:
		return a // logged by its message
	case kbucket.ID:
		return slog.String(a.Key, identity.KeyString(x))
	case *kbucket.ID:
		if x != nil {
			return slog.String(a.Key, identity.KeyString(*x))
		}
		return a
	case wire.ProviderRecord:
		return slog.Attr{Key: a.Key, Value: recordSummary(&x)}
	case *wire.ProviderRecord:
		if x != nil {
			return slog.Attr{Key: a.Key, Value: recordSummary(x)}
		}
		return a
	case []wire.ProviderRecord:
		return slog.String(a.Key, "[redacted "+strconv.Itoa(len(x))+" provider records]")
	case net.IP:
		return a
	}
	t := reflect.TypeOf(v)
	if !r.isSensitive(t) {
		return a
	}
	if rv := reflect.ValueOf(v); (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8 {
		return slog.String(a.Key, "[redacted "+strconv.Itoa(rv.Len())+" bytes]")
	}
	return slog.String(a.Key, "[redacted "+t.String()+"]")
}

// recordSummary describes a provider record by its public fields only.
func recordSummary(rec *wire.ProviderRecord) slog.Value {
	return slog.GroupValue(
		slog.String("key", identity.KeyString(rec.Key)),
		slog.String("publisher", identity.KeyString(rec.Publisher)),
		slog.Uint64("ttl", uint64(rec.TTL)),
		slog.Int64("ts", rec.TS),
		slog.Int("signers", len(rec.Signers)),
	)
}

func (r *redactor) isSensitive(t reflect.Type) bool {
	if s, ok := r.sensitive.Load(t); ok {
		return s.(bool)
	}
	s := sensitiveType(t, map[reflect.Type]bool{})
	r.sensitive.Store(t, s)
	return s
}

// sensitiveType reports whether a value of type t can hold key material or
// a payload: a byte slice or array, or an interface other than error,
// anywhere in its structure (exported or not). inProgress breaks cycles of
// recursive types.
func sensitiveType(t reflect.Type, inProgress map[reflect.Type]bool) bool {
	switch t {
	case errorType, netIPType, idType:
		return false
	}
	if inProgress[t] {
		return false
	}
	inProgress[t] = true
	defer delete(inProgress, t)
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.Uint8 || sensitiveType(t.Elem(), inProgress)
	case reflect.Pointer:
		return sensitiveType(t.Elem(), inProgress)
	case reflect.Map:
		return sensitiveType(t.Key(), inProgress) || sensitiveType(t.Elem(), inProgress)
	case reflect.Interface:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if sensitiveType(t.Field(i).Type, inProgress) {
				return true
			}
		}
	}
	return false
}
