package bitcoin

import (
	"errors"
	"strconv"

	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// Sentinel errors of the node clients (Client and Esplora). Besides these,
// their errors wrap ErrBeyondTip (a height above the node's tip),
// ErrWrongNetwork (Check: the node serves another chain), ErrMalformed (a
// block that does not decode) and the sentinels of package endpoint
// (endpoint.ErrUnauthorized, endpoint.ErrUnreachable, ...).
var (
	// ErrBlockMismatch means the node returned a block that is not the one
	// asked for: its header hashes to another hash, its transactions do not
	// hash to the header's Merkle root (or the tree is mutated by duplicate
	// transactions), or its header fails its own proof of work. The message
	// names the height and both hashes. It is not retried: a node that
	// serves wrong data is broken or lying.
	ErrBlockMismatch = errors.New("bitcoin: node returned a block that does not match")
	// ErrMethodNotFound is matched by an *RPCError with code -32601: the
	// node does not know the method (the error names it).
	ErrMethodNotFound = errors.New("bitcoin: rpc method not found")
)

// JSON-RPC error codes of Bitcoin Core and btcd that the clients handle.
const (
	rpcMethodNotFound  = -32601
	rpcInWarmup        = -28 // Core: loading the block index, verifying blocks...
	rpcInvalidParam    = -8  // Core's getblockhash: "Block height out of range"
	rpcMisc            = -1  // btcd's getblockhash: "Block number out of range"
	maxRPCErrorMessage = 300
)

// RPCError is the error object of a JSON-RPC response. errors.Is(err,
// ErrMethodNotFound) is true for code -32601.
type RPCError struct {
	Code    int
	Message string
}

// Error returns "bitcoin: rpc error CODE: MESSAGE", the message cut to a
// printable excerpt.
func (e *RPCError) Error() string {
	msg := e.Message
	if len(msg) > maxRPCErrorMessage || endpoint.Snippet([]byte(msg)) != msg {
		msg = endpoint.Snippet([]byte(msg))
	}
	return "bitcoin: rpc error " + strconv.Itoa(e.Code) + ": " + msg
}

// ErrorCode returns the JSON-RPC error code.
func (e *RPCError) ErrorCode() int { return e.Code }

// Is makes errors.Is(err, ErrMethodNotFound) true for code -32601.
func (e *RPCError) Is(target error) bool {
	return target == ErrMethodNotFound && e.Code == rpcMethodNotFound
}
