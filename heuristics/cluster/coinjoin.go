package cluster

import (
	"math"
	"math/bits"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
)

// CoinJoin is what a CoinJoin detector found in a transaction.
type CoinJoin struct {
	// Detector names the rule that matched (one of the Detector*
	// constants). It is stored: never rename.
	Detector string
	// Confidence is how sure the detector is, in percent.
	Confidence Confidence
	// Denomination is the equal output value in sat. Detectors that see
	// several denominations (Wasabi 1.1 mixing levels, Wasabi 2.0) report
	// the lowest one.
	Denomination uint64
	// Participants is the detector's estimate of the number of
	// participants (a lower bound for Wasabi 2.0: distinct input
	// addresses / 10).
	Participants int
}

// Detector names. They are stored with every flag: never rename, only
// append.
const (
	// DetectorStonewall: Samourai STONEWALL shape (§2.3 "Stonewall
	// veto"). See DetectCoinJoin for why it is reported as a flag.
	DetectorStonewall = "stonewall"
	// DetectorWhirlpool: Samourai Whirlpool mix (graphsense rule).
	DetectorWhirlpool = "whirlpool"
	// DetectorWhirlpoolTx0: Whirlpool Tx0, the entrant's own premix
	// transaction. Not a CoinJoin: DetectCoinJoin never returns it.
	DetectorWhirlpoolTx0 = "whirlpool_tx0"
	// DetectorWasabi2: Wasabi 2.0 / WabiSabi round.
	DetectorWasabi2 = "wasabi2"
	// DetectorWasabi1: Wasabi 1.0/1.1 (ZeroLink) round.
	DetectorWasabi1 = "wasabi1"
	// DetectorJoinMarket: JoinMarket-style round (graphsense rule).
	DetectorJoinMarket = "joinmarket"
	// DetectorEqualOutput: Dumplings' "other" equal-output CoinJoin.
	DetectorEqualOutput = "equal_output"
	// DetectorGeneric: BlockSci's simple equal-output rule.
	DetectorGeneric = "generic"
)

// Confidences of the detectors with a fixed confidence. Wasabi 1.x
// computes its own (see DetectWasabi1).
const (
	ConfidenceStonewall   Confidence = 50
	ConfidenceWhirlpool   Confidence = 60
	ConfidenceTx0         Confidence = 60
	ConfidenceWasabi2     Confidence = 60 // one of the two Wasabi 2.0 rules
	ConfidenceWasabi2Both Confidence = 75 // graphsense and Dumplings agree
	ConfidenceJoinMarket  Confidence = 49
	ConfidenceEqualOutput Confidence = 55
	ConfidenceGeneric     Confidence = 50
)

// DetectCoinJoin reports whether tx is a CoinJoin (or a transaction that
// must be treated as one for clustering). A true result means: do not
// merge the input addresses (algorithms.md decision 6).
//
// Order (first match wins; the more specific rule labels the tx):
//
//  1. Stonewall (DetectStonewall). It is the veto of §2.3: a match drops
//     every other label. It is still reported as a flag (detector
//     "stonewall", true), so common-input merging stays off. Reason:
//     STONEWALL (one wallet) and STONEWALLx2 (two wallets, a real
//     two-party spend) are identical on chain by design, so merging its
//     inputs merges strangers in the x2 case; the same shape is what
//     BlockSci's generic rule (and graphsense's clustering flag) already
//     excludes, so reporting false here would make fundtrace merge where
//     both peers refuse; and a false merge contaminates every later
//     answer about a cluster while a missed merge only loses recall. The
//     label tells the investigator the tx is no mixing event: one of the
//     two equal outputs is usually the payment.
//  2. Whirlpool mix (DetectWhirlpool).
//  3. Wasabi 2.0 (DetectWasabi2): before Wasabi 1.x, whose multi-level
//     rounds it also matches when they are large (as graphsense).
//  4. Wasabi 1.x (DetectWasabi1).
//  5. JoinMarket (DetectJoinMarket).
//  6. Dumplings' "other" equal-output rule (DetectEqualOutput).
//  7. BlockSci's generic equal-output rule (DetectGeneric).
//
// Whirlpool Tx0 (DetectWhirlpoolTx0) is not run: a Tx0 is the entrant's
// own transaction (graphsense also leaves it out of its CoinJoin
// consensus), its inputs are one owner's, and merging them is what links
// a mix entrant to their wallet. Call it separately to label a Tx0.
//
// Exchange suppression (§2.3) needs address tags and is the caller's; no
// lineage check (Whirlpool 90 %) is done: it needs other transactions.
func DetectCoinJoin(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	for _, detect := range [...]func(*Tx) (CoinJoin, bool){
		DetectStonewall, DetectWhirlpool, DetectWasabi2, DetectWasabi1,
		DetectJoinMarket, DetectEqualOutput, DetectGeneric,
	} {
		if cj, ok := detect(tx); ok {
			return cj, true
		}
	}
	return CoinJoin{}, false
}

