package cluster_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fundtrace/fundtrace/heuristics/cluster"
)

// partition renders the components of u as "canonical: members" lines.
func partition(u *cluster.UnionFind) string {
	comps := u.Components()
	keys := make([]int64, 0, len(comps))
	for k := range comps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		m := comps[k]
		slices.Sort(m)
		s += fmt.Sprintf("%d:%v ", k, m)
	}
	return s
}

// TestUnionFindVectors: algorithms.md C1 (graphsense plain multi-input
// clustering; cluster ids are the smallest member) and C3 (input sets
// [[1,2,3],[4,5],[3,6],[7]] in any chunking).
func TestUnionFindVectors(t *testing.T) {
	tests := []struct {
		name string
		txs  [][]int64 // input address ids per tx
		want string
	}{
		{"C1 nothing", [][]int64{{1}, {4}}, ""},
		{"C1 one pair", [][]int64{{1, 2}, {3}}, "1:[1 2] "},
		{"C1 chain", [][]int64{{1, 2}, {2, 3}}, "1:[1 2 3] "},
		{"C1 two clusters", [][]int64{{2, 3}, {1, 2}, {10, 11}}, "1:[1 2 3] 10:[10 11] "},
		{"C1 overlapping", [][]int64{{1, 2}, {2, 3}, {3, 4}}, "1:[1 2 3 4] "},
		{"C1 reuse", [][]int64{{1, 2}, {2, 3}, {1, 2, 4}}, "1:[1 2 3 4] "},
		{"C3", [][]int64{{1, 2, 3}, {4, 5}, {3, 6}, {7}}, "1:[1 2 3 6] 4:[4 5] "},
	}
	for _, tc := range tests {
		u := cluster.NewUnionFind()
		for i, ids := range tc.txs {
			tx := &cluster.Tx{Inputs: make([]cluster.Input, len(ids))}
			for _, e := range cluster.CIOH(tx, int64(i), ids) {
				u.Union(e.A, e.B)
			}
		}
		if got := partition(u); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCIOHEdges: coinbases and single-address spends give no edge; an
// input without an address (bare multisig) is never merged; duplicates
// collapse (C3 harvest case: E has A's id).
func TestCIOHEdges(t *testing.T) {
	const A, B, C, D = 10, 20, 30, 40
	cases := []struct {
		name     string
		coinbase bool
		ids      []int64
		want     int
	}{
		{"coinbase", true, []int64{A, B}, 0},
		{"one address", false, []int64{A}, 0},
		{"pair", false, []int64{A, B}, 1},
		{"multisig input skipped", false, []int64{B, 0, C, D}, 2},
		{"same id twice", false, []int64{A, A}, 0},
		{"E is A", false, []int64{A, A, B}, 1},
	}
	for _, tc := range cases {
		tx := &cluster.Tx{Coinbase: tc.coinbase}
		es := cluster.CIOH(tx, 1, tc.ids)
		if len(es) != tc.want {
			t.Errorf("%s: %d edges %+v, want %d", tc.name, len(es), es, tc.want)
		}
		for _, e := range es {
			if e.A >= e.B || e.Rule != cluster.RuleCIOH {
				t.Errorf("%s: edge %+v", tc.name, e)
			}
		}
	}
}

// TestUnionFindAgainstNaive compares with a naive label propagation on
// random edge sets, in random orders.
func TestUnionFindAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 2 + rng.IntN(40)
		var edges [][2]int64
		for range rng.IntN(2 * n) {
			edges = append(edges, [2]int64{1 + rng.Int64N(int64(n)), 1 + rng.Int64N(int64(n))})
		}
		u := cluster.NewUnionFind()
		for _, e := range edges {
			u.Union(e[0], e[1])
		}
		label := make([]int64, n+1)
		for i := range label {
			label[i] = int64(i)
		}
		for changed := true; changed; {
			changed = false
			for _, e := range edges {
				m := min(label[e[0]], label[e[1]])
				if label[e[0]] != m || label[e[1]] != m {
					label[e[0]], label[e[1]] = m, m
					changed = true
				}
			}
		}
		for id := int64(1); id <= int64(n); id++ {
			if got := u.Canonical(id); got != label[id] {
				t.Fatalf("round %d: canonical(%d) = %d, naive %d (edges %v)", round, id, got, label[id], edges)
			}
		}
	}
}
