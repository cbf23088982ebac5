package cluster

import (
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
)

// Rule names why two addresses were merged. The numbers are stored: never
// renumber, only append.
type Rule uint8

// Merge rules.
const (
	// RuleCIOH: both addresses funded inputs of one transaction that is
	// no CoinJoin (common-input ownership).
	RuleCIOH Rule = 1
	// RuleChange: the second address received the change of a
	// transaction the first paid into (two independent change signals
	// agree; only when change clustering is on).
	RuleChange Rule = 2
	// RuleDepositReuse: both addresses sent to the same exchange deposit
	// address (Ethereum).
	RuleDepositReuse Rule = 3
)

var ruleNames = [...]string{RuleCIOH: "cioh", RuleChange: "change", RuleDepositReuse: "deposit_reuse"}

// String returns the rule's name.
func (r Rule) String() string {
	if int(r) < len(ruleNames) && ruleNames[r] != "" {
		return ruleNames[r]
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Edge is one merge of two addresses with its evidence.
type Edge struct {
	A, B       int64 // address ids, A < B
	TxID       int64 // the transaction's id in the store
	Tx         chains.Hash
	Height     int64
	Rule       Rule
	Confidence Confidence
}

// CIOHConfidence is the confidence of a common-input merge: the rule is
// the strongest there is, but wallets that co-sign (PayJoin, CoinJoins no
// detector knows) break it.
const CIOHConfidence Confidence = 90

// CIOH returns the common-input edges of tx: every distinct input
// address joined to the smallest one (a star, so a tx of k addresses
// gives k-1 edges). ids[i] is the store's id of tx.Inputs[i].Address, 0
// when the input has no single address (bare multisig keys are never
// merged with each other) or is unresolved. Coinbases and transactions
// with fewer than two distinct addresses give nothing; excluding
// CoinJoins is the caller's decision.
func CIOH(tx *Tx, txID int64, ids []int64) []Edge {
	if tx.Coinbase {
		return nil
	}
	seen := make(map[int64]bool, len(ids))
	var distinct []int64
	least := int64(0)
	for _, id := range ids {
		if id == 0 || seen[id] {
			continue
		}
		seen[id] = true
		distinct = append(distinct, id)
		if least == 0 || id < least {
			least = id
		}
	}
	if len(distinct) < 2 {
		return nil
	}
	edges := make([]Edge, 0, len(distinct)-1)
	for _, id := range distinct {
		if id == least {
			continue
		}
		edges = append(edges, Edge{A: least, B: id, TxID: txID, Tx: tx.Hash, Height: tx.Height, Rule: RuleCIOH, Confidence: CIOHConfidence})
	}
	return edges
}
