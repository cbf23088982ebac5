package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/internal/bundle"
)

const (
	genesisHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	hash277647  = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"
	// subsidy277647 is the block reward at height 277647: 50 BTC halved
	// once (heights 210000 to 419999).
	subsidy277647 = 25 * 100_000_000
)

// headerHash is the double SHA-256 of an 80-byte header in display order.
func headerHash(b []byte) chains.Hash {
	a := sha256.Sum256(b[:80])
	a = sha256.Sum256(a[:])
	var h chains.Hash
	for i := range h {
		h[i] = a[31-i]
	}
	return h
}

func TestMainnetBlocks(t *testing.T) {
	r, err := bundle.MainnetBlocksReader()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var hashes []chains.Hash
	for off := 0; off < len(data); {
		if off+8 > len(data) || !bytes.Equal(data[off:off+4], []byte{0xf9, 0xbe, 0xb4, 0xd9}) {
			t.Fatalf("offset %d: not a mainnet record", off)
		}
		n := int(binary.LittleEndian.Uint32(data[off+4:]))
		if off+8+n > len(data) {
			t.Fatalf("offset %d: record of %d bytes runs past the end", off, n)
		}
		blk := data[off+8 : off+8+n]
		if len(hashes) > 0 {
			var prev chains.Hash
			for i := range prev {
				prev[i] = blk[4+31-i]
			}
			if prev != hashes[len(hashes)-1] {
				t.Fatalf("block %d does not link to block %d", len(hashes), len(hashes)-1)
			}
		}
		hashes = append(hashes, headerHash(blk))
		off += 8 + n
	}
	if len(hashes) != bundle.MainnetBlockCount {
		t.Fatalf("%d blocks, want %d", len(hashes), bundle.MainnetBlockCount)
	}
	if hashes[0].String() != genesisHash {
		t.Errorf("block 0 = %s, want the mainnet genesis %s", hashes[0], genesisHash)
	}

	dir := t.TempDir()
	if err := bundle.MainnetBlockDir(dir); err != nil {
		t.Fatal(err)
	}
	net, err := bitcoin.NetworkFor(chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tip, tipHash, err := d.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tip != bundle.MainnetTip || tipHash != hashes[bundle.MainnetTip] {
		t.Errorf("Tip = %d %s, want %d %s", tip, tipHash, bundle.MainnetTip, hashes[bundle.MainnetTip])
	}
}

func block277647(t *testing.T) (chains.Block, map[chains.OutPoint]bundle.Prevout) {
	t.Helper()
	raw, err := bundle.Block277647()
	if err != nil {
		t.Fatal(err)
	}
	if got := headerHash(raw).String(); got != hash277647 {
		t.Fatalf("block header hashes to %s, want %s", got, hash277647)
	}
	net, err := bitcoin.NetworkFor(chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := net.DecodeBlock(raw, bundle.Height277647)
	if err != nil {
		t.Fatal(err)
	}
	if blk.Hash.String() != hash277647 {
		t.Fatalf("decoded hash %s, want %s", blk.Hash, hash277647)
	}
	prevouts, err := bundle.Prevouts277647()
	if err != nil {
		t.Fatal(err)
	}
	return blk, prevouts
}

func TestPrevouts277647CoverEveryInput(t *testing.T) {
	blk, prevouts := block277647(t)
	if len(blk.Txs) != 213 {
		t.Errorf("block 277647 has %d transactions, want 213", len(blk.Txs))
	}
	spent := map[chains.OutPoint]bool{}
	for i, tx := range blk.Txs {
		if tx.Coinbase != (i == 0) {
			t.Fatalf("tx %d (%s): coinbase = %v", i, tx.Hash, tx.Coinbase)
		}
		if tx.Coinbase {
			continue
		}
		for j, in := range tx.Inputs {
			if _, ok := prevouts[in.Prev]; !ok {
				t.Errorf("tx %s input %d spends %s: no prevout", tx.Hash, j, in.Prev)
			}
			if spent[in.Prev] {
				t.Errorf("%s spent twice in the block", in.Prev)
			}
			spent[in.Prev] = true
		}
	}
	if len(prevouts) != len(spent) {
		t.Errorf("%d prevouts for %d inputs: the bundle should hold exactly the spent outputs", len(prevouts), len(spent))
	}
	for op, p := range prevouts {
		if len(p.Script) == 0 || p.Value == 0 {
			t.Errorf("prevout %s: value %d, %d-byte script", op, p.Value, len(p.Script))
		}
	}
}

// TestReconcile277647 checks the bundled values against the block alone:
// the inputs of each transaction cover its outputs, and the coinbase claims
// at most the subsidy plus the fees.
func TestReconcile277647(t *testing.T) {
	blk, prevouts := block277647(t)
	var fees uint64
	for _, tx := range blk.Txs[1:] {
		var in, out uint64
		for _, i := range tx.Inputs {
			in += prevouts[i.Prev].Value
		}
		for _, o := range tx.Outputs {
			out += o.Value
		}
		if in < out {
			t.Fatalf("tx %s spends %d sat and creates %d", tx.Hash, in, out)
		}
		fees += in - out
	}
	var claimed uint64
	for _, o := range blk.Txs[0].Outputs {
		claimed += o.Value
	}
	allowed := uint64(subsidy277647) + fees
	t.Logf("block 277647: fees %d sat, coinbase outputs %d sat, subsidy + fees %d sat", fees, claimed, allowed)
	if claimed > allowed {
		t.Fatalf("coinbase claims %d sat, more than subsidy + fees = %d", claimed, allowed)
	}
	if claimed != allowed {
		t.Logf("miner left %d sat unclaimed", allowed-claimed)
	}
	// The facts as computed when the bundle was made, so a change in the
	// data or the decoder shows up.
	const wantFees = 4_737_355 // sat
	if fees != wantFees || claimed != allowed {
		t.Errorf("fees = %d, coinbase = %d; want fees %d and coinbase = subsidy + fees", fees, claimed, wantFees)
	}
}

func TestEthereumBlocks(t *testing.T) {
	raws, err := bundle.EthereumBlocks()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ethereum.ParamsFor(chains.ETH)
	if err != nil {
		t.Fatal(err)
	}
	var prev chains.Hash
	var tokens int
	for i, raw := range raws {
		b, err := ethereum.Extract(p, raw)
		if err != nil {
			t.Fatal(err)
		}
		if b.Height != bundle.EthFirst+int64(i) || i > 0 && b.PrevHash != prev || !b.Account.NoTraces {
			t.Errorf("block %d: height %d, prev %s (want %s), no traces %v", i, b.Height, b.PrevHash, prev, b.Account.NoTraces)
		}
		prev = b.Hash
		for _, tr := range b.Account.Transfers {
			if tr.Kind == chains.TransferToken {
				tokens++
				if tr.Token != "0xbb9bc244d798123fde783fcc1c72d3bb8c189413" || tr.Value.String() != "5000000000000000000" {
					t.Errorf("token transfer %+v, want 5e18 units of TheDAO", tr)
				}
			}
		}
	}
	if len(raws) != 2 || tokens != 1 {
		t.Errorf("%d blocks, %d token transfers; want 2 and 1", len(raws), tokens)
	}
}