// DetectGeneric is BlockSci's is_coinjoin (§2.3 steps 1–5): at least 2
// inputs and 3 outputs (every output counts, OP_RETURN included);
// p = ⌊(outputs+1)/2⌋ is at most the number of inputs and of distinct
// input addresses; the most frequent output value occurs exactly p times
// and is not the dust value 546 or 2730 sat. Tie-break: among equally
// frequent values the LOWEST is taken (as graphsense-lib's port; BlockSci
// leaves it to hash-map order, which is not reproducible). Confidence 50.
//
// Known false positives: any 2-party shape with one repeated value
// (graphsense's ab188e2a…, two 600-sat outputs, and 59d27807…, three
// 2,700-sat outputs), batch payments of equal amounts from several
// addresses.
func DetectGeneric(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase || len(tx.Inputs) < 2 || len(tx.Outputs) < 3 {
		return CoinJoin{}, false
	}
	p := (len(tx.Outputs) + 1) / 2
	if p > len(tx.Inputs) || p > cjDistinctInputAddresses(tx.Inputs) {
		return CoinJoin{}, false
	}
	v, n := cjMostFrequent(cjOutputValues(tx.Outputs), nil, false)
	if n != p || v == 546 || v == 2730 {
		return CoinJoin{}, false
	}
	return CoinJoin{Detector: DetectorGeneric, Confidence: ConfidenceGeneric, Denomination: v, Participants: p}, true
}

// DetectEqualOutput is Dumplings' "other" equal-output CoinJoin rule:
// exactly one output value repeats, d with count n; n = outputs − n;
// distinct output and input addresses both ≥ n; and
// max(input) ≤ d + max(other outputs) − 10,000 sat. Every output counts
// (OP_RETURN included) but addressless ones are no distinct script.
// Confidence 55. The last inequality rejects a genuine round whose
// largest-input participant also takes the largest change (BlockSci's
// simple coinjoin is one): it trades recall for precision, as Dumplings
// says.
func DetectEqualOutput(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase || len(tx.Inputs) == 0 {
		return CoinJoin{}, false
	}
	counts := cjCountValues(cjOutputValues(tx.Outputs))
	var d uint64
	n, repeated := 0, 0
	for v, c := range counts {
		if c >= 2 {
			repeated++
			d, n = v, c
		}
	}
	if repeated != 1 || n != len(tx.Outputs)-n {
		return CoinJoin{}, false
	}
	if cjDistinctOutputAddresses(tx.Outputs) < n || cjDistinctInputAddresses(tx.Inputs) < n {
		return CoinJoin{}, false
	}
	var maxOther uint64
	for _, o := range tx.Outputs {
		if o.Value != d && o.Value > maxOther {
			maxOther = o.Value
		}
	}
	limit := cjSatAdd(d, maxOther)
	if limit < 10_000 {
		return CoinJoin{}, false
	}
	limit -= 10_000
	for _, in := range tx.Inputs {
		if in.Value > limit {
			return CoinJoin{}, false
		}
	}
	return CoinJoin{Detector: DetectorEqualOutput, Confidence: ConfidenceEqualOutput, Denomination: d, Participants: n}, true
}

