package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/internal/devnet"
	"github.com/fundtrace/fundtrace/store"
)

type rpcReport struct {
	Node            string  `json:"node"`
	Blocks          int64   `json:"blocks"`
	Txs             int64   `json:"txs"`
	PopulateSeconds float64 `json:"populate_seconds,omitempty"`
	FetchSeconds    float64 `json:"fetch_raw_seconds"`
	FetchSeconds2   float64 `json:"fetch_raw_seconds_again"`
	IndexSeconds    float64 `json:"index_seconds"`
	IndexTxsPerSec  float64 `json:"index_txs_per_second"`
	IndexBuildSecs  float64 `json:"index_build_seconds"`
	Ratio           float64 `json:"ratio_index_to_fetch"`
	MemorySeconds   float64 `json:"index_from_memory_seconds"`
	RatioMemory     float64 `json:"ratio_index_to_index_from_memory"`
	Workers         int     `json:"workers"`
	FetchBlocks     int     `json:"fetch_blocks"`
	BatchTxs        int     `json:"batch_txs"`
	CPUs            int     `json:"cpus"`

	FollowBlocks      int     `json:"follow_blocks"`
	FollowTxs         int64   `json:"follow_txs"`
	FollowSeconds     float64 `json:"follow_seconds"`
	FollowTxsPerSec   float64 `json:"follow_txs_per_second"`
	FollowLagMedianMs float64 `json:"follow_lag_median_ms"`
	FollowLagMaxMs    float64 `json:"follow_lag_max_ms"`
}

