package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
	"github.com/fundtrace/fundtrace/store"
)

func (a *app) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Clusters of addresses held by one owner: show, why, stats",
		Long: `Clustering groups the addresses of a UTXO chain that one owner controls. It runs
as the indexer's "cluster" stage: every non-coinbase transaction that no
detector flags as a CoinJoin merges its input addresses (common-input
ownership), and every merge is kept with its evidence (transaction, rule,
confidence, height). See docs/heuristics.md.`,
	}
	cmd.AddCommand(a.clusterShowCmd(), a.clusterWhyCmd(), a.clusterStatsCmd())
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := c.Root().PersistentPreRunE(c, args); err != nil {
			return err
		}
		if chain, err := a.chainID(); err == nil && isAccountChain(chain) {
			return badInput("cluster: %s is an account-model chain; only UTXO chains are clustered so far", chain)
		}
		return nil
	}
	return cmd
}

func (a *app) clusterShowCmd() *cobra.Command {
	var (
		page     string
		pageSize int
	)
	cmd := &cobra.Command{
		Use:   "show ADDRESS",
		Short: "Show the cluster of an address: id, size, totals, first and last seen, members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := a.addressArg(args[0])
			if err != nil {
				return err
			}
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				c, err := db.ClusterOfAddress(cmd.Context(), chain, addr)
				if err != nil {
					return notFound(err)
				}
				members, err := db.ClusterMembers(cmd.Context(), chain, c.ID, page, pageSize)
				if err != nil {
					return badInput("%v", err)
				}
				if a.format == "json" {
					return a.writeJSON(struct {
						store.Cluster
						store.ClusterMemberPage
					}{c, members})
				}
				info, _ := chains.Lookup(chain)
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "cluster\t%d (root %s)\naddresses\t%d\n", c.ID, c.Root, c.Size)
				fmt.Fprintf(tw, "balance\t%s\nreceived\t%s\nspent\t%s\n", coins(c.Balance, info), coins(c.TotalReceived, info), coins(c.TotalSpent, info))
				fmt.Fprintf(tw, "first seen\tblock %d, %s, tx %s\n", c.FirstTx.Height, utc(c.FirstTx.Timestamp), c.FirstTx.TxID)
				fmt.Fprintf(tw, "last seen\tblock %d, %s, tx %s\n", c.LastTx.Height, utc(c.LastTx.Timestamp), c.LastTx.TxID)
				tw.Flush()
				fmt.Fprintf(a.stdout, "members:\n")
				for _, m := range members.Addresses {
					fmt.Fprintf(a.stdout, "  %s\n", m)
				}
				if members.NextPage != "" {
					fmt.Fprintf(a.stdout, "more: --page %s\n", members.NextPage)
				}
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	cmd.Flags().StringVar(&page, "page", "", "continue the member list from the next_page token it printed")
	cmd.Flags().IntVar(&pageSize, "page-size", 25, "members per page")
	return cmd
}

func (a *app) clusterWhyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "why ADDRESS_A ADDRESS_B",
		Short: "Explain why two addresses are in one cluster: the shortest chain of merges",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var addrs [2]string
			for i, s := range args {
				var err error
				if addrs[i], err = a.addressArg(s); err != nil {
					return err
				}
			}
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				steps, err := db.ClusterPath(cmd.Context(), chain, addrs[0], addrs[1], func(r uint8) string { return cluster.Rule(r).String() })
				if errors.Is(err, store.ErrNotClustered) {
					if a.format == "json" {
						return a.writeJSON(struct {
							Clustered bool   `json:"clustered"`
							Reason    string `json:"reason"`
						}{false, err.Error()})
					}
					fmt.Fprintf(a.stdout, "not clustered: %v\n", strings.TrimPrefix(err.Error(), store.ErrNotClustered.Error()+": "))
					return nil
				}
				if err != nil {
					return notFound(err)
				}
				if a.format == "json" {
					return a.writeJSON(struct {
						Clustered bool             `json:"clustered"`
						Path      []store.PathStep `json:"path"`
					}{true, steps})
				}
				fmt.Fprintf(a.stdout, "%s and %s are in one cluster, %d merge(s) apart:\n", addrs[0], addrs[1], len(steps))
				for _, s := range steps {
					fmt.Fprintf(a.stdout, "  %s\n    → tx %s (block %d), rule %s, confidence %d%%\n", s.From, s.Tx, s.Height, s.RuleName, s.Confidence)
				}
				if len(steps) > 0 {
					fmt.Fprintf(a.stdout, "  %s\n", steps[len(steps)-1].To)
				}
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	return cmd
}