// DetectStonewall is graphsense-lib's Stonewall shape: at least 2 inputs
// with an address; 3 or 4 outputs with an address, all distinct; exactly
// one value occurs exactly twice and it is ≥ 5,000 sat; with 4 outputs
// the two other values differ. Outputs without an address (OP_RETURN)
// are ignored. Confidence 50, 2 participants: the shape cannot tell
// STONEWALL (one wallet) from STONEWALLx2 (two). Known overlap: a
// Whirlpool Tx0 with exactly two premixes and a change has this shape
// and is labelled stonewall (graphsense's veto does the same).
func DetectStonewall(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	ins, outs := cjAddressedInputs(tx.Inputs), cjAddressedOutputs(tx.Outputs)
	if len(ins) < 2 || (len(outs) != 3 && len(outs) != 4) || cjDistinctOutputAddresses(outs) != len(outs) {
		return CoinJoin{}, false
	}
	counts := cjCountValues(cjOutputValues(outs))
	var d uint64
	pairs := 0
	for v, c := range counts {
		if c == 2 {
			pairs++
			d = v
		}
	}
	if pairs != 1 || d < 5_000 {
		return CoinJoin{}, false
	}
	if len(outs) == 4 {
		var other []uint64
		for _, o := range outs {
			if o.Value != d {
				other = append(other, o.Value)
			}
		}
		if len(other) != 2 || other[0] == other[1] {
			return CoinJoin{}, false
		}
	}
	return CoinJoin{Detector: DetectorStonewall, Confidence: ConfidenceStonewall, Denomination: d, Participants: 2}, true
}

// Whirlpool pools: denomination and coordinator fee, in sat.
var whirlpoolPools = [...]struct{ d, fee uint64 }{
	{100_000, 5_000}, {1_000_000, 50_000}, {5_000_000, 175_000}, {50_000_000, 1_750_000},
}

const (
	whirlpoolEpsMin = 100     // smallest miner-fee surplus of a new entrant
	whirlpoolEpsMax = 110_000 // largest
	tx0MaxPremix    = 70
)

// DetectWhirlpool is graphsense-lib's Whirlpool mix rule over the inputs
// and outputs that have an address: 5 to 8 of each, as many inputs as
// outputs; all input addresses distinct and all output addresses
// distinct; every output equals a pool denomination d (100,000,
// 1,000,000, 5,000,000 or 50,000,000 sat); every input is in
// [d, d + 110,000]; every new entrant (input > d) pays ε = input − d in
// [100, 110,000]; 1 to 4 new entrants (graphsense's count, which covers
// the surge cycles 6–8; the original SCDH's "2–4 entrants in a 5×5" was
// measured on 5×5 rounds only). Participants = inputs. Confidence 60;
// graphsense's lineage check (new entrants from a Tx0, remixes from a
// mix, raising it to 90) needs other transactions and is left to a caller
// that has them.
func DetectWhirlpool(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	ins, outs := cjAddressedInputs(tx.Inputs), cjAddressedOutputs(tx.Outputs)
	n := len(ins)
	if n < 5 || n > 8 || len(outs) != n ||
		cjDistinctInputAddresses(ins) != n || cjDistinctOutputAddresses(outs) != n {
		return CoinJoin{}, false
	}
pools:
	for _, pool := range whirlpoolPools {
		d := pool.d
		for _, o := range outs {
			if o.Value != d {
				continue pools
			}
		}
		entrants := 0
		for _, in := range ins {
			if in.Value < d || in.Value > d+whirlpoolEpsMax {
				continue pools
			}
			if in.Value > d {
				if in.Value-d < whirlpoolEpsMin {
					continue pools
				}
				entrants++
			}
		}
		if entrants < 1 || entrants > 4 {
			continue
		}
		return CoinJoin{Detector: DetectorWhirlpool, Confidence: ConfidenceWhirlpool, Denomination: d, Participants: n}, true
	}
	return CoinJoin{}, false
}

// DetectWhirlpoolTx0 is graphsense-lib's Tx0 rule: exactly one OP_RETURN
// output; at least 2 outputs with an address; for a pool (d, f), the
// premix value d̃ is the most frequent addressed output value in
// [d + 100, d + 110,000] (ties to the LARGER value, as graphsense); its
// count is 1 to 70; at most 2 addressed outputs are not premix (fee and
// optional change); exactly one addressed output is in [f/2, 3f] (the
// coordinator fee). Pools are tried smallest first. Denomination is the
// pool d, Participants 1 (a Tx0 is one wallet's). Confidence 60;
// graphsense's forward check (a premix spent in a mix: 90) needs other
// transactions. Not part of DetectCoinJoin (see there).
func DetectWhirlpoolTx0(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	opReturns := 0
	for _, o := range tx.Outputs {
		if o.ScriptType == chains.ScriptOpReturn {
			opReturns++
		}
	}
	outs := cjAddressedOutputs(tx.Outputs)
	if opReturns != 1 || len(outs) < 2 {
		return CoinJoin{}, false
	}
	for _, pool := range whirlpoolPools {
		d, f := pool.d, pool.fee
		inWindow := func(v uint64) bool { return v >= d+whirlpoolEpsMin && v <= d+whirlpoolEpsMax }
		_, n := cjMostFrequent(cjOutputValues(outs), inWindow, true)
		if n < 1 || n > tx0MaxPremix || n < len(outs)-2 {
			continue
		}
		fees := 0
		for _, o := range outs {
			if o.Value >= f/2 && o.Value <= 3*f {
				fees++
			}
		}
		if fees != 1 {
			continue
		}
		return CoinJoin{Detector: DetectorWhirlpoolTx0, Confidence: ConfidenceTx0, Denomination: d, Participants: 1}, true
	}
	return CoinJoin{}, false
}

