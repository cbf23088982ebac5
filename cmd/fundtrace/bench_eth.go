package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/internal/devnet"
	"github.com/fundtrace/fundtrace/store"
)

type ethReport struct {
	Node            string  `json:"node"`
	Chain           string  `json:"chain"`
	Blocks          int64   `json:"blocks"`
	Txs             int64   `json:"txs"`
	Transfers       int64   `json:"transfers"`
	Receipts        string  `json:"receipts_method"`
	Traces          string  `json:"traces_method"`
	PopulateSeconds float64 `json:"populate_seconds,omitempty"`
	FetchSeconds    float64 `json:"fetch_raw_seconds"`
	FetchSeconds2   float64 `json:"fetch_raw_seconds_again"`
	IndexSeconds    float64 `json:"index_seconds"`
	IndexBuildSecs  float64 `json:"index_build_seconds"`
	Ratio           float64 `json:"ratio_index_to_fetch"`
	MemorySeconds   float64 `json:"index_from_memory_seconds"`
	RatioMemory     float64 `json:"ratio_index_to_index_from_memory"`
	Workers         int     `json:"workers"`
	FetchBlocks     int     `json:"fetch_blocks"`
	BatchTxs        int     `json:"batch_txs"`
	CPUs            int     `json:"cpus"`
}

