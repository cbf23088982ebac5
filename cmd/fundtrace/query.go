package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/store"
	"github.com/spf13/cobra"
)

// notFound turns store.ErrNotFound into exit code 1 with its message.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &exitError{exitFailure, err}
	}
	return err
}

// withChainDB parses --chain, opens the database, runs fn and closes it.
func (a *app) withChainDB(ctx context.Context, fn func(chains.ID, *store.DB) error) error {
	chain, err := a.chainID()
	if err != nil {
		return err
	}
	db, err := a.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(chain, db)
}

func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the indexed tip and row counts of a chain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				st, err := db.Status(cmd.Context(), chain)
				if err != nil {
					return notFound(err)
				}
				if a.format == "json" {
					return a.writeJSON(st)
				}
				printStatus(a.stdout, st)
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	return cmd
}

func printStatus(w io.Writer, st store.ChainStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "chain\t%s\n", st.Chain)
	if st.TipHeight != nil {
		fmt.Fprintf(tw, "tip\t%d  %s\n", *st.TipHeight, st.TipHash)
	} else {
		fmt.Fprintf(tw, "tip\t(no blocks)\n")
	}
	if st.StartHeight != nil && *st.StartHeight > 0 {
		fmt.Fprintf(tw, "first height\t%d\n", *st.StartHeight)
	}
	fmt.Fprintf(tw, "blocks\t%d\ntransactions\t%d\ninputs\t%d\noutputs\t%d\naddresses\t%d\n",
		st.Blocks, st.Txs, st.Inputs, st.Outputs, st.Addresses)
	names := make([]string, 0, len(st.Stages))
	for name := range st.Stages {
		names = append(names, name)
	}
	sort.Strings(names) // map order is random: print the same way every time
	for _, name := range names {
		h := st.Stages[name]
		fmt.Fprintf(tw, "stage %s\tat %d\n", name, h)
	}
	tw.Flush()
}

func (a *app) blockCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "block HEIGHT|HASH",
		Short: "Show a block by height or hash",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.chainID(); err != nil {
				return err
			}
			var (
				height int64 = -1
				hash   chains.Hash
			)
			if h, err := strconv.ParseInt(args[0], 10, 64); err == nil && h >= 0 {
				height = h
			} else if hash, err = chains.ParseHash(args[0]); err != nil {
				return badInput("block %q: want a height or a 64-hex-digit block hash", args[0])
			}
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				var (
					b   store.Block
					err error
				)
				if height >= 0 {
					b, err = db.BlockByHeight(cmd.Context(), chain, height)
				} else {
					b, err = db.BlockByHash(cmd.Context(), chain, hash)
				}
				if err != nil {
					return notFound(err)
				}
				if a.format == "json" {
					return a.writeJSON(b)
				}
				info, _ := chains.Lookup(chain)
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "block\t%d\nhash\t%s\nprevious\t%s\ntime\t%s\n", b.Height, b.Hash, b.PrevHash, utc(b.Timestamp))
				fmt.Fprintf(tw, "transactions\t%d\nsize\t%d bytes, weight %d\nmerkle root\t%s\n", b.TxCount, b.Size, b.Weight, b.MerkleRoot)
				if b.TotalFees != nil {
					fmt.Fprintf(tw, "fees\t%s\n", coins(*b.TotalFees, info))
				}
				tw.Flush()
				for i, id := range b.TxIDs {
					fmt.Fprintf(a.stdout, "  tx %d  %s\n", i, id)
				}
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	return cmd
}

