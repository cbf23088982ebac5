package cluster

// PayJoin (BIP78) signals, algorithms.md §2.4. None is conclusive and
// their absence proves nothing. The intended policy (the caller's): a
// ≥ 2-input transaction with two or more signals gets soft common-input
// edges, kept but not used for merging.

// PayJoin signal names, in the order PayJoinSignals reports them.
const (
	// SignalUIH2: UnnecessaryInput holds.
	SignalUIH2 = "uih2"
	// SignalMixedInputTypes: the known inputs have more than one script
	// type (only from MixedInputTypesHeight on).
	SignalMixedInputTypes = "mixed_input_types"
	// SignalSequenceMismatch: the inputs do not all have the same
	// nSequence.
	SignalSequenceMismatch = "nsequence_mismatch"
	// SignalRoundPayment: in a 2-in/2-out transaction, some output minus
	// some input is a non-zero multiple of 100 sat.
	SignalRoundPayment = "round_payment"
)

// MixedInputTypesHeight is the first height at which mixed input script
// types count as a PayJoin signal. payjoin-detector scores mixed types
// before 2024-09-01 as a strong signal AGAINST PayJoin (wallets then
// refused to mix types) and after as a weak signal for it. Tx carries no
// block time, so the date is approximated by a height: 840,000 (the
// 2024-04-20 halving) plus 134 days at ~144 blocks a day. It may be off
// by a day or two; the lead may replace it with the exact block.
const MixedInputTypesHeight = 859_300

// UnnecessaryInput is UIH2, definition (a) of algorithms.md §2.2 item 7
// (payjoin/tx-indexer): with at least 2 inputs and 1 output, true when
// Σin − min(in) ≥ Σout − min(out), i.e. every output but the smallest
// could have been paid without the smallest input. The fee is ignored and
// every output counts (OP_RETURN too). Chosen over definition (b)
// (min(out) > min(in)) because (a) is the statement of the heuristic
// itself, (b) a proxy of it. A transaction with an unresolved input is
// not judged (false): its value is unknown. Sums saturate instead of
// wrapping.
func UnnecessaryInput(tx *Tx) bool {
	if tx == nil || tx.Coinbase || len(tx.Inputs) < 2 || len(tx.Outputs) == 0 {
		return false
	}
	var sumIn, sumOut uint64
	minIn := tx.Inputs[0].Value
	for _, in := range tx.Inputs {
		if !in.Known {
			return false
		}
		sumIn = cjSatAdd(sumIn, in.Value)
		minIn = min(minIn, in.Value)
	}
	minOut := tx.Outputs[0].Value
	for _, o := range tx.Outputs {
		sumOut = cjSatAdd(sumOut, o.Value)
		minOut = min(minOut, o.Value)
	}
	return sumIn-minIn >= sumOut-minOut
}

// PayJoinSignals returns the PayJoin signals of tx (§2.4), in the order
// of the Signal* constants; nil for a coinbase or fewer than 2 inputs:
//
//   - uih2: UnnecessaryInput.
//   - mixed_input_types: the known inputs have ≥ 2 script types, at
//     height ≥ MixedInputTypesHeight (before it the source counts it
//     against PayJoin; it is then simply not reported).
//   - nsequence_mismatch: nSequence differs across inputs.
//   - round_payment: exactly 2 inputs (both known) and 2 outputs, and
//     |output − input| is a non-zero multiple of 100 sat for some pair
//     (payjoin-detector's rule and shape).
//
// Signature asymmetry (low-R next to high-R signatures) is not checked:
// Tx carries no signature or witness data.
func PayJoinSignals(tx *Tx) []string {
	if tx == nil || tx.Coinbase || len(tx.Inputs) < 2 {
		return nil
	}
	var signals []string
	if UnnecessaryInput(tx) {
		signals = append(signals, SignalUIH2)
	}
	if tx.Height >= MixedInputTypesHeight {
		types := make(map[uint8]struct{}, 2)
		for _, in := range tx.Inputs {
			if in.Known {
				types[uint8(in.ScriptType)] = struct{}{}
			}
		}
		if len(types) > 1 {
			signals = append(signals, SignalMixedInputTypes)
		}
	}
	for _, in := range tx.Inputs[1:] {
		if in.Sequence != tx.Inputs[0].Sequence {
			signals = append(signals, SignalSequenceMismatch)
			break
		}
	}
	if pjRoundPayment(tx) {
		signals = append(signals, SignalRoundPayment)
	}
	return signals
}

func pjRoundPayment(tx *Tx) bool {
	if len(tx.Inputs) != 2 || len(tx.Outputs) != 2 {
		return false
	}
	for _, in := range tx.Inputs {
		if !in.Known {
			return false
		}
		for _, o := range tx.Outputs {
			if d := cjAbsDiff(o.Value, in.Value); d != 0 && d%100 == 0 {
				return true
			}
		}
	}
	return false
}
