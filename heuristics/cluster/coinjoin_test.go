package cluster_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
)

// cjIn returns a known P2WPKH input.
func cjIn(addr string, v uint64) cluster.Input {
	return cluster.Input{Address: addr, Value: v, ScriptType: chains.ScriptP2WPKH, Known: true}
}

// cjOut returns a P2WPKH output.
func cjOut(addr string, v uint64) cluster.Output {
	return cluster.Output{Address: addr, Value: v, ScriptType: chains.ScriptP2WPKH}
}

// cjOpReturn is a zero-value OP_RETURN output (no address).
var cjOpReturn = cluster.Output{ScriptType: chains.ScriptOpReturn}

// cjIns gives each value its own address in<i>.
func cjIns(vals ...uint64) []cluster.Input {
	r := make([]cluster.Input, len(vals))
	for i, v := range vals {
		r[i] = cjIn(fmt.Sprintf("in%d", i), v)
	}
	return r
}

// cjOuts gives each value its own address out<i>.
func cjOuts(vals ...uint64) []cluster.Output {
	r := make([]cluster.Output, len(vals))
	for i, v := range vals {
		r[i] = cjOut(fmt.Sprintf("out%d", i), v)
	}
	return r
}

func cjRep(v uint64, n int) []uint64 {
	r := make([]uint64, n)
	for i := range r {
		r[i] = v
	}
	return r
}

func cjCat(parts ...[]uint64) []uint64 { return slices.Concat(parts...) }

const cjFee = 10_000 // testchain-generator's fee, 0.0001 BTC

// ---- vectors -------------------------------------------------------------

// C5: BlockSci's simple coinjoin (testchain-generator heuristics.py).
func cjvSimpleCoinJoin() *cluster.Tx {
	return &cluster.Tx{
		Inputs:  cjIns(100_000_000, 200_000_000, 300_000_000),
		Outputs: cjOuts(50_000_000, 150_000_000-cjFee, 50_000_000, 50_000_000-cjFee, 250_000_000-cjFee, 50_000_000),
	}
}

// C5: BlockSci non-coinjoins (testchain-generator motifs.py, amounts
// recomputed in sat).
func cjvFan8() *cluster.Tx { // 42 BTC into 8 × round((42 − fee)/8, 8)
	return &cluster.Tx{Inputs: cjIns(4_200_000_000), Outputs: cjOuts(cjRep(524_998_750, 8)...)}
}

func cjvPeelingChain4() *cluster.Tx { // hop 4: input 41.3996, peel 0.4
	return &cluster.Tx{Inputs: cjIns(4_139_960_000), Outputs: cjOuts(4_099_950_000, 40_000_000)}
}

func cjvTxChain10Tx1() *cluster.Tx { // 9.9999 → 9.9998
	return &cluster.Tx{Inputs: cjIns(999_990_000), Outputs: cjOuts(999_980_000)}
}

// cjvFundingTx2In2Out models the wallet payment that funds the 2-in-2-out
// motif (bitcoind picks its inputs; a regtest coinbase of 50 BTC here).
func cjvFundingTx2In2Out() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(5_000_000_000), Outputs: cjOuts(4_200_000_000, 799_990_000)}
}

// cjvTwoInTwoOut is the motif itself: 2 × 20.99995 → 2 × 20.9999.
func cjvTwoInTwoOut() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(2_099_995_000, 2_099_995_000), Outputs: cjOuts(2_099_990_000, 2_099_990_000)}
}

// C5: graphsense-lib test_coinjoin.py real transactions the simple rule
// flags (known false positives).
func cjvAb188e2a() *cluster.Tx {
	return &cluster.Tx{
		Inputs:  cjIns(600, 5_277_446),
		Outputs: []cluster.Output{cjOpReturn, cjOut("o1", 600), cjOut("o2", 5_248_496), cjOut("o3", 600)},
	}
}

func cjvD59d27807() *cluster.Tx {
	return &cluster.Tx{
		Inputs:  []cluster.Input{cjIn("a", 2_700), cjIn("b", 2_700), cjIn("c", 200_000), cjIn("a", 200_000)},
		Outputs: []cluster.Output{cjOpReturn, cjOut("o1", 2_700), cjOut("o2", 2_700), cjOut("o3", 2_700), cjOut("o4", 89_044)},
	}
}

