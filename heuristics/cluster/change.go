package cluster

import "github.com/fundtrace/fundtrace/chains"

// Change-output heuristics, algorithms.md §2.2 and §2.5, and the policy
// that combines them (decision 7 and "Combining heuristics safely").
//
// Every heuristic computes a candidate set over the spendable outputs
// (OP_RETURN removed) and reports a signal only when the set has exactly
// one member (BlockSci's unique_change). ChangeSignals reports them all;
// Change decides.
//
// Independence. Change counts agreeing signals by group, never by name:
// signals of one group read the same evidence and count once.
//
//	group        heuristics
//	self         address_reuse
//	fresh        one_time_change, fresh_address (both read "first
//	             appearance of the output addresses": the same signal)
//	script       script_type
//	round        round_value, round_value_1000 (one value test, two
//	             thresholds)
//	uih1         optimal_change
//	fingerprint  fingerprint (nLockTime > 0 and nVersion of the spender)
//	peel         peel_chain
//	(composite)  legacy (uih1 ∧ fresh), graphsense_one_time (script ∧
//	             round ∧ uih1 ∧ fresh): conjunctions of the groups above,
//	             so they never count toward agreement; they still count
//	             as disagreement when they name another output.
//
// script and fingerprint are both wallet-software traits but read
// different data (the change's script vs. its spender's header), and
// algorithms.md gives {fingerprint, fresh} and {type, optimal} as
// independent pairs; they are counted as independent.
//
// Time. fingerprint and peel_chain read the spenders of the outputs, so
// their result can change as the chain grows (an unspent output is a
// candidate until it is spent). Store a signal with the height it was
// computed at, or compute at query time.

// Heuristic names, as reported in ChangeSignal.Heuristic. They are
// stored: never rename, only append.
const (
	// HeuristicAddressReuse: an output pays an input address
	// (self-change; BlockSci AddressReuse, graphsense direct_change).
	HeuristicAddressReuse = "address_reuse"
	// HeuristicOneTimeChange: Meiklejohn et al.'s one-time change: no
	// self-change, and exactly one output address appears for the first
	// time.
	HeuristicOneTimeChange = "one_time_change"
	// HeuristicFreshAddress: the outputs whose address first appears in
	// this transaction (BlockSci ClientChangeAddressBehavior).
	HeuristicFreshAddress = "fresh_address"
	// HeuristicScriptType: the outputs of the inputs' single script type
	// (BlockSci AddressType).
	HeuristicScriptType = "script_type"
	// HeuristicRoundValue: the outputs whose value is not a multiple of
	// 10^6 sat (BlockSci PowerOfTen, digits 6).
	HeuristicRoundValue = "round_value"
	// HeuristicRoundValue1000: the outputs whose value is not a multiple
	// of 1,000 sat (graphsense-lib's threshold).
	HeuristicRoundValue1000 = "round_value_1000"
	// HeuristicOptimalChange: the outputs smaller than the smallest input
	// (UIH1; BlockSci OptimalChange).
	HeuristicOptimalChange = "optimal_change"
	// HeuristicFingerprint: the outputs unspent or spent by a transaction
	// with the same nVersion and the same "nLockTime > 0" (BlockSci
	// Locktime, with nVersion added).
	HeuristicFingerprint = "fingerprint"
	// HeuristicPeelChain: in a peeling transaction, the outputs unspent
	// or spent by a transaction that looks like peeling (BlockSci
	// PeelingChain, §2.5).
	HeuristicPeelChain = "peel_chain"
	// HeuristicLegacy: the one spendable output both smaller than the
	// smallest input and fresh, in a transaction no CoinJoin detector
	// flags (BlockSci uniqueChangeByLegacyHeuristic).
	HeuristicLegacy = "legacy"
	// HeuristicGraphsenseOneTime: graphsense-lib's one-time change: type
	// of the single input type, value % 1000 ≠ 0, value < min(input),
	// fresh address not repeated among the outputs; 2 to 10 outputs.
	HeuristicGraphsenseOneTime = "graphsense_one_time"
)

