package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/store"
)

// chainsFile is the --chains file: EVM chains fundtrace does not know by
// name (layer 2s, sidechains), each with its EIP-155 chain id and native
// asset.
type chainsFile struct {
	Chains []struct {
		ID       string `json:"id"`
		ChainID  uint64 `json:"chain_id"`
		Symbol   string `json:"symbol"`
		Decimals *int   `json:"decimals"`
		Name     string `json:"name"`
	} `json:"chains"`
}

// loadChains registers the chains of a --chains file.
func loadChains(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return badInput("--chains: %v", err)
	}
	var f chainsFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return badInput("--chains %s: %v", path, err)
	}
	for i, c := range f.Chains {
		if c.Decimals == nil {
			return badInput("--chains %s: chain %d (%s): decimals is required", path, i+1, c.ID)
		}
		err := chains.Register(chains.Info{ID: chains.ID(c.ID), Model: chains.Account, Symbol: c.Symbol,
			Decimals: *c.Decimals, Name: c.Name, EVMChainID: c.ChainID})
		if err != nil {
			return badInput("--chains %s: chain %d: %v", path, i+1, err)
		}
	}
	return nil
}

// ethParams returns the extraction parameters of an EVM chain, with the
// allocations of a --genesis file when one is given.
func ethParams(chain chains.ID, genesisFile string) (*ethereum.Params, error) {
	p, err := ethereum.ParamsFor(chain)
	if err != nil {
		return nil, badInput("%v", err)
	}
	if genesisFile != "" {
		f, err := os.Open(genesisFile)
		if err != nil {
			return nil, badInput("--genesis: %v", err)
		}
		defer f.Close()
		if p.Genesis, err = ethereum.ReadGenesis(f); err != nil {
			return nil, badInput("--genesis %s: %v", genesisFile, err)
		}
	}
	return p, nil
}

func isAccountChain(chain chains.ID) bool {
	info, err := chains.Lookup(chain)
	return err == nil && info.Model == chains.Account
}

// assetAmount formats base units of an asset exactly, with the whole-unit
// value beside them when the decimals are known.
func assetAmount(v fmt.Stringer, a store.Asset) string {
	sym := a.Symbol
	if sym == "" {
		sym = "token " + ethereum.Checksum(a.Token)[:10] + "…"
	}
	if a.Decimals == nil {
		return fmt.Sprintf("%s %s units (decimals unknown)", v, sym)
	}
	return units(v.String(), chains.Info{Symbol: sym, Decimals: *a.Decimals})
}

func checksum(addr string) string {
	if addr == "" {
		return ""
	}
	return ethereum.Checksum(addr)
}

func printAccountTx(w io.Writer, t store.AccountTx) {
	fmt.Fprintf(w, "transaction %s\n", t.Hash)
	fmt.Fprintf(w, "  block %d, position %d, %s, %s\n", t.Height, t.Position, utc(t.Timestamp), t.Status)
	switch {
	case t.To != "":
		fmt.Fprintf(w, "  from %s to %s\n", checksum(t.From), checksum(t.To))
	case t.Created != "":
		fmt.Fprintf(w, "  from %s creates contract %s\n", checksum(t.From), checksum(t.Created))
	default:
		fmt.Fprintf(w, "  from %s (contract creation)\n", checksum(t.From))
	}
	fmt.Fprintf(w, "  value %s, nonce %d, type %d\n", assetAmount(t.Value, t.Native), t.Nonce, t.Type)
	fmt.Fprintf(w, "  fee %s (gas used %d at %s wei)\n", assetAmount(t.Fee, t.Native), t.GasUsed, t.GasPrice)
	if t.NoTraces {
		fmt.Fprintf(w, "  internal transfers unknown: the node could not trace this block\n")
	}
	fmt.Fprintf(w, "  transfers:\n")
	printTransfers(w, t.Transfers, false)
}

func printTransfers(w io.Writer, trs []store.AccountTransfer, withTx bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, tr := range trs {
		from, to := checksum(tr.From), checksum(tr.To)
		if from == "" {
			from = "(new money)"
		}
		if to == "" {
			to = "(burned)"
		}
		where := fmt.Sprint(tr.Position)
		if tr.Trace != "" {
			where += " [" + tr.Trace + "]"
		}
		if withTx {
			tx := tr.TxHash
			if tx == "" {
				tx = "(block)"
			}
			fmt.Fprintf(tw, "    %d\t%s\t%s\t", tr.Height, utc(tr.Timestamp), tx)
		} else {
			fmt.Fprintf(tw, "    %s\t", where)
		}
		fmt.Fprintf(tw, "%s\t%s\t→ %s\t%s\n", tr.Kind, from, to, assetAmount(tr.Value, tr.Asset))
	}
	tw.Flush()
}

