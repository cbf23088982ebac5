package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/internal/bundle"
	"github.com/fundtrace/fundtrace/store"
	"github.com/spf13/cobra"
)

// Facts of the tour, all on Bitcoin mainnet.
const (
	demoTx      = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" // block 170: Satoshi pays Hal Finney 10 BTC
	demoAddress = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"                               // Satoshi's coins of block 9, spent in block 170
)

func (a *app) demoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Index the bundled Bitcoin mainnet blocks 0..14131 and take a short tour",
		Long: `demo needs no configuration: it indexes the Bitcoin mainnet blocks bundled in
the binary (heights 0 to 14131, January to May 2009) into a fresh embedded
database and shows what fundtrace can answer. With --db it uses that database
instead (the chain btc in it is replaced only if absent).`,
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
  fundtrace index --chain btc --blocks-dir ~/.bitcoin/blocks      (your own node's blocks)
`, dbFlag, demoTx)
			return nil
		},
	}
}