// Wasabi constants (sat, heights).
const (
	wasabiBase          = 10_000_000 // 0.1 BTC
	wasabiBaseEps       = 500_000    // graphsense: ±0.005 BTC (and 2^i times that per level)
	wasabiDumplingsEps  = 2_000_000  // Dumplings: ±0.02 BTC
	wasabiFirstHeight   = 530_500    // Dumplings: first Wasabi round
	wasabiNoCoordHeight = 610_000    // Dumplings: coordinator address no longer used
	wasabi2FirstHeight  = 741_213    // Dumplings: first WabiSabi round
)

// wasabiCoordinators are the two coordinator fee addresses Wasabi 1.0
// paid before height 610,000 (Dumplings Constants.cs).
var wasabiCoordinators = map[string]bool{
	"bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew": true,
	"bc1qa24tsgchvuxsaccp8vrnkfd85hrcpafg20kmjw": true,
}

// DetectWasabi1 flags Wasabi 1.0/1.1 (ZeroLink) rounds. Three rules run
// and the highest confidence wins:
//
//   - graphsense 1.0 (confidence 70), over addressed inputs/outputs: ≥ 10
//     inputs; no input address has more than 10 % of the inputs; d = the
//     most frequent output value within 10,000,000 ± 500,000 (lowest on
//     ties), count n ≥ 3; n ≥ (outputs − 1)/2; n ≤ distinct input
//     addresses ≤ 7n; all output addresses distinct; with fewer than 20
//     inputs, not a batch split (total output within 0.01 % of N̂ × the
//     most frequent value, N̂ = round(total / value)).
//   - graphsense 1.1 mixing levels: level i is 2^i × 10,000,000 ±
//     2^i × 500,000 and counts with ≥ 2 outputs; n = the largest level
//     count ≥ 3; the same input bounds, distinct outputs and batch-split
//     test; Σ level outputs ≥ (outputs − 1)/2 OR ≥ outputs − distinct
//     inputs − 1; confidence = 50 + 50·(7n − k)/(6k) (k = distinct input
//     addresses; graphsense's formula in integers), halved when only one
//     of the two conditions holds. Denomination: the most frequent value
//     of the lowest level.
//   - Dumplings, from height 530,500: below 610,000 an output pays a
//     known coordinator address and some value occurs more than twice
//     (confidence 90: the address is hard evidence); from 610,000 all
//     inputs and outputs are P2WPKH, the most frequent value (lowest on
//     ties) occurs ≥ 10 times, there are at least that many inputs, it is
//     within 10,000,000 ± 2,000,000 and ≥ 2 outputs have a value of their
//     own (confidence 70; 80 when a graphsense rule agrees).
func DetectWasabi1(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	best, found := CoinJoin{}, false
	consider := func(cj CoinJoin, ok bool) {
		if ok && (!found || cj.Confidence > best.Confidence) {
			best, found = cj, true
		}
	}
	ins, outs := cjAddressedInputs(tx.Inputs), cjAddressedOutputs(tx.Outputs)
	g10, ok10 := wasabi10(ins, outs)
	consider(g10, ok10)
	g11, ok11 := wasabi11(ins, outs)
	consider(g11, ok11)
	dump, okD := wasabi1Dumplings(tx)
	if okD && dump.Confidence < 90 && (ok10 || ok11) {
		dump.Confidence = 80
	}
	consider(dump, okD)
	return best, found
}

