//go:build regtest

package devnet

import (
	"bytes"
	"context"
	"errors"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fundtrace/fundtrace/internal/devnet/contracts"
)

// startGeth starts geth --dev for a test with HOME pointing at an empty
// directory, and at cleanup stops it and checks that geth left nothing
// under HOME. It fails the test (never skips) when geth cannot start.
func startGeth(t *testing.T, opts GethOptions) *Geth {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	g, err := StartGeth(t.Context(), opts)
	if err != nil {
		t.Fatalf("StartGeth: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("geth %s log:\n%s", g.RPCURL(), g.LogTail())
		}
		if err := g.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if processAlive(g.PID()) {
			t.Errorf("geth %d still running after Stop", g.PID())
		}
		if ents, err := os.ReadDir(home); err != nil || len(ents) > 0 {
			t.Errorf("geth wrote under HOME %s: %v %v", home, ents, err)
		}
	})
	return g
}

func TestGethStartStopRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	g := startGeth(t, GethOptions{Dir: dir})
	ctx := t.Context()
	if g.ChainID() != DevChainID {
		t.Errorf("ChainID = %d, want %d", g.ChainID(), DevChainID)
	}
	if !strings.HasPrefix(g.RPCURL(), "http://127.0.0.1:") {
		t.Errorf("RPCURL = %s", g.RPCURL())
	}
	var net string
	if err := g.Call(ctx, &net, "net_version"); err != nil || net != "1337" {
		t.Errorf("net_version = %q, %v", net, err)
	}
	to := NewEthAccount("restart/to").Address()
	r, err := g.Send(ctx, DevAccount(), &to, big.NewInt(12345), nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := g.Tip(ctx)
	if err != nil || tip != r.BlockNumber.Uint64() {
		t.Fatalf("Tip = %d, %v; the transfer is in block %d", tip, err, r.BlockNumber)
	}
	hash, err := g.BlockHash(ctx, tip)
	if err != nil {
		t.Fatal(err)
	}

	pid := g.PID()
	if err := g.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if processAlive(pid) {
		t.Errorf("geth %d still running after Stop", pid)
	}
	if err := g.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := g.Tip(ctx); !errors.Is(err, ErrGethStopped) {
		t.Errorf("Tip after Stop: %v, want ErrGethStopped", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("Stop removed a caller's Dir: %v", err)
	}

	// The same Dir restarts the same chain.
	g2 := startGeth(t, GethOptions{Dir: dir})
	tip2, err := g2.Tip(ctx)
	if err != nil || tip2 != tip {
		t.Fatalf("tip after restart %d, %v; want %d", tip2, err, tip)
	}
	if h, err := g2.BlockHash(ctx, tip); err != nil || h != hash {
		t.Errorf("block %d after restart %s, %v; want %s", tip, h, err, hash)
	}
	if b, err := g2.Balance(ctx, to); err != nil || b.Cmp(big.NewInt(12345)) != 0 {
		t.Errorf("balance after restart %v, %v", b, err)
	}
	// A fresh temporary Dir is removed by Stop.
	g3 := startGeth(t, GethOptions{})
	tmp := g3.Dir()
	if err := g3.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stop left its temporary dir %s: %v", tmp, err)
	}
}

func TestGethStartErrors(t *testing.T) {
	_, err := StartGeth(t.Context(), GethOptions{Args: []string{"--no-such-flag"}})
	if !errors.Is(err, ErrGethStart) || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("bad flag: %v, want ErrGethStart with geth's complaint", err)
	}
	_, err = StartGeth(t.Context(), GethOptions{Path: filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, ErrNoGeth) {
		t.Errorf("missing binary: %v, want ErrNoGeth", err)
	}
	t.Setenv(EnvGeth, t.TempDir())
	if _, err := GethPath(t.Context()); !errors.Is(err, ErrNoGeth) {
		t.Errorf("%s=a directory: %v, want ErrNoGeth", EnvGeth, err)
	}
}