func (a *app) benchEthCmd() *cobra.Command {
	var (
		rpcURL, chainName, cpuProfile string
		rounds, workers, fetchBlocks  int
		batchTxs                      int
		keep                          bool
	)
	cmd := &cobra.Command{
		Use:   "eth --db postgres://... [--rpc URL --chain CHAIN]",
		Short: "Index an Ethereum node's chain and compare with fetching its blocks, receipts and traces",
		Long: `bench eth measures the Ethereum indexer against its source. Without --rpc it
starts geth --dev (built from the Go module proxy by internal/devnet) and runs
--rounds rounds of the devnet scenario on it (plain, internal, token, failing
and contract-creating transactions, one block each). It then times:

  fetch   blocks with full transactions, receipts and call traces for heights
          0..tip over JSON-RPC, with the indexer's batching and parallelism,
          extracting nothing (the baseline; run before and after)
  index   the same heights into a new PostgreSQL database through the pipeline
  memory  the same blocks, extracted in memory beforehand, indexed into a
          second new database (what the pipeline costs without the node)

and prints index/fetch (goal: at most 1.2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if a.dbURL == "" || a.dbURL[:min(len(a.dbURL), 8)] != "postgres" {
				return badInput("bench eth needs --db postgres://... (a server where it may create a database)")
			}
			chain := chains.ETHDev
			if rpcURL != "" {
				var err error
				if chain, err = chains.Parse(chainName); err != nil {
					return badInput("--chain: %v", err)
				}
			}
			icfg := a.nodeBenchConfig(chain, workers, fetchBlocks, batchTxs)
			rep := ethReport{CPUs: runtime.NumCPU(), Workers: icfg.Workers, FetchBlocks: icfg.FetchBlocks, BatchTxs: icfg.BatchTxs, Chain: string(chain)}
			p, err := ethereum.ParamsFor(chain)
			if err != nil {
				return badInput("%v", err)
			}
			url := rpcURL
			if url == "" {
				fmt.Fprintf(a.stderr, "starting geth --dev\n")
				// Tracing and eth_call at old heights need the state of every block.
				g, err := devnet.StartGeth(ctx, devnet.GethOptions{Logger: a.log, Args: []string{"--gcmode", "archive", "--state.scheme", "hash"}})
				if err != nil {
					return err
				}
				defer g.Stop()
				fmt.Fprintf(a.stderr, "running %d rounds of the devnet scenario\n", rounds)
				start := time.Now()
				if _, err := g.PopulateEth(ctx, devnet.EthPlan{Seed: "fundtrace-bench", Rounds: rounds}); err != nil {
					return err
				}
				rep.PopulateSeconds = time.Since(start).Seconds()
				url, rep.Node = g.RPCURL(), "geth --dev (devnet)"
			} else {
				rep.Node = endpoint.Redact(rpcURL)
			}
			ep, err := endpoint.New(endpoint.DefaultConfig(url), endpoint.Options{Logger: a.log})
			if err != nil {
				return err
			}
			client, err := ethereum.NewClient(ctx, ep, p, ethereum.ClientOptions{Logger: a.log})
			if err != nil {
				return err
			}
			defer client.Close()
			if err := client.Check(ctx); err != nil {
				return err
			}
			caps := client.Capabilities()
			rep.Receipts, rep.Traces = caps.Receipts, caps.TraceMethod
			tip, _, err := client.Tip(ctx)
			if err != nil {
				return err
			}
			rep.Blocks = tip + 1
			// The baseline fetches what the node must send for every block
			// (block, receipts, traces), not the token descriptions the
			// indexer asks for once per token.
			raw, err := ethereum.NewClient(ctx, ep, p, ethereum.ClientOptions{Logger: a.log, NoTokenMetadata: true})
			if err != nil {
				return err
			}
			defer raw.Close()
			if err := raw.Check(ctx); err != nil {
				return err
			}
			fetch := func(what string) (float64, error) {
				fmt.Fprintf(a.stderr, "fetching blocks, receipts and traces 0..%d%s\n", tip, what)
				d, err := fetchRanges(ctx, tip, rep.Workers, rep.FetchBlocks, func(ctx context.Context, lo, hi int64) error {
					_, err := raw.RawBlocks(ctx, lo, hi)
					return err
				})
				return d.Seconds(), err
			}
			if rep.FetchSeconds, err = fetch(""); err != nil {
				return err
			}

			dbURL, memURL, cleanup, err := benchDatabases(ctx, a.dbURL, keep)
			if err != nil {
				return err
			}
			defer cleanup()
			index := func(url string, src indexer.Source) (indexer.Summary, time.Duration, error) {
				db, err := store.Open(ctx, url, store.Options{Logger: a.log})
				if err != nil {
					return indexer.Summary{}, 0, err
				}
				defer db.Close()
				cfg := icfg
				cfg.To = tip
				var loaded time.Duration
				cfg.OnProgress = func(p indexer.Progress) { loaded = p.Elapsed }
				pl, err := indexer.New(db, src, []indexer.Stage{indexer.NewAccountStage(db.NewAccountWriter(chain, store.AccountWriterOptions{}))}, cfg)
				if err != nil {
					return indexer.Summary{}, 0, err
				}
				sum, err := pl.Run(ctx)
				if err == nil {
					st, serr := db.Status(ctx, chain)
					rep.Transfers, err = st.Transfers, serr
				}
				return sum, loaded, err
			}
			fmt.Fprintf(a.stderr, "indexing into a new database\n")
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			sum, loaded, err := index(dbURL, client)
			stopProfile()
			if err != nil {
				return err
			}
			rep.Txs = sum.Txs
			rep.IndexSeconds, rep.IndexBuildSecs = loaded.Seconds(), (sum.Elapsed - loaded).Seconds()
			if rep.FetchSeconds2, err = fetch(" again"); err != nil {
				return err
			}
			rep.Ratio = rep.IndexSeconds / min(rep.FetchSeconds, rep.FetchSeconds2)

			fmt.Fprintf(a.stderr, "indexing the same blocks from memory\n")
			mem, err := loadBlocks(ctx, client, tip)
			if err != nil {
				return err
			}
			if _, loaded, err = index(memURL, mem); err != nil {
				return err
			}
			rep.MemorySeconds = loaded.Seconds()
			rep.RatioMemory = rep.IndexSeconds / rep.MemorySeconds

			if a.format == "json" {
				return a.writeJSON(rep)
			}
			fmt.Fprintf(a.stdout, "bench eth: %s (%s), %d blocks, %d txs, %d transfers; receipts by %s, traces by %s; %d workers x %d blocks per request, batches of %d txs (%d CPUs)\n",
				rep.Node, rep.Chain, rep.Blocks, rep.Txs, rep.Transfers, rep.Receipts, rep.Traces, rep.Workers, rep.FetchBlocks, rep.BatchTxs, rep.CPUs)
			if rep.PopulateSeconds > 0 {
				fmt.Fprintf(a.stdout, "  make txs on the node          %8.1f s\n", rep.PopulateSeconds)
			}
			fmt.Fprintf(a.stdout, "  fetch blocks+receipts+traces  %8.2f s, again %.2f s\n", rep.FetchSeconds, rep.FetchSeconds2)
			fmt.Fprintf(a.stdout, "  index (rpc -> pg)             %8.2f s\n", rep.IndexSeconds)
			fmt.Fprintf(a.stdout, "  ratio index/fetch               %.2f  (goal <= 1.2)\n", rep.Ratio)
			fmt.Fprintf(a.stdout, "  index from memory (no rpc)    %8.2f s  ratio index/this %.2f\n", rep.MemorySeconds, rep.RatioMemory)
			fmt.Fprintf(a.stdout, "  deferred index build          %8.2f s (after the load, not in the ratios)\n", rep.IndexBuildSecs)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&rpcURL, "rpc", "", "measure this node instead of starting geth --dev")
	fl.StringVar(&chainName, "chain", string(chains.ETH), "the chain of --rpc")
	fl.IntVar(&rounds, "rounds", 40, "rounds of the devnet scenario (about 19 transactions each)")
	fl.IntVar(&workers, "workers", 0, "parallel requests (default: as index)")
	fl.IntVar(&fetchBlocks, "fetch-blocks", 0, "blocks per batched request (default: as index)")
	fl.IntVar(&batchTxs, "batch-txs", 0, "transactions per committed batch (default: as index)")
	fl.BoolVar(&keep, "keep", false, "keep the bench databases")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the index phase to this file")
	return cmd
}
