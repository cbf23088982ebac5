package indexer_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/synth"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// openRegtestDir opens a regtest block directory.
func openRegtestDir(t testing.TB, dir string) *bitcoin.BlockDir {
	t.Helper()
	return openChainDir(t, dir, chains.BTCRegtest)
}

// clusterIndex indexes src with the UTXO and cluster stages.
func clusterIndex(t testing.TB, db *store.DB, src indexer.Source, chain chains.ID, batchBlocks int, to int64) {
	t.Helper()
	cfg := indexer.DefaultConfig(chain)
	cfg.To = to
	if batchBlocks > 0 {
		cfg.BatchBlocks = batchBlocks
	}
	p, err := indexer.New(db, src, []indexer.Stage{
		indexer.NewUTXOStage(db.NewUTXOWriter(chain, store.UTXOWriterOptions{})),
		indexer.NewClusterStage(chain),
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// naiveClusters is a second, independent common-input clustering: it
// replays the chain's transactions itself (its own outpoint → address
// map), skips coinbases and the transactions in skip, and joins the
// input addresses of each transaction by relabelling whole groups (no
// union-find). It returns the multi-address clusters as sorted address
// lists, sorted.
func naiveClusters(t testing.TB, src indexer.Source, tip int64, skip map[chains.Hash]bool) [][]string {
	t.Helper()
	owner := map[chains.OutPoint]string{}
	group := map[string]int{}
	members := map[int][]string{}
	next := 0
	for h := int64(0); h <= tip; h++ {
		b, err := src.Block(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Txs {
			var addrs []string
			if !tx.Coinbase {
				for _, in := range tx.Inputs {
					if a := owner[in.Prev]; a != "" && !slices.Contains(addrs, a) {
						addrs = append(addrs, a)
					}
				}
			}
			for i, o := range tx.Outputs {
				owner[chains.OutPoint{TxID: tx.Hash, Index: uint32(i)}] = o.Address
			}
			if tx.Coinbase || skip[tx.Hash] || len(addrs) < 2 {
				continue
			}
			target := -1
			for _, a := range addrs {
				if g, ok := group[a]; ok {
					target = g
					break
				}
			}
			if target < 0 {
				target = next
				next++
			}
			for _, a := range addrs {
				g, ok := group[a]
				switch {
				case !ok:
					group[a] = target
					members[target] = append(members[target], a)
				case g != target:
					for _, m := range members[g] {
						group[m] = target
					}
					members[target] = append(members[target], members[g]...)
					delete(members, g)
				}
			}
		}
	}
	var out [][]string
	for _, m := range members {
		s := slices.Clone(m)
		sort.Strings(s)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// storedClusters reads every multi-address cluster of db as sorted address
// lists, sorted, and the transactions it did not merge (CoinJoins and
// held-back merges).
func storedClusters(t testing.TB, db *store.DB, chain chains.ID, tip int64) ([][]string, map[chains.Hash]bool) {
	t.Helper()
	ctx := context.Background()
	seen := map[int64]bool{}
	var out [][]string
	skip := map[chains.Hash]bool{}
	for h := int64(0); h <= tip; h++ {
		b, err := db.BlockByHeight(ctx, chain, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range b.TxIDs {
			if cj, err := db.TxCoinJoin(ctx, chain, id); err != nil {
				t.Fatal(err)
			} else if cj != nil {
				skip[id] = true
			}
			merges, err := db.TxMerges(ctx, chain, id, func(uint8) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range merges {
				if !m.Merged {
					skip[id] = true // held back: PayJoin signals
				}
			}
			tx, err := db.TxByHash(ctx, chain, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tx.Inputs {
				if in.Address == nil {
					continue
				}
				c, err := db.ClusterOfAddress(ctx, chain, *in.Address)
				if err != nil {
					t.Fatal(err)
				}
				if c.Size < 2 || seen[c.ID] {
					continue
				}
				seen[c.ID] = true
				var all []string
				page := ""
				for {
					p, err := db.ClusterMembers(ctx, chain, c.ID, page, store.MaxPageSize)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, p.Addresses...)
					if page = p.NextPage; page == "" {
						break
					}
				}
				sort.Strings(all)
				out = append(out, all)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, skip
}

func render(cs [][]string) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%d:%s\n", len(c), strings.Join(c, ","))
	}
	return b.String()
}

// TestClusterSynthEqualsNaive clusters a synthetic regtest chain with
// multi-input spends block by block, and compares the partition with the
// independent implementation above; one batch gives the same database as
// one block at a time (incremental equals scratch), on both stores.
func TestClusterSynthEqualsNaive(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Blocks, cfg.TxsPerBlock, cfg.RampBlocks = 125, 20, 5
	dir := t.TempDir()
	if _, err := synth.WriteBlockDir(t.Context(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	tip := int64(cfg.Blocks)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clusterIndex(t, db, openRegtestDir(t, dir), chains.BTCRegtest, 1, -1)
		got, skip := storedClusters(t, db, chains.BTCRegtest, tip)
		want := naiveClusters(t, openRegtestDir(t, dir), tip, skip)
		if len(want) == 0 {
			t.Fatal("the synthetic chain has no multi-input spends: the test tests nothing")
		}
		if g, w := render(got), render(want); g != w {
			t.Errorf("clusters differ from the independent clustering:\n%s\nwant:\n%s", g, w)
		}
		t.Logf("%d multi-address clusters; %d transactions flagged as CoinJoins or held back", len(got), len(skip))

		scratch := storetest.SQLite(t)
		clusterIndex(t, scratch, openRegtestDir(t, dir), chains.BTCRegtest, 5000, -1)
		a, err := db.Checksum(t.Context(), chains.BTCRegtest)
		if err != nil {
			t.Fatal(err)
		}
		b, err := scratch.Checksum(t.Context(), chains.BTCRegtest)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("block by block:\n%s\none batch:\n%s", a, b)
		}
	})
}

// TestClusterUnwindEqualsScratch unwinds the UTXO and cluster stages to
// several heights: each time the clusters equal a clustering of the chain
// up to that height from scratch, and re-applying the blocks gives the
// full clustering again.
func TestClusterUnwindEqualsScratch(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Blocks, cfg.TxsPerBlock, cfg.RampBlocks = 120, 30, 5
	dir := t.TempDir()
	if _, err := synth.WriteBlockDir(t.Context(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	chain := chains.BTCRegtest
	sum := func(db *store.DB) string {
		s, err := db.Checksum(t.Context(), chain)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clusterIndex(t, db, openRegtestDir(t, dir), chain, 7, -1)
		full := sum(db)
		for _, h := range []int64{115, 108, 103} {
			utxo := db.NewUTXOWriter(chain, store.UTXOWriterOptions{})
			err := db.InTx(t.Context(), func(tx *store.Tx) error {
				if err := indexer.NewClusterStage(chain).Unwind(t.Context(), tx, h); err != nil {
					return err
				}
				if err := utxo.Unwind(t.Context(), tx, h); err != nil {
					return err
				}
				for _, st := range []string{"utxo", "cluster"} {
					if err := tx.SetProgress(t.Context(), chain, st, h); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			scratch := storetest.SQLite(t)
			clusterIndex(t, scratch, openRegtestDir(t, dir), chain, 0, h)
			if got, want := sum(db), sum(scratch); got != want {
				t.Errorf("unwound to %d:\n%s\nfrom scratch:\n%s", h, got, want)
			}
		}
		clusterIndex(t, db, openRegtestDir(t, dir), chain, 3, -1)
		if got := sum(db); got != full {
			t.Errorf("re-applied:\n%s\nwant:\n%s", got, full)
		}
	})
}
