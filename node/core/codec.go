package core

import (
	"fmt"

	"github.com/svc-dht/svc-dht/wire"
)

// This file converts between the core's decoded messages (Request,
// Response) and wire envelopes, for runtimes that move bytes: the QUIC
// runtime, and the simulator's encode-on-the-wire mode.

// AppendRequest appends the CBOR envelope of req (a request with corrID,
// timestamped ts in unix seconds) to dst.
func AppendRequest(dst []byte, req *Request, corrID uint64, ts int64) ([]byte, error) {
	env := wire.NewRequest(req.Op, corrID, ts)
	if req.Hedge {
		env.Flags |= wire.FlagHedge
	}
	var body any
	switch req.Op {
	case wire.OpPing:
		body = &wire.PingRequest{}
	case wire.OpFindNode:
		body = &wire.FindNodeRequest{Target: req.Key}
	case wire.OpFindValue:
		body = &wire.FindValueRequest{Key: req.Key}
	case wire.OpProvide:
		if req.Record == nil {
			return dst, fmt.Errorf("core: encode provide request: %w", wire.ErrMalformed)
		}
		body = &wire.ProvideRequest{Record: *req.Record}
	case wire.OpStore:
		body = &wire.StoreRequest{Key: req.Key, Value: req.Value, Sigs: req.Sigs}
	default:
		return dst, fmt.Errorf("core: encode request: opcode %#x: %w", uint8(req.Op), wire.ErrMalformed)
	}
	out, err := wire.AppendEnvelope(dst, &env, body)
	if err != nil {
		return dst, fmt.Errorf("core: encode %s request: %w", opName(req.Op), err)
	}
	return out, nil
}

// DecodeRequest decodes the body of the request envelope env into req
// (overwriting it). The decoded strings and slices are fresh and may be
// retained.
func DecodeRequest(env *wire.Envelope, req *Request) error {
	*req = Request{Op: env.Op, Hedge: env.Flags&wire.FlagHedge != 0}
	var err error
	switch env.Op {
	case wire.OpPing:
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &wire.PingRequest{})
	case wire.OpFindNode:
		var b wire.FindNodeRequest
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		req.Key = b.Target
	case wire.OpFindValue:
		var b wire.FindValueRequest
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		req.Key = b.Key
	case wire.OpProvide:
		b := new(wire.ProvideRequest)
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, b)
		req.Record = &b.Record
	case wire.OpStore:
		var b wire.StoreRequest
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		req.Key, req.Value, req.Sigs = b.Key, b.Value, b.Sigs
	default:
		err = fmt.Errorf("opcode %#x: %w", uint8(env.Op), wire.ErrMalformed)
	}
	if err != nil {
		return fmt.Errorf("core: decode %s request: %w", opName(env.Op), err)
	}
	return nil
}

// AppendResponse appends the CBOR envelope answering req with resp,
// timestamped ts, to dst.
func AppendResponse(dst []byte, req *wire.Envelope, resp *Response, ts int64) ([]byte, error) {
	env := wire.NewResponse(req, resp.Code, ts)
	env.Reason = resp.Reason
	var body any // nil for a non-OK code: the implied body
	if resp.Code == wire.CodeOK {
		switch resp.Op {
		case wire.OpPing:
			body = &wire.PingResponse{Self: resp.Self}
		case wire.OpFindNode:
			body = &wire.FindNodeResponse{Closest: resp.Closest}
		case wire.OpFindValue:
			if len(resp.Providers) > 0 {
				body = &wire.FindValueResponse{Providers: resp.Providers} // providers win
			} else {
				body = &wire.FindValueResponse{Closest: resp.Closest}
			}
		case wire.OpProvide:
			body = &wire.ProvideResponse{Accepted: resp.Accepted}
		case wire.OpStore:
			body = &wire.StoreResponse{Accepted: resp.Accepted}
		}
	}
	out, err := wire.AppendEnvelope(dst, &env, body)
	if err != nil {
		return dst, fmt.Errorf("core: encode %s response: %w", opName(resp.Op), err)
	}
	return out, nil
}

// DecodeResponse decodes the response envelope env into resp (overwriting
// it; the body is decoded only for CodeOK, as the protocol defines). The
// decoded strings and slices are fresh and may be retained.
func DecodeResponse(env *wire.Envelope, resp *Response) error {
	*resp = Response{Op: env.Op, Code: env.Code, Reason: env.Reason}
	if resp.Code == 0 {
		resp.Code = wire.CodeOK
	}
	if resp.Code != wire.CodeOK {
		return nil
	}
	var err error
	switch env.Op {
	case wire.OpPing:
		var b wire.PingResponse
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		resp.Self = b.Self
	case wire.OpFindNode:
		var b wire.FindNodeResponse
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		resp.Closest = b.Closest
	case wire.OpFindValue:
		var b wire.FindValueResponse
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		resp.Closest, resp.Providers = b.Closest, b.Providers
	case wire.OpProvide:
		var b wire.ProvideResponse
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		resp.Accepted = b.Accepted
	case wire.OpStore:
		var b wire.StoreResponse
		err = wire.DecodeBody(env.Op, env.Flags, env.Body, &b)
		resp.Accepted = b.Accepted
	default:
		err = fmt.Errorf("opcode %#x: %w", uint8(env.Op), wire.ErrMalformed)
	}
	if err != nil {
		return fmt.Errorf("core: decode %s response: %w", opName(env.Op), err)
	}
	return nil
}
