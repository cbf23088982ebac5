// Package cluster groups addresses controlled by one owner: common-input
// ownership over UTXO transactions (CoinJoins excluded), change-output
// heuristics reported with their confidence, and a union-find whose every
// merge keeps its evidence. It is pure: it reads transactions through the
// types below and small interfaces, and knows no store and no node.
package cluster

import "github.com/fundtrace/fundtrace/chains"

// Tx is what the heuristics read of a UTXO transaction: every input
// resolved to the output it spends, in vin order, and every output in vout
// order. Amounts are satoshi.
type Tx struct {
	Hash     chains.Hash
	Height   int64
	Version  int32
	LockTime uint32
	Coinbase bool
	Inputs   []Input
	Outputs  []Output
	// VSize is the virtual size in vbytes (weight / 4, rounded up); 0
	// when unknown.
	VSize int
}

// Input is a spent output. Address is "" when the spent script has no
// single address (bare multisig, non-standard) or the output is unknown
// (Known false).
type Input struct {
	Address    string
	Value      uint64
	ScriptType chains.ScriptType
	Sequence   uint32
	Known      bool // the spent output was resolved
	// Prev is the output this input spends (zero for a coinbase, or when
	// the caller did not fill it: then the peel-chain rule finds no
	// parent). History implementations use it to find spenders.
	Prev chains.OutPoint
}

// Output is an output of the transaction.
type Output struct {
	Address    string
	Value      uint64
	ScriptType chains.ScriptType
}

// Confidence is how sure a heuristic is, in percent (0..100).
type Confidence uint8
