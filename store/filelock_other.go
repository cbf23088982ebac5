//go:build !unix

package store

import "context"

// lockFile does nothing where flock is missing: concurrent first opens of
// one SQLite file may then race to migrate it.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
