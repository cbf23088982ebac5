package cluster_test

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
)

const (
	chBTC = 100_000_000
	chFee = 10_000 // testchain-generator's fee, 0.0001 BTC
)

// chChain builds a chain by hand into a MemHistory.
type chChain struct {
	h *cluster.MemHistory
	n uint64
}

func newChChain() *chChain { return &chChain{h: cluster.NewMemHistory()} }

func (c *chChain) next() chains.Hash {
	c.n++
	var h chains.Hash
	binary.BigEndian.PutUint64(h[24:], c.n)
	return h
}

// fund pays v to addr (type st) in a new coinbase.
func (c *chChain) fund(addr string, v uint64, st chains.ScriptType) chains.OutPoint {
	tx := &cluster.Tx{Hash: c.next(), Version: 2, Coinbase: true, Outputs: []cluster.Output{{Address: addr, Value: v, ScriptType: st}}}
	c.h.Add(tx)
	return chains.OutPoint{TxID: tx.Hash}
}

// spend adds a version-2 tx with locktime lock spending ins (resolved
// from the history) into outs.
func (c *chChain) spend(lock uint32, ins []chains.OutPoint, outs ...cluster.Output) *cluster.Tx {
	tx := &cluster.Tx{Hash: c.next(), Version: 2, LockTime: lock, Outputs: outs}
	for _, p := range ins {
		parent, ok := c.h.Tx(p.TxID)
		if !ok {
			panic(fmt.Sprintf("unknown parent %s", p))
		}
		o := parent.Outputs[p.Index]
		tx.Inputs = append(tx.Inputs, cluster.Input{Address: o.Address, Value: o.Value, ScriptType: o.ScriptType,
			Sequence: 0xfffffffd, Known: true, Prev: p})
	}
	c.h.Add(tx)
	return tx
}

func chOp(tx *cluster.Tx, i int) chains.OutPoint {
	return chains.OutPoint{TxID: tx.Hash, Index: uint32(i)}
}

func chOut(addr string, v uint64) cluster.Output {
	return cluster.Output{Address: addr, Value: v, ScriptType: chains.ScriptP2WPKH}
}

func chOuts3(pos int, change cluster.Output, spend1, spend2 cluster.Output) []cluster.Output {
	outs := []cluster.Output{spend1, spend2}
	return append(outs[:pos], append([]cluster.Output{change}, outs[pos:]...)...)
}

// sig is a signal without its output (the tests give the output apart).
type sig struct {
	h string
	c cluster.Confidence
}

func sigsAt(out int, ss ...sig) []cluster.ChangeSignal {
	var r []cluster.ChangeSignal
	for _, s := range ss {
		r = append(r, cluster.ChangeSignal{Output: out, Heuristic: s.h, Confidence: s.c})
	}
	return r
}

var (
	sReuse   = sig{cluster.HeuristicAddressReuse, 100}
	sOneTime = sig{cluster.HeuristicOneTimeChange, 60}
	sFresh   = sig{cluster.HeuristicFreshAddress, 50}
	sType    = sig{cluster.HeuristicScriptType, 60}
	sRound   = sig{cluster.HeuristicRoundValue, 60}
	sRound3  = sig{cluster.HeuristicRoundValue1000, 45}
	sOptimal = sig{cluster.HeuristicOptimalChange, 65}
	sFinger  = sig{cluster.HeuristicFingerprint, 45}
	sLegacy  = sig{cluster.HeuristicLegacy, 60}
	sGsOne   = sig{cluster.HeuristicGraphsenseOneTime, 50}
)

// C4 motifs (testchain-generator testchain/motifs/change.py), amounts in
// sat. Each builder returns the tx and the change's vout.

func c4PowerOfTen(i, pos int) (*cluster.Tx, *chChain, int) {
	spends := [...]uint64{100_000_000, 120_000_000, 123_000_000, 123_400_000, 123_450_000, 123_456_000}
	c := newChChain()
	in := c.fund("start", 211_111_111, chains.ScriptP2WPKH)
	spend := chOut("spend", spends[i])
	change := chOut("change", 211_111_111-spends[i]-chFee)
	outs := []cluster.Output{change, spend} // change_position 0
	if pos == 1 {
		outs = []cluster.Output{spend, change}
	}
	return c.spend(0, []chains.OutPoint{in}, outs...), c, pos
}