// C5: Whirlpool 0.01 BTC pool, 1 new entrant (ε = 5,000) and 4 remixers.
func cjvWhirlpoolMix() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(1_005_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000), Outputs: cjOuts(cjRep(1_000_000, 5)...)}
}

func cjvWhirlpoolNoEntrant() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(cjRep(1_000_000, 5)...), Outputs: cjOuts(cjRep(1_000_000, 5)...)}
}

// C5: JoinMarket, n = 3, with and without change.
func cjvJoinMarket() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(cjRep(10_000_000, 3)...),
		Outputs: cjOuts(5_000_000, 5_000_000, 5_000_000, 1_666_666, 1_667_667, 1_668_668)}
}

func cjvJoinMarketNoChange() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(cjRep(10_000_000, 3)...), Outputs: cjOuts(cjRep(5_000_000, 3)...)}
}

// C5: Wasabi 2.0, 20 inputs; 10 each of 100k, 200k, 400k; 10 changes; 1
// coordinator output.
func cjvWasabi2() *cluster.Tx {
	var changes []uint64
	for i := range 10 {
		changes = append(changes, 51_234+uint64(i)*1_111)
	}
	return &cluster.Tx{Height: 800_000, Inputs: cjIns(cjRep(400_000, 20)...),
		Outputs: cjOuts(cjCat(cjRep(100_000, 10), cjRep(200_000, 10), cjRep(400_000, 10), changes, []uint64{21_000})...)}
}

// cjvWasabi2Sorted is a 50-input round in Wasabi 2.0's own form (inputs and
// outputs by descending value, standard denominations 200k, 100k, 50k):
// graphsense's and Dumplings' rules both hold.
func cjvWasabi2Sorted() *cluster.Tx {
	var inv []uint64
	for i := range 50 {
		inv = append(inv, 200_000-uint64(i)*1_000)
	}
	return &cluster.Tx{Height: 800_000, Inputs: cjIns(inv...),
		Outputs: cjOuts(cjCat(cjRep(200_000, 10), cjRep(100_000, 10), cjRep(50_000, 10), []uint64{47_321, 33_333, 21_877, 13_001, 9_123, 6_500})...)}
}

// cjvWasabi1 is built from the rule (graphsense 1.0/1.1 and Dumplings from
// height 610,000): 10 participants, two of them with two inputs (12
// inputs, 12 addresses), 10 outputs of 0.1004 BTC, 8 changes, the
// coordinator fee; everything P2WPKH.
func cjvWasabi1() *cluster.Tx {
	const d = 10_040_000
	changes := []uint64{1_234_567, 2_345_678, 3_456_789, 456_789, 5_678_901, 678_912, 7_890_123, 891_234}
	var inv []uint64
	for _, c := range changes { // 8 participants with change: d + change + coordinator share + miner fee
		inv = append(inv, d+c+3_012+1_500)
	}
	inv = append(inv, 5_030_000, 5_030_000, 5_030_000, 5_030_000) // 2 participants, 2 inputs each, no change
	return &cluster.Tx{Height: 620_000, Inputs: cjIns(inv...), Outputs: cjOuts(cjCat(cjRep(d, 10), changes, []uint64{30_120})...)}
}

// cjvWasabi1Coordinator is a round before height 610,000 that pays one of
// the two known coordinator addresses (Dumplings' rule only).
func cjvWasabi1Coordinator() *cluster.Tx {
	o := cjOuts(10_000_000, 10_000_000, 10_000_000, 2_345_678, 1_234_567)
	o = append(o, cjOut("bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew", 90_000))
	return &cluster.Tx{Height: 600_000, Inputs: cjIns(12_500_000, 11_300_000, 10_100_000, 10_050_000, 2_000_000), Outputs: o}
}

// cjvStonewall is a Samourai STONEWALL: 2 inputs, the payment and its decoy
// of 500,000 sat, two different changes.
func cjvStonewall() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(1_200_000, 800_000), Outputs: cjOuts(500_000, 699_000, 500_000, 299_000)}
}

