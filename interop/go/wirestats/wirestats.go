// Package wirestats tells, per call, whether each message crossed the wire compressed.
//
// grpc-go 1.33 exposes neither the per-message compressed flag nor a per-call compression switch
// to handlers (and its own interop programs skip the compression cases). What it does expose is a
// stats.Handler: InHeader carries the call's grpc-encoding, and In/OutPayload carry a message's
// uncompressed length and its length on the wire. A message sent uncompressed always has
// WireLength == Length+5 (the 5-byte gRPC prefix); a compressed one differs unless gzip happens
// to produce exactly as many bytes as it was given, which the interop payloads (runs of zeros)
// never do. So: compressed = the call names a real encoding AND the lengths differ.
package wirestats

import (
	"context"
	"sync"

	"google.golang.org/grpc/stats"
)

// prefixLen is the gRPC message prefix: 1 flag byte and a 4-byte length.
const prefixLen = 5

// Call records what one RPC's messages looked like on the wire.
type Call struct {
	mu       sync.Mutex
	encoding string // grpc-encoding of the inbound side ("" until headers arrive)
	in       []bool // inbound messages: compressed?
	out      []bool // outbound messages: compressed?
}

type callKey struct{}

// WithCall returns ctx carrying a fresh Call; a client passes it to an RPC to inspect the call later.
func WithCall(ctx context.Context) (context.Context, *Call) {
	c := &Call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// FromContext returns the Call in ctx, or nil.
func FromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// In returns whether inbound message i arrived compressed, and whether there was such a message.
func (c *Call) In(i int) (compressed bool, ok bool) {
	if c == nil {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.in) {
		return false, false
	}
	return c.in[i], true
}

// Out returns the compressed flag of every outbound message so far.
func (c *Call) Out() []bool {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.out...)
}

// Handler is a stats.Handler filling in the Call of each RPC (a new one on the server side,
// the caller's from WithCall on the client side).
type Handler struct{}

var _ stats.Handler = Handler{}

// TagRPC attaches a Call unless the caller already did.
func (Handler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	if FromContext(ctx) != nil {
		return ctx
	}
	ctx, _ = WithCall(ctx)
	return ctx
}

// HandleRPC records the call's encoding and each message's wire shape.
func (Handler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	c := FromContext(ctx)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e := s.(type) {
	case *stats.InHeader:
		c.encoding = e.Compression
	case *stats.InPayload:
		named := c.encoding != "" && c.encoding != "identity"
		c.in = append(c.in, named && e.WireLength != e.Length+prefixLen)
	case *stats.OutPayload:
		c.out = append(c.out, e.WireLength != e.Length+prefixLen)
	}
}

// TagConn is a no-op.
func (Handler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn is a no-op.
func (Handler) HandleConn(context.Context, stats.ConnStats) {}
