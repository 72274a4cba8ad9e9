package identity

import (
	"fmt"

	"github.com/svc-dht/svc-dht/wire"
)

// reject builds a verification error of the wire error set with the given
// code and a reason for the peer, e.g.
// "verify record: wire: 1440 bad_signature: ed25519 signature does not verify".
func reject(code wire.Code, format string, args ...any) error {
	return fmt.Errorf("verify record: %w", wire.NewError(code, fmt.Sprintf(format, args...)))
}