// cjvStonewallDust has the shape but its pair is below 5,000 sat.
func cjvStonewallDust() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(12_000, 8_000), Outputs: cjOuts(4_000, 6_900, 4_000, 2_900)}
}

// cjvTx0 is a Whirlpool Tx0 into the 0.01 BTC pool: OP_RETURN, coordinator
// fee 50,000, 3 premixes of 1,000,302, change.
func cjvTx0() *cluster.Tx {
	o := []cluster.Output{cjOpReturn}
	o = append(o, cjOuts(50_000, 1_000_302, 1_000_302, 1_000_302, 448_094)...)
	return &cluster.Tx{Inputs: cjIns(3_500_000), Outputs: o}
}

// cjvTx0TwoPremix is a 2-input Tx0 with two premixes and a change: it has
// the Stonewall shape too.
func cjvTx0TwoPremix() *cluster.Tx {
	o := []cluster.Output{cjOpReturn}
	o = append(o, cjOuts(50_000, 1_000_302, 1_000_302, 448_094)...)
	return &cluster.Tx{Inputs: cjIns(1_500_000, 1_050_000), Outputs: o}
}

// cjvEqualOutput: 3 participants, equal 1,000,000 outputs, one change each;
// the third brings two inputs.
func cjvEqualOutput() *cluster.Tx {
	return &cluster.Tx{Inputs: cjIns(1_300_000, 1_250_000, 800_000, 700_000),
		Outputs: cjOuts(1_000_000, 1_000_000, 1_000_000, 295_000, 245_000, 495_000)}
}

// C2 (graphsense-spark test_txs.json) tx5: a bare-multisig output and
// three single-address ones; the fixture marks it "coinjoin" as input
// data.
func cjvC2tx5() *cluster.Tx {
	return &cluster.Tx{
		Inputs: []cluster.Input{cjIn("3", 1_480_000), cjIn("2", 2_500_000)},
		Outputs: []cluster.Output{{Value: 150_000, ScriptType: chains.ScriptMultisig},
			cjOut("7", 1_325_000), cjOut("8", 100_000), cjOut("9", 2_350_000)},
	}
}

// ---- tests ---------------------------------------------------------------

type cjDetector struct {
	name string
	fn   func(*cluster.Tx) (cluster.CoinJoin, bool)
}

var cjDetectors = []cjDetector{
	{"stonewall", cluster.DetectStonewall},
	{"whirlpool", cluster.DetectWhirlpool},
	{"whirlpool_tx0", cluster.DetectWhirlpoolTx0},
	{"wasabi2", cluster.DetectWasabi2},
	{"wasabi1", cluster.DetectWasabi1},
	{"joinmarket", cluster.DetectJoinMarket},
	{"equal_output", cluster.DetectEqualOutput},
	{"generic", cluster.DetectGeneric},
}

