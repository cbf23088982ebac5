package cluster_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
)

// eth parses a decimal amount of ETH ("0.9995") into wei, exactly.
func eth(t *testing.T, s string) chains.Amount {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	wei, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", 18-len(frac)), 10)
	if !ok {
		t.Fatalf("bad amount %q", s)
	}
	a, err := chains.ParseAmount(wei.String())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tr(t *testing.T, from, to, value string, h int64) cluster.AccountTransfer {
	return cluster.AccountTransfer{From: from, To: to, Value: eth(t, value), Height: h}
}

// TestDepositE1: algorithms.md E1 (etherclust's deposit test).
func TestDepositE1(t *testing.T) {
	transfers := []cluster.AccountTransfer{
		tr(t, "0x0", "0xdeposit", "100", 10),
		tr(t, "0xdeposit", "0xexchange", "99.99", 100),
		tr(t, "0x1", "0xexchange", "0.0001", 111),
	}
	p := cluster.DepositParams{MaxBlocks: 100, MaxLoss: eth(t, "0.01")}
	cases := []struct {
		name      string
		exchanges map[string]bool
		miners    map[string]bool
		want      int
	}{
		{"labelled exchange", map[string]bool{"0xexchange": true}, nil, 1},
		{"no exchange", nil, nil, 0},
		{"the user is a miner", nil, map[string]bool{"0x0": true}, 0},
		{"miner and exchange", map[string]bool{"0xexchange": true}, map[string]bool{"0x0": true}, 0},
	}
	for _, tc := range cases {
		got := cluster.DepositTriplets(transfers, tc.exchanges, tc.miners, p)
		if len(got) != tc.want {
			t.Errorf("%s: %d triplets %+v, want %d", tc.name, len(got), got, tc.want)
		}
		if len(got) == 1 && (got[0].User != "0x0" || got[0].Deposit != "0xdeposit" || got[0].Exchange != "0xexchange") {
			t.Errorf("%s: triplet %+v, want (0x0, 0xdeposit, 0xexchange)", tc.name, got[0])
		}
	}
}

// TestDepositE2: algorithms.md E2 (derived; t_max 3,200, a_max 0.01 ETH):
// U1 and U2 are one entity; U3 is too late, U4 loses too much.
func TestDepositE2(t *testing.T) {
	X := map[string]bool{"0xX": true}
	transfers := []cluster.AccountTransfer{
		tr(t, "0xU1", "0xD", "1.000", 100), tr(t, "0xD", "0xX", "0.9995", 150),
		tr(t, "0xU2", "0xD", "2.5", 5000), tr(t, "0xD", "0xX", "2.4996", 5100),
		tr(t, "0xU3", "0xD", "1.0", 9000), tr(t, "0xD", "0xX", "1.0", 13000),
		tr(t, "0xU4", "0xD4", "3.0", 20000), tr(t, "0xD4", "0xX", "2.9", 20010),
	}
	got := cluster.DepositTriplets(transfers, X, nil, cluster.DefaultDepositParams())
	var users []string
	for _, g := range got {
		users = append(users, g.User)
		if g.Confidence < 90 || g.Confidence > 100 {
			t.Errorf("triplet %s: confidence %d, want high (few blocks, tiny loss)", g.User, g.Confidence)
		}
	}
	if strings.Join(users, " ") != "0xU1 0xU2" {
		t.Errorf("triplets for %v, want U1 and U2 only", users)
	}
	ents := cluster.DepositEntities(got)
	if len(ents) != 1 || strings.Join(ents[0], " ") != "0xU1 0xU2" {
		t.Errorf("entities %v, want {U1, U2}", ents)
	}
}
