package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/store"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type indexFlags struct {
	blocksDir string
	from, to  int64
	workers   int
	batchTxs  int
}

func (a *app) indexCmd() *cobra.Command {
	var f indexFlags
	cmd := &cobra.Command{
		Use:   "index --chain CHAIN --blocks-dir DIR",
		Short: "Index blocks into the database (resumes where the last run stopped)",
		Long: `Index a chain into the database. With --blocks-dir, read a Bitcoin Core
blocks/ directory (blk*.dat in any order, xor.dat obfuscation of Core 28+).
A run that is interrupted resumes where the last committed batch ended.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chain, err := a.chainID()
			if err != nil {
				return err
			}
			if f.blocksDir == "" {
				return badInput("index: --blocks-dir is required (node RPC sources come later)")
			}
			cfg := indexer.DefaultConfig(chain)
			cfg.From, cfg.To = f.from, f.to
			if f.workers > 0 {
				cfg.Workers = f.workers
			}
			if f.batchTxs > 0 {
				cfg.BatchTxs = f.batchTxs
			}
			if err := cfg.Validate(); err != nil {
				return badInput("%v", err)
			}
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			sum, err := a.indexBlockDir(cmd.Context(), db, f.blocksDir, cfg, nil)
			if err != nil {
				return err
			}
			if a.format == "json" {
				return a.writeJSON(sum)
			}
			return nil
		},
	}
	a.addChainFlag(cmd)
	cmd.Flags().StringVar(&f.blocksDir, "blocks-dir", "", "Bitcoin Core blocks directory (blk*.dat)")
	cmd.Flags().Int64Var(&f.from, "from", 0, "first height to index when the chain is empty")
	cmd.Flags().Int64Var(&f.to, "to", -1, "last height to index (default: the source's tip)")
	cmd.Flags().IntVar(&f.workers, "workers", 0, "blocks decoded in parallel (default: CPUs)")
	cmd.Flags().IntVar(&f.batchTxs, "batch-txs", 0, "transactions per committed batch (default 20000)")
	return cmd
}

// indexSummary is what index prints as JSON.
type indexSummary struct {
	Chain     chains.ID `json:"chain"`
	From      int64     `json:"from"`
	To        int64     `json:"to"`
	Blocks    int64     `json:"blocks"`
	Txs       int64     `json:"txs"`
	Unwound   int64     `json:"unwound"`
	Seconds   float64   `json:"seconds"`
	UpToDate  bool      `json:"up_to_date"`
	TxsPerSec int64     `json:"txs_per_second"`
}

// indexBlockDir indexes dir into db. resolver may be nil.
func (a *app) indexBlockDir(ctx context.Context, db *store.DB, dir string, cfg indexer.Config, resolver store.PrevoutResolver) (indexSummary, error) {
	net, err := bitcoin.NetworkFor(cfg.Chain)
	if err != nil {
		return indexSummary{}, badInput("%v", err)
	}
	src, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{})
	if err != nil {
		return indexSummary{}, err
	}
	defer src.Close()
	w := db.NewUTXOWriter(cfg.Chain, store.UTXOWriterOptions{Resolver: resolver})
	stages := []indexer.Stage{indexer.NewUTXOStage(w)}
	cfg.Logger = a.log
	bar := newProgress(a.stderr)
	cfg.OnProgress = bar.update
	p, err := indexer.New(db, src, stages, cfg)
	if err != nil {
		return indexSummary{}, badInput("%v", err)
	}
	sum, err := p.Run(ctx)
	bar.finish()
	out := indexSummary{Chain: cfg.Chain, From: sum.Start, To: sum.Height, Blocks: sum.Blocks, Txs: sum.Txs,
		Unwound: sum.Unwound, Seconds: sum.Elapsed.Seconds(), UpToDate: sum.UpToDate}
	if s := sum.Elapsed.Seconds(); s > 0 {
		out.TxsPerSec = int64(float64(sum.Txs) / s)
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(a.stderr, "interrupted: %s indexed up to height %d; run the same command to continue\n", cfg.Chain, sum.Height)
		return out, &exitError{exitFailure, errors.New("interrupted")}
	}
	if err != nil {
		return out, err
	}
	switch {
	case sum.UpToDate:
		fmt.Fprintf(a.stderr, "%s is up to date at height %d\n", cfg.Chain, sum.Height)
	default:
		fmt.Fprintf(a.stderr, "indexed %s blocks %d..%d: %d blocks, %d txs in %s (%d tx/s)\n",
			cfg.Chain, sum.Start, sum.Height, sum.Blocks, sum.Txs, sum.Elapsed.Round(time.Millisecond), out.TxsPerSec)
	}
	if sum.Unwound > 0 {
		fmt.Fprintf(a.stderr, "reorg: unwound %d blocks first\n", sum.Unwound)
	}
	return out, nil
}

// progress draws a bar on a terminal and nothing otherwise.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		p.w = nil
	}
	return p
}

func (p *progress) update(ev indexer.Progress) {
	if p.w == nil {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(ev.Target-ev.Start+1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("indexing %s", ev.Chain)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("blocks"),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	rate := float64(ev.Txs) / max(ev.Elapsed.Seconds(), 0.001)
	p.bar.Describe(fmt.Sprintf("indexing %s at %d (%.0f tx/s)", ev.Chain, ev.Height, rate))
	_ = p.bar.Set64(ev.Height - ev.Start + 1)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