// TestCoinJoinDetectors checks every detector on every vector: the detectors
// listed in want fire with that result, every other one does not.
func TestCoinJoinDetectors(t *testing.T) {
	type want = map[string]cluster.CoinJoin
	cases := []struct {
		name string // the rule and vector
		tx   *cluster.Tx
		want want
	}{
		{"C5 BlockSci simple coinjoin: generic (p=3, 0.5 BTC ×3); also JoinMarket-shaped; Dumplings' max-input bound rejects it",
			cjvSimpleCoinJoin(), want{
				"generic":    {Detector: "generic", Confidence: 50, Denomination: 50_000_000, Participants: 3},
				"joinmarket": {Detector: "joinmarket", Confidence: 49, Denomination: 50_000_000, Participants: 3},
			}},
		{"C5 BlockSci fan-8: one input, no rule", cjvFan8(), want{}},
		{"C5 BlockSci peeling-chain-4: no rule", cjvPeelingChain4(), want{}},
		{"C5 BlockSci tx-chain-10-tx-1: no rule", cjvTxChain10Tx1(), want{}},
		{"C5 BlockSci funding-tx-2-in-2-out (modelled wallet payment): no rule", cjvFundingTx2In2Out(), want{}},
		{"C5 BlockSci 2-in-2-out motif: fewer than 3 outputs, no rule", cjvTwoInTwoOut(), want{}},
		{"C5 graphsense ab188e2a: generic flags it (known false positive), stricter rules do not",
			cjvAb188e2a(), want{"generic": {Detector: "generic", Confidence: 50, Denomination: 600, Participants: 2}}},
		{"C5 graphsense 59d27807: generic flags it (2,700 is not dust; known false positive), stricter rules do not",
			cjvD59d27807(), want{"generic": {Detector: "generic", Confidence: 50, Denomination: 2_700, Participants: 3}}},
		{"C5 Whirlpool 0.01 pool, 1 entrant + 4 remixers", cjvWhirlpoolMix(),
			want{"whirlpool": {Detector: "whirlpool", Confidence: 60, Denomination: 1_000_000, Participants: 5}}},
		{"C5 Whirlpool 0.01 pool without a new entrant: rejected", cjvWhirlpoolNoEntrant(), want{}},
		{"C5 JoinMarket n=3 with changes (the generic rule agrees: p=3)", cjvJoinMarket(),
			want{
				"joinmarket": {Detector: "joinmarket", Confidence: 49, Denomination: 5_000_000, Participants: 3},
				"generic":    {Detector: "generic", Confidence: 50, Denomination: 5_000_000, Participants: 3},
			}},
		{"C5 JoinMarket without change: rejected", cjvJoinMarketNoChange(), want{}},
		{"C5 Wasabi 2.0, 20 inputs, D={100k,200k,400k} (graphsense rule; too small for Dumplings')", cjvWasabi2(),
			want{
				"wasabi2": {Detector: "wasabi2", Confidence: 60, Denomination: 100_000, Participants: 2},
				// the changes and the coordinator are 11 distinct outputs: JoinMarket's n ≥ outputs/2 fails
			}},
		{"Wasabi 2.0 sorted 50-input round: graphsense and Dumplings agree (75)", cjvWasabi2Sorted(),
			want{"wasabi2": {Detector: "wasabi2", Confidence: 75, Denomination: 50_000, Participants: 5}}},
		{"Wasabi 1.x from the rule: graphsense 1.0 (70), 1.1 (50+50·(70−12)/72 = 90), Dumplings (70→80); highest wins; also JoinMarket-shaped",
			cjvWasabi1(), want{
				"wasabi1":    {Detector: "wasabi1", Confidence: 90, Denomination: 10_040_000, Participants: 10},
				"joinmarket": {Detector: "joinmarket", Confidence: 49, Denomination: 10_040_000, Participants: 10},
				"generic":    {Detector: "generic", Confidence: 50, Denomination: 10_040_000, Participants: 10},
			}},
		{"Wasabi 1.0 coordinator address before height 610,000 (Dumplings, 90)", cjvWasabi1Coordinator(),
			want{
				"wasabi1":    {Detector: "wasabi1", Confidence: 90, Denomination: 10_000_000, Participants: 3},
				"joinmarket": {Detector: "joinmarket", Confidence: 49, Denomination: 10_000_000, Participants: 3},
				"generic":    {Detector: "generic", Confidence: 50, Denomination: 10_000_000, Participants: 3},
			}},
		{"Stonewall: pair of 500,000 and two different changes; the generic rule flags it too (Dumplings' max-input bound does not)", cjvStonewall(),
			want{
				"stonewall": {Detector: "stonewall", Confidence: 50, Denomination: 500_000, Participants: 2},
				"generic":   {Detector: "generic", Confidence: 50, Denomination: 500_000, Participants: 2},
			}},
		{"Stonewall shape with a pair below 5,000 sat: no Stonewall (generic still fires)", cjvStonewallDust(),
			want{"generic": {Detector: "generic", Confidence: 50, Denomination: 4_000, Participants: 2}}},
		{"Whirlpool Tx0 into the 0.01 pool", cjvTx0(),
			want{"whirlpool_tx0": {Detector: "whirlpool_tx0", Confidence: 60, Denomination: 1_000_000, Participants: 1}}},
		{"Whirlpool Tx0 with two premixes and change also has the Stonewall shape", cjvTx0TwoPremix(),
			want{
				"whirlpool_tx0": {Detector: "whirlpool_tx0", Confidence: 60, Denomination: 1_000_000, Participants: 1},
				"stonewall":     {Detector: "stonewall", Confidence: 50, Denomination: 1_000_302, Participants: 2},
			}},
		{"Dumplings other equal-output rule: 3 × 1,000,000 + 3 changes, largest input below d + largest change − 10,000",
			cjvEqualOutput(), want{
				"equal_output": {Detector: "equal_output", Confidence: 55, Denomination: 1_000_000, Participants: 3},
				"joinmarket":   {Detector: "joinmarket", Confidence: 49, Denomination: 1_000_000, Participants: 3},
				"generic":      {Detector: "generic", Confidence: 50, Denomination: 1_000_000, Participants: 3},
			}},
		{"C2 graphsense tx5: flagged coinjoin in the fixture's input data, but no rule recognises it", cjvC2tx5(), want{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range cjDetectors {
				got, ok := d.fn(c.tx)
				w, wok := c.want[d.name]
				if ok != wok || got != w {
					t.Errorf("%s = %+v, %v; want %+v, %v", d.name, got, ok, w, wok)
				}
			}
		})
	}
}

