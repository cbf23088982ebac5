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

// PrepareAhead implements AheadPreparer: during a bulk load the writer's
// caches are complete and the batch's rows can be built before its
// transaction opens.
func (s *UTXOStage) PrepareAhead(ctx context.Context, blocks []chains.Block) (Prepared, error) {
	if !s.w.CanPrepareAhead() {
		return nil, nil
	}
	b, err := s.w.PrepareAhead(ctx, blocks)
	if err != nil {
		return nil, err
	}
	return utxoPrepared{b}, nil
}

type utxoPrepared struct{ b *store.UTXOBatch }

func (p utxoPrepared) Flush(ctx context.Context, tx *store.Tx) error {
	_, err := p.b.Flush(ctx, tx)
	return err
}

func (p utxoPrepared) Discard() { p.b.Discard() }