func (a *app) txCmd() *cobra.Command {
	var heuristics bool
	cmd := &cobra.Command{
		Use:   "tx TXID",
		Short: "Show a transaction: resolved inputs and spent outputs, or status, fee and every transfer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.chainID(); err != nil {
				return err
			}
			id, err := chains.ParseHash(strings.TrimSpace(args[0]))
			if err != nil {
				return badInput("malformed txid: %v", err)
			}
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				if isAccountChain(chain) {
					t, err := db.AccountTxByHash(cmd.Context(), chain, id)
					if err != nil {
						return notFound(err)
					}
					if a.format == "json" {
						return a.writeJSON(t)
					}
					printAccountTx(a.stdout, t)
					return nil
				}
				t, err := db.TxByHash(cmd.Context(), chain, id)
				if err != nil {
					return notFound(err)
				}
				if !heuristics {
					if a.format == "json" {
						return a.writeJSON(t)
					}
					printTx(a.stdout, t)
					return nil
				}
				h, err := heuristicsOf(cmd.Context(), db, t)
				if err != nil {
					return err
				}
				if a.format == "json" {
					return a.writeJSON(struct {
						store.TxDetail
						Heuristics txHeuristics `json:"heuristics"`
					}{t, h})
				}
				printTx(a.stdout, t)
				printHeuristics(a.stdout, h)
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	cmd.Flags().BoolVar(&heuristics, "heuristics", false, "UTXO chains: show the CoinJoin flag, PayJoin signals and the merges the transaction made")
	return cmd
}

func printTx(w io.Writer, t store.TxDetail) {
	info, _ := chains.Lookup(t.Chain)
	fmt.Fprintf(w, "transaction %s\n", t.TxID)
	fmt.Fprintf(w, "  block %d (%s), position %d, %s\n", t.Height, t.BlockHash, t.Position, utc(t.Timestamp))
	switch {
	case t.Coinbase:
		fmt.Fprintf(w, "  coinbase: creates %s\n", coins(t.TotalOutput, info))
	case t.Fee != nil:
		fmt.Fprintf(w, "  in %s, out %s, fee %s\n", coins(*t.TotalInput, info), coins(t.TotalOutput, info), coins(*t.Fee, info))
	default:
		fmt.Fprintf(w, "  out %s; fee unknown (spends outputs before the indexed range)\n", coins(t.TotalOutput, info))
	}
	fmt.Fprintf(w, "  inputs:\n")
	for i, in := range t.Inputs {
		switch {
		case in.PrevTxID == nil:
			fmt.Fprintf(w, "    %d  coinbase\n", i)
		case in.Value == nil:
			fmt.Fprintf(w, "    %d  %s:%d  (unresolved)\n", i, in.PrevTxID, *in.PrevIndex)
		default:
			fmt.Fprintf(w, "    %d  %s  %s  [%s]  from %s:%d\n", i, orNone(in.Address), coins(*in.Value, info), in.ScriptType, in.PrevTxID, *in.PrevIndex)
		}
	}
	fmt.Fprintf(w, "  outputs:\n")
	for _, o := range t.Outputs {
		spent := "unspent"
		if o.SpentBy != nil {
			spent = fmt.Sprintf("spent by %s:%d", o.SpentBy.TxID, o.SpentBy.Input)
		} else if !o.ScriptType.Spendable() {
			spent = "unspendable"
		}
		fmt.Fprintf(w, "    %d  %s  %s  [%s]  %s\n", o.Index, orNone(o.Address), coins(o.Value, info), o.ScriptType, spent)
	}
}

func orNone(s *string) string {
	if s == nil {
		return "(no address)"
	}
	return *s
}