// TestDetectCoinJoin checks the entry point's order and the Stonewall
// veto on the same vectors.
func TestDetectCoinJoin(t *testing.T) {
	cases := []struct {
		name string
		tx   *cluster.Tx
		want string // detector, "" for no CoinJoin
	}{
		{"C5 simple coinjoin: JoinMarket runs before generic", cjvSimpleCoinJoin(), "joinmarket"},
		{"C5 fan-8", cjvFan8(), ""},
		{"C5 peeling-chain-4", cjvPeelingChain4(), ""},
		{"C5 tx-chain-10-tx-1", cjvTxChain10Tx1(), ""},
		{"C5 funding tx", cjvFundingTx2In2Out(), ""},
		{"C5 2-in-2-out", cjvTwoInTwoOut(), ""},
		{"C5 ab188e2a: known false positive of the generic rule", cjvAb188e2a(), "generic"},
		{"C5 59d27807: known false positive of the generic rule", cjvD59d27807(), "generic"},
		{"C5 Whirlpool mix", cjvWhirlpoolMix(), "whirlpool"},
		{"C5 Whirlpool without entrant", cjvWhirlpoolNoEntrant(), ""},
		{"C5 JoinMarket", cjvJoinMarket(), "joinmarket"},
		{"C5 JoinMarket without change", cjvJoinMarketNoChange(), ""},
		{"C5 Wasabi 2.0", cjvWasabi2(), "wasabi2"},
		{"Wasabi 2.0 sorted", cjvWasabi2Sorted(), "wasabi2"},
		{"Wasabi 1.x before JoinMarket", cjvWasabi1(), "wasabi1"},
		{"Wasabi 1.0 coordinator", cjvWasabi1Coordinator(), "wasabi1"},
		{"Stonewall veto: generic also fires, stonewall is reported", cjvStonewall(), "stonewall"},
		{"Stonewall with a dust pair", cjvStonewallDust(), "generic"},
		{"Tx0 is not a CoinJoin", cjvTx0(), ""},
		{"Tx0 with the Stonewall shape is labelled stonewall", cjvTx0TwoPremix(), "stonewall"},
		{"Dumplings other: JoinMarket runs first", cjvEqualOutput(), "joinmarket"},
		{"C2 tx5: no detector fires", cjvC2tx5(), ""},
		{"nil", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := cluster.DetectCoinJoin(c.tx)
			if ok != (c.want != "") || got.Detector != c.want {
				t.Errorf("DetectCoinJoin = %+v, %v; want detector %q", got, ok, c.want)
			}
			if c.tx != nil {
				cb := *c.tx
				cb.Coinbase = true
				if got, ok := cluster.DetectCoinJoin(&cb); ok {
					t.Errorf("coinbase: DetectCoinJoin = %+v, true", got)
				}
			}
		})
	}
}

