//go:build regtest

package devnet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

// startNode starts btcd for a test and stops it at cleanup. It fails the
// test (never skips) when btcd cannot start.
func startNode(t *testing.T, opts BtcdOptions) *Btcd {
	t.Helper()
	b, err := StartBtcd(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartBtcd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("btcd %s log:\n%s", b.RPCURL(), b.LogTail())
		}
		if err := b.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStartStop(t *testing.T) {
	start := time.Now()
	b, err := StartBtcd(t.Context(), BtcdOptions{})
	if err != nil {
		t.Fatalf("StartBtcd: %v", err)
	}
	t.Logf("started in %v (pid %d, %s)", time.Since(start), b.PID(), b.RPCURL())
	pid, dir := b.PID(), b.Dir()
	if !processAlive(pid) {
		t.Errorf("btcd %d not running after StartBtcd", pid)
	}
	if strings.Contains(b.RPCURL(), b.Password()) || !strings.HasPrefix(b.RPCURL(), "http://127.0.0.1:") {
		t.Errorf("RPCURL = %s, want http://127.0.0.1:PORT without credentials", b.RPCURL())
	}
	chain, err := b.BestChain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := toChains(*chaincfg.RegressionNetParams.GenesisHash); len(chain) != 1 || chain[0] != want {
		t.Errorf("BestChain = %v, want [regtest genesis %s]", chain, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "regtest", "btcd.log")); err != nil {
		t.Errorf("no btcd log: %v", err)
	}
	if b.P2PAddr() != "" {
		t.Errorf("P2PAddr = %q without Listen, want empty", b.P2PAddr())
	}

	start = time.Now()
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %v", time.Since(start))
	if err := b.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if processAlive(pid) {
		t.Errorf("btcd %d still running after Stop", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary dir %s left behind (stat: %v)", dir, err)
	}
	if _, err := b.Call(t.Context(), "getblockcount"); !errors.Is(err, ErrStopped) {
		t.Errorf("Call after Stop = %v, want ErrStopped", err)
	}
	// btcd makes an empty ~/.btcd (from the password database, whatever
	// $HOME says) but must write nothing there.
	home, _ := os.UserHomeDir()
	entries, _ := os.ReadDir(filepath.Join(home, ".btcd"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && !fi.ModTime().Before(start) {
			t.Errorf("btcd wrote %s", filepath.Join(home, ".btcd", e.Name()))
		}
	}
}

func TestStartErrors(t *testing.T) {
	t.Run("bad flag", func(t *testing.T) {
		_, err := StartBtcd(t.Context(), BtcdOptions{Args: []string{"--no-such-flag"}})
		if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "no-such-flag") {
			t.Errorf("StartBtcd = %v, want ErrStart quoting btcd's complaint", err)
		}
	})
	t.Run("bad path", func(t *testing.T) {
		_, err := StartBtcd(t.Context(), BtcdOptions{Path: "/nonexistent/btcd"})
		if !errors.Is(err, ErrNoBtcd) || !strings.Contains(err.Error(), "/nonexistent/btcd") {
			t.Errorf("StartBtcd = %v, want ErrNoBtcd naming the path", err)
		}
	})
	t.Run("unusable data dir", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := StartBtcd(t.Context(), BtcdOptions{Dir: dir})
		if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), "btcd.log") {
			t.Errorf("StartBtcd = %v, want ErrStart with btcd's log tail", err)
		}
	})
}

