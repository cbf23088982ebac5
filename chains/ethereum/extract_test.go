package ethereum

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/google/go-cmp/cmp"
)

var amountCmp = cmp.Comparer(func(a, b chains.Amount) bool { return a.Cmp(b) == 0 })

const (
	fiveEth = "5000000000000000000"
	twoEth  = "2000000000000000000"
	// synthetic fee of the trace-only blocks: 21000 × 1 gwei
	synthFee = "21000000000000"
)

// TestExtractGethVsParity extracts the same four mainnet blocks once
// from geth callTracer traces and once from trace_block traces: the
// whole chains.Block must be identical, and is checked against transfers
// written out by hand.
func TestExtractGethVsParity(t *testing.T) {
	type want struct {
		miner   string
		success []bool
		created []string
		// transfers other than fees (every tx pays the synthetic fee
		// first), by hand from the trace JSON
		transfers []tf
	}
	wants := map[string]want{
		"subtraces": {
			miner:   "0x2a65aca4d5fc5b5c859090a6c34d164135398226",
			success: []bool{true, true},
			created: []string{"", ""},
			transfers: []tf{
				// 100 ETH; the CALLCODE below it carries 100 ETH in the
				// trace but moves nothing.
				{0, chains.TransferCall, "", "0x39fa8c5f2793459d6622857e7d9fbb4bd91766d3", "0xc083e9947cf02b8ffc7d3090ae9aea72df98fd47", "100000000000000000000", "", -1},
				{1, chains.TransferCall, "", "0x32be343b94f860124dc4fee278fdcbd38c102d88", "0xdf190dc7190dfba737d7777a163445b7fff16133", "437194980000000000", "", -1},
				{-1, chains.TransferBlockReward, "", "", "0x2a65aca4d5fc5b5c859090a6c34d164135398226", fiveEth, "", -1},
			},
		},
		"create": {
			miner:   "0xf8b483dba2c3b7176a3da549ad41a48bb3121069",
			success: []bool{true, true},
			created: []string{"", "0xa7e3cf952ea8d9438a26ee346c295f1ada328ae1"},
			transfers: []tf{
				{0, chains.TransferCall, "", "0xaf21e07e5a929d16026a7b4d88f3906a8d2e4942", "0x5b3c526b152b1f3d8eabe2ec27f49b904ad51cad", "64655529900000002048", "", -1},
				// tx 1 creates a contract with no value: no transfer
				{-1, chains.TransferBlockReward, "", "", "0xf8b483dba2c3b7176a3da549ad41a48bb3121069", fiveEth, "", -1},
			},
		},
		"error": {
			miner:   "0x63a9975ba31b0b9626b34300f7f627147df1f526",
			success: []bool{false, true},
			created: []string{"", ""},
			transfers: []tf{
				// tx 0 ran out of gas: its 1 ETH does not move, only the fee
				{1, chains.TransferCall, "", "0x9288fe5be3be048b5c7a68bfd4b9a0746b7e4a00", "0xe05ff93a9978bbb48356accc74088f3841fc5d72", "1100000000000000000", "", -1},
				{-1, chains.TransferBlockReward, "", "", "0x63a9975ba31b0b9626b34300f7f627147df1f526", fiveEth, "", -1},
			},
		},
		"suicide": {
			miner:   "0x738db714c08b8a32a29e0e68af00215079aa9c5c",
			success: []bool{true},
			created: []string{""},
			transfers: []tf{
				// kill() with no value; the contract's 0.05 ETH goes to
				// the beneficiary
				{0, chains.TransferSelfdestruct, "", "0x474faa5018639791952fae334e2911700ac7fe9b", "0x83973747eec131bf9a08ac64fb1a518e891bdf4b", "50000000000000000", "0", -1},
				{-1, chains.TransferBlockReward, "", "", "0x738db714c08b8a32a29e0e68af00215079aa9c5c", fiveEth, "", -1},
			},
		},
	}
	p := mainnet(t)
	for _, tb := range traceBlocks {
		t.Run(tb.name, func(t *testing.T) {
			geth, parity := gethAndParity(t, tb)
			if tb.name == "suicide" {
				// This old geth printed SELFDESTRUCT frames without
				// from, to and value: the transfer cannot be known.
				_, err := Extract(p, geth)
				if !errors.Is(err, ErrInconsistent) || !strings.Contains(err.Error(), "SELFDESTRUCT frame without beneficiary or value") {
					t.Fatalf("old geth SELFDESTRUCT frame: got %v", err)
				}
				// Current geth prints them like this.
				f := &geth.Calls[0].Result.Calls[0]
				f.From, f.To, f.Value = addr("0x474faa5018639791952fae334e2911700ac7fe9b"), addrp("0x83973747eec131bf9a08ac64fb1a518e891bdf4b"), hbig("0xb1a2bc2ec50000")
			}
			fromGeth := extractOK(t, p, geth)
			fromParity := extractOK(t, p, parity)
			if d := cmp.Diff(fromParity, fromGeth, amountCmp); d != "" {
				t.Errorf("callTracer and trace_block disagree (-parity +geth):\n%s", d)
			}
			w := wants[tb.name]
			ab := fromGeth.Account
			if ab.FeeRecipient != w.miner || ab.NoTraces || ab.BaseFee != nil {
				t.Errorf("fee recipient %s, NoTraces %v, base fee %v", ab.FeeRecipient, ab.NoTraces, ab.BaseFee)
			}
			for i, tx := range ab.Txs {
				if tx.Success != w.success[i] || tx.Created != w.created[i] {
					t.Errorf("tx %d: success %v created %q, want %v %q", i, tx.Success, tx.Created, w.success[i], w.created[i])
				}
				// The fee comes first, from the sender to the miner.
				var first tf
				for _, x := range simple(ab.Transfers) {
					if x.Tx == i {
						first = x
						break
					}
				}
				if wf := (tf{i, chains.TransferFee, "", tx.From, w.miner, synthFee, "", -1}); first != wf {
					t.Errorf("tx %d: first transfer %+v, want %+v", i, first, wf)
				}
			}
			if d := cmp.Diff(w.transfers, without(simple(ab.Transfers), chains.TransferFee)); d != "" {
				t.Errorf("transfers (-want +got):\n%s", d)
			}
		})
	}
}