func wasabi10(ins []Input, outs []Output) (CoinJoin, bool) {
	if len(ins) < 10 || !cjTopShareAtMost10(ins) {
		return CoinJoin{}, false
	}
	near := func(v uint64) bool { return cjAbsDiff(v, wasabiBase) <= wasabiBaseEps }
	d, n := cjMostFrequent(cjOutputValues(outs), near, false)
	if n < 3 || 2*n < len(outs)-1 {
		return CoinJoin{}, false
	}
	k := cjDistinctInputAddresses(ins)
	if k < n || k > 7*n || cjDistinctOutputAddresses(outs) != len(outs) || cjIsBatchSplit(ins, outs) {
		return CoinJoin{}, false
	}
	return CoinJoin{Detector: DetectorWasabi1, Confidence: 70, Denomination: d, Participants: n}, true
}

func wasabi11(ins []Input, outs []Output) (CoinJoin, bool) {
	if len(ins) < 10 || len(outs) == 0 || !cjTopShareAtMost10(ins) {
		return CoinJoin{}, false
	}
	var maxOut uint64
	for _, o := range outs {
		maxOut = max(maxOut, o.Value)
	}
	total, n := 0, 0
	var denom uint64
	for level := uint64(wasabiBase); level <= maxOut; level <<= 1 {
		eps := level / (wasabiBase / wasabiBaseEps) // 2^i × 500,000 exactly
		near := func(v uint64) bool { return cjAbsDiff(v, level) <= eps }
		v, _ := cjMostFrequent(cjOutputValues(outs), near, false)
		c := 0
		for _, o := range outs {
			if near(o.Value) {
				c++
			}
		}
		if c >= 2 {
			if total == 0 {
				denom = v
			}
			total += c
			n = max(n, c)
		}
		if level > math.MaxUint64/2 {
			break
		}
	}
	if total == 0 || n < 3 {
		return CoinJoin{}, false
	}
	k := cjDistinctInputAddresses(ins)
	if k < n || k > 7*n {
		return CoinJoin{}, false
	}
	majority := 2*total >= len(outs)-1
	sumCond := total+k+1 >= len(outs)
	if !majority && !sumCond {
		return CoinJoin{}, false
	}
	if cjDistinctOutputAddresses(outs) != len(outs) || cjIsBatchSplit(ins, outs) {
		return CoinJoin{}, false
	}
	conf := 50 + 50*(7*n-k)/(6*k)
	if !(majority && sumCond) {
		conf /= 2
	}
	return CoinJoin{Detector: DetectorWasabi1, Confidence: Confidence(min(conf, 100)), Denomination: denom, Participants: n}, true
}

func wasabi1Dumplings(tx *Tx) (CoinJoin, bool) {
	if tx.Height < wasabiFirstHeight {
		return CoinJoin{}, false
	}
	vals := cjOutputValues(tx.Outputs)
	if tx.Height < wasabiNoCoordHeight {
		paid := false
		for _, o := range tx.Outputs {
			paid = paid || wasabiCoordinators[o.Address]
		}
		d, n := cjMostFrequent(vals, nil, false)
		if !paid || n <= 2 {
			return CoinJoin{}, false
		}
		return CoinJoin{Detector: DetectorWasabi1, Confidence: 90, Denomination: d, Participants: n}, true
	}
	for _, in := range tx.Inputs {
		if in.ScriptType != chains.ScriptP2WPKH {
			return CoinJoin{}, false
		}
	}
	for _, o := range tx.Outputs {
		if o.ScriptType != chains.ScriptP2WPKH {
			return CoinJoin{}, false
		}
	}
	d, n := cjMostFrequent(vals, nil, false)
	if n < 10 || len(tx.Inputs) < n || cjAbsDiff(d, wasabiBase) > wasabiDumplingsEps {
		return CoinJoin{}, false
	}
	unique := 0
	for _, c := range cjCountValues(vals) {
		if c == 1 {
			unique++
		}
	}
	if unique < 2 {
		return CoinJoin{}, false
	}
	return CoinJoin{Detector: DetectorWasabi1, Confidence: 70, Denomination: d, Participants: n}, true
}

// cjIsBatchSplit is graphsense's small-round gate: with fewer than 20
// inputs, the total output T within 0.01 % of N̂·m, m the most frequent
// output value (lowest on ties), N̂ = round(T/m) > 0.
func cjIsBatchSplit(ins []Input, outs []Output) bool {
	if len(ins) >= 20 {
		return false
	}
	var total uint64
	for _, o := range outs {
		total = cjSatAdd(total, o.Value)
	}
	m, _ := cjMostFrequent(cjOutputValues(outs), nil, false)
	if total == 0 || m == 0 {
		return false
	}
	q, r := total/m, total%m
	residual := r
	if r >= m-r { // round half up; at exactly half both directions leave m/2
		q, residual = q+1, m-r
	}
	if q == 0 {
		return false
	}
	hi, lo := bits.Mul64(residual, 10_000)
	return hi == 0 && lo <= total
}