// Confidences of the change heuristics, in percent. They rank the
// heuristics against each other; none is calibrated on labelled data.
const (
	// ConfidenceAddressReuse: the output pays an address that funded the
	// transaction, so it is the input owner's by the same reasoning as
	// common-input ownership (graphsense's 100).
	ConfidenceAddressReuse Confidence = 100
	// ConfidenceOneTimeChange: payees generating a fresh address per
	// invoice make both outputs fresh (nothing is said); the wrong answer
	// comes from wallets that send change to a fixed non-input address
	// while the payee's address is new.
	ConfidenceOneTimeChange Confidence = 60
	// ConfidenceFreshAddress: as one-time change, and also wrong on a
	// self-change transaction with a fresh payee (it names the payment).
	ConfidenceFreshAddress Confidence = 50
	// ConfidenceScriptType: wrong when a wallet migrates its change to a
	// new type (e.g. P2WPKH inputs, Taproot change) and pays a payee of
	// the old type.
	ConfidenceScriptType Confidence = 60
	// ConfidenceRoundValue: a change is a multiple of 0.01 BTC by chance
	// about once in 10^6; the wrong answer is a transaction without
	// change (two payees, one round).
	ConfidenceRoundValue Confidence = 60
	// ConfidenceRoundValue1000: the same with a 1-in-1000 chance and
	// more payments that are round only at the sat level.
	ConfidenceRoundValue1000 Confidence = 45
	// ConfidenceOptimalChange: wrong when coin selection is not minimal
	// (coin control, avoid-reuse spending of a whole address, privacy
	// wallets, consolidation) and in PayJoins (Change skips those).
	ConfidenceOptimalChange Confidence = 65
	// ConfidenceFingerprint: most wallets share nVersion 2 with
	// anti-fee-sniping locktimes, so a payee's spend often matches too;
	// an unspent payment next to a change spent by a changed wallet is
	// named wrongly.
	ConfidenceFingerprint Confidence = 45
	// ConfidenceLegacy: conjunction of optimal change and fresh address.
	ConfidenceLegacy Confidence = 60
	// ConfidenceGraphsenseOneTime: graphsense's own value.
	ConfidenceGraphsenseOneTime Confidence = 50
	// Peel chain: tied to the length of the chain of peeling
	// transactions through this one (§2.5 "confidence tied to chain
	// length"): 2 hops, 3 to 9, 10 or more.
	ConfidencePeelChain2  Confidence = 40
	ConfidencePeelChain3  Confidence = 55
	ConfidencePeelChain10 Confidence = 70
)

// DefaultMinAgree is the number of independent signals Change needs by
// default (decision 7).
const DefaultMinAgree = 2

// maxPeelWalk bounds the hops followed each way when measuring a peel
// chain.
const maxPeelWalk = 64

// History is what the change heuristics need of the rest of the chain.
// It must include tx itself: a transaction is judged after it is
// indexed.
type History interface {
	// FirstSeen returns the first transaction, in chain order, in which
	// address appears (in an output or an input); ok is false when the
	// history does not know the address. An address whose first
	// transaction is the one judged is fresh.
	FirstSeen(address string) (tx chains.Hash, ok bool)
	// Spender returns the transaction that spends out, its inputs
	// resolved; ok is false while out is unspent.
	Spender(out chains.OutPoint) (*Tx, bool)
	// Tx returns the transaction hash names (a parent, for the
	// peel-chain rule); ok is false when it is unknown.
	Tx(hash chains.Hash) (*Tx, bool)
}

// ChangeSignal is one heuristic naming one output as the change.
type ChangeSignal struct {
	Output     int // vout
	Heuristic  string
	Confidence Confidence
}

type changeRule struct {
	name  string
	group string // "" for a composite rule, which never counts toward agreement
	conf  Confidence
	cands func(tx *Tx, h History) []int
}

// changeRules in the order ChangeSignals reports them.
var changeRules = [...]changeRule{
	{HeuristicAddressReuse, "self", ConfidenceAddressReuse, func(tx *Tx, _ History) []int { return addressReuseCands(tx) }},
	{HeuristicOneTimeChange, "fresh", ConfidenceOneTimeChange, oneTimeCands},
	{HeuristicFreshAddress, "fresh", ConfidenceFreshAddress, freshCands},
	{HeuristicScriptType, "script", ConfidenceScriptType, func(tx *Tx, _ History) []int { return scriptTypeCands(tx) }},
	{HeuristicRoundValue, "round", ConfidenceRoundValue, func(tx *Tx, _ History) []int { return RoundValueCandidates(tx, 6) }},
	{HeuristicRoundValue1000, "round", ConfidenceRoundValue1000, func(tx *Tx, _ History) []int { return RoundValueCandidates(tx, 3) }},
	{HeuristicOptimalChange, "uih1", ConfidenceOptimalChange, func(tx *Tx, _ History) []int { return optimalCands(tx) }},
	{HeuristicFingerprint, "fingerprint", ConfidenceFingerprint, fingerprintCands},
	{HeuristicPeelChain, "peel", 0, peelCands}, // confidence from peelConfidence
	{HeuristicLegacy, "", ConfidenceLegacy, legacyCands},
	{HeuristicGraphsenseOneTime, "", ConfidenceGraphsenseOneTime, graphsenseCands},
}