// TestExtractRewardsMatchParity compares the block and uncle rewards
// computed from Params with the reward traces the node reported, on
// blocks with and without an uncle.
func TestExtractRewardsMatchParity(t *testing.T) {
	p := mainnet(t)
	check := func(t *testing.T, blk chains.Block, rewards []ParityTrace) {
		t.Helper()
		var got, want []tf
		for _, x := range simple(blk.Account.Transfers) {
			if x.Kind == chains.TransferBlockReward || x.Kind == chains.TransferUncleReward {
				got = append(got, x)
			}
		}
		for _, r := range rewards {
			kind := chains.TransferBlockReward
			if r.Action.RewardType == "uncle" {
				kind = chains.TransferUncleReward
			}
			want = append(want, tf{-1, kind, "", "", addrString(*r.Action.Author), r.Action.Value.ToInt().String(), "", -1})
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("rewards (-node +ours):\n%s", d)
		}
	}
	for _, tb := range traceBlocks {
		raw, rewards := rawFromParityFile(t, "ethereum-etl/test_export_traces_job/"+tb.parity)
		check(t, extractOK(t, p, raw), rewards)
	}

	// Block 508110 has one uncle: the node paid 5 + 5/32 ETH to the
	// miner and 3.75 ETH to the uncle's miner, i.e. (u + 8 − 508110) × 5/8
	// with u = 508108.
	raw, rewards := raw508110(t)
	if len(rewards) != 2 {
		t.Fatalf("%d reward traces", len(rewards))
	}
	check(t, extractOK(t, p, raw), rewards)
	blk := extractOK(t, p, raw)
	got := without(simple(blk.Account.Transfers), chains.TransferFee)
	want := []tf{
		{1, chains.TransferCall, "", "0xfecab546498f74591d4f6d448a4a63552850f122", "0x32be343b94f860124dc4fee278fdcbd38c102d88", "4949989500000000000", "", -1},
		{-1, chains.TransferBlockReward, "", "", "0x2a65aca4d5fc5b5c859090a6c34d164135398226", "5156250000000000000", "", -1},
		{-1, chains.TransferUncleReward, "", "", "0x2a65aca4d5fc5b5c859090a6c34d164135398226", "3750000000000000000", "", -1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("block 508110 (-want +got):\n%s", d)
	}
}

// raw508110 builds block 508110 from its header (eth_getBlockByNumber
// with transaction hashes only) and its trace_block answer; the uncle's
// header is not in the fixtures: its number, 508108, is what the uncle
// reward of the node implies, and its miner the reward's author.
func raw508110(t testing.TB) (*RawBlock, []ParityTrace) {
	t.Helper()
	const dir = "ethereum-etl/test_stream/blocks_508110_508110/"
	raw, rewards := rawFromParityFile(t, dir+"web3_response.trace_block_0x7c0ce.json")
	var hdr map[string]json.RawMessage
	decodeResult(t, dir+"web3_response.eth_getBlockByNumber_0x7c0ce_false.json", &hdr)
	delete(hdr, "transactions")
	b, _ := json.Marshal(hdr)
	var header RPCBlock
	if err := json.Unmarshal(b, &header); err != nil {
		t.Fatal(err)
	}
	header.Transactions = raw.Block.Transactions
	if header.Hash != raw.Block.Hash || header.Miner != raw.Block.Miner {
		t.Fatalf("header %s miner %s, traces say %s %s", header.Hash.Hex(), header.Miner.Hex(), raw.Block.Hash.Hex(), raw.Block.Miner.Hex())
	}
	raw.Block = &header
	raw.Uncles = []*RPCBlock{{Number: 508108, Hash: header.Uncles[0], Miner: *rewards[1].Action.Author}}
	return raw, rewards
}

// TestExtractMevInspectBlock extracts mainnet block 13404932 (373
// trace_block traces) and checks the internal transfers against a second,
// independent walk of the traces, and a few by hand.
func TestExtractMevInspectBlock(t *testing.T) {
	p := mainnet(t)
	raw, m := rawMev(t)

	// expectInternal is the independent walk: a trace moves value when
	// it is a plain call with value, not top-level, in a successful tx,
	// and no trace on its path (itself included) reverted; reverted
	// paths are matched as dotted-string prefixes.
	expectInternal := func(traces []ParityTrace) []tf {
		reverted := map[int][]string{}
		for _, pt := range traces {
			if pt.Error != "" && pt.TransactionPosition != nil {
				reverted[*pt.TransactionPosition] = append(reverted[*pt.TransactionPosition], dotted(pt.TraceAddress))
			}
		}
		var out []tf
		for _, pt := range traces {
			if pt.Type != "call" || pt.Action.CallType != "call" || len(pt.TraceAddress) == 0 || pt.Action.Value.ToInt().Sign() == 0 {
				continue
			}
			pos, path := *pt.TransactionPosition, dotted(pt.TraceAddress)
			dead := false
			for _, r := range reverted[pos] {
				if r == "" || path == r || strings.HasPrefix(path, r+".") {
					dead = true
				}
			}
			if !dead {
				out = append(out, tf{pos, chains.TransferInternal, "", addrString(*pt.Action.From), addrString(*pt.Action.To), pt.Action.Value.ToInt().String(), path, -1})
			}
		}
		return out
	}
	internal := func(blk chains.Block) []tf {
		var out []tf
		for _, x := range simple(blk.Account.Transfers) {
			if x.Kind == chains.TransferInternal {
				out = append(out, x)
			}
		}
		return out
	}

	blk := extractOK(t, p, raw)
	ab := blk.Account
	want := expectInternal(raw.Parity)
	if len(want) != 24 {
		t.Errorf("independent walk finds %d internal transfers, counted 24 when writing this test", len(want))
	}
	if d := cmp.Diff(want, internal(blk)); d != "" {
		t.Errorf("internal transfers (-independent +Extract):\n%s", d)
	}

	// A few by hand.
	const miner = "0x99c85bb64564d9ef9a99621301f22c9993cb89e3"
	for _, w := range []tf{
		// WETH unwraps to a bot 5 calls deep, which forwards it
		{3, chains.TransferInternal, "", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "0x949ed86c385d191e96af136e2024d96e467d7651", "1002704779407853614", "1.0.5.0.0", -1},
		{3, chains.TransferInternal, "", "0x949ed86c385d191e96af136e2024d96e467d7651", "0xd06527d5e56a3495252a528c4987003b712860ee", "1002704779407853614", "1.0.5.1", -1},
		// a searcher's direct payment to the miner
		{3, chains.TransferInternal, "", "0x949ed86c385d191e96af136e2024d96e467d7651", miner, "8027384512110350", "3", -1},
		{75, chains.TransferInternal, "", "0xd9e1ce17f2641f24ae83637ab66a2cca9c378b9f", "0x26f483c7017455ab36702d4a990a83cfd00508e0", "390050639395877083", "4", -1},
	} {
		if !slices.Contains(simple(ab.Transfers), w) {
			t.Errorf("missing %+v", w)
		}
	}

	// Delegate calls show a value but move nothing.
	for _, pt := range raw.Parity {
		if pt.Action.CallType == "delegatecall" && pt.Action.Value.ToInt().Sign() != 0 {
			path := dotted(pt.TraceAddress)
			for _, x := range ab.Transfers {
				if x.TxIndex == *pt.TransactionPosition && x.TraceAddress == path {
					t.Errorf("delegatecall %d/%s moved value: %+v", x.TxIndex, path, x)
				}
			}
		}
	}

	// Top-level values: 38 successful txs carry value; the two reverted
	// ones (11, 33) pay only their fee, tip and burn.
	calls := 0
	for _, x := range ab.Transfers {
		if x.Kind == chains.TransferCall {
			calls++
		}
		if (x.TxIndex == 11 || x.TxIndex == 33) && x.Kind != chains.TransferFee && x.Kind != chains.TransferBurn {
			t.Errorf("reverted tx %d: %+v", x.TxIndex, x)
		}
	}
	if calls != 38 || ab.Txs[11].Success || ab.Txs[33].Success {
		t.Errorf("%d top-level value transfers (want 38); tx 11 success %v, tx 33 %v", calls, ab.Txs[11].Success, ab.Txs[33].Success)
	}

	// London fees: burn = baseFee × gasUsed, tip = the rest, per tx.
	checkFeeSplit(t, blk, new(big.Int).SetUint64(m.BaseFee))
	// Pre-Merge, Constantinople era: 2 ETH, no uncles (the node's reward
	// trace says 2 ETH too).
	last := simple(ab.Transfers)[len(ab.Transfers)-1]
	if (last != tf{-1, chains.TransferBlockReward, "", "", miner, twoEth, "", -1}) {
		t.Errorf("last transfer %+v", last)
	}

	// A reverted frame deep inside a successful tx takes its subtree
	// with it: revert tx 3's call 1.0.5.
	for k := range raw.Parity {
		pt := &raw.Parity[k]
		if pt.TransactionPosition != nil && *pt.TransactionPosition == 3 && dotted(pt.TraceAddress) == "1.0.5" {
			pt.Error = "Reverted"
		}
	}
	blk2 := extractOK(t, p, raw)
	want2 := expectInternal(raw.Parity)
	if len(want2) != len(want)-2 {
		t.Errorf("independent walk: %d transfers after the revert, want %d", len(want2), len(want)-2)
	}
	if d := cmp.Diff(want2, internal(blk2)); d != "" {
		t.Errorf("after reverting 1.0.5 (-independent +Extract):\n%s", d)
	}
	for _, x := range blk2.Account.Transfers {
		if x.TxIndex == 3 && strings.HasPrefix(x.TraceAddress, "1.0.5") {
			t.Errorf("transfer of a reverted subtree: %+v", x)
		}
	}

	// Without traces: no internal transfers, and the block says so.
	raw.TraceSource = TracesNone
	blk3 := extractOK(t, p, raw)
	if !blk3.Account.NoTraces || len(internal(blk3)) != 0 {
		t.Errorf("TracesNone: NoTraces %v, %d internal transfers", blk3.Account.NoTraces, len(internal(blk3)))
	}
}

// checkFeeSplit checks every tx's tip and burn with big.Int arithmetic.
func checkFeeSplit(t *testing.T, blk chains.Block, baseFee *big.Int) {
	t.Helper()
	ab := blk.Account
	if ab.BaseFee == nil || ab.BaseFee.String() != baseFee.String() {
		t.Fatalf("base fee %v, want %s", ab.BaseFee, baseFee)
	}
	tips := make([]*big.Int, len(ab.Txs))
	burns := make([]*big.Int, len(ab.Txs))
	for i := range ab.Txs {
		tips[i], burns[i] = new(big.Int), new(big.Int)
	}
	for _, x := range ab.Transfers {
		switch x.Kind {
		case chains.TransferFee:
			if x.To != ab.FeeRecipient || x.From != ab.Txs[x.TxIndex].From {
				t.Errorf("tip %+v", x)
			}
			tips[x.TxIndex].Add(tips[x.TxIndex], mustBig(x.Value))
		case chains.TransferBurn:
			if x.To != "" || x.From != ab.Txs[x.TxIndex].From {
				t.Errorf("burn %+v", x)
			}
			burns[x.TxIndex].Add(burns[x.TxIndex], mustBig(x.Value))
		}
	}
	totalBurn := new(big.Int)
	for i, tx := range ab.Txs {
		gas := new(big.Int).SetUint64(tx.GasUsed)
		wantBurn := new(big.Int).Mul(baseFee, gas)
		wantTip := new(big.Int).Mul(new(big.Int).Sub(mustBig(tx.GasPrice), baseFee), gas)
		if burns[i].Cmp(wantBurn) != 0 || tips[i].Cmp(wantTip) != 0 {
			t.Errorf("tx %d: tip %s burn %s, want %s %s", i, tips[i], burns[i], wantTip, wantBurn)
		}
		if sum := new(big.Int).Add(tips[i], burns[i]); sum.String() != tx.Fee.String() {
			t.Errorf("tx %d: tip + burn = %s, fee %s", i, sum, tx.Fee)
		}
		totalBurn.Add(totalBurn, burns[i])
	}
	// All gas of the block is paid by its txs: the block burns
	// baseFee × gasUsed of the header.
	if want := new(big.Int).Mul(baseFee, new(big.Int).SetUint64(ab.GasUsed)); totalBurn.Cmp(want) != 0 {
		t.Errorf("block burns %s, want baseFee × gasUsed = %s", totalBurn, want)
	}
}

// TestExtractPreByzantiumERC20 extracts blocks 1755634-1755635 from the
// node's answers: no status in receipts, no traces, an ERC-20 Transfer.
func TestExtractPreByzantiumERC20(t *testing.T) {
	p := mainnet(t)
	b0 := extractOK(t, p, raw1755634(t))
	if b0.Height != 1755634 || b0.Hash.Hex0x() != "0xa06fc36a7144c4bbb1f7ab13b541144414fa7808c119e8a4635e392ea544c178" ||
		b0.PrevHash.Hex0x() != "0x112aa801c14d16d9b929fd8e1e639a29d79e467334054a111c2f860e462e3ff4" ||
		b0.Time != 1466669557 || b0.Size != 532 || b0.TxCount() != 0 || !b0.Account.NoTraces {
		t.Errorf("block 1755634 header: %+v", b0)
	}
	if d := cmp.Diff([]tf{{-1, chains.TransferBlockReward, "", "", "0x61c808d82a3ac53231750dadc13c777b59310bd9", fiveEth, "", -1}}, simple(b0.Account.Transfers)); d != "" {
		t.Errorf("block 1755634 (-want +got):\n%s", d)
	}

	raw := raw1755635(t)
	b1 := extractOK(t, p, raw)
	const miner = "0xa027231f42c80ca4125b5cb962a21cd4f812e88f"
	ab := b1.Account
	if b1.Height != 1755635 || b1.PrevHash != b0.Hash || ab.GasUsed != 57418 || ab.GasLimit != 4712388 || ab.BaseFee != nil || ab.FeeRecipient != miner {
		t.Errorf("block 1755635 header: %+v %+v", b1, ab)
	}
	// 20 gwei gas price: 36418 × 20 gwei and 21000 × 20 gwei, all to the
	// miner (pre-London).
	want := []tf{
		{0, chains.TransferFee, "", "0xed059bc543141c8c93031d545079b3da0233b27f", miner, "728360000000000", "", -1},
		{0, chains.TransferToken, "0xbb9bc244d798123fde783fcc1c72d3bb8c189413", "0x6498077292a0921c8804924fdf47b5e91e2a215f", "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac", fiveEth, "", 0},
		{1, chains.TransferFee, "", "0x3763e6e1228bfeab94191c856412d1bb0a8e6996", miner, "420000000000000", "", -1},
		{1, chains.TransferCall, "", "0x3763e6e1228bfeab94191c856412d1bb0a8e6996", "0xec1ebac9da3430213281c80fa6d46378341a96ae", "405738107000000000", "", -1},
		{-1, chains.TransferBlockReward, "", "", miner, fiveEth, "", -1},
	}
	if d := cmp.Diff(want, simple(ab.Transfers)); d != "" {
		t.Errorf("block 1755635 (-want +got):\n%s", d)
	}
	tx0 := ab.Txs[0]
	if tx0.Hash.Hex0x() != "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d" || tx0.Nonce != 0x8570 ||
		tx0.GasUsed != 0x8e42 || tx0.GasPrice.String() != "20000000000" || !tx0.Success || tx0.To != "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac" {
		t.Errorf("tx 0: %+v", tx0)
	}
	// ethereum-etl found the same token transfer.
	for _, et := range ndjson[etlTokenTransfer](t, stream1755+"expected_token_transfers.json") {
		if w := (tf{0, chains.TransferToken, addrString(et.Token), addrString(et.From), addrString(et.To), et.Value.String(), "", int(et.LogIndex)}); w != want[1] {
			t.Errorf("ethereum-etl: %+v", w)
		}
	}
	// The token is described as unknown unless the client described it.
	if d := cmp.Diff([]chains.Token{{Address: "0xbb9bc244d798123fde783fcc1c72d3bb8c189413", Decimals: -1}}, ab.Tokens); d != "" {
		t.Errorf("tokens (-want +got):\n%s", d)
	}
	raw.Tokens = map[common.Address]chains.Token{addr("0xbb9bc244d798123fde783fcc1c72d3bb8c189413"): {Name: "Tokens", Symbol: "TKN", Decimals: 18}}
	if got := extractOK(t, p, raw).Account.Tokens; len(got) != 1 || got[0] != (chains.Token{Address: "0xbb9bc244d798123fde783fcc1c72d3bb8c189413", Name: "Tokens", Symbol: "TKN", Decimals: 18}) {
		t.Errorf("tokens %+v", got)
	}
}

// TestExtractBlock483920 extracts block 483920 with its four receipts:
// two ERC-20 transfers of the same token, two plain payments.
func TestExtractBlock483920(t *testing.T) {
	blk := extractOK(t, mainnet(t), raw483920(t))
	const miner, token = "0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5", "0xf4eced2f682ce333f96f2d8966c613ded8fc95dd"
	// gas price 50 gwei; gas used 50853, 50853, 21000, 21000
	want := []tf{
		{0, chains.TransferFee, "", "0x1b63142628311395ceafeea5667e7c9026c862ca", miner, "2542650000000000", "", -1},
		{0, chains.TransferToken, token, "0x1b63142628311395ceafeea5667e7c9026c862ca", "0xac4df82fe37ea2187bc8c011a23d743b4f39019a", "100000", "", 0},
		{1, chains.TransferFee, "", "0x9b22a80d5c7b3374a05b446081f97d0a34079e7f", miner, "2542650000000000", "", -1},
		{1, chains.TransferToken, token, "0x9b22a80d5c7b3374a05b446081f97d0a34079e7f", "0x66f183060253cfbe45beff1e6e7ebbe318c81e56", "200000", "", 1},
		{2, chains.TransferFee, "", "0x9df428a91ff0f3635c8f0ce752933b9788926804", miner, "1050000000000000", "", -1},
		{2, chains.TransferCall, "", "0x9df428a91ff0f3635c8f0ce752933b9788926804", "0x9e669f970ec0f49bb735f20799a7e7c4a1c274e2", "11000440000000000", "", -1},
		{3, chains.TransferFee, "", "0x2a65aca4d5fc5b5c859090a6c34d164135398226", miner, "1050000000000000", "", -1},
		{3, chains.TransferCall, "", "0x2a65aca4d5fc5b5c859090a6c34d164135398226", "0x743b8aeedc163c0e3a0fe9f3910d146c48e70da8", "1530219620000000000", "", -1},
		{-1, chains.TransferBlockReward, "", "", miner, fiveEth, "", -1},
	}
	if d := cmp.Diff(want, simple(blk.Account.Transfers)); d != "" {
		t.Errorf("block 483920 (-want +got):\n%s", d)
	}
	if len(blk.Account.Tokens) != 1 || blk.Account.Tokens[0].Address != token {
		t.Errorf("tokens %+v", blk.Account.Tokens)
	}
}

// TestExtractLondonWithdrawals extracts blocks 17173049-17173050 (base
// fee, 16 withdrawals each, 298 txs, 9 failed, 681 logs) rebuilt from
// ethereum-etl's export.
func TestExtractLondonWithdrawals(t *testing.T) {
	p := mainnet(t)
	raws, blocks, etxs := londonBlocks(t)
	etlTransfers := map[string]tf{}
	for _, et := range ndjson[etlTokenTransfer](t, stream1717+"expected_token_transfers.json.gz") {
		etlTransfers[fmt.Sprint(et.TxHash.Hex(), et.LogIndex)] = tf{0, chains.TransferToken, addrString(et.Token), addrString(et.From), addrString(et.To), et.Value.String(), "", int(et.LogIndex)}
	}
	tokenTransfers, failed := 0, 0
	for k, raw := range raws {
		eb := blocks[k]
		blk := extractOK(t, p, raw)
		ab := blk.Account
		if blk.Height != int64(eb.Number) || len(ab.Txs) != len(raw.Block.Transactions) || ab.NoTraces != true {
			t.Fatalf("block %d: height %d, %d txs", eb.Number, blk.Height, len(ab.Txs))
		}
		checkFeeSplit(t, blk, eb.BaseFee)

		// Withdrawals, gwei × 1e9, in order; no reward after the Merge.
		var wantW []tf
		for _, w := range eb.Withdrawals {
			wantW = append(wantW, tf{-1, chains.TransferWithdrawal, "", "", addrString(w.Address), strconv.FormatUint(w.Amount, 10) + "000000000", "", -1})
		}
		var gotW []tf
		for _, x := range simple(ab.Transfers) {
			if x.Tx == -1 {
				gotW = append(gotW, x)
			}
		}
		if len(wantW) != 16 {
			t.Fatalf("block %d: %d withdrawals in the fixture", eb.Number, len(wantW))
		}
		if d := cmp.Diff(wantW, gotW); d != "" {
			t.Errorf("block %d block-level transfers (-want +got):\n%s", eb.Number, d)
		}

		for _, x := range ab.Transfers {
			if x.Kind != chains.TransferToken {
				continue
			}
			tokenTransfers++
			tx := ab.Txs[x.TxIndex]
			w, ok := etlTransfers[fmt.Sprint(tx.Hash.Hex0x(), x.LogIndex)]
			w.Tx = x.TxIndex
			if g := simple([]chains.Transfer{x})[0]; !ok || g != w {
				t.Errorf("token transfer %+v, ethereum-etl has %+v", g, w)
			}
		}
		for _, tx := range ab.Txs {
			if !tx.Success {
				failed++
			}
		}
	}
	// 282 logs with the Transfer topic, 3 topics and 32 bytes of data;
	// the 9 with 4 topics (ERC-721) that ethereum-etl also lists are left
	// out.
	if tokenTransfers != 282 || len(etlTransfers) != 291 {
		t.Errorf("%d ERC-20 transfers (want 282), ethereum-etl lists %d", tokenTransfers, len(etlTransfers))
	}
	if failed != 9 {
		t.Errorf("%d failed txs, want 9", failed)
	}

	// A zero withdrawal moves nothing and is left out.
	raws[0].Block.Withdrawals[3].Amount = 0
	var ws int
	for _, x := range extractOK(t, p, raws[0]).Account.Transfers {
		if x.Kind == chains.TransferWithdrawal {
			ws++
		}
	}
	if ws != 15 {
		t.Errorf("%d withdrawals after zeroing one of 16", ws)
	}

	// The creation in 17173050 (no value) names its contract.
	var creation *etlTx
	for k := range etxs {
		if etxs[k].To == nil {
			creation = &etxs[k]
		}
	}
	raw := raws[1]
	i := int(creation.TransactionIndex)
	blk := extractOK(t, p, raw)
	if tx := blk.Account.Txs[i]; tx.To != "" || tx.Created != "0x303abf64fe75964565d2b44b9e4518e6126f1f0e" || !tx.Success {
		t.Errorf("creation tx %d: %+v", i, tx)
	}
	// With value, the creation sends it to the new contract (the value
	// is synthetic: this creation had none).
	raw.Block.Transactions[i].Value = *hbig("1000000000000000000")
	blk = extractOK(t, p, raw)
	var got []tf
	for _, x := range simple(blk.Account.Transfers) {
		if x.Tx == i && x.Kind != chains.TransferFee && x.Kind != chains.TransferBurn {
			got = append(got, x)
		}
	}
	from := addrString(creation.From)
	want := []tf{
		{i, chains.TransferCreate, "", from, "0x303abf64fe75964565d2b44b9e4518e6126f1f0e", "1000000000000000000", "", -1},
		// its constructor mints tokens to the creator: from the zero address
		{i, chains.TransferToken, "0x303abf64fe75964565d2b44b9e4518e6126f1f0e", "0x0000000000000000000000000000000000000000", from, "1000000000000000000", "", 245},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("creation with value (-want +got):\n%s", d)
	}
	// Failed, it pays only its fee and creates nothing.
	raw.Receipts[i].Status = u64p(0)
	blk = extractOK(t, p, raw)
	for _, x := range blk.Account.Transfers {
		if x.TxIndex == i && x.Kind != chains.TransferFee && x.Kind != chains.TransferBurn {
			t.Errorf("failed creation: %+v", x)
		}
	}
	if tx := blk.Account.Txs[i]; tx.Success || tx.Created != "" || tx.Fee.IsZero() {
		t.Errorf("failed creation: %+v", tx)
	}
}

func TestBlockRewardEras(t *testing.T) {
	eth := mainnet(t)
	sepolia, err := ParamsFor(chains.ETHSepolia)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		p      *Params
		height int64
		want   uint64
	}{
		{eth, 1, 5e18}, {eth, 4_369_999, 5e18}, {eth, 4_370_000, 3e18}, {eth, 7_279_999, 3e18},
		{eth, 7_280_000, 2e18}, {eth, 15_537_393, 2e18}, {eth, 15_537_394, 0}, {eth, 20_000_000, 0},
		{sepolia, 1_735_370, 2e18}, {sepolia, 1_735_371, 0},
		{&Params{}, 5, 0},
	} {
		if got := blockReward(tt.p, tt.height); got != tt.want {
			t.Errorf("%s at %d: %d, want %d", tt.p.Chain, tt.height, got, tt.want)
		}
	}
}

