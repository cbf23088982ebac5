package ethereum_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/chaintest"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
)

// hashesOf returns the best chain of a fake node's chain, genesis first.
func hashesOf(c *ethtest.Chain) []chains.Hash {
	out := make([]chains.Hash, c.Tip()+1)
	for h := range out {
		out[h] = chains.Hash(c.Hash(int64(h)))
	}
	return out
}

// TestClientSourceContract runs the indexer's Source contract
// (chains/chaintest) against the client over fake nodes with every
// receipt and trace method, before and after a reorg.
func TestClientSourceContract(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse []string
	}{
		{"block receipts and callTracer", nil},
		{"per-tx receipts", []string{"eth_getBlockReceipts"}},
		{"trace_block", []string{"debug_traceBlockByNumber"}},
		{"no tracer", []string{"debug_traceBlockByNumber", "trace_block"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain := ethtest.NewChain(ethtest.ChainOptions{Height: 12, Withdrawals: true})
			node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: tc.refuse})
			c, _ := newClient(t, node.URL(), clientSetup{})
			chaintest.CheckSourceContract(t, c, hashesOf(chain))
			old := chain.Hash(10)
			chain.Reorg(3)
			chain.Extend(2)
			if chain.Hash(10) == old {
				t.Fatal("the fake chain did not reorg")
			}
			chaintest.CheckSourceContract(t, c, hashesOf(chain))
		})
	}
}
