package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

//go:embed migrations
var migrations embed.FS

// Options configure Open.
type Options struct {
	// Logger receives store events; nil discards them.
	Logger *slog.Logger
	// ConnectTimeout bounds the first connection; zero means 10 s.
	ConnectTimeout time.Duration
}

// DB is an open fundtrace database. It is safe for concurrent use.
type DB struct {
	x       *sqlx.DB
	dialect Dialect
	log     *slog.Logger
	where   string // the database, for messages; never contains a password
	path    string // SQLite: the database file

	mu        sync.Mutex
	chainKeys map[string]int16
}

var bindOnce sync.Once

// Open connects to the database named by rawURL and applies any pending
// migrations. rawURL is a postgres:// (or postgresql://) URL, or
// "sqlite:PATH" for an embedded database file, created if missing.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	bindOnce.Do(func() { sqlx.BindDriver("sqlite", sqlx.DOLLAR) })

	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//"))
	default:
		return nil, fmt.Errorf("%w %q: want postgres://USER@HOST:PORT/DB or sqlite:PATH", ErrBadURL, Redact(rawURL))
	}
	if err != nil {
		return nil, err
	}
	db.log = log
	db.chainKeys = make(map[string]int16)

	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if db.dialect == SQLite {
		// Processes opening one new file at once would each switch it to
		// WAL (SQLITE_BUSY) and apply the migrations (goose locks
		// sessions on PostgreSQL only; the second fails halfway with
		// "duplicate column"). A lock file beside the database
		// serialises the first connection and the migrations.
		unlock, err := lockFile(pctx, db.path+".lock")
		if err != nil {
			db.x.Close()
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		defer unlock()
	}
	if err := db.x.PingContext(pctx); err != nil {
		db.x.Close()
		return nil, fmt.Errorf("%w: cannot connect to %s: %v", ErrUnavailable, db.where, unwrapDriver(err))
	}
	if err := db.migrate(ctx); err != nil {
		db.x.Close()
		return nil, fmt.Errorf("migrate %s: %w", db.where, err)
	}
	return db, nil
}

func openPostgres(rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(rawURL), err)
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		// lib/pq defaults to sslmode=require, which a local server without
		// TLS refuses; prefer TLS when the server offers it.
		q.Set("sslmode", "prefer")
		u.RawQuery = q.Encode()
	}
	conn, err := pq.NewConnector(u.String())
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(rawURL), err)
	}
	sdb := sql.OpenDB(conn)
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(4)
	where := "postgres at " + u.Host + u.Path
	if u.Host == "" {
		where = "postgres " + u.Path
	}
	return &DB{x: sqlx.NewDb(sdb, "postgres"), dialect: Postgres, where: where}, nil
}

func openSQLite(path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite: needs a file path, e.g. sqlite:/var/lib/fundtrace/ft.db", ErrBadURL)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("%w: create directory for %s: %v", ErrUnavailable, path, err)
		}
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate"
	sdb := sql.OpenDB(sqliteConnector{dsn: dsn})
	// One connection: SQLite allows one writer, and a single connection
	// rules out SQLITE_BUSY between our own goroutines.
	sdb.SetMaxOpenConns(1)
	return &DB{x: sqlx.NewDb(sdb, "sqlite"), dialect: SQLite, where: "sqlite " + path, path: path}, nil
}

// Close releases the database.
func (db *DB) Close() error { return db.x.Close() }

// Dialect reports the SQL engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// String names the database without credentials.
func (db *DB) String() string { return db.where }

func (db *DB) migrate(ctx context.Context) error {
	dir := "migrations/postgres"
	dialect := goose.DialectPostgres
	var popts []goose.ProviderOption
	if db.dialect == SQLite {
		dir, dialect = "migrations/sqlite", goose.DialectSQLite3
	} else {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		popts = append(popts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db.x.DB, sub, popts...)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return mapError(err)
	}
	for _, r := range res {
		db.log.Info("applied migration", "version", r.Source.Version, "db", db.where)
	}
	return nil
}

// Tx is a database transaction opened by InTx.
type Tx struct {
	x          *sqlx.Tx
	db         *DB
	onRollback []func()
}

// OnRollback registers fn to run if the transaction does not commit, so
// in-memory caches can forget what they learned inside it.
func (tx *Tx) OnRollback(fn func()) { tx.onRollback = append(tx.onRollback, fn) }

// InTx runs fn in a transaction and commits it when fn returns nil. Nothing
// fn wrote survives an error or a panic.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) (err error) {
	x, err := db.x.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapError(err))
	}
	tx := &Tx{x: x, db: db}
	committed := false
	defer func() {
		if committed {
			return
		}
		_ = x.Rollback()
		for _, f := range tx.onRollback {
			f()
		}
		if p := recover(); p != nil {
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := x.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapError(err))
	}
	committed = true
	return nil
}

// Redact removes a password from a database URL for messages and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// unwrapDriver shortens a driver error to its message.
func unwrapDriver(err error) string {
	if e, ok := err.(*pq.Error); ok {
		return e.Message
	}
	if e, ok := err.(*sqlite.Error); ok {
		return e.Error()
	}
	return err.Error()
}

// SchemaFingerprint identifies the embedded migrations, so test harnesses
// can cache a migrated template database per schema.
func SchemaFingerprint() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Exec runs an administrative statement (CREATE DATABASE and the like) for
// test harnesses and operations tooling. It is not for data access.
func (db *DB) Exec(ctx context.Context, stmt string, args ...any) error {
	_, err := db.x.ExecContext(ctx, stmt, args...)
	return mapError(err)
}

// OpenAdmin connects to a PostgreSQL server without applying migrations,
// for creating and dropping databases.
func OpenAdmin(ctx context.Context, rawURL string) (*DB, error) {
	db, err := openPostgres(rawURL)
	if err != nil {
		return nil, err
	}
	db.log = slog.New(slog.DiscardHandler)
	if err := db.x.PingContext(ctx); err != nil {
		db.x.Close()
		return nil, fmt.Errorf("%w: cannot connect to %s: %v", ErrUnavailable, db.where, unwrapDriver(err))
	}
	return db, nil
}