func c4Optimal(pos int) (*cluster.Tx, *chChain, int) {
	c := newChChain()
	in1 := c.fund("in1", 1*chBTC, chains.ScriptP2WPKH)
	in2 := c.fund("in2", 2*chBTC, chains.ScriptP2WPKH)
	spend, change := chOut("spend", 290_000_000), chOut("change", 10_000_000-chFee)
	outs := []cluster.Output{change, spend}
	if pos == 1 {
		outs = []cluster.Output{spend, change}
	}
	return c.spend(0, []chains.OutPoint{in1, in2}, outs...), c, pos
}

func c4AddressType(pos int) (*cluster.Tx, *chChain, int) {
	c := newChChain()
	in := c.fund("in1", 3*chBTC+chFee, chains.ScriptP2PKH)
	change := cluster.Output{Address: "change", Value: chBTC, ScriptType: chains.ScriptP2PKH}
	s1 := cluster.Output{Address: "spend1", Value: chBTC, ScriptType: chains.ScriptP2SH}
	s2 := cluster.Output{Address: "spend2", Value: chBTC, ScriptType: chains.ScriptP2SH}
	return c.spend(0, []chains.OutPoint{in}, chOuts3(pos, change, s1, s2)...), c, pos
}

func c4Locktime(pos int) (*cluster.Tx, *chChain, int) {
	c := newChChain()
	in := c.fund("start", 3*chBTC+chFee, chains.ScriptP2WPKH)
	tx := c.spend(110, []chains.OutPoint{in}, chOuts3(pos, chOut("change", chBTC), chOut("spend1", chBTC), chOut("spend2", chBTC))...)
	for i, o := range tx.Outputs {
		lock := uint32(0)
		if o.Address == "change" {
			lock = 111
		}
		c.spend(lock, []chains.OutPoint{chOp(tx, i)}, chOut("dummy-"+o.Address, chBTC-chFee))
	}
	return tx, c, pos
}

func c4AddressReuse(pos int) (*cluster.Tx, *chChain, int) {
	c := newChChain()
	in := c.fund("change", 3*chBTC+chFee, chains.ScriptP2WPKH)
	return c.spend(0, []chains.OutPoint{in}, chOuts3(pos, chOut("change", chBTC), chOut("spend1", chBTC), chOut("spend2", chBTC))...), c, pos
}

func c4ClientBehavior(pos int) (*cluster.Tx, *chChain, int) {
	c := newChChain()
	in := c.fund("start", 3*chBTC+chFee, chains.ScriptP2WPKH)
	c.fund("spend1", chBTC, chains.ScriptP2WPKH)
	c.fund("spend2", chBTC, chains.ScriptP2WPKH)
	return c.spend(0, []chains.OutPoint{in}, chOuts3(pos, chOut("change", chBTC), chOut("spend1", chBTC), chOut("spend2", chBTC))...), c, pos
}

func c4Negative() (*cluster.Tx, *chChain) {
	c := newChChain()
	var ins []chains.OutPoint
	for _, a := range []string{"s1", "s2", "s3"} {
		ins = append(ins, c.fund(a, chBTC+chFee, chains.ScriptP2WPKH))
	}
	return c.spend(0, ins, chOut("d1", 148_888_800), chOut("d2", 151_111_200)), c
}

// TestChangeC4PowerOfTen: BlockSci power_of_ten_value(8−i) returns
// exactly the change for i = 0..5, in both positions; ChangeSignals
// (digits 6) names it only for i ≤ 2 (spend 1.234 BTC is not a multiple
// of 0.01 BTC).
func TestChangeC4PowerOfTen(t *testing.T) {
	for i := range 6 {
		for pos := range 2 {
			tx, c, change := c4PowerOfTen(i, pos)
			if got := cluster.RoundValueCandidates(tx, 8-i); !reflect.DeepEqual(got, []int{change}) {
				t.Errorf("i=%d pos=%d: power_of_ten(%d) = %v, want [%d]", i, pos, 8-i, got, change)
			}
			want := sigsAt(change, sRound3, sGsOne)
			if i <= 2 {
				want = sigsAt(change, sRound, sRound3, sGsOne)
			}
			out, got, ok := cluster.Change(tx, c.h, 2)
			if !reflect.DeepEqual(got, want) || ok || out != -1 {
				t.Errorf("i=%d pos=%d: Change = %d %v %v, want -1 %v false (one group: round)", i, pos, out, got, ok, want)
			}
		}
	}
}