func TestEthAccounts(t *testing.T) {
	if got := DevAccount().Address(); got != DevAddress {
		t.Errorf("dev key gives %s, want %s", got, DevAddress)
	}
	a, b := NewEthAccount("x"), NewEthAccount("x")
	if a.Address() != b.Address() || a.Address() == NewEthAccount("y").Address() {
		t.Error("NewEthAccount is not a function of its seed")
	}
}

func TestGethSetHead(t *testing.T) {
	g := startGeth(t, GethOptions{})
	ctx := t.Context()
	from := NewEthAccount("sethead/from")
	if _, err := g.Send(ctx, DevAccount(), ptr(from.Address()), ether, nil); err != nil {
		t.Fatal(err)
	}
	to := NewEthAccount("sethead/to").Address()
	var blocks []uint64 // of from's transactions, nonce i in blocks[i]
	for i := range 4 {
		r, err := g.Send(ctx, from, &to, big.NewInt(int64(1000+i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, r.BlockNumber.Uint64())
	}
	tip, err := g.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetHead(ctx, tip+1); err == nil {
		t.Error("SetHead above the tip did not fail")
	}
	// Keep from's first two transactions, drop the other two. (geth may
	// have sealed empty blocks in between: heights come from the receipts.)
	head := blocks[1]
	old, err := g.BlockHash(ctx, head+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetHead(ctx, head); err != nil {
		t.Fatal(err)
	}
	if got, err := g.Tip(ctx); err != nil || got != head {
		t.Fatalf("tip after SetHead(%d) = %d, %v", head, got, err)
	}
	if h, err := g.BlockHash(ctx, head+1); err == nil && h == old {
		t.Errorf("block %d still there after SetHead(%d)", head+1, head)
	}
	// The dropped transactions are not put back into the pool: from's
	// nonce goes back to 2 (once the pool, which lags, has caught up).
	var nonce hexutil.Uint64
	err = poll(ctx, func(ctx context.Context) (bool, error) {
		err := g.Call(ctx, &nonce, "eth_getTransactionCount", from.Address(), "pending")
		return err == nil && nonce == 2, err
	})
	if err != nil {
		t.Errorf("pending nonce after SetHead = %d, want 2: %v", nonce, err)
	}
	r, err := g.Send(ctx, from, &to, big.NewInt(7), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.BlockNumber.Uint64() != head+1 {
		t.Logf("note: geth sealed an empty block before the new tx (block %d)", r.BlockNumber)
	}
	// Whatever it holds, block head+1 is a new block on top of the kept one.
	replaced, err := g.BlockHash(ctx, head+1)
	if err != nil {
		t.Fatal(err)
	}
	if replaced == old {
		t.Errorf("block %d has the same hash %s after the rewind", head+1, old)
	}
	var blk struct {
		ParentHash common.Hash `json:"parentHash"`
	}
	if err := g.Call(ctx, &blk, "eth_getBlockByHash", replaced, false); err != nil {
		t.Fatal(err)
	}
	if kept, err := g.BlockHash(ctx, head); err != nil || blk.ParentHash != kept {
		t.Errorf("new block's parent %s, kept block %s (%v)", blk.ParentHash, kept, err)
	}
	if r.Status != 1 {
		t.Errorf("tx after the rewind: status %d", r.Status)
	}
}

func ptr[T any](v T) *T { return &v }

func TestGethPopulateEthDeterministic(t *testing.T) {
	// sent describes a transaction as signed: what must not depend on
	// the node's timing.
	type sent struct {
		Kind                       string
		Hash                       common.Hash
		Block, Nonce, Gas          hexutil.Uint64
		MaxFee, MaxPriority, Value *hexutil.Big
	}
	run := func(seed string) []sent {
		g := startGeth(t, GethOptions{})
		s, err := g.PopulateEth(t.Context(), EthPlan{Seed: seed, Rounds: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out []sent
		for _, a := range s.Actions {
			var tx struct {
				Nonce       hexutil.Uint64 `json:"nonce"`
				Gas         hexutil.Uint64 `json:"gas"`
				MaxFee      *hexutil.Big   `json:"maxFeePerGas"`
				MaxPriority *hexutil.Big   `json:"maxPriorityFeePerGas"`
				Value       *hexutil.Big   `json:"value"`
			}
			if err := g.Call(t.Context(), &tx, "eth_getTransactionByHash", a.Hash); err != nil {
				t.Fatal(err)
			}
			out = append(out, sent{a.Kind, a.Hash, hexutil.Uint64(a.Block), tx.Nonce, tx.Gas, tx.MaxFee, tx.MaxPriority, tx.Value})
		}
		if err := g.Stop(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b, c := run("same"), run("same"), run("other")
	for i := range min(len(a), len(b)) {
		if a[i].Hash != b[i].Hash {
			t.Fatalf("equal seeds on fresh nodes: action %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		t.Fatalf("equal seeds: %d and %d actions", len(a), len(b))
	}
	if a[len(a)-1].Hash == c[len(c)-1].Hash {
		t.Error("different seeds gave the same transactions")
	}
	if _, err := (&Geth{}).PopulateEth(t.Context(), EthPlan{Rounds: 0}); !errors.Is(err, ErrBadPlan) {
		t.Errorf("Rounds 0: %v, want ErrBadPlan", err)
	}
}

// The node tests read traces with the extractor's own structs.
type (
	callFrame = ethereum.CallFrame
	txTrace   = ethereum.TxTrace
)

// traceBlock returns the callTracer trace of the only transaction in
// block n.
func traceBlock(t *testing.T, g *Geth, n uint64) *callFrame {
	t.Helper()
	var traces []txTrace
	if err := g.Call(t.Context(), &traces, "debug_traceBlockByNumber", hexutil.EncodeUint64(n), map[string]any{"tracer": "callTracer"}); err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 || traces[0].Result == nil || traces[0].TxHash == nil {
		t.Fatalf("block %d: %d traces, want 1 with txHash and result", n, len(traces))
	}
	return traces[0].Result
}

func frameValue(f *callFrame) *big.Int {
	if f.Value == nil {
		return new(big.Int)
	}
	return f.Value.ToInt()
}

// walk calls fn on every frame below top, pre-order.
func walk(top *callFrame, fn func(f *callFrame)) {
	for i := range top.Calls {
		fn(&top.Calls[i])
		walk(&top.Calls[i], fn)
	}
}

func TestGethPopulateEth(t *testing.T) {
	g := startGeth(t, GethOptions{})
	ctx := t.Context()
	s, err := g.PopulateEth(ctx, EthPlan{Seed: "test", Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int{EthFund: ethEOAs, EthDeploy: 3, EthTransfer: 4}
	for _, k := range []string{EthSplit, EthForward, EthTryForward, EthMint, EthTokenTransfer, EthApprove, EthTransferFrom,
		EthBurn, EthOddTransfer, EthFailedToken, EthFailedValue, EthCreateValue, EthSpawn, EthDestroy, EthSpawnDestroy} {
		wantCounts[k] = 2
	}
	for k, n := range wantCounts {
		if s.Counts[k] != n {
			t.Errorf("Counts[%s] = %d, want %d", k, s.Counts[k], n)
		}
	}
	if len(s.Failed) != 4 {
		t.Errorf("%d failed txs, want 4", len(s.Failed))
	}
	if s.Coinbase != DevAddress {
		t.Logf("note: coinbase %s is not the dev account", s.Coinbase)
	}
	// One block per action, in order; geth may seal an extra empty block.
	for i, a := range s.Actions {
		if i > 0 && a.Block <= s.Actions[i-1].Block {
			t.Errorf("action %d (%s) in block %d, after action %d in block %d", i, a.Kind, a.Block, i-1, s.Actions[i-1].Block)
		}
	}
	if last := s.Actions[len(s.Actions)-1].Block; s.Tip < last {
		t.Errorf("tip %d below the last action's block %d", s.Tip, last)
	}
	if s.Tip != uint64(len(s.Actions)) {
		t.Logf("note: %d actions in %d blocks: geth sealed %d empty blocks", len(s.Actions), s.Tip, s.Tip-uint64(len(s.Actions)))
	}
	t.Logf("%d actions, tip %d, %d addresses, %d contracts, coinbase %s", len(s.Actions), s.Tip, len(s.Addresses), len(s.Contracts), s.Coinbase)

	gasByKind := map[string]uint64{}
	for _, a := range s.Actions {
		var rs []*types.Receipt
		if err := g.Call(ctx, &rs, "eth_getBlockReceipts", hexutil.EncodeUint64(a.Block)); err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].TxHash != a.Hash {
			t.Fatalf("%s: block %d has %d receipts, want only tx %s", a.Kind, a.Block, len(rs), a.Hash)
		}
		r := rs[0]
		wantStatus := uint64(1)
		if ethFailing[a.Kind] {
			wantStatus = 0
		}
		if r.Status != wantStatus || a.Status != wantStatus {
			t.Errorf("%s tx %s: status %d (recorded %d), want %d", a.Kind, a.Hash, r.Status, a.Status, wantStatus)
		}
		if a.Round == 2 {
			gasByKind[a.Kind] = r.GasUsed
		}
		hdr, err := g.header(ctx, hexutil.EncodeUint64(a.Block))
		if err != nil {
			t.Fatal(err)
		}
		baseFee := hdr.BaseFee.ToInt()
		if hdr.Miner != s.Coinbase {
			t.Errorf("block %d miner %s, scenario coinbase %s", a.Block, hdr.Miner, s.Coinbase)
		}
		if want := new(big.Int).Add(baseFee, big.NewInt(EthTip)); r.EffectiveGasPrice.Cmp(want) != 0 {
			t.Errorf("%s tx %s: effectiveGasPrice %s, want baseFee %s + tip", a.Kind, a.Hash, r.EffectiveGasPrice, baseFee)
		}

		// Ether is conserved among the scenario's addresses except for
		// the burned base fee: so Addresses is complete.
		burned := new(big.Int).Mul(baseFee, new(big.Int).SetUint64(r.GasUsed))
		delta := new(big.Int)
		for _, addr := range s.Addresses {
			before, after := balanceAt(t, g, addr, a.Block-1), balanceAt(t, g, addr, a.Block)
			delta.Add(delta, after.Sub(after, before))
		}
		if delta.Cmp(new(big.Int).Neg(burned)) != 0 {
			t.Errorf("%s tx %s: balances of the scenario's addresses changed by %s, want -%s (burned base fee)", a.Kind, a.Hash, delta, burned)
		}
		// The sender pays the whole fee even when the tx fails (and the
		// value of a failed tx does not move); tryForward refunds the value.
		fee := new(big.Int).Mul(r.EffectiveGasPrice, new(big.Int).SetUint64(r.GasUsed))
		if a.From == s.Coinbase {
			fee.Sub(fee, new(big.Int).Mul(big.NewInt(EthTip), new(big.Int).SetUint64(r.GasUsed))) // the tip comes back
		}
		want := new(big.Int).Set(fee)
		if r.Status == 1 && a.Kind != EthTryForward {
			want.Add(want, a.Value)
		}
		paid := balanceAt(t, g, a.From, a.Block-1)
		paid.Sub(paid, balanceAt(t, g, a.From, a.Block))
		if paid.Cmp(want) != 0 {
			t.Errorf("%s tx %s (status %d): sender paid %s, want %s (fee %s)", a.Kind, a.Hash, r.Status, paid, want, fee)
		}

		checkTrace(t, g, a, traceBlock(t, g, a.Block))
	}
	t.Logf("gas used in round 2: %v", gasByKind)
	for _, n := range []uint64{0, 1, s.Tip} {
		h, err := g.header(ctx, hexutil.EncodeUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("block %d: baseFee %s, miner %s", n, h.BaseFee.ToInt(), h.Miner)
	}

	// Token balances over every address add up to the total supply.
	for _, tok := range s.Tokens {
		c := contracts.Token
		if tok == s.OddToken {
			c = contracts.OddToken
		}
		supply := callUint(t, g, c, tok, "totalSupply")
		sum := new(big.Int)
		for _, addr := range s.Addresses {
			sum.Add(sum, callUint(t, g, c, tok, "balanceOf", addr))
		}
		if sum.Cmp(supply) != 0 || supply.Sign() == 0 {
			t.Errorf("token %s (%s): balances add up to %s, totalSupply %s", tok, c, sum, supply)
		}
	}
	// OddToken's metadata is odd as designed.
	odd, _ := contracts.Get(contracts.OddToken)
	data, _ := odd.Call("decimals")
	if _, err := g.EthCall(ctx, s.OddToken, data); err == nil {
		t.Error("OddToken.decimals() did not revert")
	} else {
		t.Logf("OddToken.decimals(): %v", err)
	}
	data, _ = odd.Call("name")
	if out, err := g.EthCall(ctx, s.OddToken, data); err != nil || len(out) != 32 || !bytes.HasPrefix(out, []byte("Odd Token")) {
		t.Errorf("OddToken.name() = %x, %v; want bytes32 \"Odd Token\"", out, err)
	}
}

func balanceAt(t *testing.T, g *Geth, addr common.Address, n uint64) *big.Int {
	t.Helper()
	var b hexutil.Big
	if err := g.Call(t.Context(), &b, "eth_getBalance", addr, hexutil.EncodeUint64(n)); err != nil {
		t.Fatal(err)
	}
	return b.ToInt()
}

func callUint(t *testing.T, g *Geth, name string, at common.Address, method string, args ...any) *big.Int {
	t.Helper()
	c, err := contracts.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.Call(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.EthCall(t.Context(), at, data)
	if err != nil {
		t.Fatalf("%s.%s at %s: %v", name, method, at, err)
	}
	return new(big.Int).SetBytes(out)
}

// checkTrace checks the callTracer frames of one action against its
// design.
func checkTrace(t *testing.T, g *Geth, a EthAction, top *callFrame) {
	t.Helper()
	ctx := t.Context()
	if (top.Error != "") != (a.Status == 0) {
		t.Errorf("%s tx %s: top frame error %q with status %d", a.Kind, a.Hash, top.Error, a.Status)
	}
	if frameValue(top).Cmp(a.Value) != 0 || top.From != a.From {
		t.Errorf("%s tx %s: top frame from %s value %s, want %s %s", a.Kind, a.Hash, top.From, frameValue(top), a.From, a.Value)
	}
	var valued []*callFrame // frames below the top with value > 0
	walk(top, func(f *callFrame) {
		if frameValue(f).Sign() > 0 {
			valued = append(valued, f)
		}
	})
	switch a.Kind {
	case EthFailedToken, EthFailedValue:
		if a.Round == 1 {
			t.Logf("%s: top frame error %q", a.Kind, top.Error)
		}
		if len(top.Calls) != 0 {
			t.Errorf("%s: failed tx has inner frames", a.Kind)
		}
	case EthSplit:
		sum := new(big.Int)
		for _, f := range valued {
			if f.Type != "CALL" || f.Error != "" {
				t.Errorf("split: frame %s error %q", f.Type, f.Error)
			}
			sum.Add(sum, frameValue(f))
		}
		if len(valued) != 3 || sum.Cmp(a.Value) != 0 {
			t.Errorf("split: %d valued frames summing to %s, want 3 summing to %s", len(valued), sum, a.Value)
		}
	case EthForward:
		if len(valued) != 1 || frameValue(valued[0]).Cmp(a.Value) != 0 {
			t.Errorf("forward: %d valued frames", len(valued))
		}
	case EthTryForward:
		// CALL helper (value, error) > CALL to (value, inside the reverted
		// subtree); then CALL back to the sender (value, ok).
		if len(top.Calls) != 2 {
			t.Fatalf("tryForward: %d frames under the top, want 2: %+v", len(top.Calls), top.Calls)
		}
		rev, refund := top.Calls[0], top.Calls[1]
		if rev.Error == "" || frameValue(&rev).Cmp(a.Value) != 0 || len(rev.Calls) != 1 ||
			frameValue(&rev.Calls[0]).Cmp(a.Value) != 0 || rev.Calls[0].Error != "" {
			t.Errorf("tryForward: reverted frame %+v", rev)
		}
		if refund.Error != "" || refund.To == nil || *refund.To != a.From || frameValue(&refund).Cmp(a.Value) != 0 {
			t.Errorf("tryForward: refund frame %+v", refund)
		}
		if a.Round == 1 {
			t.Logf("tryForward: reverted frame %s error %q (revert reason in output), inner %s value %s error %q",
				rev.Type, rev.Error, rev.Calls[0].Type, frameValue(&rev.Calls[0]), rev.Calls[0].Error)
		}
	case EthCreateValue:
		if top.Type != "CREATE" || top.To == nil || *top.To != a.Created || len(top.Calls) != 1 || top.Calls[0].Type != "CREATE" {
			t.Errorf("create with value: top %s to %v, %d inner frames", top.Type, top.To, len(top.Calls))
		}
	case EthSpawn:
		if len(valued) != 1 || valued[0].Type != "CREATE2" || valued[0].To == nil || *valued[0].To != a.Created {
			t.Errorf("spawn: valued frames %+v", valued)
		}
	case EthDestroy:
		// EIP-6780: outside its creating tx SELFDESTRUCT only moves the
		// balance; the code stays.
		if len(top.Calls) != 1 || top.Calls[0].Type != "SELFDESTRUCT" || frameValue(&top.Calls[0]).Sign() <= 0 {
			t.Errorf("destroy: frames %+v", top.Calls)
		} else if a.Round == 1 {
			f := top.Calls[0]
			t.Logf("destroy: %s from %s to %v value %s gas %d gasUsed %d", f.Type, f.From, f.To, frameValue(&f), f.Gas, f.GasUsed)
		}
		if code, err := g.Code(ctx, *a.To); err != nil || len(code) == 0 {
			t.Errorf("destroy: child %s code after selfdestruct in a later tx: %d bytes, %v (EIP-6780 keeps it)", *a.To, len(code), err)
		}
		if b, err := g.Balance(ctx, *a.To); err != nil || b.Sign() != 0 {
			t.Errorf("destroy: child %s balance %v, %v", *a.To, b, err)
		}
	case EthSpawnDestroy:
		var kinds []string
		walk(top, func(f *callFrame) { kinds = append(kinds, f.Type+":"+frameValue(f).String()) })
		if a.Round == 1 {
			t.Logf("spawnAndDestroy frames: %v", kinds)
		}
		if len(valued) != 2 || valued[0].Type != "CREATE2" || valued[1].Type != "SELFDESTRUCT" {
			t.Errorf("spawnAndDestroy: frames %v", kinds)
		}
		if code, err := g.Code(ctx, a.Created); err != nil || len(code) != 0 {
			t.Errorf("spawnAndDestroy: child %s has %d bytes of code, %v (destroyed in its creating tx)", a.Created, len(code), err)
		}
	case EthFund, EthTransfer:
		if top.Type != "CALL" || len(top.Calls) != 0 {
			t.Errorf("%s: top %s with %d frames", a.Kind, top.Type, len(top.Calls))
		}
	}
}
