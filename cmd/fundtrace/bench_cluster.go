package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/synth"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/store"
)

type clusterReport struct {
	Blocks, Txs, Addresses int64
	Edges                  int
	Clusters               int     `json:"multi_address_clusters"`
	IndexSeconds           float64 `json:"utxo_index_seconds"`
	StageSeconds           float64 `json:"cluster_stage_seconds"`
	StageTxsPerSec         float64 `json:"cluster_stage_txs_per_second"`
	OursSeconds            float64 `json:"union_find_seconds"`
	BareSeconds            float64 `json:"bare_union_find_seconds"`
	Ratio                  float64 `json:"ratio_union_find_to_bare"`
	RatioStage             float64 `json:"ratio_stage_to_bare"`
	BytesPerAddress        float64 `json:"union_find_bytes_per_address"`
	CPUs                   int     `json:"cpus"`
}

func (a *app) benchClusterCmd() *cobra.Command {
	cfg := synth.DefaultConfig()
	cfg.Blocks, cfg.TxsPerBlock = 160, 1000
	var keep bool
	cmd := &cobra.Command{
		Use:   "cluster --db postgres://... [--blocks N --txs-per-block M]",
		Short: "Time clustering against a bare in-memory union-find over the same merges",
		Long: `bench cluster generates a synthetic regtest chain with multi-input spends,
indexes it (UTXO stage only, not timed), then times:

  stage  the cluster stage over the whole chain, as indexing runs it: reading
         the resolved inputs, CoinJoin and PayJoin checks, storing every merge
         with its evidence and the address → cluster rows
  ours   heuristics/cluster.UnionFind over the stored merges, in memory
  bare   a minimal union-find (union by size, path halving, int32 arrays)
         over the same merges, in memory (both: median of 21 runs)

and prints ours/bare (goal: at most 2), stage/bare, and the union-find's
memory per address. Both union-finds must find the same clusters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if !strings.HasPrefix(a.dbURL, "postgres") {
				return badInput("bench cluster needs --db postgres://... (a server where it may create databases)")
			}
			if err := cfg.Validate(); err != nil {
				return badInput("%v", err)
			}
			rep := clusterReport{CPUs: runtime.NumCPU()}
			dir, err := os.MkdirTemp("", "fundtrace-bench-cluster-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			fmt.Fprintf(a.stderr, "generating %d blocks (%d txs)\n", cfg.Blocks+1, cfg.TotalTxs())
			if _, err := synth.WriteBlockDir(ctx, dir, cfg); err != nil {
				return err
			}
			url, _, cleanup, err := benchDatabases(ctx, a.dbURL, keep)
			if err != nil {
				return err
			}
			defer cleanup()
			db, err := store.Open(ctx, url, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer db.Close()
			net, _ := bitcoin.NetworkFor(chains.BTCRegtest)
			run := func(stage indexer.Stage) (indexer.Summary, error) {
				src, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{})
				if err != nil {
					return indexer.Summary{}, err
				}
				defer src.Close()
				icfg := indexer.DefaultConfig(chains.BTCRegtest)
				icfg.Logger = a.log
				p, err := indexer.New(db, src, []indexer.Stage{stage}, icfg)
				if err != nil {
					return indexer.Summary{}, err
				}
				return p.Run(ctx)
			}
			fmt.Fprintf(a.stderr, "indexing (UTXO stage)\n")
			sum, err := run(indexer.NewUTXOStage(db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})))
			if err != nil {
				return err
			}
			rep.IndexSeconds, rep.Blocks, rep.Txs = sum.Elapsed.Seconds(), sum.Blocks, sum.Txs
			fmt.Fprintf(a.stderr, "clustering (cluster stage)\n")
			start := time.Now()
			if _, err := run(indexer.NewClusterStage(chains.BTCRegtest)); err != nil {
				return err
			}
			rep.StageSeconds = time.Since(start).Seconds()
			rep.StageTxsPerSec = float64(rep.Txs) / rep.StageSeconds
			st, err := db.Status(ctx, chains.BTCRegtest)
			if err != nil {
				return err
			}
			rep.Addresses = st.Addresses
			edges, err := db.ClusterEdgePairs(ctx, chains.BTCRegtest)
			if err != nil {
				return err
			}
			rep.Edges = len(edges)

			// Each union-find 21 times, alternating; the median counts
			// (one run takes about a millisecond per 30,000 merges).
			median := func(ds []time.Duration) float64 {
				slices.Sort(ds)
				return ds[len(ds)/2].Seconds()
			}
			var oursT, bareT []time.Duration
			time1 := func(f func()) time.Duration {
				s := time.Now()
				f()
				return time.Since(s)
			}
			var ours *cluster.UnionFind
			var bare *bareUnionFind
			for range 21 {
				oursT = append(oursT, time1(func() {
					ours = cluster.NewUnionFind()
					ours.Reserve(rep.Addresses)
					for _, e := range edges {
						ours.Union(e[0], e[1])
					}
				}))
				bareT = append(bareT, time1(func() {
					bare = newBareUnionFind(rep.Addresses + 1)
					for _, e := range edges {
						bare.union(int32(e[0]), int32(e[1]))
					}
				}))
			}
			rep.OursSeconds, rep.BareSeconds = median(oursT), median(bareT)
			rep.Ratio = rep.OursSeconds / rep.BareSeconds
			rep.RatioStage = rep.StageSeconds / rep.BareSeconds
			rep.BytesPerAddress = float64(ours.Bytes()) / float64(rep.Addresses)
			rep.Clusters = len(ours.Components())
			if n := bare.components(); n != rep.Clusters {
				return fmt.Errorf("bench cluster: our union-find finds %d clusters, the bare one %d", rep.Clusters, n)
			}
			cs, err := db.ClusterStatistics(ctx, chains.BTCRegtest)
			if err != nil {
				return err
			}
			if int(cs.MultiAddressClusters) != rep.Clusters {
				return fmt.Errorf("bench cluster: the stage stored %d clusters, the union-find over its merges finds %d", cs.MultiAddressClusters, rep.Clusters)
			}
			if a.format == "json" {
				return a.writeJSON(rep)
			}
			fmt.Fprintf(a.stdout, "bench cluster: %d blocks, %d txs, %d addresses, %d merges, %d multi-address clusters (%d CPUs)\n",
				rep.Blocks, rep.Txs, rep.Addresses, rep.Edges, rep.Clusters, rep.CPUs)
			fmt.Fprintf(a.stdout, "  index, UTXO stage (not compared)   %8.2f s\n", rep.IndexSeconds)
			fmt.Fprintf(a.stdout, "  cluster stage over the chain       %8.2f s  %9.0f txs/s\n", rep.StageSeconds, rep.StageTxsPerSec)
			fmt.Fprintf(a.stdout, "  union-find (heuristics/cluster)    %8.4f s\n", rep.OursSeconds)
			fmt.Fprintf(a.stdout, "  bare union-find                    %8.4f s\n", rep.BareSeconds)
			fmt.Fprintf(a.stdout, "  ratio ours/bare                      %.2f  (goal <= 2)\n", rep.Ratio)
			fmt.Fprintf(a.stdout, "  ratio stage/bare                  %7.0f  (the stage reads and writes the database)\n", rep.RatioStage)
			fmt.Fprintf(a.stdout, "  union-find memory per address     %6.1f bytes\n", rep.BytesPerAddress)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.Blocks, "blocks", cfg.Blocks, "blocks after genesis (the first 100 only fund the chain)")
	fl.IntVar(&cfg.TxsPerBlock, "txs-per-block", cfg.TxsPerBlock, "transactions per block")
	fl.BoolVar(&keep, "keep", false, "keep the bench database")
	return cmd
}

// bareUnionFind is the baseline: the textbook disjoint-set forest.
type bareUnionFind struct{ parent, size []int32 }

func newBareUnionFind(n int64) *bareUnionFind {
	u := &bareUnionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = int32(i), 1
	}
	return u
}

func (u *bareUnionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *bareUnionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
}

func (u *bareUnionFind) components() int {
	n := 0
	for i := range u.parent {
		if u.find(int32(i)) == int32(i) && u.size[i] > 1 {
			n++
		}
	}
	return n
}
