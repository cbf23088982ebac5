package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/synth"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/store"
	"github.com/spf13/cobra"
)

func (a *app) benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure performance against in-run baselines"}
	cmd.AddCommand(a.benchIngestCmd(), a.benchRPCCmd(), a.benchEthCmd(), a.benchClusterCmd())
	return cmd
}

type ingestReport struct {
	Txs              int64   `json:"txs"`
	Blocks           int64   `json:"blocks"`
	Rows             int64   `json:"rows"`
	GenerateSeconds  float64 `json:"generate_seconds"`
	IngestSeconds    float64 `json:"ingest_seconds"`
	IndexSeconds     float64 `json:"index_build_seconds"`
	IngestTxsPerSec  float64 `json:"ingest_txs_per_second"`
	IngestRowsPerSec float64 `json:"ingest_rows_per_second"`
	CopySeconds      float64 `json:"raw_copy_seconds"`
	CopyRowsPerSec   float64 `json:"raw_copy_rows_per_second"`
	Ratio            float64 `json:"ratio_ingest_to_raw_copy"`
	PeakRSSMiB       int64   `json:"peak_rss_mib"`
	Workers          int     `json:"workers"`
	CPUs             int     `json:"cpus"`
}

func (a *app) benchIngestCmd() *cobra.Command {
	cfg := synth.DefaultConfig()
	var keep bool
	var dir, cpuProfile string
	cmd := &cobra.Command{
		Use:   "ingest --db postgres://...",
		Short: "Index a generated 1M-transaction chain into PostgreSQL and compare with a raw COPY of the same rows",
		Long: `bench ingest generates a deterministic regtest chain as blk files (modern script
mix, multi-input spends, ~2,000 transactions per block), indexes it into a new
PostgreSQL database, then copies the very same rows into the empty tables of a
second new database with COPY alone, and prints both rates and their ratio.
Both databases are created on the server named by --db and dropped afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !strings.HasPrefix(a.dbURL, "postgres") {
				return badInput("bench ingest needs --db postgres://... (a server where it may create databases)")
			}
			if err := cfg.Validate(); err != nil {
				return badInput("%v", err)
			}
			var rep ingestReport
			rep.CPUs, rep.Workers = runtime.NumCPU(), runtime.GOMAXPROCS(0)

			if dir == "" {
				d, err := os.MkdirTemp("", "fundtrace-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			if _, err := os.Stat(dir + "/" + synth.BlockFileName(0)); err != nil {
				fmt.Fprintf(a.stderr, "generating %d blocks (%d txs) into %s\n", cfg.Blocks+1, cfg.TotalTxs(), dir)
				start := time.Now()
				if _, err := synth.WriteBlockDir(ctx, dir, cfg); err != nil {
					return err
				}
				rep.GenerateSeconds = time.Since(start).Seconds()
			}

			ingestURL, copyURL, cleanup, err := benchDatabases(ctx, a.dbURL, keep)
			if err != nil {
				return err
			}
			defer cleanup()

			db, err := store.Open(ctx, ingestURL, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer db.Close()
			net, _ := bitcoin.NetworkFor(chains.BTCRegtest)
			src, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{})
			if err != nil {
				return err
			}
			defer src.Close()
			icfg := indexer.DefaultConfig(chains.BTCRegtest)
			icfg.Logger = a.log
			var loaded time.Duration
			bar := newProgress(a.stderr)
			icfg.OnProgress = func(p indexer.Progress) { loaded = p.Elapsed; bar.update(p) }
			p, err := indexer.New(db, src, []indexer.Stage{indexer.NewUTXOStage(db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{}))}, icfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "indexing into %s\n", db)
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			sum, err := p.Run(ctx)
			stopProfile()
			bar.finish()
			if err != nil {
				return err
			}
			rep.PeakRSSMiB = peakRSSMiB()
			rep.IngestSeconds, rep.IndexSeconds = loaded.Seconds(), (sum.Elapsed - loaded).Seconds()
			st, err := db.Status(ctx, chains.BTCRegtest)
			if err != nil {
				return err
			}
			rep.Txs, rep.Blocks = st.Txs, st.Blocks
			rep.Rows = st.Blocks + st.Txs + st.Inputs + st.Outputs + st.Addresses

			cdb, err := store.Open(ctx, copyURL, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer cdb.Close()
			fmt.Fprintf(a.stderr, "raw COPY of the same %d rows into %s\n", rep.Rows, cdb)
			cs, err := store.RawCopy(ctx, db, cdb, chains.BTCRegtest)
			if err != nil {
				return err
			}
			if cs.Rows != rep.Rows {
				return fmt.Errorf("bench: raw copy moved %d rows, ingest wrote %d", cs.Rows, rep.Rows)
			}
			rep.CopySeconds = cs.Duration.Seconds()
			rep.IngestTxsPerSec = float64(rep.Txs) / rep.IngestSeconds
			rep.IngestRowsPerSec = float64(rep.Rows) / rep.IngestSeconds
			rep.CopyRowsPerSec = float64(rep.Rows) / rep.CopySeconds
			rep.Ratio = rep.IngestRowsPerSec / rep.CopyRowsPerSec

			if a.format == "json" {
				return a.writeJSON(rep)
			}
			fmt.Fprintf(a.stdout, "bench ingest: %d txs, %d blocks, %d rows (%d CPUs)\n", rep.Txs, rep.Blocks, rep.Rows, rep.CPUs)
			if rep.GenerateSeconds > 0 {
				fmt.Fprintf(a.stdout, "  generate blk files   %8.1f s\n", rep.GenerateSeconds)
			}
			fmt.Fprintf(a.stdout, "  ingest (blk -> pg)   %8.1f s  %9.0f txs/s  %9.0f rows/s\n", rep.IngestSeconds, rep.IngestTxsPerSec, rep.IngestRowsPerSec)
			fmt.Fprintf(a.stdout, "  raw COPY (same rows) %8.1f s  %9s        %9.0f rows/s\n", rep.CopySeconds, "", rep.CopyRowsPerSec)
			fmt.Fprintf(a.stdout, "  ratio ingest/raw COPY  %.2f  (goal >= 0.60)\n", rep.Ratio)
			fmt.Fprintf(a.stdout, "  deferred index build %8.1f s (after the load, not in the ratio)\n", rep.IndexSeconds)
			fmt.Fprintf(a.stdout, "  peak RSS of fundtrace %d MiB\n", rep.PeakRSSMiB)
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.Blocks, "blocks", cfg.Blocks, "tip height of the generated chain")
	cmd.Flags().IntVar(&cfg.TxsPerBlock, "txs-per-block", cfg.TxsPerBlock, "transactions per full block")
	cmd.Flags().Int64Var(&cfg.Seed, "seed", cfg.Seed, "generator seed")
	cmd.Flags().StringVar(&dir, "blocks-dir", "", "reuse (or create) generated blk files here instead of a temp dir")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the two bench databases")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the ingest phase to this file")
	return cmd
}

// benchDatabases creates two empty databases next to base.
func benchDatabases(ctx context.Context, base string, keep bool) (string, string, func(), error) {
	admin, err := store.OpenAdmin(ctx, base)
	if err != nil {
		return "", "", nil, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	names := []string{"ft_bench_ingest_" + suffix, "ft_bench_copy_" + suffix}
	for _, n := range names {
		if err := admin.Exec(ctx, "CREATE DATABASE "+n); err != nil {
			admin.Close()
			return "", "", nil, fmt.Errorf("bench: create database %s: %w", n, err)
		}
	}
	urlFor := func(name string) string {
		u, _ := url.Parse(base)
		u.Path = "/" + name
		return u.String()
	}
	cleanup := func() {
		defer admin.Close()
		if keep {
			return
		}
		for _, n := range names {
			_ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
		}
	}
	return urlFor(names[0]), urlFor(names[1]), cleanup, nil
}

// startCPUProfile profiles the CPU into path until stop is called; with
// an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// peakRSSMiB reads the process's peak resident set size (Linux).
func peakRSSMiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb / 1024
		}
	}
	return -1
}
