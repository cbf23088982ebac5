package store

import (
	"context"
	"fmt"
	"time"
)

// deferredIndexes slow bulk loading, so migrations do not create them;
// EnsureIndexes builds them once the initial load is done, and the writer
// builds them before it has to look anything up in the database.
var deferredIndexes = []struct{ name, table, cols string }{
	{"txs_hash", "txs", "chain, hash"},
	{"addresses_address", "addresses", "chain, address"}, // unique
	{"outputs_address", "outputs", "chain, address_id"},
	{"inputs_prev", "inputs", "chain, prev_tx_id, prev_idx"},
	{"inputs_address", "inputs", "chain, address_id"},
}

// EnsureIndexes creates the secondary indexes that bulk loading leaves out.
// It is idempotent and cheap when they exist.
func (db *DB) EnsureIndexes(ctx context.Context) error {
	for _, ix := range deferredIndexes {
		unique := ""
		if ix.name == "addresses_address" {
			unique = "UNIQUE "
		}
		start := time.Now()
		q := fmt.Sprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)", unique, ix.name, ix.table, ix.cols)
		if _, err := db.x.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, mapError(err))
		}
		if d := time.Since(start); d > time.Second {
			db.log.Info("built index", "index", ix.name, "seconds", d.Seconds())
		}
	}
	return nil
}

// indexesReady reports whether every deferred index exists.
func (db *DB) indexesReady(ctx context.Context) (bool, error) {
	var n int
	var err error
	names := make([]any, len(deferredIndexes))
	for i, ix := range deferredIndexes {
		names[i] = ix.name
	}
	if db.dialect == Postgres {
		err = db.x.GetContext(ctx, &n, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()
			AND indexname IN ($1, $2, $3, $4, $5)`, names...)
	} else {
		err = db.x.GetContext(ctx, &n, `SELECT count(*) FROM sqlite_master WHERE type = 'index'
			AND name IN ($1, $2, $3, $4, $5)`, names...)
	}
	if err != nil {
		return false, mapError(err)
	}
	return n == len(deferredIndexes), nil
}

// ensureIndexes is EnsureIndexes inside a transaction.
func (tx *Tx) ensureIndexes(ctx context.Context) error {
	for _, ix := range deferredIndexes {
		unique := ""
		if ix.name == "addresses_address" {
			unique = "UNIQUE "
		}
		q := fmt.Sprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)", unique, ix.name, ix.table, ix.cols)
		if _, err := tx.x.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, mapError(err))
		}
	}
	return nil
}
