package synth_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/synth"
)

// TestReadableAsBlockDir: generated files are a valid Core block directory
// for fundtrace's own reader (proof of work, links, decoding), so the ingest
// benchmark measures the real path.
func TestReadableAsBlockDir(t *testing.T) {
	cfg := synth.DefaultConfig()
	cfg.Blocks, cfg.TxsPerBlock = 115, 40
	dir := t.TempDir()
	sum, err := synth.WriteBlockDir(t.Context(), dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	net, _ := bitcoin.NetworkFor(chains.BTCRegtest)
	bd, err := bitcoin.OpenBlockDir(t.Context(), dir, net, bitcoin.BlockDirOptions{})
	if err != nil {
		t.Fatalf("open generated dir: %v", err)
	}
	defer bd.Close()
	tip, hash, err := bd.Tip(t.Context())
	if err != nil || tip != sum.TipHeight || hash != sum.TipHash {
		t.Fatalf("tip = %d %s %v, want %d %s", tip, hash, err, sum.TipHeight, sum.TipHash)
	}
	var txs int64
	for h := int64(0); h <= tip; h++ {
		b, err := bd.Block(t.Context(), h)
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		txs += int64(len(b.Txs))
	}
	if txs != sum.Txs {
		t.Errorf("decoded %d txs, generator says %d", txs, sum.Txs)
	}
}
