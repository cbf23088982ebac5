package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/metrics"
	"github.com/fundtrace/fundtrace/store"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type indexFlags struct {
	blocksDir     string
	from, to      int64
	workers       int
	batchTxs      int
	fetchBlocks   int
	follow        bool
	confirmations int64
	poll          time.Duration
	maxReorg      int64
	metricsListen string
	genesis       string
	src           sourceFlags
	net           *bitcoin.Network
}

func (a *app) indexCmd() *cobra.Command {
	var f indexFlags
	cmd := &cobra.Command{
		Use:   "index --chain CHAIN (--blocks-dir DIR | --rpc URL... | --esplora URL... | --sources FILE) [--follow]",
		Short: "Index blocks into the database (resumes where the last run stopped)",
		Long: `Index a chain into the database, from one of:

  --blocks-dir DIR   a Bitcoin Core blocks/ directory (blk*.dat in any order,
                     xor.dat obfuscation of Core 28+)
  --rpc URL          Bitcoin Core or btcd JSON-RPC (repeat for fail-over);
                     credentials from --rpc-cookie, FUNDTRACE_RPC_USER and
                     FUNDTRACE_RPC_PASSWORD, or user:password@ in the URL
  --esplora URL      an Esplora REST API (blockstream.info/api, mempool.space/api)

For Ethereum and other EVM chains (--chain eth, eth-sepolia, eth-holesky,
eth-hoodi, eth-dev, or one from --chains) give --rpc URLs of geth, erigon,
reth, nethermind or a provider. fundtrace reads blocks, receipts
(eth_getBlockReceipts, else per transaction) and call traces
(debug_traceBlockByNumber with callTracer, else trace_block; a node with
neither is indexed without internal transfers, and those blocks are
marked). The node's chain id must match --chain.
  --sources FILE     endpoints with their own credentials, headers and rates
                     (JSON; see docs/operations.md)

Endpoints are tried in order; when one fails the next takes over. With
--follow the indexer keeps following the tip, --confirmations blocks behind
it, until SIGINT or SIGTERM, which stop after the batch being committed.
Reorgs are unwound up to --max-reorg-depth blocks; a deeper one stops with
an error. A run that is interrupted or killed resumes where the last
committed batch ended.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chain, err := a.chainID()
			if err != nil {
				return err
			}
			var makeSource sourceMaker
			if isAccountChain(chain) {
				p, err := ethParams(chain, f.genesis)
				if err != nil {
					return err
				}
				if f.blocksDir != "" || len(f.src.esplora) > 0 {
					return badInput("index: %s is indexed from Ethereum JSON-RPC (--rpc or --sources)", chain)
				}
				makeSource = a.ethSources(p)
			} else {
				net, err := bitcoin.NetworkFor(chain)
				if err != nil {
					return badInput("%v", err)
				}
				if f.genesis != "" {
					return badInput("index: --genesis is for EVM chains")
				}
				makeSource = bitcoinSources(net)
				f.net = net
			}
			switch {
			case f.blocksDir == "" && !f.src.any():
				return badInput("index: give a source: --blocks-dir, --rpc, --esplora or --sources")
			case f.blocksDir != "" && f.src.any():
				return badInput("index: --blocks-dir and node endpoints exclude each other")
			case f.follow && f.to >= 0:
				return badInput("index: --follow has no last height; drop --to")
			}
			cfg := indexer.DefaultConfig(chain)
			cfg.From, cfg.To, cfg.Confirmations = f.from, f.to, f.confirmations
			cfg.MaxReorgDepth = f.maxReorg
			if f.poll > 0 {
				cfg.PollInterval = f.poll
				cfg.MaxRetryWait = max(cfg.MaxRetryWait, f.poll)
			}
			if f.workers > 0 {
				cfg.Workers = f.workers
			} else if f.src.any() {
				cfg.Workers = max(cfg.Workers, 4) // network-bound: overlap round trips
			}
			if f.batchTxs > 0 {
				cfg.BatchTxs = f.batchTxs
			}
			if f.fetchBlocks > 0 {
				cfg.FetchBlocks = f.fetchBlocks
			}
			if err := cfg.Validate(); err != nil {
				return badInput("%v", err)
			}
			if f.follow && !cmd.Flags().Changed("log-level") {
				a.setLogLevel(slog.LevelInfo)
			}
			ctx := cmd.Context()
			var mc *metrics.Chain
			var obs endpoint.Observer
			if f.metricsListen != "" {
				reg := metrics.New()
				addr, wait, err := reg.Serve(ctx, f.metricsListen, a.log)
				if err != nil {
					return badInput("--metrics-listen %s: %v", f.metricsListen, err)
				}
				defer wait()
				a.log.Info("serving metrics", "addr", "http://"+addr.String()+"/metrics")
				mc, obs = reg.Chain(string(chain)), reg
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			var src indexer.Source
			if f.blocksDir != "" {
				dir, err := bitcoin.OpenBlockDir(ctx, f.blocksDir, f.net, bitcoin.BlockDirOptions{Follow: f.follow})
				if err != nil {
					return err
				}
				defer dir.Close()
				src = dir
			} else {
				fo, err := a.openSources(ctx, &f.src, obs, makeSource)
				if err != nil {
					return err
				}
				src = fo
			}
			sum, err := a.runIndex(ctx, db, src, cfg, indexRun{follow: f.follow, metrics: mc})
			if err != nil {
				if hint := sourceErrorHint(err); hint != "" {
					err = fmt.Errorf("%w\n  hint: %s", err, hint)
				}
				return err
			}
			if a.format == "json" {
				return a.writeJSON(sum)
			}
			return nil
		},
	}
	a.addChainFlag(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.blocksDir, "blocks-dir", "", "Bitcoin Core blocks directory (blk*.dat)")
	fl.StringArrayVar(&f.src.rpc, "rpc", nil, "node JSON-RPC URL: Bitcoin Core / btcd, or an Ethereum node (repeat for fail-over)")
	fl.StringVar(&f.genesis, "genesis", "", "EVM chains: genesis.json whose alloc balances become block 0's transfers")
	fl.StringArrayVar(&f.src.esplora, "esplora", nil, "Esplora REST base URL (repeat for fail-over)")
	fl.StringVar(&f.src.cookieFile, "rpc-cookie", "", "Bitcoin Core .cookie file for --rpc endpoints")
	fl.StringArrayVar(&f.src.headers, "header", nil, "HTTP header \"Name: value\" for the --rpc/--esplora endpoints; ${ENV} is expanded")
	fl.Float64Var(&f.src.rate, "rate", 0, "requests per second per endpoint (default: none for --rpc, 10 for --esplora)")
	fl.DurationVar(&f.src.timeout, "timeout", 0, "per-request timeout (default 30s)")
	fl.StringVar(&f.src.file, "sources", "", "JSON file of endpoints with their own credentials, headers and rates")
	fl.BoolVar(&f.follow, "follow", false, "keep following the tip until SIGINT/SIGTERM")
	fl.Int64Var(&f.confirmations, "confirmations", 0, "stay this many blocks below the source's tip")
	fl.DurationVar(&f.poll, "poll", 0, "how often --follow asks for a new tip (default 1s)")
	fl.Int64Var(&f.maxReorg, "max-reorg-depth", indexer.DefaultConfig(chains.BTC).MaxReorgDepth, "deepest reorg unwound automatically")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9464)")
	fl.Int64Var(&f.from, "from", 0, "first height to index when the chain is empty")
	fl.Int64Var(&f.to, "to", -1, "last height to index (default: the source's tip)")
	fl.IntVar(&f.workers, "workers", 0, "blocks fetched and decoded in parallel (default: CPUs; at least 4 for node endpoints)")
	fl.IntVar(&f.batchTxs, "batch-txs", 0, "transactions per committed batch (default 20000)")
	fl.IntVar(&f.fetchBlocks, "fetch-blocks", 0, "blocks per batched RPC request (default 16)")
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

// indexRun says how runIndex runs the pipeline.
type indexRun struct {
	follow   bool
	resolver store.PrevoutResolver
	metrics  *metrics.Chain
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
	return a.runIndex(ctx, db, src, cfg, indexRun{resolver: resolver})
}

// runIndex indexes src into db once, or follows it.
func (a *app) runIndex(ctx context.Context, db *store.DB, src indexer.Source, cfg indexer.Config, r indexRun) (indexSummary, error) {
	var stages []indexer.Stage
	if isAccountChain(cfg.Chain) {
		stages = []indexer.Stage{indexer.NewAccountStage(db.NewAccountWriter(cfg.Chain, store.AccountWriterOptions{}))}
	} else {
		stages = []indexer.Stage{indexer.NewUTXOStage(db.NewUTXOWriter(cfg.Chain, store.UTXOWriterOptions{Resolver: r.resolver})),
			indexer.NewClusterStage(cfg.Chain)}
	}
	cfg.Logger = a.log
	bar := newProgress(a.stderr)
	cfg.OnProgress = bar.update
	if m := r.metrics; m != nil {
		cfg.OnProgress = func(ev indexer.Progress) {
			bar.update(ev)
			m.Committed(ev.Height, ev.BatchBlocks, ev.BatchTxs)
		}
		cfg.OnTip, cfg.OnReorg = m.Tip, m.Reorg
	}
	p, err := indexer.New(db, src, stages, cfg)
	if err != nil {
		return indexSummary{}, badInput("%v", err)
	}
	if r.follow {
		err := p.Follow(ctx)
		bar.finish()
		if errors.Is(err, context.Canceled) {
			st, serr := db.Status(context.WithoutCancel(ctx), cfg.Chain)
			if serr == nil && st.TipHeight != nil {
				fmt.Fprintf(a.stderr, "stopped following %s at height %d\n", cfg.Chain, *st.TipHeight)
			} else {
				fmt.Fprintf(a.stderr, "stopped following %s\n", cfg.Chain)
			}
			return indexSummary{Chain: cfg.Chain}, nil
		}
		return indexSummary{Chain: cfg.Chain}, err
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
		fmt.Fprintf(a.stderr, "reorg: unwound %d blocks\n", sum.Unwound)
	}
	return out, nil
}

// progress draws a bar on a terminal and nothing otherwise.
type progress struct {
	w             io.Writer
	bar           *progressbar.ProgressBar
	start, target int64
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
	if p.bar != nil && (ev.Start != p.start || ev.Target != p.target) {
		if ev.Start == p.start {
			p.bar.ChangeMax64(ev.Target - ev.Start + 1)
		} else {
			_ = p.bar.Finish()
			p.bar = nil
		}
	}
	p.start, p.target = ev.Start, ev.Target
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
