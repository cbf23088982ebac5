package store_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/fundtrace/fundtrace/store"
)

// TestConcurrentFirstOpen: several openers of one new SQLite file (an
// indexer starting while a query runs) all succeed; without the migration
// lock the later ones failed halfway with "duplicate column name".
func TestConcurrentFirstOpen(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "ft.db")
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() {
				db, err := store.Open(t.Context(), "sqlite:"+path, store.Options{})
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d opener %d: %v", round, i, err)
			}
		}
	}
}
