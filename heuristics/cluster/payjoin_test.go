package cluster_test

import (
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
)

// TestUnnecessaryInputC6: UIH2 definition (a), Σin − min(in) ≥
// Σout − min(out), on algorithms.md C6 (payjoin/tx-indexer uih.rs).
func TestUnnecessaryInputC6(t *testing.T) {
	cases := []struct {
		name      string
		in, out   []uint64
		want      bool
		unknownIn bool
	}{
		{"C6 100,150 → 100,150: 150 ≥ 150", []uint64{100, 150}, []uint64{100, 150}, true, false},
		{"C6 100,200 → 250,40: 200 < 250", []uint64{100, 200}, []uint64{250, 40}, false, false},
		{"C6 100,200 → 200,0: the boundary is ≥", []uint64{100, 200}, []uint64{200, 0}, true, false},
		{"C6 one input only", []uint64{300}, []uint64{100, 150}, false, false},
		{"C6 100,200 → 200,30", []uint64{100, 200}, []uint64{200, 30}, true, false},
		{"C6 50,260 → 270,10: 260 < 270", []uint64{50, 260}, []uint64{270, 10}, false, false},
		{"no outputs", []uint64{100, 200}, nil, false, false},
		{"an unresolved input is not judged", []uint64{100, 150}, []uint64{100, 150}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := &cluster.Tx{Inputs: cjIns(c.in...), Outputs: cjOuts(c.out...)}
			if c.unknownIn {
				tx.Inputs[0].Known = false
			}
			if got := cluster.UnnecessaryInput(tx); got != c.want {
				t.Errorf("UnnecessaryInput = %v, want %v", got, c.want)
			}
		})
	}
	if cluster.UnnecessaryInput(nil) {
		t.Error("nil: true")
	}
	cb := &cluster.Tx{Coinbase: true, Inputs: cjIns(100, 150), Outputs: cjOuts(100, 150)}
	if cluster.UnnecessaryInput(cb) {
		t.Error("coinbase: true")
	}
}

// TestPayJoinSignals: §2.4 signals on a PayJoin-shaped payment (sender
// 300,000 P2WPKH, receiver 20,000 P2TR, payment 50,000) and on plain
// spends.
func TestPayJoinSignals(t *testing.T) {
	payjoin := func(height int64) *cluster.Tx {
		return &cluster.Tx{
			Height: height,
			Inputs: []cluster.Input{
				{Address: "sender", Value: 300_000, ScriptType: chains.ScriptP2WPKH, Sequence: 0xfffffffd, Known: true},
				{Address: "receiver", Value: 20_000, ScriptType: chains.ScriptP2TR, Sequence: 0xffffffff, Known: true},
			},
			Outputs: cjOuts(70_000, 249_000), // receiver 20,000 + 50,000; sender's change
		}
	}
	cases := []struct {
		name string
		tx   *cluster.Tx
		want []string
	}{
		{"PayJoin shape after Sep 2024: UIH2 (300,000 ≥ 249,000), mixed types, nSequence, round 50,000",
			payjoin(870_000), []string{"uih2", "mixed_input_types", "nsequence_mismatch", "round_payment"}},
		{"the same before Sep 2024: mixed types is no signal", payjoin(800_000),
			[]string{"uih2", "nsequence_mismatch", "round_payment"}},
		{"plain 2-in/2-out, same type and nSequence, no round difference",
			&cluster.Tx{Height: 870_000, Inputs: cjIns(123_457, 234_568), Outputs: cjOuts(300_001, 57_023)}, nil},
		{"one input", &cluster.Tx{Inputs: cjIns(100_000), Outputs: cjOuts(50_000, 49_000)}, nil},
		{"coinbase", &cluster.Tx{Coinbase: true, Inputs: cjIns(1, 2), Outputs: cjOuts(3)}, nil},
		{"round payment needs 2-in/2-out", &cluster.Tx{Inputs: cjIns(123_457, 234_568), Outputs: cjOuts(23_457, 100_000, 233_567)}, nil},
		{"nil", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := cluster.PayJoinSignals(c.tx); !slices.Equal(got, c.want) {
				t.Errorf("PayJoinSignals = %q, want %q", got, c.want)
			}
		})
	}
}
