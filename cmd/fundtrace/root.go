package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // not found, unreachable database, failed run
	exitBadInput = 2 // malformed input or usage
)

// exitError carries an exit code with the one-line message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return &exitError{exitBadInput, fmt.Errorf(format, args...)}
}

// app holds what every command shares.
type app struct {
	dbURL      string
	format     string
	chain      string
	stdout     io.Writer
	stderr     io.Writer
	log        *slog.Logger
	level      slog.LevelVar
	logLvl     string
	chainsFile string
}

// setLogLevel changes the level of a.log.
func (a *app) setLogLevel(l slog.Level) { a.level.Set(l) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.Is(err, chains.ErrInvalidAddress), errors.Is(err, chains.ErrInvalidHash),
		errors.Is(err, chains.ErrUnknownChain), errors.Is(err, store.ErrBadURL), isUsage(err):
		code = exitBadInput
	}
	fmt.Fprintf(stderr, "fundtrace: %v\n", err)
	return code
}

// isUsage recognises cobra's flag and argument errors.
func isUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown flag") || strings.HasPrefix(s, "unknown shorthand") ||
		strings.HasPrefix(s, "unknown command") || strings.Contains(s, "arg(s)") ||
		strings.HasPrefix(s, "invalid argument") || strings.HasPrefix(s, "flag needs an argument") ||
		strings.HasPrefix(s, "required flag")
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "fundtrace",
		Short: "Index blockchains and follow the money",
		Long: `fundtrace indexes Bitcoin, Ethereum and other EVM chains into PostgreSQL or an
embedded SQLite file, and answers questions about blocks, transactions,
addresses and the value they moved.

Every command takes --db (or the FUNDTRACE_DB environment variable): a
postgres:// URL or sqlite:PATH. Without one, fundtrace keeps its data in an
embedded SQLite file in your data directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.format != "text" && a.format != "json" {
				return badInput("--format %q: want text or json", a.format)
			}
			if err := a.level.UnmarshalText([]byte(a.logLvl)); err != nil {
				return badInput("--log-level %q: want debug, info, warn or error", a.logLvl)
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: &a.level}))
			if a.chainsFile != "" {
				return loadChains(a.chainsFile)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&a.dbURL, "db", os.Getenv("FUNDTRACE_DB"),
		"database: postgres://USER@HOST:PORT/DB or sqlite:PATH (env FUNDTRACE_DB; default: an embedded SQLite file)")
	root.PersistentFlags().StringVar(&a.format, "format", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&a.logLvl, "log-level", "warn", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&a.chainsFile, "chains", os.Getenv("FUNDTRACE_CHAINS"),
		"JSON file of further EVM chains (id, chain_id, symbol, decimals, name; env FUNDTRACE_CHAINS)")
	root.AddCommand(a.indexCmd(), a.statusCmd(), a.blockCmd(), a.txCmd(), a.addressCmd(), a.clusterCmd(), a.demoCmd(), a.benchCmd(), a.migrateCmd())
	return root
}

// addChainFlag adds the --chain flag a command needs.
func (a *app) addChainFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.chain, "chain", "btc", fmt.Sprintf("chain id %v", chains.Known()))
}

func (a *app) chainID() (chains.ID, error) {
	id, err := chains.Parse(a.chain)
	if err != nil {
		return "", badInput("--chain: %v", err)
	}
	return id, nil
}

// defaultDBURL is the embedded database in the user's data directory.
func defaultDBURL() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no --db given and no home directory for the default database: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return "sqlite:" + filepath.Join(dir, "fundtrace", "fundtrace.db"), nil
}

func (a *app) openDB(ctx context.Context) (*store.DB, error) {
	u := a.dbURL
	if u == "" {
		var err error
		if u, err = defaultDBURL(); err != nil {
			return nil, err
		}
	}
	db, err := store.Open(ctx, u, store.Options{Logger: a.log})
	if err != nil {
		return nil, err
	}
	return db, nil
}

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations (index and serve also do this on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			fmt.Fprintf(a.stdout, "schema of %s is up to date (%s)\n", db, store.SchemaFingerprint())
			return nil
		},
	}
}