func (a *app) clusterStatsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Statistics of a chain's clustering: clusters, multi-address clusters, largest, size distribution",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withChainDB(cmd.Context(), func(chain chains.ID, db *store.DB) error {
				st, err := db.ClusterStatistics(cmd.Context(), chain)
				if err != nil {
					return notFound(err)
				}
				if a.format == "json" {
					return a.writeJSON(st)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "addresses\t%d\nclusters\t%d\nmulti-address clusters\t%d\n", st.Addresses, st.Clusters, st.MultiAddressClusters)
				fmt.Fprintf(tw, "largest cluster\t%d addresses (cluster %d)\nmerges\t%d\nCoinJoins (not merged)\t%d\n", st.Largest, st.LargestID, st.Edges, st.CoinJoins)
				tw.Flush()
				fmt.Fprintf(a.stdout, "size distribution:\n")
				names := make([]string, 0, len(st.Sizes))
				for n := range st.Sizes {
					names = append(names, n)
				}
				order := map[string]int{"1": 0, "2": 1, "3-9": 2, "10-99": 3, "100-999": 4, "1000-9999": 5, "10000+": 6}
				sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
				for _, n := range names {
					fmt.Fprintf(a.stdout, "  %-10s %d\n", n, st.Sizes[n])
				}
				return nil
			})
		},
	}
	a.addChainFlag(cmd)
	return cmd
}

// txHeuristics is what `tx --heuristics` adds to a UTXO transaction.
type txHeuristics struct {
	CoinJoin       *store.CoinJoinFlag `json:"coinjoin"`
	PayJoinSignals []string            `json:"payjoin_signals"`
	Merges         []store.TxMerge     `json:"merges"`
	// ChangeSignals are the change heuristics that name one output each,
	// as the indexed chain stands now (later spends change some).
	ChangeSignals []changeSignal `json:"change_signals"`
	// Change is the output at least two independent signals agree on,
	// or nil.
	Change *int `json:"change_output"`
}

type changeSignal struct {
	Output     int    `json:"output"`
	Heuristic  string `json:"heuristic"`
	Confidence int    `json:"confidence"`
}

// storeHistory answers the change heuristics' questions from the store.
type storeHistory struct {
	ctx   context.Context
	db    *store.DB
	chain chains.ID
	err   error // the first failure; the heuristic then sees "unknown"
}

func (h *storeHistory) fail(err error) {
	if h.err == nil {
		h.err = err
	}
}

func (h *storeHistory) FirstSeen(address string) (chains.Hash, bool) {
	hash, ok, err := h.db.AddressFirstTx(h.ctx, h.chain, address)
	if err != nil {
		h.fail(err)
	}
	return hash, ok
}

func (h *storeHistory) Tx(hash chains.Hash) (*cluster.Tx, bool) {
	t, err := h.db.TxByHash(h.ctx, h.chain, hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.fail(err)
		}
		return nil, false
	}
	v := clusterView(t)
	return &v, true
}

func (h *storeHistory) Spender(out chains.OutPoint) (*cluster.Tx, bool) {
	t, err := h.db.TxByHash(h.ctx, h.chain, out.TxID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.fail(err)
		}
		return nil, false
	}
	if int(out.Index) >= len(t.Outputs) || t.Outputs[out.Index].SpentBy == nil {
		return nil, false
	}
	return h.Tx(t.Outputs[out.Index].SpentBy.TxID)
}

