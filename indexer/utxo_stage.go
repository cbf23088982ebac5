package indexer

import (
	"context"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// UTXOStage writes blocks, transactions, outputs and resolved inputs of a
// UTXO chain.
type UTXOStage struct{ w *store.UTXOWriter }

// NewUTXOStage returns the stage writing through w.
func NewUTXOStage(w *store.UTXOWriter) *UTXOStage { return &UTXOStage{w: w} }

// Name implements Stage.
func (*UTXOStage) Name() string { return "utxo" }

// Forward implements Stage.
func (s *UTXOStage) Forward(ctx context.Context, tx *store.Tx, blocks []chains.Block) error {
	_, err := s.w.Write(ctx, tx, blocks)
	return err
}

// Unwind implements Stage.
func (s *UTXOStage) Unwind(ctx context.Context, tx *store.Tx, height int64) error {
	return s.w.Unwind(ctx, tx, height)
}