// ChangeSignals returns, in the order of the Heuristic* constants, the
// signal of every heuristic whose candidate set is exactly one output.
// It returns nil for a coinbase and for fewer than 2 spendable outputs.
// h may be nil: the heuristics that need history then say nothing.
// CoinJoins are not excluded here (the signals are reported); Change
// excludes them.
func ChangeSignals(tx *Tx, h History) []ChangeSignal {
	if !changeJudgeable(tx) {
		return nil
	}
	var out []ChangeSignal
	for i := range changeRules {
		r := &changeRules[i]
		c := r.cands(tx, h)
		if len(c) != 1 {
			continue
		}
		conf := r.conf
		if r.name == HeuristicPeelChain {
			conf = peelConfidence(tx, h, c[0])
		}
		out = append(out, ChangeSignal{Output: c[0], Heuristic: r.name, Confidence: conf})
	}
	return out
}

// ChangeCandidates returns the candidate set (vouts, ascending) of the
// named heuristic before the unique-change step: nil for an unknown
// name, a coinbase, or fewer than 2 spendable outputs.
func ChangeCandidates(tx *Tx, h History, heuristic string) []int {
	if !changeJudgeable(tx) {
		return nil
	}
	for i := range changeRules {
		if changeRules[i].name == heuristic {
			return changeRules[i].cands(tx, h)
		}
	}
	return nil
}

// Change applies the policy of decision 7 to the signals of tx: the
// output is change when at least minAgree independent signals (distinct
// groups, see the comment at the top of change.go; composites do not count) name
// it and no signal names another output. minAgree < 1 means
// DefaultMinAgree. It returns the signals in every case but a coinbase.
//
// Never change: a coinbase; fewer than 2 spendable outputs; a
// transaction DetectCoinJoin flags; UIH2 (UnnecessaryInput) or two or
// more PayJoin signals (PayJoinSignals, the §2.4 threshold).
//
// Exception: a unique address_reuse signal decides alone, and other
// signals naming another output are ignored. Its output pays an input
// address, so it belongs to the input owner exactly as far as
// common-input ownership holds (CoinJoins and PayJoins are excluded
// above), and the merge it implies joins nothing new. Without the
// exception, fresh_address on "A pays a fresh B and A" names B and
// vetoes the certain answer.
//
// Guarding against cluster collapse (refusing a change merge between
// two large clusters) needs cluster sizes and is the caller's.
func Change(tx *Tx, h History, minAgree int) (output int, signals []ChangeSignal, ok bool) {
	if tx == nil || tx.Coinbase {
		return -1, nil, false
	}
	if minAgree < 1 {
		minAgree = DefaultMinAgree
	}
	signals = ChangeSignals(tx, h)
	if len(signals) == 0 {
		return -1, signals, false
	}
	if _, cj := DetectCoinJoin(tx); cj || UnnecessaryInput(tx) || len(PayJoinSignals(tx)) >= 2 {
		return -1, signals, false
	}
	for _, s := range signals {
		if s.Heuristic == HeuristicAddressReuse {
			return s.Output, signals, true
		}
	}
	named := signals[0].Output
	groups := make(map[string]struct{}, len(signals))
	for _, s := range signals {
		if s.Output != named {
			return -1, signals, false
		}
		if g := ChangeGroup(s.Heuristic); g != "" {
			groups[g] = struct{}{}
		}
	}
	if len(groups) < minAgree {
		return -1, signals, false
	}
	return named, signals, true
}

// ChangeGroup returns the independence group of a heuristic (see the
// table at the top of this file): "" for a composite or unknown name,
// which Change never counts toward agreement.
func ChangeGroup(name string) string {
	for i := range changeRules {
		if changeRules[i].name == name {
			return changeRules[i].group
		}
	}
	return ""
}

func changeJudgeable(tx *Tx) bool {
	return tx != nil && !tx.Coinbase && spendableOutputs(tx) >= 2
}

func spendableOutputs(tx *Tx) int {
	n := 0
	for _, o := range tx.Outputs {
		if o.ScriptType.Spendable() {
			n++
		}
	}
	return n
}

// minKnownInput returns the smallest input value; ok is false when there
// is no input or one is unresolved.
func minKnownInput(tx *Tx) (uint64, bool) {
	if len(tx.Inputs) == 0 {
		return 0, false
	}
	m := tx.Inputs[0].Value
	for _, in := range tx.Inputs {
		if !in.Known {
			return 0, false
		}
		m = min(m, in.Value)
	}
	return m, true
}

