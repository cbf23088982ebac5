package devnet

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNoBtcd is returned when no btcd binary can be found or built.
	ErrNoBtcd = errors.New("devnet: btcd binary not available")
	// ErrStart is returned when btcd exits or never answers RPC during
	// StartBtcd. The error text carries the end of btcd's log and output.
	ErrStart = errors.New("devnet: btcd did not start")
	// ErrStopped is returned by calls on a node after Stop, or after the
	// process died.
	ErrStopped = errors.New("devnet: btcd is not running")
	// ErrUnauthorized is returned when btcd rejects the RPC credentials.
	ErrUnauthorized = errors.New("devnet: rpc credentials rejected")
	// ErrMalformed is returned for an RPC reply that cannot be decoded.
	ErrMalformed = errors.New("devnet: malformed rpc reply")
	// ErrNotListening is returned by Connect when the target node was
	// started without BtcdOptions.Listen.
	ErrNotListening = errors.New("devnet: node does not accept peers")
	// ErrTimeout is returned when a node does not reach an expected state
	// (peered, unpeered, a given tip) in time.
	ErrTimeout = errors.New("devnet: timed out")
	// ErrInsufficientFunds is returned when the wallet cannot pay.
	ErrInsufficientFunds = errors.New("devnet: insufficient funds")
	// ErrBadPayment is returned for a payment to an invalid address or of a
	// non-positive or dust value.
	ErrBadPayment = errors.New("devnet: bad payment")
	// ErrUnknownCoin is returned by SendFrom for an outpoint the wallet
	// cannot spend.
	ErrUnknownCoin = errors.New("devnet: outpoint not spendable by this wallet")
	// ErrBadPlan is returned by Populate for an invalid Plan.
	ErrBadPlan = errors.New("devnet: bad populate plan")
)

// RPCError is an error object returned by btcd's JSON-RPC server.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// ErrorCode returns the JSON-RPC error code.
func (e *RPCError) ErrorCode() int { return e.Code }
