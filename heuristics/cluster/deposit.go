package cluster

import (
	"math/big"
	"sort"

	"github.com/fundtrace/fundtrace/chains"
)

// AccountTransfer is a native-asset transfer of an account-model chain
// as the Ethereum heuristics read it.
type AccountTransfer struct {
	From, To string
	Value    chains.Amount // wei
	Height   int64
	Tx       chains.Hash
}

// DepositParams bound deposit-address reuse (Victor, FC 2020).
type DepositParams struct {
	// MaxBlocks is the most blocks between a user's payment into a
	// deposit address and its forwarding to the exchange.
	MaxBlocks int64
	// MaxLoss is the most the forwarded value may fall short of the
	// payment (the deposit address pays the forwarding fee).
	MaxLoss chains.Amount
}

// DefaultDepositParams are Victor's, as Tutela uses them (product
// decision 8): 3,200 blocks and 0.01 ETH.
func DefaultDepositParams() DepositParams {
	loss, _ := chains.ParseAmount("10000000000000000")
	return DepositParams{MaxBlocks: 3200, MaxLoss: loss}
}

// DepositTriplet is a user paying a deposit address that forwarded the
// payment to an exchange.
type DepositTriplet struct {
	User, Deposit, Exchange string
	In, Out                 AccountTransfer
	Confidence              Confidence
}

// DepositTriplets finds, for every transfer from a non-exchange address D
// to an exchange X, the latest earlier transfer U → D (U neither a miner
// nor an exchange) that it forwards: at most MaxBlocks earlier and worth
// between the forwarded value and the forwarded value plus MaxLoss.
// Amounts are compared exactly in wei (the reference implementations
// round to 0.001 ETH and pre-join on 0.1 ETH buckets, which misses pairs
// straddling a bucket). Confidence follows Tutela: the mean of
// 1 − Δblocks/MaxBlocks and 1 − Δvalue/MaxLoss, in percent.
func DepositTriplets(transfers []AccountTransfer, exchanges, miners map[string]bool, p DepositParams) []DepositTriplet {
	into := map[string][]int{} // deposit → indexes of transfers into it, by height
	order := make([]int, len(transfers))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return transfers[order[i]].Height < transfers[order[j]].Height })
	var out []DepositTriplet
	maxLoss := p.MaxLoss
	for _, i := range order {
		t := &transfers[i]
		if exchanges[t.To] && !exchanges[t.From] && t.From != "" {
			// Latest earlier payment into t.From that t forwards.
			cands := into[t.From]
			for k := len(cands) - 1; k >= 0; k-- {
				in := &transfers[cands[k]]
				db := t.Height - in.Height
				if db > p.MaxBlocks {
					break
				}
				if db < 0 || miners[in.From] || exchanges[in.From] || in.From == "" {
					continue
				}
				loss, err := in.Value.Sub(t.Value)
				if err != nil || loss.Cmp(maxLoss) > 0 {
					continue
				}
				out = append(out, DepositTriplet{User: in.From, Deposit: t.From, Exchange: t.To, In: *in, Out: *t,
					Confidence: depositConfidence(db, p.MaxBlocks, loss, maxLoss)})
				break
			}
		}
		if t.To != "" {
			into[t.To] = append(into[t.To], i)
		}
	}
	return out
}

func depositConfidence(db, maxBlocks int64, loss, maxLoss chains.Amount) Confidence {
	blocks := int64(100)
	if maxBlocks > 0 {
		blocks = 100 * (maxBlocks - db) / maxBlocks
	}
	value := int64(100)
	if !maxLoss.IsZero() {
		l, _ := new(big.Int).SetString(loss.String(), 10)
		m, _ := new(big.Int).SetString(maxLoss.String(), 10)
		v := new(big.Int).Sub(m, l)
		v.Mul(v, big.NewInt(100)).Quo(v, m)
		value = v.Int64()
	}
	return Confidence((max(0, min(100, blocks)) + max(0, min(100, value))) / 2)
}

// DepositEntities returns the users that share deposit addresses, directly
// or through a chain of them, as groups of two or more sorted addresses
// (deposit addresses are the exchange's, not the users').
func DepositEntities(triplets []DepositTriplet) [][]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		p, ok := parent[x]
		if !ok || p == x {
			parent[x] = x
			return x
		}
		r := find(p)
		parent[x] = r
		return r
	}
	first := map[string]string{} // deposit → its first user
	for _, tr := range triplets {
		u, ok := first[tr.Deposit]
		if !ok {
			first[tr.Deposit] = tr.User
			find(tr.User)
			continue
		}
		a, b := find(u), find(tr.User)
		if a != b {
			if b < a {
				a, b = b, a
			}
			parent[b] = a
		}
	}
	groups := map[string][]string{}
	for x := range parent {
		r := find(x)
		groups[r] = append(groups[r], x)
	}
	var out [][]string
	for _, g := range groups {
		if len(g) > 1 {
			sort.Strings(g)
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