// TestCoinJoinVectorsBalance guards the hand-built vectors: inputs cover outputs.
func TestCoinJoinVectorsBalance(t *testing.T) {
	for name, tx := range map[string]*cluster.Tx{
		"simple": cjvSimpleCoinJoin(), "fan8": cjvFan8(), "peel": cjvPeelingChain4(), "chain": cjvTxChain10Tx1(),
		"funding": cjvFundingTx2In2Out(), "2in2out": cjvTwoInTwoOut(), "ab188e2a": cjvAb188e2a(),
		"whirlpool": cjvWhirlpoolMix(), "jm": cjvJoinMarket(), "w2": cjvWasabi2(), "w2sorted": cjvWasabi2Sorted(),
		"w1": cjvWasabi1(), "w1coord": cjvWasabi1Coordinator(), "stonewall": cjvStonewall(), "tx0": cjvTx0(),
		"tx0b": cjvTx0TwoPremix(), "equal": cjvEqualOutput(), "c2tx5": cjvC2tx5(),
	} {
		var sin, sout uint64
		for _, i := range tx.Inputs {
			sin += i.Value
		}
		for _, o := range tx.Outputs {
			sout += o.Value
		}
		if sin < sout {
			t.Errorf("%s: inputs %d < outputs %d", name, sin, sout)
		}
	}
}

// TestWasabi1Rejects: graphsense's guards and Dumplings' height window.
func TestWasabi1Rejects(t *testing.T) {
	shared := cjvWasabi1()
	shared.Height = 500_000 // before Wasabi: Dumplings is off
	shared.Inputs[11].Address = shared.Inputs[10].Address
	if got, ok := cluster.DetectWasabi1(shared); ok {
		t.Errorf("one address with 2 of 12 inputs (> 10 %%): %+v", got)
	}

	split := &cluster.Tx{Height: 500_000, Inputs: cjIns(cjRep(11_000_000, 12)...),
		Outputs: cjOuts(cjCat(cjRep(10_000_000, 10), []uint64{20_000_000, 30_000_000})...)}
	if got, ok := cluster.DetectWasabi1(split); ok {
		t.Errorf("batch split of 1.5 BTC into multiples of 0.1 BTC: %+v", got)
	}
	split.Inputs = cjIns(cjRep(11_000_000, 20)...) // the gate only applies below 20 inputs
	if _, ok := cluster.DetectWasabi1(split); !ok {
		t.Error("the same outputs with 20 inputs: not detected")
	}

	early := cjvWasabi1Coordinator()
	early.Height = 530_499
	if got, ok := cluster.DetectWasabi1(early); ok {
		t.Errorf("coordinator address before the first Wasabi block: %+v", got)
	}
}

// TestWasabi2Dumplings: Dumplings' rule needs height ≥ 741,213 and
// descending order.
func TestWasabi2Dumplings(t *testing.T) {
	tx := cjvWasabi2Sorted()
	tx.Height = 741_212
	if got, _ := cluster.DetectWasabi2(tx); got.Confidence != 60 {
		t.Errorf("before WabiSabi: %+v, want graphsense only (60)", got)
	}
	tx = cjvWasabi2Sorted()
	tx.Inputs[0], tx.Inputs[1] = tx.Inputs[1], tx.Inputs[0]
	if got, _ := cluster.DetectWasabi2(tx); got.Confidence != 60 {
		t.Errorf("unsorted inputs: %+v, want graphsense only (60)", got)
	}
}

// TestGenericTieBreakLowest: the generic rule takes the lowest of equally
// frequent values (graphsense-lib's port of BlockSci).
func TestGenericTieBreakLowest(t *testing.T) {
	// 5 outputs, p = 3: 300,000 ×3 is the most frequent value.
	tx := &cluster.Tx{Inputs: cjIns(1_000_000, 1_000_000, 1_000_000),
		Outputs: cjOuts(700_000, 300_000, 700_000, 300_000, 300_000)}
	if got, ok := cluster.DetectGeneric(tx); !ok || got.Denomination != 300_000 {
		t.Errorf("got %+v, %v", got, ok)
	}
	// 6 outputs, p = 3: 500,000 ×3 and 200,000 ×3 tie; the lowest wins.
	tx = &cluster.Tx{Inputs: cjIns(1_000_000, 1_000_000, 1_000_000),
		Outputs: cjOuts(500_000, 200_000, 500_000, 200_000, 500_000, 200_000)}
	if got, ok := cluster.DetectGeneric(tx); !ok || got.Denomination != 200_000 {
		t.Errorf("tie: got %+v, %v; want 200,000", got, ok)
	}
	// dust: 546 ×2 of 3 outputs.
	tx = &cluster.Tx{Inputs: cjIns(10_000, 10_000), Outputs: cjOuts(546, 546, 8_000)}
	if got, ok := cluster.DetectGeneric(tx); ok {
		t.Errorf("dust 546: %+v", got)
	}
}