// DetectWasabi2 flags Wasabi 2.0 (WabiSabi) rounds with two rules:
//
//   - graphsense (over addressed inputs/outputs): ≥ 20 inputs; no input
//     address has more than 10 % of the inputs; no output below 5,000
//     sat; all output addresses distinct; D = the values occurring ≥ 2
//     times, |D| ≥ 3; D-outputs ≥ (outputs − 1)/2; at least one output
//     not in D.
//   - Dumplings: height ≥ 741,213; every input P2WPKH or P2TR; ≥ 50
//     inputs; inputs and outputs in descending value order; more than
//     80 % of outputs are standard denominations (2^i, 3^i, 2·3^i, 10^i,
//     2·10^i, 5·10^i within [5,000, 134,375,000,000]).
//
// Confidence 60 for one rule, 75 when both hold. Denomination: the
// lowest value of D (Dumplings alone: the lowest standard-denomination
// output). Participants: distinct input addresses / 10, at least 1
// (graphsense's lower bound: up to 10 inputs per participant).
func DetectWasabi2(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	ins, outs := cjAddressedInputs(tx.Inputs), cjAddressedOutputs(tx.Outputs)
	denom, okG := wasabi2Graphsense(ins, outs)
	stdDenom, okD := wasabi2Dumplings(tx)
	if !okG && !okD {
		return CoinJoin{}, false
	}
	cj := CoinJoin{Detector: DetectorWasabi2, Confidence: ConfidenceWasabi2, Denomination: denom,
		Participants: max(cjDistinctInputAddresses(tx.Inputs)/10, 1)}
	switch {
	case okG && okD:
		cj.Confidence = ConfidenceWasabi2Both
	case okD:
		cj.Denomination = stdDenom
	}
	return cj, true
}

func wasabi2Graphsense(ins []Input, outs []Output) (uint64, bool) {
	if len(ins) < 20 || !cjTopShareAtMost10(ins) || cjDistinctOutputAddresses(outs) != len(outs) {
		return 0, false
	}
	for _, o := range outs {
		if o.Value < 5_000 {
			return 0, false
		}
	}
	counts := cjCountValues(cjOutputValues(outs))
	var denoms []uint64
	inD := 0
	for v, c := range counts {
		if c >= 2 {
			denoms = append(denoms, v)
			inD += c
		}
	}
	if len(denoms) < 3 || 2*inD < len(outs)-1 || inD == len(outs) {
		return 0, false
	}
	return slices.Min(denoms), true
}

func wasabi2Dumplings(tx *Tx) (uint64, bool) {
	if tx.Height < wasabi2FirstHeight || len(tx.Inputs) < 50 || len(tx.Outputs) == 0 {
		return 0, false
	}
	for i, in := range tx.Inputs {
		if in.ScriptType != chains.ScriptP2WPKH && in.ScriptType != chains.ScriptP2TR {
			return 0, false
		}
		if i > 0 && in.Value > tx.Inputs[i-1].Value {
			return 0, false
		}
	}
	std := 0
	var lowest uint64
	for i, o := range tx.Outputs {
		if i > 0 && o.Value > tx.Outputs[i-1].Value {
			return 0, false
		}
		if standardDenominations[o.Value] {
			std++
			lowest = o.Value // outputs descend: the last one is the lowest
		}
	}
	if 5*std <= 4*len(tx.Outputs) {
		return 0, false
	}
	return lowest, true
}

// standardDenominations is Wasabi 2.0's denomination set as Dumplings
// checks it.
var standardDenominations = func() map[uint64]bool {
	const lo, hi = 5_000, 134_375_000_000
	set := make(map[uint64]bool)
	for _, series := range [][2]uint64{{1, 2}, {1, 3}, {2, 3}, {1, 10}, {2, 10}, {5, 10}} {
		for v := series[0]; v <= hi; v *= series[1] {
			if v >= lo {
				set[v] = true
			}
		}
	}
	return set
}()