func (a *app) addressCmd() *cobra.Command {
	var (
		txs, counterparties bool
		page                string
		pageSize            int
	)
	cmd := &cobra.Command{
		Use:   "address ADDRESS",
		Short: "Show an address's balance per asset, totals and (with --txs) its transactions or transfers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := a.addressArg(args[0])
			if err != nil {
				return err
			}
			if pageSize < 1 || pageSize > store.MaxPageSize {
				return badInput("--page-size %d: want 1 to %d", pageSize, store.MaxPageSize)
			}
			if counterparties && txs {
				return badInput("--txs and --counterparties page differently: give one")
			}
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				if isAccountChain(chain) {
					return a.accountAddress(cmd.Context(), db, chain, addr, txs, counterparties, page, pageSize)
				}
				if counterparties {
					return badInput("--counterparties: only for account-model chains")
				}
				sum, err := db.AddressSummary(cmd.Context(), chain, addr)
				if err != nil {
					return notFound(err)
				}
				var p *store.AddressTxPage
				if txs {
					got, err := db.AddressTxs(cmd.Context(), chain, addr, page, pageSize)
					if err != nil {
						return badInput("%v", err)
					}
					p = &got
				}
				if a.format == "json" {
					out := struct {
						store.Address
						Txs      []store.AddressTx `json:"txs,omitempty"`
						NextPage string            `json:"next_page,omitempty"`
					}{Address: sum}
					if p != nil {
						out.Txs, out.NextPage = p.Txs, p.NextPage
					}
					return a.writeJSON(out)
				}
				printAddress(a.stdout, sum, p)
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	cmd.Flags().BoolVar(&txs, "txs", false, "list the address's transactions (on EVM chains: transfers), newest first")
	cmd.Flags().BoolVar(&counterparties, "counterparties", false, "list the addresses it exchanged value with (EVM chains)")
	cmd.Flags().StringVar(&page, "page", "", "continue a listing from the next_page token it printed")
	cmd.Flags().IntVar(&pageSize, "page-size", 25, "transactions per page")
	return cmd
}

func printAddress(w io.Writer, s store.Address, p *store.AddressTxPage) {
	info, _ := chains.Lookup(s.Chain)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address\t%s\nbalance\t%s\n", s.Address, coins(s.Balance, info))
	fmt.Fprintf(tw, "received\t%s in %d transactions\n", coins(s.TotalReceived, info), s.NoIncomingTxs)
	fmt.Fprintf(tw, "spent\t%s in %d transactions\n", coins(s.TotalSpent, info), s.NoOutgoingTxs)
	fmt.Fprintf(tw, "first seen\tblock %d, %s, tx %s\n", s.FirstTx.Height, utc(s.FirstTx.Timestamp), s.FirstTx.TxID)
	fmt.Fprintf(tw, "last seen\tblock %d, %s, tx %s\n", s.LastTx.Height, utc(s.LastTx.Timestamp), s.LastTx.TxID)
	tw.Flush()
	if p == nil {
		return
	}
	fmt.Fprintf(w, "transactions (newest first):\n")
	for _, t := range p.Txs {
		fmt.Fprintf(w, "  %7d  %s  %s", t.Height, utc(t.Timestamp), t.TxID)
		if !t.Received.IsZero() {
			fmt.Fprintf(w, "  +%s", coins(t.Received, info))
		}
		if !t.Spent.IsZero() {
			fmt.Fprintf(w, "  -%s", coins(t.Spent, info))
		}
		fmt.Fprintln(w)
	}
	if p.NextPage != "" {
		fmt.Fprintf(w, "more: --txs --page %s\n", p.NextPage)
	}
}

// addressArg validates an address argument for --chain and returns the
// form the store keeps.
func (a *app) addressArg(s string) (string, error) {
	chain, err := a.chainID()
	if err != nil {
		return "", err
	}
	addr, err := canonicalAddress(chain, s)
	if err != nil {
		return "", badInput("%v", err)
	}
	return addr, nil
}

// canonicalAddress validates an address for chain and returns the form the
// store keeps.
func canonicalAddress(chain chains.ID, s string) (string, error) {
	info, err := chains.Lookup(chain)
	if err != nil {
		return "", err
	}
	if info.Model == chains.Account {
		return ethereum.ParseAddress(strings.TrimSpace(s))
	}
	net, err := bitcoin.NetworkFor(chain)
	if err != nil {
		return "", err
	}
	return net.ParseAddress(s)
}

func utc(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05Z") }

// coins formats base units exactly, with the whole-coin value beside them.
func coins(a chains.Amount, info chains.Info) string { return units(a.String(), info) }

// units formats a decimal string of base units with the whole-coin value.
func units(s string, info chains.Info) string {
	if info.Decimals == 0 {
		return s
	}
	whole := s
	frac := ""
	if len(s) > info.Decimals {
		whole, frac = s[:len(s)-info.Decimals], s[len(s)-info.Decimals:]
	} else {
		whole, frac = "0", strings.Repeat("0", info.Decimals-len(s))+s
	}
	return fmt.Sprintf("%s.%s %s", whole, frac, info.Symbol)
}