// ---- fuzzing -------------------------------------------------------------

// cjFuzzReader reads a Tx from arbitrary bytes; past the end it reads zeros.
type cjFuzzReader struct{ b []byte }

func (r *cjFuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *cjFuzzReader) u64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = r.byte()
	}
	return binary.BigEndian.Uint64(buf[:])
}

var (
	cjFuzzHeights = []int64{0, 530_500, 600_000, 620_000, 741_213, 800_000, 870_000, -1}
	cjFuzzValues  = []uint64{0, 546, 2_730, 5_000, 100_000, 1_000_000, 5_000_000, 50_000_000,
		10_000_000, 10_040_000, 20_000_000, 25_000, 150_000, math.MaxUint64, math.MaxUint64 / 2}
	cjFuzzSequences = []uint32{0, 0xffffffff, 0xfffffffd, 0xfffffffe}
)

// value: a table value, a table value plus a multiple of 100, or 8 raw
// bytes.
func (r *cjFuzzReader) value() uint64 {
	switch r.byte() % 3 {
	case 0:
		return r.u64()
	case 1:
		return cjFuzzValues[int(r.byte())%len(cjFuzzValues)]
	default:
		return cjFuzzValues[int(r.byte())%len(cjFuzzValues)] + uint64(r.byte())*100
	}
}

// cjFuzzAddress: 0 is "", 1 a Wasabi coordinator, else a<n>.
func cjFuzzAddress(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew"
	}
	return fmt.Sprintf("a%d", n)
}

// group reads a run-length group: count (1..16), address (high bit: the
// same address for all, else consecutive addresses), value, script type.
// Small inputs thus describe Wasabi-sized rounds.
func (r *cjFuzzReader) group() (count, addr int, same bool, v uint64, st chains.ScriptType) {
	count = int(r.byte()%16) + 1
	a := r.byte()
	return count, int(a & 0x7f), a&0x80 != 0, r.value(), chains.ScriptType(r.byte() % 12)
}

const cjFuzzMaxLen = 256 // longer inputs are read up to here

func cjTxFromBytes(b []byte) *cluster.Tx {
	if len(b) > cjFuzzMaxLen {
		b = b[:cjFuzzMaxLen]
	}
	r := &cjFuzzReader{b}
	tx := &cluster.Tx{Height: cjFuzzHeights[int(r.byte())%len(cjFuzzHeights)], Coinbase: r.byte() == 1}
	if tx.Height < 0 {
		tx.Height = int64(r.u64())
	}
	nIn, nOut := int(r.byte())%100, int(r.byte())%100
	for len(tx.Inputs) < nIn {
		count, addr, same, v, st := r.group()
		seq, known := cjFuzzSequences[int(r.byte())%len(cjFuzzSequences)], r.byte()%2 == 0
		for k := 0; k < count && len(tx.Inputs) < nIn; k++ {
			a := addr
			if !same && a > 1 {
				a += k
			}
			tx.Inputs = append(tx.Inputs, cluster.Input{Address: cjFuzzAddress(a), Value: v, ScriptType: st, Sequence: seq, Known: known})
		}
	}
	for len(tx.Outputs) < nOut {
		count, addr, same, v, st := r.group()
		for k := 0; k < count && len(tx.Outputs) < nOut; k++ {
			a := addr
			if !same && a > 1 {
				a += 256 + k // output addresses apart from input ones
			}
			tx.Outputs = append(tx.Outputs, cluster.Output{Address: cjFuzzAddress(a), Value: v, ScriptType: st})
		}
	}
	return tx
}