// DetectJoinMarket is graphsense-lib's JoinMarket rule over addressed
// inputs/outputs: d = the most frequent output value above 2,730 sat
// (lowest on ties), count n; n ≥ outputs/2; 3 ≤ n ≤ distinct input
// addresses; all output addresses distinct; at least one output ≠ d
// (change); with ≥ 50 inputs also inputs ≤ 20n and outputs ≥ 1.7n.
// Confidence 49. Known false positives: exchange batch payouts of equal
// amounts (graphsense drops the label when an input is tagged exchange;
// that needs tags and is the caller's).
func DetectJoinMarket(tx *Tx) (CoinJoin, bool) {
	if tx == nil || tx.Coinbase {
		return CoinJoin{}, false
	}
	ins, outs := cjAddressedInputs(tx.Inputs), cjAddressedOutputs(tx.Outputs)
	if len(ins) == 0 || len(outs) == 0 {
		return CoinJoin{}, false
	}
	d, n := cjMostFrequent(cjOutputValues(outs), func(v uint64) bool { return v > 2_730 }, false)
	if n < 3 || 2*n < len(outs) || n > cjDistinctInputAddresses(ins) || cjDistinctOutputAddresses(outs) != len(outs) {
		return CoinJoin{}, false
	}
	change := false
	for _, o := range outs {
		change = change || o.Value != d
	}
	if !change {
		return CoinJoin{}, false
	}
	if len(ins) >= 50 && (len(ins) > 20*n || 10*len(outs) < 17*n) {
		return CoinJoin{}, false
	}
	return CoinJoin{Detector: DetectorJoinMarket, Confidence: ConfidenceJoinMarket, Denomination: d, Participants: n}, true
}

// cjAddressedInputs returns the inputs that have an address: the scripts a
// "distinct scripts" rule can compare (graphsense drops the others too).
func cjAddressedInputs(ins []Input) []Input {
	out := make([]Input, 0, len(ins))
	for _, in := range ins {
		if in.Address != "" {
			out = append(out, in)
		}
	}
	return out
}

// cjAddressedOutputs returns the outputs that have an address (no
// OP_RETURN, no bare multisig, no non-standard script).
func cjAddressedOutputs(outs []Output) []Output {
	res := make([]Output, 0, len(outs))
	for _, o := range outs {
		if o.Address != "" {
			res = append(res, o)
		}
	}
	return res
}

func cjOutputValues(outs []Output) []uint64 {
	v := make([]uint64, len(outs))
	for i, o := range outs {
		v[i] = o.Value
	}
	return v
}

func cjCountValues(vals []uint64) map[uint64]int {
	m := make(map[uint64]int, len(vals))
	for _, v := range vals {
		m[v]++
	}
	return m
}

// cjMostFrequent returns the most frequent value among those keep accepts
// (all when keep is nil) and its count; among equally frequent values the
// lowest, or the highest when preferHigh. (0, 0) when none is kept.
func cjMostFrequent(vals []uint64, keep func(uint64) bool, preferHigh bool) (uint64, int) {
	counts := make(map[uint64]int, len(vals))
	for _, v := range vals {
		if keep == nil || keep(v) {
			counts[v]++
		}
	}
	var best uint64
	n := 0
	for v, c := range counts {
		if c > n || (c == n && (v < best) != preferHigh) {
			best, n = v, c
		}
	}
	return best, n
}

func cjDistinctInputAddresses(ins []Input) int {
	seen := make(map[string]struct{}, len(ins))
	for _, in := range ins {
		if in.Address != "" {
			seen[in.Address] = struct{}{}
		}
	}
	return len(seen)
}

func cjDistinctOutputAddresses(outs []Output) int {
	seen := make(map[string]struct{}, len(outs))
	for _, o := range outs {
		if o.Address != "" {
			seen[o.Address] = struct{}{}
		}
	}
	return len(seen)
}

// cjTopShareAtMost10 reports whether no address funds more than 10 % of
// ins (graphsense's guard against one wallet's sweep).
func cjTopShareAtMost10(ins []Input) bool {
	counts := make(map[string]int, len(ins))
	top := 0
	for _, in := range ins {
		counts[in.Address]++
		top = max(top, counts[in.Address])
	}
	return 10*top <= len(ins)
}

func cjAbsDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// cjSatAdd adds without wrapping: arbitrary (fuzzed or corrupt) values
// saturate at the maximum instead of turning small.
func cjSatAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}