// TestChangeC4Motifs: the other C4 motifs, every position, with the exact
// signals and the policy's answer.
func TestChangeC4Motifs(t *testing.T) {
	type build func(pos int) (*cluster.Tx, *chChain, int)
	cases := []struct {
		name      string
		b         build
		positions int
		want      []sig
		ok        bool // Change(…, 2)
	}{
		{"optimal_change", c4Optimal, 2, []sig{sRound, sOptimal, sLegacy}, true},
		{"address_type", c4AddressType, 3, []sig{sType}, false},
		{"locktime", c4Locktime, 3, []sig{sFinger}, false},
		{"address_reuse", c4AddressReuse, 3, []sig{sReuse}, true},
		// legacy: every output is below the one input, one is fresh.
		{"client_behavior", c4ClientBehavior, 3, []sig{sOneTime, sFresh, sLegacy}, false}, // one group: fresh
	}
	for _, tc := range cases {
		for pos := range tc.positions {
			tx, c, change := tc.b(pos)
			want := sigsAt(change, tc.want...)
			if got := cluster.ChangeSignals(tx, c.h); !reflect.DeepEqual(got, want) {
				t.Errorf("%s pos %d: signals %v, want %v", tc.name, pos, got, want)
			}
			out, _, ok := cluster.Change(tx, c.h, 0)
			wantOut := -1
			if tc.ok {
				wantOut = change
			}
			if ok != tc.ok || out != wantOut {
				t.Errorf("%s pos %d: Change = %d %v, want %d %v", tc.name, pos, out, ok, wantOut, tc.ok)
			}
		}
	}
	// One signal is enough only when the caller asks for one.
	tx, c, change := c4AddressType(1)
	if out, _, ok := cluster.Change(tx, c.h, 1); !ok || out != change {
		t.Errorf("address_type minAgree 1: %d %v, want %d true", out, ok, change)
	}
}

// TestChangeC4Negative: the C4 negative case, candidate sets as listed
// (peeling_chain, optimal_change, address_reuse, legacy: []; address_type,
// locktime, client_behavior: both), no signal, and no change (it is also
// UIH2: 2.0002 ≥ 1.511112 BTC).
func TestChangeC4Negative(t *testing.T) {
	tx, c := c4Negative()
	for _, tc := range []struct {
		h    string
		want []int
	}{
		{cluster.HeuristicPeelChain, nil},
		{cluster.HeuristicOptimalChange, nil},
		{cluster.HeuristicAddressReuse, nil},
		{cluster.HeuristicLegacy, nil},
		{cluster.HeuristicScriptType, []int{0, 1}},
		{cluster.HeuristicFingerprint, []int{0, 1}},
		{cluster.HeuristicFreshAddress, []int{0, 1}},
		{cluster.HeuristicOneTimeChange, nil}, // two new addresses: Meiklejohn labels nothing
		{cluster.HeuristicRoundValue, []int{0, 1}},
		{cluster.HeuristicGraphsenseOneTime, nil},
	} {
		if got := cluster.ChangeCandidates(tx, c.h, tc.h); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: candidates %v, want %v", tc.h, got, tc.want)
		}
	}
	if !cluster.UnnecessaryInput(tx) {
		t.Errorf("negative case: UIH2 false, want true")
	}
	if out, s, ok := cluster.Change(tx, c.h, 1); ok || out != -1 || s != nil {
		t.Errorf("negative case: Change = %d %v %v, want -1 nil false", out, s, ok)
	}
}