// cjFuzzSeeds are small encodings of vector shapes (Whirlpool mix, a
// Wasabi 2.0-like round of 30 inputs and 3 denominations, a Stonewall,
// an OP_RETURN look-alike).
func cjFuzzSeeds() [][]byte {
	return [][]byte{
		{},
		// Whirlpool 0.01: 1 input 1,000,000 + 5,000; 4 × 1,000,000; 5 outputs 1,000,000.
		{0, 0, 5, 5, 0, 2, 2, 5, 50, 4, 1, 0, 3, 10, 1, 5, 4, 1, 0, 4, 10, 1, 5, 4},
		// 30 inputs of 150,000; outputs 10 × 100,000, 10 × 1,000,000, 10 × 5,000,000, 1 other.
		{5, 0, 30, 31, 15, 2, 1, 12, 4, 1, 0, 14, 20, 1, 12, 4, 1, 0,
			9, 2, 1, 4, 4, 9, 40, 1, 5, 4, 9, 60, 1, 6, 4, 0, 80, 2, 3, 7, 4},
		// Stonewall: 2 inputs, outputs 1,000,000 ×2 + 2 changes.
		{0, 0, 2, 4, 1, 2, 1, 5, 4, 1, 0, 1, 2, 1, 5, 4, 0, 6, 2, 11, 3, 4, 0, 8, 2, 3, 9, 4},
		// generic rule look-alike: 4 × 2,730 in; OP_RETURN + 5,000 ×3 + change.
		{0, 0, 4, 5, 3, 2, 1, 2, 4, 1, 0, 0, 0, 1, 0, 8, 2, 9, 1, 3, 4, 0, 10, 2, 12, 7, 4}, // the change reuses a266: not JoinMarket
	}
}

// FuzzDetectCoinJoin: no detector panics on any Tx shape; DetectCoinJoin
// is deterministic, leaves the Tx unchanged, never reports a Tx0 or a
// coinbase, and reports what its detector reports.
func FuzzDetectCoinJoin(f *testing.F) {
	for _, s := range cjFuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tx := cjTxFromBytes(data)
		before := cjTxFromBytes(data)
		cj, ok := cluster.DetectCoinJoin(tx)
		cj2, ok2 := cluster.DetectCoinJoin(tx)
		if cj != cj2 || ok != ok2 {
			t.Fatalf("not deterministic: %+v %v / %+v %v", cj, ok, cj2, ok2)
		}
		for _, d := range cjDetectors {
			got, dok := d.fn(tx)
			if dok && (got.Confidence > 100 || got.Detector != d.name || got.Participants < 1) {
				t.Fatalf("%s: %+v", d.name, got)
			}
			if tx.Coinbase && dok {
				t.Fatalf("%s on a coinbase: %+v", d.name, got)
			}
			if ok && d.name == cj.Detector && (!dok || got != cj) {
				t.Fatalf("DetectCoinJoin = %+v but %s = %+v, %v", cj, d.name, got, dok)
			}
		}
		if ok && (cj.Detector == cluster.DetectorWhirlpoolTx0 || tx.Coinbase) {
			t.Fatalf("DetectCoinJoin = %+v on coinbase=%v", cj, tx.Coinbase)
		}
		_ = cluster.UnnecessaryInput(tx)
		_ = cluster.PayJoinSignals(tx)
		if !reflect.DeepEqual(tx, before) {
			t.Fatal("the cjDetectors changed the Tx")
		}
	})
}

// TestCoinJoinFuzzSeeds checks that the seeds decode to the shapes they name.
func TestCoinJoinFuzzSeeds(t *testing.T) {
	want := []string{"", "whirlpool", "wasabi2", "stonewall", "generic"}
	for i, s := range cjFuzzSeeds() {
		got, _ := cluster.DetectCoinJoin(cjTxFromBytes(s))
		if got.Detector != want[i] {
			t.Errorf("seed %d: %+v (tx %+v), want %q", i, got, cjTxFromBytes(s), want[i])
		}
	}
}
