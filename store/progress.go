package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/jmoiron/sqlx"
)

// chainKey returns the small integer that stands for chain in every table,
// registering the chain on first use.
// Inside a transaction pass the transaction as q: SQLite has one connection.
func (db *DB) chainKey(ctx context.Context, q sqlx.ExtContext, chain chains.ID) (int16, error) {
	db.mu.Lock()
	k, ok := db.chainKeys[string(chain)]
	db.mu.Unlock()
	if ok {
		return k, nil
	}
	const sel = `SELECT id FROM chains WHERE name = $1`
	err := sqlx.GetContext(ctx, q, &k, sel, string(chain))
	if errors.Is(err, sql.ErrNoRows) {
		// Register: the next free key. Two racing writers conflict on the
		// unique name; the loser reads the winner's key.
		_, err = q.ExecContext(ctx,
			`INSERT INTO chains (id, name) SELECT COALESCE(MAX(id), 0) + 1, $1 FROM chains WHERE true
			 ON CONFLICT DO NOTHING`, string(chain))
		if err == nil {
			err = sqlx.GetContext(ctx, q, &k, sel, string(chain))
		}
		if err == nil {
			_, err = q.ExecContext(ctx, `INSERT INTO chain_stats (chain) VALUES ($1) ON CONFLICT DO NOTHING`, k)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("register chain %s: %w", chain, mapError(err))
	}
	db.mu.Lock()
	db.chainKeys[string(chain)] = k
	db.mu.Unlock()
	return k, nil
}

// lookupChainKey is chainKey for readers: an unregistered chain is
// ErrNotFound rather than a write.
func (db *DB) lookupChainKey(ctx context.Context, chain chains.ID) (int16, error) {
	return db.lookupChainKeyQ(ctx, db.x, chain)
}

func (db *DB) lookupChainKeyQ(ctx context.Context, q sqlx.QueryerContext, chain chains.ID) (int16, error) {
	db.mu.Lock()
	k, ok := db.chainKeys[string(chain)]
	db.mu.Unlock()
	if ok {
		return k, nil
	}
	err := sqlx.GetContext(ctx, q, &k, `SELECT id FROM chains WHERE name = $1`, string(chain))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: chain %s has not been indexed in %s", ErrNotFound, chain, db.where)
	}
	if err != nil {
		return 0, mapError(err)
	}
	db.mu.Lock()
	db.chainKeys[string(chain)] = k
	db.mu.Unlock()
	return k, nil
}

// Progress returns the last height a stage has completed for a chain; ok is
// false when the stage has not run yet.
func (db *DB) Progress(ctx context.Context, chain chains.ID, stage string) (height int64, ok bool, err error) {
	return progress(ctx, db.x, db, chain, stage)
}

// Progress is DB.Progress inside the transaction.
func (tx *Tx) Progress(ctx context.Context, chain chains.ID, stage string) (int64, bool, error) {
	return progress(ctx, tx.x, tx.db, chain, stage)
}

func progress(ctx context.Context, q sqlx.QueryerContext, db *DB, chain chains.ID, stage string) (int64, bool, error) {
	k, err := db.lookupChainKeyQ(ctx, q, chain)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var h int64
	err = sqlx.GetContext(ctx, q, &h, `SELECT height FROM stage_progress WHERE chain = $1 AND stage = $2`, k, stage)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read progress of %s/%s: %w", chain, stage, mapError(err))
	}
	return h, true, nil
}

// SetProgress records that a stage has completed every height up to and
// including height. Call it in the transaction that wrote the stage's output.
func (tx *Tx) SetProgress(ctx context.Context, chain chains.ID, stage string, height int64) error {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return err
	}
	_, err = tx.x.ExecContext(ctx, `INSERT INTO stage_progress (chain, stage, height) VALUES ($1, $2, $3)
		ON CONFLICT (chain, stage) DO UPDATE SET height = excluded.height`, k, stage, height)
	if err != nil {
		return fmt.Errorf("save progress of %s/%s at %d: %w", chain, stage, height, mapError(err))
	}
	return nil
}

// ClearProgress forgets a stage's progress (after unwinding to before the
// chain's first indexed block).
func (tx *Tx) ClearProgress(ctx context.Context, chain chains.ID, stage string) error {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return err
	}
	_, err = tx.x.ExecContext(ctx, `DELETE FROM stage_progress WHERE chain = $1 AND stage = $2`, k, stage)
	return mapError(err)
}

// StoredBlockHash returns the hash of the indexed block at height.
func (db *DB) StoredBlockHash(ctx context.Context, chain chains.ID, height int64) (chains.Hash, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return chains.Hash{}, err
	}
	var b []byte
	err = db.x.GetContext(ctx, &b, `SELECT hash FROM blocks WHERE chain = $1 AND height = $2`, k, height)
	if errors.Is(err, sql.ErrNoRows) {
		return chains.Hash{}, fmt.Errorf("%w: %s block %d", ErrNotFound, chain, height)
	}
	if err != nil {
		return chains.Hash{}, mapError(err)
	}
	return chains.HashFromBytes(b)
}

// storedTip returns the height and hash of the highest stored block of
// chain key k, or -1 when it has none.
func storedTip(ctx context.Context, q sqlx.QueryerContext, k int16) (int64, chains.Hash, error) {
	var tip struct {
		Height int64  `db:"height"`
		Hash   []byte `db:"hash"`
	}
	err := sqlx.GetContext(ctx, q, &tip, `SELECT height, hash FROM blocks WHERE chain = $1 ORDER BY height DESC LIMIT 1`, k)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return -1, chains.Hash{}, nil
	case err != nil:
		return 0, chains.Hash{}, mapError(err)
	}
	var h chains.Hash
	copy(h[:], tip.Hash)
	return tip.Height, h, nil
}