// TestChangeC6UIH1: payjoin/tx-indexer UIH1 rows; ties are all
// candidates and so no signal.
func TestChangeC6UIH1(t *testing.T) {
	for _, tc := range []struct {
		in, out []uint64
		want    []int
	}{
		{[]uint64{100, 200}, []uint64{50, 250}, []int{0}},
		{[]uint64{50, 100}, []uint64{80, 70}, nil},
		{[]uint64{100, 200}, []uint64{50, 50}, []int{0, 1}},
		{[]uint64{100, 200}, []uint64{200, 30}, []int{1}},
	} {
		tx := &cluster.Tx{Inputs: cjIns(tc.in...), Outputs: cjOuts(tc.out...)}
		if got := cluster.ChangeCandidates(tx, nil, cluster.HeuristicOptimalChange); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v → %v: UIH1 %v, want %v", tc.in, tc.out, got, tc.want)
		}
		var fired []int
		for _, s := range cluster.ChangeSignals(tx, nil) {
			if s.Heuristic == cluster.HeuristicOptimalChange {
				fired = append(fired, s.Output)
			}
		}
		if len(tc.want) != 1 && fired != nil || len(tc.want) == 1 && !reflect.DeepEqual(fired, tc.want) {
			t.Errorf("%v → %v: optimal_change signal on %v, want unique of %v", tc.in, tc.out, fired, tc.want)
		}
	}
	// An unresolved input: not judged.
	tx := &cluster.Tx{Inputs: cjIns(100, 200), Outputs: cjOuts(50, 250)}
	tx.Inputs[1].Known = false
	if got := cluster.ChangeCandidates(tx, nil, cluster.HeuristicOptimalChange); got != nil {
		t.Errorf("unknown input: UIH1 %v, want nil", got)
	}
}

// peelChain builds hops peeling transactions from one 100,000,000 sat
// coin: hop k (1-based) pays a round peel of k × 1,000,000 to p<k> and
// the rest less the fee to c<k>; the continuing output is at vout 1 on
// odd hops and vout 0 on even ones. Each peel is swept by a 2-input
// transaction (never peeling) when sweep is true; the last continuing
// output stays unspent.
func peelChain(c *chChain, hops int, sweep bool) (txs []*cluster.Tx, cont []int) {
	prev := c.fund("c0", 100_000_000, chains.ScriptP2WPKH)
	v := uint64(100_000_000)
	for k := 1; k <= hops; k++ {
		peel := uint64(k) * 1_000_000
		v -= peel + chFee
		po, co := chOut(fmt.Sprintf("p%d", k), peel), chOut(fmt.Sprintf("c%d", k), v)
		outs, ci := []cluster.Output{po, co}, 1
		if k%2 == 0 {
			outs, ci = []cluster.Output{co, po}, 0
		}
		tx := c.spend(0, []chains.OutPoint{prev}, outs...)
		txs, cont = append(txs, tx), append(cont, ci)
		prev = chOp(tx, ci)
		if sweep {
			other := c.fund(fmt.Sprintf("other%d", k), 5_000_000, chains.ScriptP2WPKH)
			c.spend(0, []chains.OutPoint{chOp(tx, 1-ci), other}, chOut(fmt.Sprintf("exchange%d", k), peel+5_000_000-chFee))
		}
	}
	return txs, cont
}

// TestChangePeelChain: a 3-hop chain built by hand. Every hop is peeling,
// its continuing output is the unique candidate (the peel is spent by a
// 2-input sweep), confidence 55 (length 3); round value agrees (peels
// are round), so Change names it.
func TestChangePeelChain(t *testing.T) {
	c := newChChain()
	txs, cont := peelChain(c, 3, true)
	if v := txs[2].Outputs[cont[2]].Value; v != 93_970_000 {
		t.Fatalf("chain arithmetic: last continuing %d, want 93,970,000", v)
	}
	for k, tx := range txs {
		want := sigsAt(cont[k], sRound, sig{cluster.HeuristicPeelChain, cluster.ConfidencePeelChain3})
		out, got, ok := cluster.Change(tx, c.h, 2)
		if !reflect.DeepEqual(got, want) || !ok || out != cont[k] {
			t.Errorf("hop %d: Change = %d %v %v, want %d %v true", k+1, out, got, ok, cont[k], want)
		}
	}
}

