package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

const (
	alice  = "0x00000000000000000000000000000000000a11ce"
	bob    = "0x0000000000000000000000000000000000000b0b"
	carol  = "0x00000000000000000000000000000000000ca201"
	miner  = "0x000000000000000000000000000000000000f00d"
	router = "0x00000000000000000000000000000000000c0de1"
	usdt   = "0xdac17f958d2ee523a2206206994597c13d831ec7"
)

func amt(s string) chains.Amount {
	a, err := chains.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// accountChain builds eth-dev blocks by hand: genesis money, payments,
// a router that splits, a token, a failed tx, withdrawals.
type accountChain struct {
	c      chainBuilder
	blocks []chains.Block
}

func (a *accountChain) block(txs []chains.AccountTx, trs []chains.Transfer, toks ...chains.Token) chains.Block {
	b := a.c.block()
	b.Txs = nil
	b.Account = &chains.AccountBlock{FeeRecipient: miner, GasUsed: 21000, GasLimit: 30_000_000, Txs: txs, Transfers: trs, Tokens: toks}
	base := amt("7")
	b.Account.BaseFee = &base
	a.c.blocks[len(a.c.blocks)-1] = b
	a.blocks = append(a.blocks, b)
	return b
}

func (a *accountChain) tx(i int, from, to string, value string, ok bool) chains.AccountTx {
	return chains.AccountTx{Hash: a.c.hash(), Index: i, From: from, To: to, Value: amt(value), Nonce: uint64(i), Type: 2,
		Success: ok, GasUsed: 21000, GasPrice: amt("10"), Fee: amt("210000")}
}

// fee returns the tip and burn transfers of a tx paying 21000 × 10 with
// base fee 7.
func fee(i int, from string) []chains.Transfer {
	return []chains.Transfer{
		{TxIndex: i, Position: 0, Kind: chains.TransferFee, From: from, To: miner, Value: amt("63000"), LogIndex: -1},
		{TxIndex: i, Position: 1, Kind: chains.TransferBurn, From: from, Value: amt("147000"), LogIndex: -1},
	}
}

func sampleAccountChain() *accountChain {
	a := &accountChain{}
	// 0: genesis allocations.
	a.block(nil, []chains.Transfer{
		{TxIndex: -1, Position: 0, Kind: chains.TransferGenesis, To: alice, Value: amt("1000000000000000000000"), LogIndex: -1},
		{TxIndex: -1, Position: 1, Kind: chains.TransferGenesis, To: bob, Value: amt("5000000"), LogIndex: -1},
	})
	// 1: alice pays bob; alice calls the router, which splits to bob and carol.
	t0 := a.tx(0, alice, bob, "1000", true)
	t1 := a.tx(1, alice, router, "300", true)
	trs := append(fee(0, alice), chains.Transfer{TxIndex: 0, Position: 2, Kind: chains.TransferCall, From: alice, To: bob, Value: amt("1000"), LogIndex: -1})
	trs = append(trs, fee(1, alice)...)
	trs = append(trs,
		chains.Transfer{TxIndex: 1, Position: 2, Kind: chains.TransferCall, From: alice, To: router, Value: amt("300"), LogIndex: -1},
		chains.Transfer{TxIndex: 1, Position: 3, Kind: chains.TransferInternal, From: router, To: bob, Value: amt("150"), TraceAddress: "0", LogIndex: -1},
		chains.Transfer{TxIndex: 1, Position: 4, Kind: chains.TransferInternal, From: router, To: carol, Value: amt("150"), TraceAddress: "1", LogIndex: -1},
	)
	a.block([]chains.AccountTx{t0, t1}, trs)
	// 2: a token mint and transfer (uint256-sized value), a failed tx, a withdrawal.
	t2 := a.tx(0, bob, usdt, "0", true)
	t3 := a.tx(1, carol, bob, "99", false)
	big := "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	trs = append(fee(0, bob),
		chains.Transfer{TxIndex: 0, Position: 2, Kind: chains.TransferToken, Token: usdt, From: "0x0000000000000000000000000000000000000000", To: bob, Value: amt(big), LogIndex: 0},
		chains.Transfer{TxIndex: 0, Position: 3, Kind: chains.TransferToken, Token: usdt, From: bob, To: carol, Value: amt("5"), LogIndex: 1},
	)
	trs = append(trs, fee(1, carol)...)
	trs = append(trs, chains.Transfer{TxIndex: -1, Position: 0, Kind: chains.TransferWithdrawal, To: carol, Value: amt("32000000000"), LogIndex: -1})
	a.block([]chains.AccountTx{t2, t3}, trs, chains.Token{Address: usdt, Name: "Tether USD", Symbol: "USDT", Decimals: 6})
	// 3: bob pays alice back.
	t4 := a.tx(0, bob, alice, "7", true)
	a.block([]chains.AccountTx{t4}, append(fee(0, bob), chains.Transfer{TxIndex: 0, Position: 2, Kind: chains.TransferCall, From: bob, To: alice, Value: amt("7"), LogIndex: -1}))
	return a
}