func (a *app) benchRPCCmd() *cobra.Command {
	var (
		rpcURL, cpuProfile      string
		txs, txsPerBlock        int
		followBlocks, followTxs int
		workers, fetchBlocks    int
		batchTxs                int
		keep                    bool
	)
	cmd := &cobra.Command{
		Use:   "rpc --db postgres://... [--rpc URL]",
		Short: "Index a btcd node's chain over JSON-RPC and compare with merely fetching its raw blocks",
		Long: `bench rpc measures the indexer against its source. Without --rpc it starts a
btcd regtest node (built from the Go module proxy by internal/devnet) and fills
it with --txs real signed transactions. It then times:

  fetch   the raw blocks 0..tip over JSON-RPC, with the indexer's batching and
          parallelism, decoding nothing (the baseline; run before and after)
  index   the same blocks into a new PostgreSQL database through the pipeline
  follow  --follow-blocks new blocks of --follow-txs transactions each, mined
          one after another while the indexer follows: the time from a block
          being mined to its commit (lag), and the indexing rate

and prints index/fetch (goal: at most 1.2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if a.dbURL == "" || a.dbURL[:min(len(a.dbURL), 8)] != "postgres" {
				return badInput("bench rpc needs --db postgres://... (a server where it may create a database)")
			}
			icfg := a.nodeBenchConfig(chains.BTCRegtest, workers, fetchBlocks, batchTxs)
			rep := rpcReport{CPUs: runtime.NumCPU(), Workers: icfg.Workers, FetchBlocks: icfg.FetchBlocks, BatchTxs: icfg.BatchTxs}
			icfg.PollInterval = 20 * time.Millisecond

			var (
				n      *devnet.Btcd
				wallet *devnet.Wallet
				cfg    endpoint.Config
			)
			net, err := bitcoin.NetworkFor(chains.BTCRegtest)
			if err != nil {
				return err
			}
			if rpcURL == "" {
				wallet = devnet.NewWallet(net.Params(), "fundtrace-bench")
				fmt.Fprintf(a.stderr, "starting btcd regtest\n")
				n, err = devnet.StartBtcd(ctx, devnet.BtcdOptions{MiningAddr: wallet.MiningAddress(), Logger: a.log})
				if err != nil {
					return err
				}
				defer n.Stop()
				fmt.Fprintf(a.stderr, "making %d transactions, %d per block\n", txs, txsPerBlock)
				start := time.Now()
				if _, err := wallet.Populate(ctx, n, devnet.Plan{Txs: txs, TxsPerBlock: txsPerBlock, Seed: 1}); err != nil {
					return err
				}
				rep.PopulateSeconds = time.Since(start).Seconds()
				cfg = endpoint.DefaultConfig(n.RPCURL())
				cfg.User, cfg.Password = n.User(), n.Password()
				rep.Node = "btcd (devnet)"
			} else {
				cfg = endpoint.DefaultConfig(rpcURL)
				cfg.User, cfg.Password = os.Getenv("FUNDTRACE_RPC_USER"), os.Getenv("FUNDTRACE_RPC_PASSWORD")
				rep.Node = endpoint.Redact(rpcURL)
				followBlocks = 0 // we cannot mine on someone else's node
			}
			ep, err := endpoint.New(cfg, endpoint.Options{Logger: a.log})
			if err != nil {
				return err
			}
			client := bitcoin.NewClient(ep, net)
			if err := client.Check(ctx); err != nil {
				return err
			}
			tip, _, err := client.Tip(ctx)
			if err != nil {
				return err
			}
			rep.Blocks = tip + 1

			fmt.Fprintf(a.stderr, "fetching raw blocks 0..%d\n", tip)
			d, err := fetchRaw(ctx, client, tip, rep.Workers, rep.FetchBlocks)
			if err != nil {
				return err
			}
			rep.FetchSeconds = d.Seconds()

			url, memURL, cleanup, err := benchDatabases(ctx, a.dbURL, keep)
			if err != nil {
				return err
			}
			defer cleanup()
			db, err := store.Open(ctx, url, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer db.Close()
			fmt.Fprintf(a.stderr, "indexing into %s\n", db)
			var mu sync.Mutex
			committed := map[int64]time.Time{}
			var loaded time.Duration
			icfg.OnProgress = func(p indexer.Progress) {
				mu.Lock()
				committed[p.Height] = time.Now()
				loaded = p.Elapsed
				mu.Unlock()
			}
			icfg.To = tip
			p, err := indexer.New(db, client, []indexer.Stage{indexer.NewUTXOStage(db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{}))}, icfg)
			if err != nil {
				return err
			}
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			sum, err := p.Run(ctx)
			stopProfile()
			if err != nil {
				return err
			}
			rep.IndexSeconds, rep.IndexBuildSecs = loaded.Seconds(), (sum.Elapsed - loaded).Seconds()
			rep.Txs = sum.Txs
			rep.IndexTxsPerSec = float64(sum.Txs) / rep.IndexSeconds

			fmt.Fprintf(a.stderr, "fetching raw blocks again\n")
			d, err = fetchRaw(ctx, client, tip, rep.Workers, rep.FetchBlocks)
			if err != nil {
				return err
			}
			rep.FetchSeconds2 = d.Seconds()
			rep.Ratio = rep.IndexSeconds / min(rep.FetchSeconds, rep.FetchSeconds2)

			// The second baseline: the same blocks, decoded in memory
			// beforehand, indexed into a second new database. What the
			// pipeline costs above this is what the RPC source costs.
			fmt.Fprintf(a.stderr, "indexing the same blocks from memory\n")
			mem, err := loadBlocks(ctx, client, tip)
			if err != nil {
				return err
			}
			mdb, err := store.Open(ctx, memURL, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer mdb.Close()
			mcfg := icfg
			mcfg.OnProgress = func(p indexer.Progress) { loaded = p.Elapsed }
			mp, err := indexer.New(mdb, mem, []indexer.Stage{indexer.NewUTXOStage(mdb.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{}))}, mcfg)
			if err != nil {
				return err
			}
			if _, err := mp.Run(ctx); err != nil {
				return err
			}
			rep.MemorySeconds = loaded.Seconds()
			rep.RatioMemory = rep.IndexSeconds / rep.MemorySeconds

			if followBlocks > 0 {
				fmt.Fprintf(a.stderr, "following %d new blocks of %d txs\n", followBlocks, followTxs)
				icfg.To = -1
				icfg.OnProgress = func(p indexer.Progress) {
					mu.Lock()
					committed[p.Height] = time.Now()
					mu.Unlock()
				}
				fp, err := indexer.New(db, client, []indexer.Stage{indexer.NewUTXOStage(db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{}))}, icfg)
				if err != nil {
					return err
				}
				fctx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- fp.Follow(fctx) }()
				mined := map[int64]time.Time{}
				start := time.Now()
				for i := range followBlocks {
					if _, err := wallet.Populate(ctx, n, devnet.Plan{Txs: followTxs, TxsPerBlock: followTxs, Seed: uint64(100 + i)}); err != nil {
						stop()
						return err
					}
					h, _, err := client.Tip(ctx)
					if err != nil {
						stop()
						return err
					}
					mined[h] = time.Now()
				}
				last := slices.Max(keys(mined))
				for {
					mu.Lock()
					_, ok := committed[last]
					mu.Unlock()
					if ok {
						break
					}
					select {
					case err := <-done:
						stop()
						return fmt.Errorf("follower stopped: %w", err)
					case <-time.After(10 * time.Millisecond):
					}
				}
				stop()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				var lags []time.Duration
				mu.Lock()
				for h, t := range mined {
					// A block is committed with the batch that holds it: the
					// first commit at or above its height.
					c := time.Time{}
					for ch, ct := range committed {
						if ch >= h && (c.IsZero() || ct.Before(c)) {
							c = ct
						}
					}
					lags = append(lags, c.Sub(t))
				}
				mu.Unlock()
				slices.Sort(lags)
				rep.FollowBlocks = followBlocks
				rep.FollowTxs = int64(followBlocks * followTxs)
				rep.FollowSeconds = time.Since(start).Seconds()
				rep.FollowTxsPerSec = float64(rep.FollowTxs) / rep.FollowSeconds
				rep.FollowLagMedianMs = float64(lags[len(lags)/2].Microseconds()) / 1000
				rep.FollowLagMaxMs = float64(lags[len(lags)-1].Microseconds()) / 1000
			}

			if a.format == "json" {
				return a.writeJSON(rep)
			}
			fmt.Fprintf(a.stdout, "bench rpc: %s, %d blocks, %d txs, %d workers x %d blocks per request, batches of %d txs (%d CPUs)\n",
				rep.Node, rep.Blocks, rep.Txs, rep.Workers, rep.FetchBlocks, rep.BatchTxs, rep.CPUs)
			if rep.PopulateSeconds > 0 {
				fmt.Fprintf(a.stdout, "  make txs on the node      %8.1f s\n", rep.PopulateSeconds)
			}
			fmt.Fprintf(a.stdout, "  fetch raw blocks          %8.2f s, again %.2f s\n", rep.FetchSeconds, rep.FetchSeconds2)
			fmt.Fprintf(a.stdout, "  index (rpc -> pg)         %8.2f s  %9.0f txs/s\n", rep.IndexSeconds, rep.IndexTxsPerSec)
			fmt.Fprintf(a.stdout, "  ratio index/fetch           %.2f  (goal <= 1.2)\n", rep.Ratio)
			fmt.Fprintf(a.stdout, "  index from memory (no rpc) %7.2f s  ratio index/this %.2f\n", rep.MemorySeconds, rep.RatioMemory)
			fmt.Fprintf(a.stdout, "  deferred index build      %8.2f s (after the load, not in the ratios)\n", rep.IndexBuildSecs)
			if rep.FollowBlocks > 0 {
				fmt.Fprintf(a.stdout, "  follow: %d blocks, %d txs mined one after another in %.1f s (%.0f txs/s)\n",
					rep.FollowBlocks, rep.FollowTxs, rep.FollowSeconds, rep.FollowTxsPerSec)
				fmt.Fprintf(a.stdout, "  follow lag, mined -> committed: median %.0f ms, max %.0f ms\n", rep.FollowLagMedianMs, rep.FollowLagMaxMs)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&rpcURL, "rpc", "", "measure this node instead of starting one (credentials from FUNDTRACE_RPC_USER/PASSWORD)")
	fl.IntVar(&txs, "txs", 20_000, "transactions to make on the started node")
	fl.IntVar(&txsPerBlock, "txs-per-block", 500, "transactions per mined block")
	fl.IntVar(&followBlocks, "follow-blocks", 20, "blocks to mine while following")
	fl.IntVar(&followTxs, "follow-txs", 200, "transactions per block while following")
	fl.IntVar(&workers, "workers", 0, "parallel requests (default: as index)")
	fl.IntVar(&fetchBlocks, "fetch-blocks", 0, "blocks per batched request (default: as index)")
	fl.IntVar(&batchTxs, "batch-txs", 0, "transactions per committed batch (default: as index)")
	fl.BoolVar(&keep, "keep", false, "keep the bench database")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the index phase to this file")
	return cmd
}

// nodeBenchConfig is the indexer configuration of the node benchmarks:
// the index command's defaults for node endpoints (at least 4 workers),
// with the flags that were given (0: default).
func (a *app) nodeBenchConfig(chain chains.ID, workers, fetchBlocks, batchTxs int) indexer.Config {
	cfg := indexer.DefaultConfig(chain)
	cfg.Workers, cfg.Logger = max(cfg.Workers, 4), a.log
	if workers > 0 {
		cfg.Workers = workers
	}
	if fetchBlocks > 0 {
		cfg.FetchBlocks = fetchBlocks
	}
	if batchTxs > 0 {
		cfg.BatchTxs = batchTxs
	}
	return cfg
}

// fetchRaw fetches the raw blocks 0..tip as the indexer would (hashes and
// raw blocks in batches of fetchBlocks, workers in parallel), decoding
// nothing.
func fetchRaw(ctx context.Context, c *bitcoin.Client, tip int64, workers, fetchBlocks int) (time.Duration, error) {
	return fetchRanges(ctx, tip, workers, fetchBlocks, func(ctx context.Context, lo, hi int64) error {
		hashes, err := c.BlockHashes(ctx, lo, hi)
		if err != nil {
			return err
		}
		_, err = c.RawBlocks(ctx, hashes)
		return err
	})
}

// fetchRanges runs fetch over 0..tip in ranges of fetchBlocks heights,
// workers at a time, and returns how long it took.
func fetchRanges(ctx context.Context, tip int64, workers, fetchBlocks int, fetch func(ctx context.Context, lo, hi int64) error) (time.Duration, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for lo := int64(0); lo <= tip; lo += int64(fetchBlocks) {
		hi := min(lo+int64(fetchBlocks)-1, tip)
		g.Go(func() error { return fetch(ctx, lo, hi) })
	}
	err := g.Wait()
	return time.Since(start), err
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// memorySource is a Source over consecutive blocks decoded in memory
// beforehand (the first at any height).
type memorySource []chains.Block

// loadBlocks fetches and decodes blocks 0..tip into memory.
func loadBlocks(ctx context.Context, src indexer.BlockRanger, tip int64) (memorySource, error) {
	var out []chains.Block
	for lo := int64(0); lo <= tip; lo += 64 {
		bs, err := src.Blocks(ctx, lo, min(lo+63, tip))
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

func (m memorySource) at(h int64) (*chains.Block, error) {
	i := h - m[0].Height
	if i < 0 || i >= int64(len(m)) {
		return nil, fmt.Errorf("%w: height %d, have %d..%d", chains.ErrBeyondTip, h, m[0].Height, m[len(m)-1].Height)
	}
	return &m[i], nil
}

func (m memorySource) Tip(context.Context) (int64, chains.Hash, error) {
	return m[len(m)-1].Height, m[len(m)-1].Hash, nil
}

func (m memorySource) BlockHash(_ context.Context, h int64) (chains.Hash, error) {
	b, err := m.at(h)
	if err != nil {
		return chains.Hash{}, err
	}
	return b.Hash, nil
}

func (m memorySource) Block(_ context.Context, h int64) (chains.Block, error) {
	b, err := m.at(h)
	if err != nil {
		return chains.Block{}, err
	}
	return *b, nil
}