// changeType folds P2PK into P2PKH: a P2PK output's address is the P2PKH
// of its key, and the early client paid change from P2PK coins to P2PKH.
func changeType(t chains.ScriptType) chains.ScriptType {
	if t == chains.ScriptP2PK {
		return chains.ScriptP2PKH
	}
	return t
}

// singleInputType returns the inputs' one script type (P2PK as P2PKH);
// ok is false when they are mixed or one is unresolved.
func singleInputType(tx *Tx) (chains.ScriptType, bool) {
	if len(tx.Inputs) == 0 || !tx.Inputs[0].Known {
		return 0, false
	}
	t := changeType(tx.Inputs[0].ScriptType)
	for _, in := range tx.Inputs[1:] {
		if !in.Known || changeType(in.ScriptType) != t {
			return 0, false
		}
	}
	return t, true
}

func addressReuseCands(tx *Tx) []int {
	ins := make(map[string]struct{}, len(tx.Inputs))
	for _, in := range tx.Inputs {
		if in.Known && in.Address != "" {
			ins[in.Address] = struct{}{}
		}
	}
	var c []int
	for i, o := range tx.Outputs {
		if _, self := ins[o.Address]; self && o.Address != "" && o.ScriptType.Spendable() {
			c = append(c, i)
		}
	}
	return c
}

// freshCands returns the spendable outputs whose address first appears
// in tx. It returns nil (says nothing) when an output has no address or
// an address the history does not know: freshness is then unknown.
func freshCands(tx *Tx, h History) []int {
	if h == nil {
		return nil
	}
	var c []int
	for i, o := range tx.Outputs {
		if !o.ScriptType.Spendable() {
			continue
		}
		if o.Address == "" {
			return nil
		}
		first, ok := h.FirstSeen(o.Address)
		if !ok {
			return nil
		}
		if first == tx.Hash {
			c = append(c, i)
		}
	}
	return c
}

// oneTimeCands: Meiklejohn's rule (§2.2 item 1). No self-change, and the
// fresh outputs share exactly one address (if it is paid twice the
// candidate set has two members and unique change says nothing). The
// refinements that need the future (the address later reused to receive)
// and service tags are not applied.
func oneTimeCands(tx *Tx, h History) []int {
	if len(addressReuseCands(tx)) > 0 {
		return nil
	}
	c := freshCands(tx, h)
	if len(c) == 0 {
		return nil
	}
	for _, i := range c[1:] {
		if tx.Outputs[i].Address != tx.Outputs[c[0]].Address {
			return nil
		}
	}
	return c
}

func scriptTypeCands(tx *Tx) []int {
	t, ok := singleInputType(tx)
	if !ok {
		return nil
	}
	var c []int
	for i, o := range tx.Outputs {
		if o.ScriptType.Spendable() && changeType(o.ScriptType) == t {
			c = append(c, i)
		}
	}
	return c
}

// RoundValueCandidates returns the spendable outputs whose value is not a
// multiple of 10^digits sat (BlockSci PowerOfTen; ChangeSignals uses
// digits 6 and 3). digits is clamped to 0..19; with 0 nothing is a
// candidate.
func RoundValueCandidates(tx *Tx, digits int) []int {
	if tx == nil {
		return nil
	}
	digits = max(0, min(digits, 19))
	p := uint64(1)
	for range digits {
		p *= 10
	}
	var c []int
	for i, o := range tx.Outputs {
		if o.ScriptType.Spendable() && o.Value%p != 0 {
			c = append(c, i)
		}
	}
	return c
}

// optimalCands: UIH1. Every spendable output smaller than the smallest
// input; all tied outputs are candidates (payjoin/tx-indexer). Not judged
// with an unresolved input.
func optimalCands(tx *Tx) []int {
	m, ok := minKnownInput(tx)
	if !ok {
		return nil
	}
	var c []int
	for i, o := range tx.Outputs {
		if o.ScriptType.Spendable() && o.Value < m {
			c = append(c, i)
		}
	}
	return c
}

// fingerprintCands: BlockSci's Locktime rule with nVersion added: an
// output is a candidate when it is unspent, or when its spender has the
// same nVersion and has nLockTime > 0 exactly when tx has. RBF signalling
// is left out: a stricter match makes an unspent payment the unique
// candidate more often when a wallet changes one setting.
func fingerprintCands(tx *Tx, h History) []int {
	if h == nil {
		return nil
	}
	var c []int
	for i, o := range tx.Outputs {
		if !o.ScriptType.Spendable() {
			continue
		}
		s, spent := h.Spender(chains.OutPoint{TxID: tx.Hash, Index: uint32(i)})
		if !spent || (s.Version == tx.Version && (s.LockTime > 0) == (tx.LockTime > 0)) {
			c = append(c, i)
		}
	}
	return c
}

