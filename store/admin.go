package store

import (
	"context"
	"fmt"
)

// SessionLock takes a PostgreSQL advisory lock on a dedicated connection and
// returns the function that releases it. Harnesses use it to serialize work
// that cannot run inside a transaction, such as CREATE DATABASE.
func (db *DB) SessionLock(ctx context.Context, key int64) (func(), error) {
	if db.dialect != Postgres {
		return func() {}, nil
	}
	conn, err := db.x.Connx(ctx)
	if err != nil {
		return nil, mapError(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("advisory lock %d: %w", key, mapError(err))
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}

// DatabaseExists reports whether a PostgreSQL database of that name exists.
func (db *DB) DatabaseExists(ctx context.Context, name string) (bool, error) {
	var n int
	if err := db.x.GetContext(ctx, &n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil {
		return false, mapError(err)
	}
	return n > 0, nil
}