// TestChangePeelChainLengthAndCaution: confidence by length, and the
// §2.5 caution: both halves of the candidate rule apply, so a peeling
// tx whose two outputs are unspent (or whose peel is spent by a peeling
// tx) names nothing; a lone 1-in-2-out tx is not peeling.
func TestChangePeelChainLengthAndCaution(t *testing.T) {
	for _, tc := range []struct {
		hops int
		want cluster.Confidence
	}{{2, cluster.ConfidencePeelChain2}, {9, cluster.ConfidencePeelChain3}, {10, cluster.ConfidencePeelChain10}} {
		c := newChChain()
		txs, cont := peelChain(c, tc.hops, true)
		for k, tx := range txs {
			got := cluster.ChangeCandidates(tx, c.h, cluster.HeuristicPeelChain)
			if !reflect.DeepEqual(got, []int{cont[k]}) {
				t.Errorf("%d hops, hop %d: candidates %v, want [%d]", tc.hops, k+1, got, cont[k])
				continue
			}
			for _, s := range cluster.ChangeSignals(tx, c.h) {
				if s.Heuristic == cluster.HeuristicPeelChain && s.Confidence != tc.want {
					t.Errorf("%d hops, hop %d: confidence %d, want %d", tc.hops, k+1, s.Confidence, tc.want)
				}
			}
		}
	}
	// Peels left unspent: the last hop has two unspent outputs (no
	// answer); earlier hops have an unspent peel next to a continuing
	// output spent by a peeling tx (two candidates, no answer).
	c := newChChain()
	txs, _ := peelChain(c, 3, false)
	for k, tx := range txs {
		if got := cluster.ChangeCandidates(tx, c.h, cluster.HeuristicPeelChain); !reflect.DeepEqual(got, []int{0, 1}) {
			t.Errorf("unswept hop %d: candidates %v, want [0 1]", k+1, got)
		}
	}
	// A lone 1-in-2-out tx.
	tx, c2, _ := c4PowerOfTen(0, 0)
	if got := cluster.ChangeCandidates(tx, c2.h, cluster.HeuristicPeelChain); got != nil {
		t.Errorf("lone 1-in-2-out: candidates %v, want nil", got)
	}
}

// TestChangePolicy: agreement, disagreement, the address-reuse
// exception, and the transactions Change never judges.
func TestChangePolicy(t *testing.T) {
	// Disagreement: script type and round value name vout 1, optimal
	// change (and legacy) name vout 0.
	c := newChChain()
	a := c.fund("a", 50_000_000, chains.ScriptP2WPKH)
	b := c.fund("b", 60_000_000, chains.ScriptP2WPKH)
	tx := c.spend(0, []chains.OutPoint{a, b},
		cluster.Output{Address: "x", Value: 30_000_000, ScriptType: chains.ScriptP2SH}, chOut("y", 79_990_000))
	want := append(sigsAt(1, sType, sRound), sigsAt(0, sOptimal, sLegacy)...)
	if out, got, ok := cluster.Change(tx, c.h, 2); ok || out != -1 || !reflect.DeepEqual(got, want) {
		t.Errorf("disagreement: Change = %d %v %v, want -1 %v false", out, got, ok, want)
	}

	// Self-change with a fresh payee: fresh address and legacy name the
	// payee, round value the change; address reuse decides.
	c = newChChain()
	a = c.fund("a", chBTC, chains.ScriptP2WPKH)
	tx = c.spend(0, []chains.OutPoint{a}, chOut("b", 40_000_000), chOut("a", 59_990_000))
	want = []cluster.ChangeSignal{{1, cluster.HeuristicAddressReuse, 100}, {0, cluster.HeuristicFreshAddress, 50},
		{1, cluster.HeuristicRoundValue, 60}, {0, cluster.HeuristicLegacy, 60}}
	if out, got, ok := cluster.Change(tx, c.h, 2); !ok || out != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("self-change: Change = %d %v %v, want 1 %v true", out, got, ok, want)
	}

	// Without history, two agreeing signals still decide.
	tx, _, change := c4Optimal(1)
	if out, got, ok := cluster.Change(tx, nil, 2); !ok || out != change || !reflect.DeepEqual(got, sigsAt(change, sRound, sOptimal)) {
		t.Errorf("no history: Change = %d %v %v, want %d true", out, got, ok, change)
	}

	// CoinJoin (BlockSci generic: 2 inputs, 20,000,000 twice): round
	// value names the odd output, but Change refuses even at minAgree 1;
	// the same without the repeated value is judged.
	for _, tc := range []struct {
		second uint64
		ok     bool
	}{{20_000_000, false}, {21_000_000, true}} {
		c = newChChain()
		a = c.fund("a", 30_000_000, chains.ScriptP2WPKH)
		b = c.fund("b", 40_000_000, chains.ScriptP2WPKH)
		tx = c.spend(0, []chains.OutPoint{a, b}, chOut("x", 20_000_000), chOut("y", tc.second), chOut("z", 70_000_000-20_000_000-tc.second-chFee))
		_, cj := cluster.DetectCoinJoin(tx)
		out, got, ok := cluster.Change(tx, c.h, 1)
		if cj == tc.ok || ok != tc.ok || !reflect.DeepEqual(got, sigsAt(2, sRound)) || tc.ok && out != 2 {
			t.Errorf("coinjoin %v: Change = %d %v %v (coinjoin %v), want ok %v", !tc.ok, out, got, ok, cj, tc.ok)
		}
	}

	// UIH2: 300,000,000 − 100,000,000 ≥ 299,990,000 − 149,990,000.
	c = newChChain()
	a = c.fund("a", 100_000_000, chains.ScriptP2WPKH)
	b = c.fund("b", 200_000_000, chains.ScriptP2WPKH)
	tx = c.spend(0, []chains.OutPoint{a, b}, chOut("x", 150_000_000), chOut("y", 149_990_000))
	if out, got, ok := cluster.Change(tx, c.h, 1); ok || out != -1 || !reflect.DeepEqual(got, sigsAt(1, sRound)) {
		t.Errorf("UIH2: Change = %d %v %v, want -1 [round_value@1] false", out, got, ok)
	}

	// Coinbase, and one spendable output next to an OP_RETURN.
	cb := &cluster.Tx{Coinbase: true, Outputs: cjOuts(625_000_000, 1_234_567)}
	if out, got, ok := cluster.Change(cb, nil, 1); ok || out != -1 || got != nil {
		t.Errorf("coinbase: Change = %d %v %v", out, got, ok)
	}
	opr := &cluster.Tx{Inputs: cjIns(100_000), Outputs: []cluster.Output{{Value: 0, ScriptType: chains.ScriptOpReturn}, cjOut("x", 90_001)}}
	if got := cluster.ChangeSignals(opr, nil); got != nil {
		t.Errorf("one spendable output: signals %v, want nil", got)
	}
	if got := cluster.ChangeCandidates(opr, nil, "no_such_heuristic"); got != nil {
		t.Errorf("unknown heuristic: %v", got)
	}
}

