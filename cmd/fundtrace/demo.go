package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/internal/bundle"
	"github.com/fundtrace/fundtrace/store"
	"github.com/spf13/cobra"
)

// Facts of the tour, on Bitcoin and Ethereum mainnet.
const (
	demoTx      = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"   // block 170: Satoshi pays Hal Finney 10 BTC
	demoAddress = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"                                 // Satoshi's coins of block 9, spent in block 170
	demoEthTx   = "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d" // block 1755635: 5 TheDAO tokens move
	demoEthAddr = "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac"                         // the contract called, which moved them
)

func (a *app) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Index the bundled Bitcoin and Ethereum mainnet blocks and take a short tour",
		Long: `demo needs no configuration: it indexes the Bitcoin mainnet blocks bundled in
the binary (heights 0 to 14131, January to May 2009) and two Ethereum mainnet
blocks (1755634 and 1755635, June 2016) into a fresh embedded database and
shows what fundtrace can answer. With --db it uses that database instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			u := a.dbURL
			if u == "" {
				def, err := defaultDBURL()
				if err != nil {
					return err
				}
				path := filepath.Join(filepath.Dir(strings.TrimPrefix(def, "sqlite:")), "demo.db")
				for _, suffix := range []string{"", "-wal", "-shm"} {
					if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("demo: remove the previous demo database: %w", err)
					}
				}
				u = "sqlite:" + path
			}
			dir, err := os.MkdirTemp("", "fundtrace-demo-blocks-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if err := bundle.MainnetBlockDir(dir); err != nil {
				return fmt.Errorf("demo: unpack bundled blocks: %w", err)
			}
			db, err := store.Open(ctx, u, store.Options{Logger: a.log})
			if err != nil {
				return err
			}
			defer db.Close()

			out := a.stdout
			fmt.Fprintf(out, "fundtrace demo: indexing Bitcoin mainnet blocks 0..%d (bundled) into %s\n\n", bundle.MainnetTip, db)
			if _, err := a.indexBlockDir(ctx, db, dir, indexer.DefaultConfig(chains.BTC), nil); err != nil {
				return err
			}

			st, err := db.Status(ctx, chains.BTC)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\n== 1. What is indexed ==\n")
			printStatus(out, st)

			fmt.Fprintf(out, "\n== 2. The first payment from one person to another (block 170, 12 January 2009) ==\n")
			id, _ := chains.ParseHash(demoTx)
			t, err := db.TxByHash(ctx, chains.BTC, id)
			if err != nil {
				return err
			}
			printTx(out, t)

			fmt.Fprintf(out, "\n== 3. The address that paid it, with its history ==\n")
			s, err := db.AddressSummary(ctx, chains.BTC, demoAddress)
			if err != nil {
				return err
			}
			page, err := db.AddressTxs(ctx, chains.BTC, demoAddress, "", 10)
			if err != nil {
				return err
			}
			printAddress(out, s, &page)

			fmt.Fprintf(out, "\n== 4. A cluster: addresses one owner spent together ==\n")
			if err := a.demoCluster(ctx, db); err != nil {
				return err
			}

			fmt.Fprintf(out, "\n== 5. Ethereum: mainnet blocks %d..%d (bundled node answers, June 2016) ==\n", bundle.EthFirst, bundle.EthLast)
			if err := a.demoEthereum(ctx, db); err != nil {
				return err
			}

			dbFlag := ""
			if a.dbURL == "" {
				dbFlag = " --db " + u
			}
			fmt.Fprintf(out, `
== Explore further ==
  fundtrace status --chain btc%[1]s
  fundtrace block --chain btc 170%[1]s
  fundtrace tx --chain btc %[2]s%[1]s --format json
  fundtrace address --chain btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa%[1]s --txs
  fundtrace cluster stats --chain btc%[1]s
  fundtrace index --chain btc --blocks-dir ~/.bitcoin/blocks      (your own node's blocks)
  fundtrace tx --chain eth %[3]s%[1]s
  fundtrace address --chain eth %[4]s%[1]s --counterparties
  fundtrace index --chain eth --rpc http://127.0.0.1:8545          (your own Ethereum node)
`, dbFlag, demoTx, demoEthTx, demoEthAddr)
			return nil
		},
	}
}

// demoEthereum indexes the bundled Ethereum blocks and shows a token
// transfer and the contract that made it.
func (a *app) demoEthereum(ctx context.Context, db *store.DB) error {
	out := a.stdout
	raws, err := bundle.EthereumBlocks()
	if err != nil {
		return err
	}
	p, err := ethereum.ParamsFor(chains.ETH)
	if err != nil {
		return err
	}
	var blocks memorySource
	for _, raw := range raws {
		b, err := ethereum.Extract(p, raw)
		if err != nil {
			return fmt.Errorf("demo: bundled Ethereum block: %w", err)
		}
		blocks = append(blocks, b)
	}
	cfg := indexer.DefaultConfig(chains.ETH)
	cfg.From = bundle.EthFirst
	if _, err := a.runIndex(ctx, db, blocks, cfg, indexRun{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "A token transfer. The node's traces were not recorded, so internal ETH\ntransfers are unknown here; fees and the block reward are exact.\n")
	h, _ := chains.ParseHash(demoEthTx)
	t, err := db.AccountTxByHash(ctx, chains.ETH, h)
	if err != nil {
		return err
	}
	printAccountTx(out, t)
	fmt.Fprintf(out, "\nThe contract that moved the tokens (indexed from block %d on, so its balance\nbefore that is unknown):\n", bundle.EthFirst)
	s, err := db.AccountAddressSummary(ctx, chains.ETH, demoEthAddr)
	if err != nil {
		return err
	}
	parties, err := db.AccountCounterparties(ctx, chains.ETH, demoEthAddr, "", 10)
	if err != nil {
		return err
	}
	printAccountAddress(out, s, nil, &parties)
	return nil
}

// demoCluster shows the largest cluster of the bundled blocks and explains
// how its root and one member were joined.
func (a *app) demoCluster(ctx context.Context, db *store.DB) error {
	out := a.stdout
	st, err := db.ClusterStatistics(ctx, chains.BTC)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d addresses form %d clusters; %d hold several addresses, the largest %d.\n",
		st.Addresses, st.Clusters, st.MultiAddressClusters, st.Largest)
	if st.LargestID == 0 {
		return nil
	}
	members, err := db.ClusterMembers(ctx, chains.BTC, st.LargestID, "", 200)
	if err != nil {
		return err
	}
	root, last := members.Addresses[0], members.Addresses[len(members.Addresses)-1]
	c, err := db.ClusterOfAddress(ctx, chains.BTC, root)
	if err != nil {
		return err
	}
	info, _ := chains.Lookup(chains.BTC)
	fmt.Fprintf(out, "cluster %d: %d addresses, received %s, holds %s, active blocks %d..%d\n",
		c.ID, c.Size, coins(c.TotalReceived, info), coins(c.Balance, info), c.FirstTx.Height, c.LastTx.Height)
	steps, err := db.ClusterPath(ctx, chains.BTC, root, last, func(r uint8) string { return cluster.Rule(r).String() })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "why %s and %s are one owner's:\n", root, last)
	for _, s := range steps {
		fmt.Fprintf(out, "  %s\n    → tx %s (block %d): %s, confidence %d%%\n", s.From, s.Tx, s.Height, s.RuleName, s.Confidence)
	}
	fmt.Fprintf(out, "  %s\n", last)
	return nil
}
