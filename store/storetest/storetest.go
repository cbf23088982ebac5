// Package storetest runs store tests against every store implementation:
// an embedded SQLite file always, and PostgreSQL when
// FUNDTRACE_TEST_POSTGRES names a server (a postgres:// URL of a database
// the test may use to create others). With FUNDTRACE_TEST_REQUIRE_POSTGRES=1
// a missing or unreachable server fails the test instead of skipping it, so
// CI cannot pass without the Postgres tier.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/store"
)

// Env names the variables the harness reads.
const (
	EnvPostgres        = "FUNDTRACE_TEST_POSTGRES"
	EnvRequirePostgres = "FUNDTRACE_TEST_REQUIRE_POSTGRES"
)

// Backend opens a fresh, migrated, empty database for one test.
type Backend struct {
	Name string
	Open func(t testing.TB) *store.DB
}

// Backends returns every store implementation.
func Backends() []Backend {
	return []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// Run runs fn as a subtest against every backend.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

// SQLite opens a fresh database file in the test's temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "ft.db"), store.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL returns the server URL for tests, skipping (or failing, when
// required) if there is none.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s is required but not set", EnvPostgres)
		}
		t.Skipf("set %s to run the PostgreSQL tier", EnvPostgres)
	}
	return u
}

var (
	tmplMu   sync.Mutex
	tmplName string
)

// Postgres creates a database from a migrated template and drops it when
// the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := PostgresDatabase(t)
	db, err := store.Open(context.Background(), u, store.Options{})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDatabase creates an empty, migrated database for the test and
// returns its URL; it is dropped when the test ends.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := store.OpenAdmin(ctx, base)
	if err != nil {
		t.Fatalf("postgres tier: %v", err)
	}
	defer admin.Close()
	tmpl, err := template(ctx, admin, base)
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "ft_test_" + hex.EncodeToString(rnd[:])
	if err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a, err := store.OpenAdmin(ctx, base)
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer a.Close()
		if err := a.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return withDB(base, name)
}

// template returns the name of a migrated template database for the
// current schema, creating it once per schema (across processes: guarded by
// an advisory lock).
func template(ctx context.Context, admin *store.DB, base string) (string, error) {
	tmplMu.Lock()
	defer tmplMu.Unlock()
	if tmplName != "" {
		return tmplName, nil
	}
	name := "ft_tmpl_" + store.SchemaFingerprint()
	// Serialize creators: CREATE DATABASE cannot run inside a transaction,
	// so hold a session lock on a dedicated connection instead.
	unlock, err := admin.SessionLock(ctx, 7431)
	if err != nil {
		return "", err
	}
	defer unlock()
	exists, err := admin.DatabaseExists(ctx, name)
	if err != nil {
		return "", err
	}
	if !exists {
		build := name + "_build"
		_ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", build))
		if err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", build)); err != nil {
			return "", err
		}
		db, err := store.Open(ctx, withDB(base, build), store.Options{})
		if err != nil {
			return "", err
		}
		db.Close()
		if err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", build, name)); err != nil {
			return "", err
		}
		if err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH is_template = true ALLOW_CONNECTIONS = false", name)); err != nil {
			return "", err
		}
	}
	tmplName = name
	return name, nil
}

func withDB(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}
