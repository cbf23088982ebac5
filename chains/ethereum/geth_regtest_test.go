//go:build regtest

package ethereum_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/chaintest"
	"github.com/fundtrace/fundtrace/internal/devnet"
)

// The client against a real geth --dev node: the Source contract on a
// chain with every kind of value flow, before and after debug_setHead and
// a different branch; every block extracts without an inconsistency.
func TestClientAgainstGeth(t *testing.T) {
	g, err := devnet.StartGeth(t.Context(), devnet.GethOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("geth did not start: %v", err)
	}
	t.Cleanup(func() { g.Stop() })
	sc, err := g.PopulateEth(t.Context(), devnet.EthPlan{Seed: "client-contract", Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, g.RPCURL(), clientSetup{})
	if err := c.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	best := func() []chains.Hash {
		t.Helper()
		tip, err := g.Tip(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out := make([]chains.Hash, tip+1)
		for h := range out {
			hash, err := g.BlockHash(t.Context(), uint64(h))
			if err != nil {
				t.Fatal(err)
			}
			out[h] = chains.Hash(hash)
		}
		return out
	}
	chaintest.CheckSourceContract(t, c, best())
	if caps := c.Capabilities(); caps.Receipts != "eth_getBlockReceipts" || caps.TraceMethod != "debug_traceBlockByNumber" {
		t.Errorf("capabilities against geth: %+v", caps)
	}
	if err := g.SetHead(t.Context(), sc.Tip-5); err != nil {
		t.Fatal(err)
	}
	if _, err := g.PopulateEth(t.Context(), devnet.EthPlan{Seed: "client-contract-branch", Rounds: 1}); err != nil {
		t.Fatal(err)
	}
	chaintest.CheckSourceContract(t, c, best())
}
