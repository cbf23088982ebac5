package indexer

import (
	"context"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
)

// AccountStage writes blocks of an account-model chain: transactions,
// transfers, tokens and the per-address totals.
type AccountStage struct{ w *store.AccountWriter }

// NewAccountStage returns the stage writing through w.
func NewAccountStage(w *store.AccountWriter) *AccountStage { return &AccountStage{w: w} }

// Name implements Stage.
func (*AccountStage) Name() string { return "account" }

// Forward implements Stage.
func (s *AccountStage) Forward(ctx context.Context, tx *store.Tx, blocks []chains.Block) error {
	_, err := s.w.Write(ctx, tx, blocks)
	return err
}

// Unwind implements Stage.
func (s *AccountStage) Unwind(ctx context.Context, tx *store.Tx, height int64) error {
	return s.w.Unwind(ctx, tx, height)
}
