package cluster

import "github.com/fundtrace/fundtrace/chains"

// MemHistory is an in-memory History over transactions added in chain
// order, for tests and the accuracy generator (not for a whole chain).
// Spenders are found through Input.Prev, so the inputs must carry it.
// It is not safe for concurrent Add.
type MemHistory struct {
	first   map[string]chains.Hash
	spender map[chains.OutPoint]*Tx
	txs     map[chains.Hash]*Tx
}

// NewMemHistory returns a history of txs, in chain order.
func NewMemHistory(txs ...*Tx) *MemHistory {
	m := &MemHistory{
		first:   make(map[string]chains.Hash),
		spender: make(map[chains.OutPoint]*Tx),
		txs:     make(map[chains.Hash]*Tx),
	}
	for _, tx := range txs {
		m.Add(tx)
	}
	return m
}

// Add appends tx, the next transaction in chain order. The history keeps
// the pointer: do not modify tx afterwards.
func (m *MemHistory) Add(tx *Tx) {
	m.txs[tx.Hash] = tx
	for _, in := range tx.Inputs {
		if !tx.Coinbase && in.Prev != (chains.OutPoint{}) {
			m.spender[in.Prev] = tx
		}
		m.see(in.Address, tx.Hash)
	}
	for _, o := range tx.Outputs {
		m.see(o.Address, tx.Hash)
	}
}

func (m *MemHistory) see(addr string, tx chains.Hash) {
	if _, ok := m.first[addr]; !ok && addr != "" {
		m.first[addr] = tx
	}
}

// FirstSeen implements History.
func (m *MemHistory) FirstSeen(address string) (chains.Hash, bool) {
	h, ok := m.first[address]
	return h, ok
}

// Spender implements History.
func (m *MemHistory) Spender(out chains.OutPoint) (*Tx, bool) {
	tx, ok := m.spender[out]
	return tx, ok
}

// Tx implements History.
func (m *MemHistory) Tx(hash chains.Hash) (*Tx, bool) {
	tx, ok := m.txs[hash]
	return tx, ok
}

var _ History = (*MemHistory)(nil)