// TestMemHistory: first appearance, spenders through Input.Prev, parents.
func TestMemHistory(t *testing.T) {
	c := newChChain()
	a := c.fund("a", chBTC, chains.ScriptP2WPKH)
	tx := c.spend(0, []chains.OutPoint{a}, chOut("b", 40_000_000), chOut("a", 59_990_000))
	if h, ok := c.h.FirstSeen("a"); !ok || h != a.TxID {
		t.Errorf("FirstSeen(a) = %s %v, want the funding tx", h, ok)
	}
	if h, ok := c.h.FirstSeen("b"); !ok || h != tx.Hash {
		t.Errorf("FirstSeen(b) = %s %v, want tx", h, ok)
	}
	if _, ok := c.h.FirstSeen("nobody"); ok {
		t.Errorf("FirstSeen(nobody) found")
	}
	if s, ok := c.h.Spender(a); !ok || s != tx {
		t.Errorf("Spender(a) = %v %v", s, ok)
	}
	if _, ok := c.h.Spender(chOp(tx, 0)); ok {
		t.Errorf("Spender of an unspent output found")
	}
	if p, ok := c.h.Tx(a.TxID); !ok || !p.Coinbase {
		t.Errorf("Tx(funding) = %v %v", p, ok)
	}
}

// TestChangeScriptTypeP2PKAndUnknownAddress: P2PK inputs match P2PKH
// change; an output address the history does not know makes the
// freshness rules say nothing.
func TestChangeScriptTypeP2PKAndUnknownAddress(t *testing.T) {
	c := newChChain()
	a := c.fund("a", chBTC, chains.ScriptP2PK)
	tx := c.spend(0, []chains.OutPoint{a},
		cluster.Output{Address: "x", Value: 40_000_000, ScriptType: chains.ScriptP2SH},
		cluster.Output{Address: "y", Value: 59_990_000, ScriptType: chains.ScriptP2PKH})
	if got := cluster.ChangeCandidates(tx, c.h, cluster.HeuristicScriptType); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("P2PK input: script_type %v, want [1]", got)
	}
	h := cluster.NewMemHistory() // knows neither output address
	if got := cluster.ChangeCandidates(tx, h, cluster.HeuristicFreshAddress); got != nil {
		t.Errorf("unknown addresses: fresh_address %v, want nil", got)
	}
}
