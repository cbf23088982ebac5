//go:build regtest

package bitcoin_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/chaintest"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/internal/devnet"
)

// The JSON-RPC client against a real btcd regtest node: the conformance
// checks on a chain with real transactions, before and after a reorg made
// with invalidateblock, and batched Blocks equal to one-by-one Block.
func TestClientAgainstBtcd(t *testing.T) {
	net := mustNetwork(t, chains.BTCRegtest)
	w := devnet.NewWallet(net.Params(), "bitcoin-client-test")
	n, err := devnet.StartBtcd(t.Context(), devnet.BtcdOptions{Dir: t.TempDir(), MiningAddr: w.MiningAddress()})
	if err != nil {
		t.Fatalf("btcd did not start: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	if _, err := w.Populate(t.Context(), n, devnet.Plan{Txs: 300, TxsPerBlock: 60, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	cfg := endpoint.DefaultConfig(n.RPCURL())
	cfg.User, cfg.Password = n.User(), n.Password()
	ep, err := endpoint.New(cfg, endpoint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := bitcoin.NewClient(ep, net)
	if err := c.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		want, err := n.BestChain(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		chaintest.CheckSource(t, c, want)
		tip := int64(len(want) - 1)
		batch, err := c.Blocks(t.Context(), tip-10, tip)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range batch {
			one, err := c.Block(t.Context(), tip-10+int64(i))
			if err != nil {
				t.Fatal(err)
			}
			if b.Hash != one.Hash || len(b.Txs) != len(one.Txs) {
				t.Errorf("Blocks[%d] = %s (%d txs), Block = %s (%d txs)", i, b.Hash, len(b.Txs), one.Hash, len(one.Txs))
			}
		}
	}
	check()

	hashes, err := n.BestChain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tip := int64(len(hashes) - 1)
	if err := n.InvalidateBlock(t.Context(), hashes[tip-2]); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Generate(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	if h, _ := c.BlockHash(t.Context(), tip-2); h == hashes[tip-2] {
		t.Fatalf("block %d unchanged after invalidateblock", tip-2)
	}
	check()
}