func printAccountAddress(w io.Writer, s store.AccountAddress, trs *store.TransferPage, parties *store.CounterpartyPage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address\t%s\n", checksum(s.Address))
	for _, at := range s.Assets {
		bal := "unknown (sent more than the index saw it receive: genesis allocation or history before the indexed start)"
		if at.Balance != nil {
			bal = assetAmount(*at.Balance, at.Asset)
		}
		name := at.Asset.Symbol
		if at.Asset.Token != "" {
			name += " " + checksum(at.Asset.Token)
		}
		label := "balance"
		if s.IndexedFrom > 0 {
			label = fmt.Sprintf("net since block %d", s.IndexedFrom)
		}
		fmt.Fprintf(tw, "%s\t%s %s\n", name, label, bal)
		fmt.Fprintf(tw, "\treceived %s in %d transfers, sent %s in %d\n", assetAmount(at.Received, at.Asset), at.NIn, assetAmount(at.Sent, at.Asset), at.NOut)
	}
	fmt.Fprintf(tw, "counterparties\t%d\n", s.Counterparties)
	if s.FirstSeen != nil {
		fmt.Fprintf(tw, "first seen\tblock %d, %s %s\n", s.FirstSeen.Height, utc(s.FirstSeen.Timestamp), s.FirstSeen.TxHash)
	}
	if s.LastSeen != nil {
		fmt.Fprintf(tw, "last seen\tblock %d, %s %s\n", s.LastSeen.Height, utc(s.LastSeen.Timestamp), s.LastSeen.TxHash)
	}
	tw.Flush()
	if trs != nil {
		fmt.Fprintf(w, "transfers (newest first):\n")
		printTransfers(w, trs.Transfers, true)
		if trs.NextPage != "" {
			fmt.Fprintf(w, "more: --txs --page %s\n", trs.NextPage)
		}
	}
	if parties != nil {
		fmt.Fprintf(w, "counterparties:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range parties.Counterparties {
			fmt.Fprintf(tw, "    %s\treceived %s (%d)\tsent %s (%d)\n", checksum(c.Address),
				assetAmount(c.Received, c.Asset), c.NIn, assetAmount(c.Sent, c.Asset), c.NOut)
		}
		tw.Flush()
		if parties.NextPage != "" {
			fmt.Fprintf(w, "more: --counterparties --page %s\n", parties.NextPage)
		}
	}
}

// accountAddress answers the address command on an account-model chain.
func (a *app) accountAddress(ctx context.Context, db *store.DB, chain chains.ID, addr string, txs, counterparties bool, page string, size int) error {
	sum, err := db.AccountAddressSummary(ctx, chain, addr)
	if err != nil {
		return notFound(err)
	}
	var (
		trs     *store.TransferPage
		parties *store.CounterpartyPage
	)
	if txs {
		p, err := db.AccountTransfers(ctx, chain, addr, page, size)
		if err != nil {
			return badInput("%v", err)
		}
		trs = &p
	}
	if counterparties {
		p, err := db.AccountCounterparties(ctx, chain, addr, page, size)
		if err != nil {
			return badInput("%v", err)
		}
		parties = &p
	}
	if a.format == "json" {
		out := struct {
			store.AccountAddress
			Transfers      []store.AccountTransfer `json:"transfers,omitempty"`
			Counterparties []store.Counterparty    `json:"counterparties,omitempty"`
			NextPage       string                  `json:"next_page,omitempty"`
		}{AccountAddress: sum}
		if trs != nil {
			out.Transfers, out.NextPage = trs.Transfers, trs.NextPage
		}
		if parties != nil {
			out.Counterparties, out.NextPage = parties.Counterparties, parties.NextPage
		}
		return a.writeJSON(out)
	}
	printAccountAddress(a.stdout, sum, trs, parties)
	return nil
}

// ethSources makes Ethereum JSON-RPC sources of the chain p describes.
func (a *app) ethSources(p *ethereum.Params) sourceMaker {
	return func(ctx context.Context, kind string, ep *endpoint.Endpoint) (chainSource, error) {
		if kind != "rpc" {
			return nil, fmt.Errorf("%s endpoints serve Bitcoin only; %s needs Ethereum JSON-RPC", kind, p.Chain)
		}
		return ethereum.NewClient(ctx, ep, p, ethereum.ClientOptions{Logger: a.log})
	}
}