// TestExtractInconsistent breaks real blocks in every way Extract must
// refuse: each error wraps ErrInconsistent and names the block and, when
// it is about one, the transaction.
func TestExtractInconsistent(t *testing.T) {
	p := mainnet(t)
	geth := func(t testing.TB) *RawBlock { g, _ := gethAndParity(t, traceBlocks[0]); return g }
	parity := func(t testing.TB) *RawBlock { _, pa := gethAndParity(t, traceBlocks[0]); return pa }
	gethCreate := func(t testing.TB) *RawBlock { g, _ := gethAndParity(t, traceBlocks[1]); return g }
	gethSuicide := func(t testing.TB) *RawBlock {
		g, _ := gethAndParity(t, traceBlocks[3])
		f := &g.Calls[0].Result.Calls[0] // as current geth prints it
		f.From, f.To, f.Value = addr("0x474faa5018639791952fae334e2911700ac7fe9b"), addrp("0x83973747eec131bf9a08ac64fb1a518e891bdf4b"), hbig("0xb1a2bc2ec50000")
		return g
	}
	london := func(t testing.TB) *RawBlock { r, _, _ := londonBlocks(t); return r[0] }
	uncle := func(t testing.TB) *RawBlock { r, _ := raw508110(t); return r }
	const (
		b1755  = "block 1755635 0x1dec87ec1ba8e65b7773bb6f62249468948a28a427efd3d896a2ff7d7c591a67"
		tx0    = "tx 0 0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d"
		tx1    = "tx 1 0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb"
		b1m    = "block 1000000 0x8e38b4dbf6b11fcc3b9dee84fb7986e29ca0a02cecd8977c161ff7333329681e"
		m0     = "tx 0 0xea1093d492a1dcb1bef708f771a99a96ff05dcab81ca76c31940300177fcf49f"
		m1     = "tx 1 0xe9e91f1ee4b56c0df2e9f06c2b8c27c6076195a88a7b8537ba8313d80e6f124e"
		b1717  = "block 17173049 0xaa5ab9bb22d8020d438496a7edb4eff508b1c5128b0dc01fdecf57f96aac1bb3"
		l0     = "tx 0 0xeb107a40ba73a50c79a9f2026e902d758d1c5e5e211f7a7db1b294f88f118dd0"
		two256 = "0x10000000000000000000000000000000000000000000000000000000000000000"
	)
	otherHash := common.HexToHash("0x1111111111111111111111111111111111111111111111111111111111111111")
	tests := []struct {
		name   string
		base   func(testing.TB) *RawBlock
		mutate func(r *RawBlock)
		want   []string
	}{
		{"missing receipt", raw1755635, func(r *RawBlock) { r.Receipts[1] = nil }, []string{b1755, tx1, "no receipt"}},
		{"receipt count", raw1755635, func(r *RawBlock) { r.Receipts = r.Receipts[:1] }, []string{b1755, "1 receipts for 2 transactions"}},
		{"receipt of another tx", raw1755635, func(r *RawBlock) { r.Receipts[0].TransactionHash = otherHash }, []string{b1755, tx0, "receipt is for tx 0x1111"}},
		{"receipt index", raw1755635, func(r *RawBlock) { r.Receipts[1].TransactionIndex = 7 }, []string{b1755, tx1, "receipt transactionIndex 7"}},
		{"receipt of another block", raw1755635, func(r *RawBlock) { r.Receipts[1].BlockHash = otherHash }, []string{b1755, tx1, "receipt is for block 0x1111"}},
		{"receipt from", raw1755635, func(r *RawBlock) { r.Receipts[1].From = addr("0x01") }, []string{b1755, tx1, "receipt from 0x0000000000000000000000000000000000000001"}},
		{"receipt status 2", raw1755635, func(r *RawBlock) { r.Receipts[0].Status = u64p(2) }, []string{b1755, tx0, "receipt status 2"}},
		{"tx index", raw1755635, func(r *RawBlock) { r.Block.Transactions[1].TransactionIndex = 0 }, []string{b1755, tx1, "transactionIndex 0 in the block"}},
		{"value 2^256", raw1755635, func(r *RawBlock) { r.Block.Transactions[1].Value = *hbig(two256) }, []string{b1755, tx1, "value", "2^256 or more"}},
		{"negative value", raw1755635, func(r *RawBlock) { r.Block.Transactions[1].Value = *hbig("-1") }, []string{b1755, tx1, "value", "negative"}},
		{"fee overflow", raw1755635, func(r *RawBlock) {
			r.Receipts[1].EffectiveGasPrice = hbig("0x8000000000000000000000000000000000000000000000000000000000000000")
		}, []string{b1755, tx1, "overflows"}},
		{"no gas price", raw1755635, func(r *RawBlock) { r.Receipts[1].EffectiveGasPrice, r.Block.Transactions[1].GasPrice = nil, nil }, []string{b1755, tx1, "no effectiveGasPrice"}},
		{"price below base fee", london, func(r *RawBlock) { r.Receipts[0].EffectiveGasPrice = hbig("80869370966") }, []string{b1717, l0, "effective gas price 80869370966 below base fee 80869370967"}},
		{"blob gas without price", london, func(r *RawBlock) { r.Receipts[0].BlobGasUsed = u64p(131072) }, []string{b1717, l0, "blobGasUsed 131072 but no blobGasPrice"}},
		{"callTracer count", geth, func(r *RawBlock) { r.Calls = r.Calls[:1] }, []string{b1m, "1 callTracer traces for 2 transactions"}},
		{"callTracer txHash", geth, func(r *RawBlock) { r.Calls[1].TxHash = &otherHash }, []string{b1m, m1, "trace is for tx 0x1111"}},
		{"callTracer failed", geth, func(r *RawBlock) { r.Calls[1].Result, r.Calls[1].Error = nil, "execution timeout" }, []string{b1m, m1, `no trace (tracer error "execution timeout")`}},
		{"top value differs", geth, func(r *RawBlock) { r.Calls[1].Result.Value = hbig("1") }, []string{b1m, m1, "trace value 1, tx value 437194980000000000"}},
		{"top from differs", geth, func(r *RawBlock) { r.Calls[1].Result.From = addr("0x02") }, []string{b1m, m1, "trace from 0x0000000000000000000000000000000000000002"}},
		{"top to differs", geth, func(r *RawBlock) { r.Calls[1].Result.To = addrp("0x03") }, []string{b1m, m1, "trace to 0x0000000000000000000000000000000000000003"}},
		{"top is a create", geth, func(r *RawBlock) { r.Calls[1].Result.Type = "CREATE" }, []string{b1m, m1, "trace is a creation, tx is a call"}},
		{"status 1, trace failed", geth, func(r *RawBlock) {
			r.Receipts[0].Status = u64p(1)
			r.Calls[0].Result.Error = "out of gas"
		}, []string{b1m, m0, `receipt status 1 but the top-level trace failed ("out of gas")`}},
		{"status 0, trace fine", geth, func(r *RawBlock) { r.Receipts[1].Status = u64p(0) }, []string{b1m, m1, "receipt status 0 but the top-level trace did not fail"}},
		{"unknown frame type with value", geth, func(r *RawBlock) { r.Calls[0].Result.Calls[0].Type = "EXTCALL" }, []string{b1m, m0, `trace 0: frame of unknown type "EXTCALL" carries value 100000000000000000000`}},
		{"CALL without to", geth, func(r *RawBlock) {
			r.Calls[0].Result.Calls[0].Type = "CALL"
			r.Calls[0].Result.Calls[0].To = nil
		}, []string{b1m, m0, "trace 0: CALL frame moving 100000000000000000000 has no to"}},
		{"inner value 2^256", geth, func(r *RawBlock) { r.Calls[0].Result.Calls[0].Value = hbig(two256) }, []string{b1m, m0, "trace 0 value", "2^256 or more"}},
		{"SELFDESTRUCT without to", gethSuicide, func(r *RawBlock) { r.Calls[0].Result.Calls[0].To = nil },
			[]string{"block 1011973", "tx 0 0x91acb43c5f141c393a189e091c190c9ffb20e4e8a502e4cc3087be9587bdbc89", "SELFDESTRUCT frame without beneficiary or value"}},
		{"SELFDESTRUCT without value", gethSuicide, func(r *RawBlock) { r.Calls[0].Result.Calls[0].Value = nil }, []string{"block 1011973", "tx 0 0x91acb43c5f141c393a189e091c190c9ffb20e4e8a502e4cc3087be9587bdbc89", "SELFDESTRUCT frame without beneficiary or value"}},
		{"created address differs", gethCreate, func(r *RawBlock) { r.Receipts[1].ContractAddress = addrp("0x04") }, []string{"block 1000690", "tx 1 0xe4de004685c7b5fe48854cfb54cd59686f3f7cbf95e68c3984dfd672fe677871", "trace created 0xa7e3cf952ea8d9438a26ee346c295f1ada328ae1, receipt contractAddress 0x0000000000000000000000000000000000000004"}},
		{"creation without contractAddress", gethCreate, func(r *RawBlock) { r.Receipts[1].ContractAddress = nil }, []string{"block 1000690", "tx 1 0xe4de", "without a receipt contractAddress"}},
		{"parity position out of range", parity, func(r *RawBlock) { r.Parity[2].TransactionPosition = new(int(5)) }, []string{b1m, "trace 2: transactionPosition 5, block has 2 transactions"}},
		{"parity no position", parity, func(r *RawBlock) { r.Parity[1].TransactionPosition = nil }, []string{b1m, "trace 1 (call) has no transactionPosition"}},
		{"parity trace missing", parity, func(r *RawBlock) { r.Parity = slices.Delete(r.Parity, 2, 3) }, []string{b1m, m1, "no trace"}},
		{"parity no top-level trace", parity, func(r *RawBlock) { r.Parity = slices.Delete(r.Parity, 0, 1) }, []string{b1m, m0, "no top-level trace"}},
		{"parity orphan", parity, func(r *RawBlock) { r.Parity[1].TraceAddress = []int{3, 0} }, []string{b1m, m0, "trace 3.0 without its parent"}},
		{"parity duplicate", parity, func(r *RawBlock) { r.Parity = slices.Insert(r.Parity, 1, r.Parity[1]) }, []string{b1m, m0, "two traces at 0"}},
		{"parity two tops", parity, func(r *RawBlock) { r.Parity = slices.Insert(r.Parity, 1, r.Parity[0]) }, []string{b1m, m0, "two top-level traces"}},
		{"parity hash", parity, func(r *RawBlock) { r.Parity[2].TransactionHash = &otherHash }, []string{b1m, m1, "trace 2 is for tx 0x1111"}},
		{"parity top value", parity, func(r *RawBlock) { r.Parity[2].Action.Value = hbig("2") }, []string{b1m, m1, "trace value 2, tx value 437194980000000000"}},
		{"parity unknown callType with value", parity, func(r *RawBlock) { r.Parity[1].Action.CallType = "extcall" }, []string{b1m, m0, `trace 0 of unknown type "call" "extcall" carries value`}},
		{"uncle headers missing", uncle, func(r *RawBlock) { r.Uncles = nil }, []string{"block 508110", "block has 1 uncles, got 0 uncle headers"}},
		{"uncle too old", uncle, func(r *RawBlock) { r.Uncles[0].Number = 508102 }, []string{"block 508110", "uncle 0 at height 508102 cannot be an uncle of height 508110"}},
		{"uncle header of another block", uncle, func(r *RawBlock) { r.Uncles[0].Hash = otherHash }, []string{"block 508110", "uncle 0: header 0x1111"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.base(t)
			if _, err := Extract(p, raw); err != nil {
				t.Fatalf("before the change: %v", err)
			}
			tt.mutate(raw)
			blk, err := Extract(p, raw)
			if err == nil {
				t.Fatalf("no error; got %d transfers", len(blk.Account.Transfers))
			}
			if !errors.Is(err, ErrInconsistent) {
				t.Errorf("%v does not wrap ErrInconsistent", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if blk.Account != nil || blk.Height != 0 {
				t.Errorf("a block came back with the error: %+v", blk)
			}
		})
	}
}

func TestExtractBadCalls(t *testing.T) {
	if _, err := Extract(nil, raw1755635(t)); err == nil {
		t.Error("nil Params: no error")
	}
	if _, err := Extract(mainnet(t), &RawBlock{}); !errors.Is(err, ErrInconsistent) {
		t.Errorf("no block: %v", err)
	}
	raw := raw1755635(t)
	raw.TraceSource = 9
	if _, err := Extract(mainnet(t), raw); err == nil || !strings.Contains(err.Error(), "unknown trace source 9") {
		t.Errorf("unknown trace source: %v", err)
	}
}

// TestExtractERC20Filter checks which logs count as ERC-20 transfers, on
// the real receipt of block 1755635 tx 0 with its Transfer log altered.
func TestExtractERC20Filter(t *testing.T) {
	p := mainnet(t)
	tokens := func(mutate func(l *RPCLog)) int {
		raw := raw1755635(t)
		mutate(&raw.Receipts[0].Logs[0])
		n := 0
		for _, x := range extractOK(t, p, raw).Account.Transfers {
			if x.Kind == chains.TransferToken {
				n++
			}
		}
		return n
	}
	zero := common.Hash{}
	for _, tt := range []struct {
		name   string
		mutate func(l *RPCLog)
		want   int
	}{
		{"as is", func(l *RPCLog) {}, 1},
		{"removed", func(l *RPCLog) { l.Removed = true }, 0},
		{"ERC-721 (4 topics)", func(l *RPCLog) { l.Topics = append(l.Topics, zero) }, 0},
		{"2 topics", func(l *RPCLog) { l.Topics = l.Topics[:2] }, 0},
		{"data 64 bytes", func(l *RPCLog) { l.Data = append(l.Data, make([]byte, 32)...) }, 0},
		{"other topic", func(l *RPCLog) { l.Topics[0] = zero }, 0},
		{"zero value kept", func(l *RPCLog) { l.Data = make([]byte, 32) }, 1},
		{"mint from zero kept", func(l *RPCLog) { l.Topics[1] = zero }, 1},
		{"not an address", func(l *RPCLog) { l.Topics[2][0] = 1 }, 0},
	} {
		if got := tokens(tt.mutate); got != tt.want {
			t.Errorf("%s: %d token transfers, want %d", tt.name, got, tt.want)
		}
	}
	// A failed tx's logs do not exist, but if a node sent some they
	// would not count.
	raw := raw1755635(t)
	raw.Receipts[0].Status = u64p(0)
	for _, x := range extractOK(t, p, raw).Account.Transfers {
		if x.Kind == chains.TransferToken {
			t.Errorf("token transfer of a failed tx: %+v", x)
		}
	}
}

// TestExtractLogOrder: token transfers come after the internal transfers
// of their tx, by logIndex, whatever the receipt's order.
func TestExtractLogOrder(t *testing.T) {
	raw := raw483920(t)
	// Move tx 1's Transfer log into tx 0's receipt, before tx 0's own.
	l := raw.Receipts[1].Logs[0]
	raw.Receipts[1].Logs = nil
	l.LogIndex = 0
	raw.Receipts[0].Logs[0].LogIndex = 1
	raw.Receipts[0].Logs = append(raw.Receipts[0].Logs, l)
	var got []int
	for _, x := range extractOK(t, mainnet(t), raw).Account.Transfers {
		if x.Kind == chains.TransferToken {
			got = append(got, x.LogIndex, x.Position)
		}
	}
	if want := []int{0, 1, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("(logIndex, position) pairs %v, want %v", got, want)
	}
}

// fuzzSeeds are real blocks as RawBlock JSON.
func fuzzSeeds(t testing.TB) [][]byte {
	var raws []*RawBlock
	for _, tb := range traceBlocks {
		g, pa := gethAndParity(t, tb)
		raws = append(raws, g, pa)
	}
	raws = append(raws, raw1755634(t), raw1755635(t), raw483920(t))
	r, _ := raw508110(t)
	raws = append(raws, r)
	var out [][]byte
	for _, r := range raws {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestFuzzSeedsRoundTrip(t *testing.T) {
	p := mainnet(t)
	for k, b := range fuzzSeeds(t) {
		var raw RawBlock
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("seed %d: %v", k, err)
		}
		blk, err := Extract(p, &raw)
		if err != nil && !strings.Contains(err.Error(), "SELFDESTRUCT") {
			t.Errorf("seed %d: %v", k, err)
		}
		if err == nil {
			if err := checkInvariants(blk); err != nil {
				t.Errorf("seed %d: %v", k, err)
			}
		}
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	p := mainnet(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw RawBlock
		if err := json.Unmarshal(data, &raw); err != nil {
			return
		}
		blk, err := Extract(p, &raw)
		if err != nil {
			return
		}
		if err := checkInvariants(blk); err != nil {
			t.Fatal(err)
		}
	})
}

// callsFromParity rebuilds callTracer output from trace_block traces,
// as geth prints the same execution: one frame tree per transaction,
// upper-case types, created address in "to", SELFDESTRUCT with from, to
// and value.
func callsFromParity(t testing.TB, traces []ParityTrace, ntx int) []TxTrace {
	t.Helper()
	out := make([]TxTrace, ntx)
	for _, pt := range traces {
		if pt.Type == "reward" {
			continue
		}
		f := CallFrame{Error: pt.Error}
		a := pt.Action
		switch pt.Type {
		case "call":
			f.Type, f.From, f.To, f.Value = strings.ToUpper(a.CallType), *a.From, a.To, a.Value
			if f.Type == "STATICCALL" {
				f.Value = nil
			}
		case "create":
			f.Type, f.From, f.To, f.Value = "CREATE", *a.From, createdAddress(&pt), a.Value
		case "suicide":
			f.Type, f.From, f.To, f.Value = "SELFDESTRUCT", *a.Address, a.RefundAddress, a.Balance
		default:
			t.Fatalf("trace type %q", pt.Type)
		}
		i := *pt.TransactionPosition
		if len(pt.TraceAddress) == 0 {
			h := *pt.TransactionHash
			out[i] = TxTrace{TxHash: &h, Result: &f}
			continue
		}
		parent := out[i].Result
		for _, k := range pt.TraceAddress[:len(pt.TraceAddress)-1] {
			parent = &parent.Calls[k]
		}
		if len(parent.Calls) != pt.TraceAddress[len(pt.TraceAddress)-1] {
			t.Fatalf("tx %d trace %v out of order", i, pt.TraceAddress)
		}
		parent.Calls = append(parent.Calls, f)
	}
	return out
}

// TestExtractMevInspectBlockBothSources extracts block 13404932 from its
// trace_block traces and from the same traces as callTracer frames,
// before and after reverting calls deep inside successful transactions:
// the blocks must be identical.
func TestExtractMevInspectBlockBothSources(t *testing.T) {
	p := mainnet(t)
	raw, _ := rawMev(t)
	compare := func(t *testing.T) chains.Block {
		t.Helper()
		fromParity := extractOK(t, p, raw)
		geth := *raw
		geth.TraceSource, geth.Parity = TracesCallTracer, nil
		geth.Calls = callsFromParity(t, raw.Parity, len(raw.Block.Transactions))
		fromGeth := extractOK(t, p, &geth)
		if d := cmp.Diff(fromParity, fromGeth, amountCmp); d != "" {
			t.Errorf("trace_block and callTracer disagree (-parity +geth):\n%s", d)
		}
		return fromGeth
	}
	count := func(blk chains.Block) (n int) {
		for _, x := range blk.Account.Transfers {
			if x.Kind == chains.TransferInternal {
				n++
			}
		}
		return n
	}
	if n := count(compare(t)); n != 24 {
		t.Errorf("%d internal transfers, want 24", n)
	}
	// Revert tx 3's 1.0.5 (two value calls below it) and tx 75's 3
	// (one value call, 3.0, below it; 3 itself moves nothing).
	for k := range raw.Parity {
		pt := &raw.Parity[k]
		if pt.TransactionPosition == nil {
			continue
		}
		switch fmt.Sprint(*pt.TransactionPosition, "/", dotted(pt.TraceAddress)) {
		case "3/1.0.5", "75/3":
			pt.Error = "Reverted"
		}
	}
	if n := count(compare(t)); n != 21 {
		t.Errorf("%d internal transfers after the reverts, want 21", n)
	}
}

// TestExtractBlobFee: an EIP-4844 receipt's blob gas is paid by the sender
// on top of the execution fee and burned, as a second burn after the
// base-fee burn. (The real block is pre-Cancun; its first receipt is
// given blob gas as a type-3 receipt carries it.)
func TestExtractBlobFee(t *testing.T) {
	p := mainnet(t)
	raws, _, _ := londonBlocks(t)
	plain, err := Extract(p, raws[0])
	if err != nil {
		t.Fatal(err)
	}
	raws, _, _ = londonBlocks(t)
	raws[0].Receipts[0].BlobGasUsed = u64p(2 * 131072)
	raws[0].Receipts[0].BlobGasPrice = hbig("0x3")
	blob, err := Extract(p, raws[0])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := plain.Account.Txs[0].Fee.Add(chains.NewAmount(3 * 2 * 131072))
	if got := blob.Account.Txs[0].Fee; got.Cmp(want) != 0 {
		t.Errorf("fee with blob gas = %s, want %s", got, want)
	}
	var burns []string
	for _, tr := range blob.Account.Transfers {
		if tr.TxIndex == 0 && tr.Kind == chains.TransferBurn {
			burns = append(burns, tr.Value.String())
		}
	}
	var plainBurn string
	for _, tr := range plain.Account.Transfers {
		if tr.TxIndex == 0 && tr.Kind == chains.TransferBurn {
			plainBurn = tr.Value.String()
		}
	}
	if len(burns) != 2 || burns[0] != plainBurn || burns[1] != "786432" {
		t.Errorf("burns of tx 0 = %v, want the base-fee burn %s then the blob burn 786432", burns, plainBurn)
	}
	if len(blob.Account.Transfers) != len(plain.Account.Transfers)+1 {
		t.Errorf("%d transfers, want %d (one more burn)", len(blob.Account.Transfers), len(plain.Account.Transfers)+1)
	}
}