func writeAccount(t *testing.T, db *store.DB, w *store.AccountWriter, blocks []chains.Block) {
	t.Helper()
	err := db.InTx(t.Context(), func(tx *store.Tx) error {
		_, err := w.Write(t.Context(), tx, blocks)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func accountSnapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	s, err := db.Checksum(t.Context(), chains.ETHDev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccountWriterBalances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		a := sampleAccountChain()
		w := db.NewAccountWriter(chains.ETHDev, store.AccountWriterOptions{})
		writeAccount(t, db, w, a.blocks[:2])
		writeAccount(t, db, w, a.blocks[2:])

		got, err := db.AccountBalances(ctx, chains.ETHDev, []string{alice, bob, carol, miner, router, "0x0000000000000000000000000000000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		// Worked by hand: every tx pays 63000 tip + 147000 burn.
		want := map[string]map[string]string{
			alice:  {"": "999999999999999578707"}, // 10^21 - 1000 - 300 - 2×210000 + 7
			bob:    {"": fmt.Sprint(5000000 + 1000 + 150 - 2*210000 - 7), usdt: "115792089237316195423570985008687907853269984665640564039457584007913129639930"},
			carol:  {"": fmt.Sprint(150 - 210000 + 32000000000), usdt: "5"},
			miner:  {"": fmt.Sprint(5 * 63000)},
			router: {"": "0"},
		}
		// The zero address minted: it sent more than it received, so it has
		// no balance.
		for addr, assets := range want {
			for asset, v := range assets {
				if g := got[addr][asset]; g.String() != v {
					t.Errorf("balance of %s in %q = %s, want %s", addr, asset, g, v)
				}
			}
			if len(got[addr]) != len(assets) {
				t.Errorf("%s has balances %v, want %v", addr, got[addr], assets)
			}
		}
		if _, ok := got["0x0000000000000000000000000000000000000000"]; ok {
			t.Errorf("the mint address has a balance %v, want none (it sent more than it received)", got["0x0000000000000000000000000000000000000000"])
		}

		tx, err := db.AccountTxByHash(ctx, chains.ETHDev, a.blocks[1].Account.Txs[1].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if tx.Status != "success" || tx.To != router || tx.Fee.String() != "210000" || len(tx.Transfers) != 5 {
			t.Fatalf("tx = %+v", tx)
		}
		if tr := tx.Transfers[3]; tr.Kind != chains.TransferInternal || tr.From != router || tr.To != bob || tr.Trace != "0" || tr.Value.String() != "150" {
			t.Errorf("internal transfer = %+v", tr)
		}
		failed, err := db.AccountTxByHash(ctx, chains.ETHDev, a.blocks[2].Account.Txs[1].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if failed.Status != "failed" || len(failed.Transfers) != 2 {
			t.Errorf("failed tx = %+v, want status failed with only its two fee transfers", failed)
		}

		sum, err := db.AccountAddressSummary(ctx, chains.ETHDev, bob)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Assets) != 2 || sum.Assets[1].Asset.Symbol != "USDT" || *sum.Assets[1].Asset.Decimals != 6 || sum.Counterparties != 5 {
			t.Errorf("summary of bob = %+v", sum)
		}
		if sum.FirstSeen == nil || sum.FirstSeen.Kind != chains.TransferGenesis || sum.LastSeen == nil || sum.LastSeen.Height != 3 {
			t.Errorf("bob first %+v last %+v", sum.FirstSeen, sum.LastSeen)
		}

		// Pages: every transfer of bob once, newest first.
		var all []store.AccountTransfer
		page := ""
		for {
			p, err := db.AccountTransfers(ctx, chains.ETHDev, bob, page, 3)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p.Transfers...)
			if page = p.NextPage; page == "" {
				break
			}
		}
		// genesis, alice's payment, the router's split, 2 × (tip, burn), the
		// mint, the token payment, the payment back.
		if len(all) != 10 {
			t.Errorf("bob has %d transfers over the pages, want 10", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].Height > all[i-1].Height {
				t.Errorf("transfers not newest first: %d after %d", all[i].Height, all[i-1].Height)
			}
		}
		var parties []string
		page = ""
		for {
			p, err := db.AccountCounterparties(ctx, chains.ETHDev, bob, page, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Counterparties {
				parties = append(parties, c.Address+"/"+c.Asset.Symbol)
			}
			if page = p.NextPage; page == "" {
				break
			}
		}
		// carol's failed payment moved nothing to bob: she is a counterparty
		// in USDT only.
		if got := strings.Join(parties, " "); got != miner+"/ETH "+alice+"/ETH "+router+"/ETH "+carol+"/USDT 0x0000000000000000000000000000000000000000/USDT" {
			t.Errorf("counterparties of bob = %s, want the miner, alice and the router in ETH, carol and the zero address in USDT (in id order)", got)
		}
		if _, err := db.AccountAddressSummary(ctx, chains.ETHDev, "0x1111111111111111111111111111111111111111"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown address: %v, want ErrNotFound", err)
		}
	})
}

func TestAccountWriterUnwindEqualsFreshIndex(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := sampleAccountChain()
		w := db.NewAccountWriter(chains.ETHDev, store.AccountWriterOptions{})
		writeAccount(t, db, w, a.blocks[:2])
		before := accountSnapshot(t, db)
		writeAccount(t, db, w, a.blocks[2:])
		err := db.InTx(t.Context(), func(tx *store.Tx) error { return w.Unwind(t.Context(), tx, 1) })
		if err != nil {
			t.Fatal(err)
		}
		if got := accountSnapshot(t, db); got != before {
			t.Errorf("after unwind to 1:\n%s\nwant as indexed to 1:\n%s", got, before)
		}
		writeAccount(t, db, w, a.blocks[2:])
		full := accountSnapshot(t, db)

		// One block at a time gives the same rows as batches.
		fresh := storetest.SQLite(t)
		w2 := fresh.NewAccountWriter(chains.ETHDev, store.AccountWriterOptions{})
		for i := range a.blocks {
			writeAccount(t, fresh, w2, a.blocks[i:i+1])
		}
		if got := accountSnapshot(t, fresh); got != full {
			t.Errorf("block by block on sqlite:\n%s\nwant:\n%s", got, full)
		}
	})
}

func TestAccountWriterRejects(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		a := sampleAccountChain()
		w := db.NewAccountWriter(chains.ETHDev, store.AccountWriterOptions{})
		writeAccount(t, db, w, a.blocks[:1])
		before := accountSnapshot(t, db)
		bad := a.blocks[1]
		acc := *bad.Account
		acc.Transfers = append([]chains.Transfer(nil), acc.Transfers...)
		acc.Transfers[0].TxIndex = 9
		bad.Account = &acc
		noToken := a.blocks[1]
		acc2 := *noToken.Account
		acc2.Transfers = append([]chains.Transfer(nil), acc2.Transfers...)
		acc2.Transfers[2].Token = usdt
		noToken.Account = &acc2
		for _, tc := range []struct {
			name   string
			blocks []chains.Block
			want   string
		}{
			{"unknown tx index", []chains.Block{bad}, "tx index 9"},
			{"token without description", []chains.Block{noToken}, "no description"},
			{"gap", a.blocks[2:3], "expects height 1"},
			{"utxo block", []chains.Block{{Height: 1, PrevHash: a.blocks[0].Hash}}, "no account-model data"},
		} {
			err := db.InTx(t.Context(), func(tx *store.Tx) error {
				_, err := w.Write(t.Context(), tx, tc.blocks)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
			}
			if got := accountSnapshot(t, db); got != before {
				t.Errorf("%s: the failed write left rows:\n%s", tc.name, got)
			}
		}
		// The writer recovers from the failures.
		writeAccount(t, db, w, a.blocks[1:])
	})
}
