package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"
	"strings"
	"time"
)

// deferredIndexes slow bulk loading, so migrations do not create them;
// EnsureIndexes builds them once the initial load is done, and the writer
// builds them before it has to look anything up in the database.
// Partial indexes leave out the rows a query never looks up (coinbase
// inputs, outputs without an address), which also keeps the planners from
// mistaking those NULLs for a common value.
var deferredIndexes = []struct{ name, table, cols, where string }{
	{"txs_hash", "txs", "chain, hash", ""},
	{"addresses_address", "addresses", "chain, address", ""}, // unique
	{"outputs_address", "outputs", "chain, address_id", "address_id IS NOT NULL"},
	{"inputs_prev", "inputs", "chain, prev_tx_id, prev_idx", "prev_tx_id IS NOT NULL"},
	{"inputs_address", "inputs", "chain, address_id", "address_id IS NOT NULL"},
	{"account_txs_hash", "account_txs", "chain, hash", ""},
	{"transfers_from", "transfers", "chain, from_id, id", "from_id IS NOT NULL"},
	{"transfers_to", "transfers", "chain, to_id, id", "to_id IS NOT NULL"},
	{"transfers_tx", "transfers", "chain, tx_id", "tx_id IS NOT NULL"},
}

func createIndexSQL(i int) string {
	ix := deferredIndexes[i]
	unique := ""
	if ix.name == "addresses_address" {
		unique = "UNIQUE "
	}
	q := fmt.Sprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)", unique, ix.name, ix.table, ix.cols)
	if ix.where != "" {
		q += " WHERE " + ix.where
	}
	return q
}

// EnsureIndexes creates the secondary indexes that bulk loading leaves out,
// then refreshes the planner's statistics. It is idempotent and cheap when
// the indexes exist.
func (db *DB) EnsureIndexes(ctx context.Context) error {
	ready, err := db.indexesReady(ctx)
	if err != nil || ready {
		return err
	}
	if err := createIndexes(ctx, db.x, db.log); err != nil {
		return err
	}
	// Fresh statistics, or the planners scan by primary key after a bulk
	// load (SQLite keeps none until ANALYZE).
	if _, err := db.x.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("analyze: %w", mapError(err))
	}
	return nil
}

// indexesReady reports whether every deferred index exists.
func (db *DB) indexesReady(ctx context.Context) (bool, error) {
	var n int
	var err error
	names := make([]any, len(deferredIndexes))
	marks := make([]string, len(deferredIndexes))
	for i, ix := range deferredIndexes {
		names[i], marks[i] = ix.name, fmt.Sprintf("$%d", i+1)
	}
	in := strings.Join(marks, ", ")
	if db.dialect == Postgres {
		err = db.x.GetContext(ctx, &n, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()
			AND indexname IN (`+in+`)`, names...)
	} else {
		err = db.x.GetContext(ctx, &n, `SELECT count(*) FROM sqlite_master WHERE type = 'index'
			AND name IN (`+in+`)`, names...)
	}
	if err != nil {
		return false, mapError(err)
	}
	return n == len(deferredIndexes), nil
}

// ensureIndexes creates the deferred indexes inside a transaction.
func (tx *Tx) ensureIndexes(ctx context.Context) error {
	return createIndexes(ctx, tx.x, tx.db.log)
}

func createIndexes(ctx context.Context, x sqlx.ExecerContext, log *slog.Logger) error {
	for i, ix := range deferredIndexes {
		start := time.Now()
		if _, err := x.ExecContext(ctx, createIndexSQL(i)); err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, mapError(err))
		}
		if d := time.Since(start); d > time.Second {
			log.Info("built index", "index", ix.name, "seconds", d.Seconds())
		}
	}
	return nil
}