// rawTx fetches a transaction with getrawtransaction (needs --txindex).
func rawTx(t *testing.T, b *Btcd, txid chains.Hash) (*wire.MsgTx, map[string]any) {
	t.Helper()
	raw, err := b.Call(t.Context(), "getrawtransaction", txid.String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var verbose map[string]any
	if err := json.Unmarshal(raw, &verbose); err != nil {
		t.Fatal(err)
	}
	data, err := hex.DecodeString(verbose["hex"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return &tx, verbose
}

func voutTypes(verbose map[string]any) []string {
	var out []string
	for _, v := range verbose["vout"].([]any) {
		out = append(out, v.(map[string]any)["scriptPubKey"].(map[string]any)["type"].(string))
	}
	return out
}

// blockTxids returns the txids of a block from getblock verbosity 1.
func blockTxids(t *testing.T, b *Btcd, h chains.Hash) []string {
	t.Helper()
	raw, err := b.Call(t.Context(), "getblock", h.String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var blk struct {
		Tx []string `json:"tx"`
	}
	if err := json.Unmarshal(raw, &blk); err != nil {
		t.Fatal(err)
	}
	return blk.Tx
}

// TestTxKinds creates P2PKH, P2WPKH and P2TR outputs in one transaction,
// spends all three in one multi-input transaction, and spends that one's
// output while it is still unconfirmed.
func TestTxKinds(t *testing.T) {
	ctx := t.Context()
	w := NewWallet(nil, "kinds")
	b := startNode(t, BtcdOptions{MiningAddr: w.MiningAddress()})
	if _, err := b.Generate(ctx, 101); err != nil {
		t.Fatal(err)
	}
	if err := w.Scan(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := w.Balance(); got != 100_0000_0000 {
		t.Errorf("Balance after 101 blocks = %d, want 2 mature coinbases (10000000000)", got)
	}
	addrs := []string{w.NewAddress(P2PKH), w.NewAddress(P2WPKH), w.NewAddress(P2TR)}
	fund, err := w.Send(ctx, b, []Payment{{addrs[0], 1_0000_0000}, {addrs[1], 2_0000_0000}, {addrs[2], 3_0000_0000}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	blocks, err := b.Generate(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ids := blockTxids(t, b, blocks[0]); !slices.Contains(ids, fund.String()) {
		t.Fatalf("block %s holds %v, not %s", blocks[0], ids, fund)
	}
	_, v := rawTx(t, b, fund)
	if got, want := voutTypes(v), []string{"pubkeyhash", "witness_v0_keyhash", "witness_v1_taproot", "witness_v0_keyhash"}; !slices.Equal(got, want) {
		t.Errorf("funding outputs = %v, want %v (3 payments and change)", got, want)
	}

	// Spend all three kinds at once.
	spend, err := w.SendFrom(ctx, b, []chains.OutPoint{{TxID: fund, Index: 0}, {TxID: fund, Index: 1}, {TxID: fund, Index: 2}},
		[]Payment{{w.NewAddress(P2TR), 5_0000_0000}})
	if err != nil {
		t.Fatalf("SendFrom: %v", err)
	}
	tx, _ := rawTx(t, b, spend)
	if len(tx.TxIn) != 3 {
		t.Fatalf("spend has %d inputs, want 3", len(tx.TxIn))
	}
	in := tx.TxIn
	if len(in[0].SignatureScript) == 0 || len(in[0].Witness) != 0 {
		t.Errorf("P2PKH input: scriptSig %d bytes, witness %d items; want scriptSig only", len(in[0].SignatureScript), len(in[0].Witness))
	}
	if len(in[1].SignatureScript) != 0 || len(in[1].Witness) != 2 || len(in[1].Witness[1]) != 33 {
		t.Errorf("P2WPKH input: want empty scriptSig and witness [sig, 33-byte key], got %x / %x", in[1].SignatureScript, in[1].Witness)
	}
	if len(in[2].SignatureScript) != 0 || len(in[2].Witness) != 1 || len(in[2].Witness[0]) != 64 {
		t.Errorf("P2TR input: want one 64-byte Schnorr signature, got %x", in[2].Witness)
	}

	// Spend the unconfirmed P2TR output straight away.
	chained, err := w.SendFrom(ctx, b, []chains.OutPoint{{TxID: spend, Index: 0}}, []Payment{{w.NewAddress(P2PKH), 1_0000_0000}})
	if err != nil {
		t.Fatalf("SendFrom unconfirmed: %v", err)
	}
	blocks, err = b.Generate(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := blockTxids(t, b, blocks[0])
	if len(ids) != 3 || ids[1] != spend.String() || ids[2] != chained.String() {
		t.Errorf("block %s holds %v, want [coinbase %s %s]", blocks[0], ids, spend, chained)
	}
	if err := w.Scan(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, u := range w.Unspent() {
		if u.Height == 0 {
			t.Errorf("output %s still unconfirmed after mining", u.OutPoint)
		}
	}
}

// TestPopulate makes 2000 transactions, 100 per block, and checks that the
// node confirmed all of them, in order.
func TestPopulate(t *testing.T) {
	ctx := t.Context()
	w := NewWallet(nil, "populate")
	b := startNode(t, BtcdOptions{MiningAddr: w.MiningAddress()})
	s, err := w.Populate(ctx, b, Plan{Txs: 2000, TxsPerBlock: 100, Seed: 1})
	if err != nil {
		t.Fatalf("Populate: %v", err)
	}
	t.Logf("Populate: %d txs in %d blocks (+%d maturity) in %v: %.0f tx/s", s.Txs, s.LastHeight-s.FirstHeight+1,
		int64(s.Blocks)-(s.LastHeight-s.FirstHeight+1), s.Elapsed.Round(time.Millisecond), float64(s.Txs)/s.Elapsed.Seconds())
	t.Logf("created %v spent %v coinbase spends %d unconfirmed spends %d multi-input %d 3+ outputs %d reused %d fees %d sat",
		s.Created, s.Spent, s.CoinbaseSpends, s.UnconfirmedSpends, s.MultiInput, s.ManyOutputs, s.ReusedAddresses, s.Fees)
	if s.Txs != 2000 || s.FirstHeight != 102 || s.LastHeight != 121 {
		t.Errorf("Txs %d in blocks %d..%d, want 2000 in 102..121", s.Txs, s.FirstHeight, s.LastHeight)
	}
	height, tip, err := b.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if height != s.LastHeight || tip != s.Tip {
		t.Errorf("node tip %d %s, summary %d %s", height, tip, s.LastHeight, s.Tip)
	}
	pool, err := b.mempool(ctx)
	if err != nil || len(pool) != 0 {
		t.Errorf("mempool = %v, %v; want empty", pool, err)
	}
	hashes, err := b.blockHashes(ctx, s.FirstHeight, s.LastHeight)
	if err != nil {
		t.Fatal(err)
	}
	blks, err := b.blocks(ctx, hashes)
	if err != nil {
		t.Fatal(err)
	}
	// Block i holds batch i; btcd orders a block's transactions by fee
	// rate and dependencies, not by arrival.
	if len(blks) != 20 {
		t.Fatalf("%d blocks, want 20", len(blks))
	}
	for i, blk := range blks {
		var got []chains.Hash
		for _, tx := range blk.Transactions[1:] {
			got = append(got, toChains(tx.TxHash()))
		}
		want := slices.Clone(s.TxIDs[i*100 : (i+1)*100])
		cmpHash := func(a, b chains.Hash) int { return bytes.Compare(a[:], b[:]) }
		slices.SortFunc(got, cmpHash)
		slices.SortFunc(want, cmpHash)
		if !slices.Equal(got, want) {
			t.Errorf("block %d holds %d transactions, not the 100 of batch %d", s.FirstHeight+int64(i), len(got), i)
		}
	}
	for _, k := range kinds {
		if s.Created[k] == 0 || s.Spent[k] == 0 {
			t.Errorf("kind %s: created %d, spent %d; want both > 0", k, s.Created[k], s.Spent[k])
		}
	}
	if s.MultiInput == 0 || s.ManyOutputs == 0 || s.UnconfirmedSpends == 0 || s.CoinbaseSpends == 0 {
		t.Errorf("summary lacks a shape: %+v", s)
	}
}

// TestPopulateSameSeedSameShape runs the same plan on two fresh nodes.
func TestPopulateSameSeedSameShape(t *testing.T) {
	t.Parallel()
	var prints []chains.Hash
	for _, seed := range []string{"first", "second"} {
		w := NewWallet(nil, seed)
		b := startNode(t, BtcdOptions{MiningAddr: w.MiningAddress()})
		s, err := w.Populate(t.Context(), b, Plan{Txs: 200, TxsPerBlock: 50, Seed: 9})
		if err != nil {
			t.Fatalf("Populate: %v", err)
		}
		prints = append(prints, s.Fingerprint)
	}
	if prints[0] != prints[1] {
		t.Errorf("same plan on two nodes: fingerprints %s and %s", prints[0], prints[1])
	}
}

func assertNoPeers(t *testing.T, nodes ...*Btcd) {
	t.Helper()
	for _, n := range nodes {
		peers, err := n.Peers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(peers) != 0 {
			t.Errorf("%s has peers %v, want none", n.RPCURL(), peers)
		}
	}
}

// TestReorg splits two nodes, lets each mine its own branch, and joins
// them: the shorter branch (A's 2 blocks) gives way to B's 4.
func TestReorg(t *testing.T) {
	ctx := t.Context()
	a := startNode(t, BtcdOptions{Listen: true, MiningAddr: NewWallet(nil, "miner a").MiningAddress()})
	b := startNode(t, BtcdOptions{Listen: true, MiningAddr: NewWallet(nil, "miner b").MiningAddress()})
	if err := b.Connect(ctx, a); err != nil {
		t.Fatal(err)
	}
	common, err := a.Generate(ctx, 101)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.WaitTip(ctx, common[100]); err != nil {
		t.Fatal(err)
	}
	t.Logf("B synced 101 blocks in %v", time.Since(start))

	if err := b.Disconnect(ctx, a); err != nil {
		t.Fatal(err)
	}
	assertNoPeers(t, a, b)
	aOnly, err := a.Generate(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	bOnly, err := b.Generate(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	aChain, err := a.BestChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(aChain) != 104 || aChain[102] != aOnly[0] || aChain[103] != aOnly[1] {
		t.Fatalf("A's chain has %d blocks, want 104 ending in its own 2", len(aChain))
	}

	start = time.Now()
	if err := a.Connect(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitTip(ctx, bOnly[3]); err != nil {
		t.Fatal(err)
	}
	t.Logf("A reorganized to B's branch in %v", time.Since(start))
	aChain, err = a.BestChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bChain, err := b.BestChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(aChain, bChain) {
		t.Fatalf("A's best chain (%d blocks, tip %s) differs from B's (%d, tip %s)", len(aChain), aChain[len(aChain)-1], len(bChain), bChain[len(bChain)-1])
	}
	if len(aChain) != 106 || !slices.Equal(aChain[102:], bOnly) || !slices.Equal(aChain[1:102], common) {
		t.Errorf("best chain: %d blocks, want genesis + 101 common + B's 4", len(aChain))
	}
	for _, h := range aOnly {
		if slices.Contains(aChain, h) {
			t.Errorf("A's stale block %s is still on its best chain", h)
		}
		if _, err := a.RawBlock(ctx, h); err != nil {
			t.Errorf("A forgot its stale block %s: %v", h, err)
		}
	}

	// Invalidating B's first block sends A back to its own branch.
	if err := a.Disconnect(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := a.InvalidateBlock(ctx, bOnly[0]); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitTip(ctx, aOnly[1]); err != nil {
		t.Fatal(err)
	}
}

// TestDisconnectIsFinal checks that btcd does not redial after Disconnect
// (it redials permanent peers every 5 s, even after "node remove").
func TestDisconnectIsFinal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a := startNode(t, BtcdOptions{Listen: true})
	b := startNode(t, BtcdOptions{Listen: true})
	if err := a.Connect(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := a.Disconnect(ctx, b); err != nil {
		t.Fatal(err)
	}
	assertNoPeers(t, a, b)
	time.Sleep(6 * time.Second) // longer than btcd's redial interval
	assertNoPeers(t, a, b)

	if err := a.Connect(ctx, &Btcd{rpcAddr: "nowhere"}); !errors.Is(err, ErrNotListening) {
		t.Errorf("Connect to a node without Listen = %v, want ErrNotListening", err)
	}
}