// looksPeeling: one input and exactly two spendable outputs (§2.5;
// OP_RETURN outputs are ignored).
func looksPeeling(t *Tx) bool {
	return t != nil && !t.Coinbase && len(t.Inputs) == 1 && spendableOutputs(t) == 2
}

func peelParent(t *Tx, h History) (*Tx, bool) {
	if len(t.Inputs) != 1 || t.Inputs[0].Prev.TxID.IsZero() {
		return nil, false
	}
	return h.Tx(t.Inputs[0].Prev.TxID)
}

// isPeeling: looks like peeling, and its parent or a spender of one of
// its outputs looks like peeling.
func isPeeling(tx *Tx, h History) bool {
	if !looksPeeling(tx) {
		return false
	}
	if p, ok := peelParent(tx, h); ok && looksPeeling(p) {
		return true
	}
	for i := range tx.Outputs {
		if s, ok := h.Spender(chains.OutPoint{TxID: tx.Hash, Index: uint32(i)}); ok && looksPeeling(s) {
			return true
		}
	}
	return false
}

// peelCands: in a peeling tx, the spendable outputs that are unspent or
// spent by a tx that looks like peeling (such a spender is peeling
// itself: its parent, tx, looks like peeling). Per the §2.5 caution, both
// halves of the rule apply: two unspent outputs, or two peeling
// spenders, give two candidates and no answer.
func peelCands(tx *Tx, h History) []int {
	if h == nil || !isPeeling(tx, h) {
		return nil
	}
	return peelFollow(tx, h)
}

func peelFollow(tx *Tx, h History) []int {
	var c []int
	for i, o := range tx.Outputs {
		if !o.ScriptType.Spendable() {
			continue
		}
		s, spent := h.Spender(chains.OutPoint{TxID: tx.Hash, Index: uint32(i)})
		if !spent || looksPeeling(s) {
			c = append(c, i)
		}
	}
	return c
}

// peelConfidence measures the chain through tx: peeling ancestors
// (single-input, so a line) plus tx plus the peeling descendants reached
// through out and then each hop's unique candidate, at most maxPeelWalk
// each way.
func peelConfidence(tx *Tx, h History, out int) Confidence {
	n := 1
	for t, k := tx, 0; k < maxPeelWalk; k++ {
		p, ok := peelParent(t, h)
		if !ok || !looksPeeling(p) {
			break
		}
		n++
		t = p
	}
	for t, o, k := tx, out, 0; k < maxPeelWalk; k++ {
		s, ok := h.Spender(chains.OutPoint{TxID: t.Hash, Index: uint32(o)})
		if !ok || !looksPeeling(s) {
			break
		}
		n++
		c := peelFollow(s, h)
		if len(c) != 1 {
			break
		}
		t, o = s, c[0]
	}
	switch {
	case n >= 10:
		return ConfidencePeelChain10
	case n >= 3:
		return ConfidencePeelChain3
	}
	return ConfidencePeelChain2
}

// legacyCands: BlockSci's legacy rule (§2.2 item 12): the spendable
// outputs both smaller than the smallest input and fresh, in a tx no
// CoinJoin detector flags.
func legacyCands(tx *Tx, h History) []int {
	if _, cj := DetectCoinJoin(tx); cj {
		return nil
	}
	return intersect(optimalCands(tx), freshCands(tx, h))
}

// graphsenseCands: graphsense-lib's one-time change (§2.2 item 13). The
// "not reused" test is first appearance in this tx (stricter than "first
// seen no earlier than this block"); its later-use counts (≤ 1 incoming,
// ≤ 1 outgoing tx) are not checked: they need the future. The output
// limits count spendable outputs.
func graphsenseCands(tx *Tx, h History) []int {
	if n := spendableOutputs(tx); n < 2 || n > 10 {
		return nil
	}
	t, ok := singleInputType(tx)
	if !ok {
		return nil
	}
	m, _ := minKnownInput(tx)
	paid := make(map[string]int, len(tx.Outputs))
	for _, o := range tx.Outputs {
		paid[o.Address]++
	}
	var c []int
	for _, i := range freshCands(tx, h) {
		o := tx.Outputs[i]
		if changeType(o.ScriptType) == t && o.Value%1000 != 0 && o.Value < m && paid[o.Address] == 1 {
			c = append(c, i)
		}
	}
	return c
}

// intersect returns the members of both ascending lists.
func intersect(a, b []int) []int {
	var c []int
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			c = append(c, a[i])
			i++
			j++
		}
	}
	return c
}