// clusterView turns a stored transaction into what the heuristics read.
func clusterView(t store.TxDetail) cluster.Tx {
	v := cluster.Tx{Hash: t.TxID, Height: t.Height, Version: t.Version, LockTime: t.LockTime, Coinbase: t.Coinbase,
		VSize: (t.Weight + 3) / 4}
	for _, in := range t.Inputs {
		ci := cluster.Input{Sequence: in.Sequence}
		if in.PrevTxID != nil && in.PrevIndex != nil {
			ci.Prev = chains.OutPoint{TxID: *in.PrevTxID, Index: *in.PrevIndex}
		}
		if in.Address != nil {
			ci.Address = *in.Address
		}
		if in.Value != nil {
			ci.Value, _ = in.Value.Uint64()
			ci.Known = true
		}
		if in.ScriptType != nil {
			ci.ScriptType = *in.ScriptType
		}
		v.Inputs = append(v.Inputs, ci)
	}
	for _, o := range t.Outputs {
		co := cluster.Output{ScriptType: o.ScriptType}
		if o.Address != nil {
			co.Address = *o.Address
		}
		co.Value, _ = o.Value.Uint64()
		v.Outputs = append(v.Outputs, co)
	}
	return v
}

// heuristicsOf gathers the clustering evidence of a UTXO transaction.
func heuristicsOf(ctx context.Context, db *store.DB, t store.TxDetail) (txHeuristics, error) {
	h := txHeuristics{PayJoinSignals: []string{}}
	var err error
	if h.CoinJoin, err = db.TxCoinJoin(ctx, t.Chain, t.TxID); err != nil {
		return h, err
	}
	if h.Merges, err = db.TxMerges(ctx, t.Chain, t.TxID, func(r uint8) string { return cluster.Rule(r).String() }); err != nil {
		return h, err
	}
	view := clusterView(t)
	h.ChangeSignals = []changeSignal{}
	if t.Coinbase {
		return h, nil
	}
	h.PayJoinSignals = append(h.PayJoinSignals, cluster.PayJoinSignals(&view)...)
	hist := &storeHistory{ctx: ctx, db: db, chain: t.Chain}
	out, signals, ok := cluster.Change(&view, hist, 2)
	if hist.err != nil {
		return h, hist.err
	}
	for _, s := range signals {
		h.ChangeSignals = append(h.ChangeSignals, changeSignal{s.Output, s.Heuristic, int(s.Confidence)})
	}
	if ok {
		h.Change = &out
	}
	return h, nil
}

func printHeuristics(w io.Writer, h txHeuristics) {
	fmt.Fprintf(w, "  heuristics:\n")
	if h.CoinJoin != nil {
		fmt.Fprintf(w, "    CoinJoin: %s, confidence %d%%", h.CoinJoin.Detector, h.CoinJoin.Confidence)
		if h.CoinJoin.Denomination > 0 {
			fmt.Fprintf(w, ", denomination %d sat", h.CoinJoin.Denomination)
		}
		if h.CoinJoin.Participants > 0 {
			fmt.Fprintf(w, ", about %d participants", h.CoinJoin.Participants)
		}
		fmt.Fprintf(w, " (inputs not merged)\n")
	} else {
		fmt.Fprintf(w, "    CoinJoin: none detected\n")
	}
	if len(h.PayJoinSignals) > 0 {
		fmt.Fprintf(w, "    PayJoin signals: %s\n", strings.Join(h.PayJoinSignals, ", "))
	}
	for _, c := range h.ChangeSignals {
		fmt.Fprintf(w, "    change signal: output %d by %s, confidence %d%%\n", c.Output, c.Heuristic, c.Confidence)
	}
	if h.Change != nil {
		fmt.Fprintf(w, "    change: output %d (reported only: change-based merging is off)\n", *h.Change)
	} else {
		fmt.Fprintf(w, "    change: undecided\n")
	}
	for _, m := range h.Merges {
		state := "merged"
		if !m.Merged {
			state = "held back"
		}
		fmt.Fprintf(w, "    %s: %s + %s, confidence %d%%, %s\n", m.RuleName, m.A, m.B, m.Confidence, state)
	}
}
