package devnet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

// Plan says what Populate makes.
type Plan struct {
	Txs         int    // transactions to make
	TxsPerBlock int    // transactions per mined block; 0 means 100
	Seed        uint64 // drives every random choice: equal seeds give equal transaction graphs
}

// PopulateSummary describes what Populate made.
type PopulateSummary struct {
	Txs    int
	Blocks int // blocks mined, maturity blocks included
	// FirstHeight..LastHeight are the blocks holding the transactions.
	FirstHeight, LastHeight int64
	Tip                     chains.Hash
	TxIDs                   []chains.Hash  // in submission order
	Created                 map[string]int // outputs created, by kind (change included)
	Spent                   map[string]int // inputs, by kind of the output spent
	CoinbaseSpends          int            // inputs spending a coinbase output
	UnconfirmedSpends       int            // inputs spending an output still in the mempool
	MultiInput              int            // transactions with 2 or more inputs
	ManyOutputs             int            // transactions with 3 or more outputs
	ReusedAddresses         int            // outputs paying an address the wallet used before
	Fees                    int64          // satoshis
	// Fingerprint hashes the shape of the transaction graph (which earlier
	// output each input spends, each output's kind and value). Runs with
	// the same seed on a fresh node and wallet give the same fingerprint,
	// although txids differ (btcd randomizes each coinbase's extra nonce).
	Fingerprint chains.Hash
	Elapsed     time.Duration
}

const (
	defaultTxsPerBlock = 100
	popMinOutput       = 10_000 // smallest output Populate creates
	popMaxInputs       = 12
)

// Populate fills the node's chain with plan.Txs wallet transactions. On a
// fresh node it first mines 101 blocks to the node's mining address, which
// must be MiningAddress(). Each transaction spends randomly chosen
// outputs, confirmed or still in the mempool (1 to 7 inputs, sometimes
// more to cover the amount), and pays 1 to 8 new or reused P2PKH, P2WPKH
// and P2TR addresses of the wallet plus change at a random position, at
// FeeRate. Transactions go to the node in JSON-RPC batches of
// sendrawtransaction, and one block is mined after every TxsPerBlock.
// When Populate returns without error every transaction is confirmed.
func (w *Wallet) Populate(ctx context.Context, node *Btcd, plan Plan) (PopulateSummary, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.populate(ctx, node, plan)
}

func (w *Wallet) populate(ctx context.Context, be backend, plan Plan) (PopulateSummary, error) {
	start := time.Now()
	if plan.TxsPerBlock == 0 {
		plan.TxsPerBlock = defaultTxsPerBlock
	}
	if plan.Txs < 0 || plan.TxsPerBlock < 0 {
		return PopulateSummary{}, fmt.Errorf("%w: Txs %d and TxsPerBlock %d must not be negative", ErrBadPlan, plan.Txs, plan.TxsPerBlock)
	}
	s := PopulateSummary{Created: map[string]int{}, Spent: map[string]int{}}
	if err := w.scan(ctx, be); err != nil {
		return s, err
	}
	if err := w.fund(ctx, be, &s); err != nil {
		return s, err
	}
	rng := rand.New(rand.NewPCG(plan.Seed, 0x6465766e6574)) // "devnet"
	fp := sha256.New()
	firstSeq := w.built
	s.FirstHeight = int64(len(w.hashes))
	for s.Txs < plan.Txs {
		n := min(plan.TxsPerBlock, plan.Txs-s.Txs)
		txs := make([]*wire.MsgTx, 0, n)
		for range n {
			tx, err := w.randomTx(rng, &s, fp, firstSeq)
			if err != nil {
				return s, w.abandon(ctx, be, err)
			}
			txs = append(txs, tx)
		}
		errs, err := be.submit(ctx, txs)
		if err != nil {
			return s, w.abandon(ctx, be, err)
		}
		for i, e := range errs {
			if e != nil {
				return s, w.abandon(ctx, be, fmt.Errorf("devnet: populate: transaction %d (%s) rejected: %w", s.Txs-n+i, txs[i].TxHash(), e))
			}
		}
		if err := w.mineAll(ctx, be, &s); err != nil {
			return s, err
		}
	}
	s.LastHeight = int64(len(w.hashes)) - 1
	if s.Txs == 0 {
		s.FirstHeight = s.LastHeight + 1
	}
	s.Tip = w.hashes[len(w.hashes)-1]
	copy(s.Fingerprint[:], fp.Sum(nil))
	s.Elapsed = time.Since(start)
	return s, nil
}

// fund mines until the wallet has a mature output: 101 blocks on a fresh
// node.
func (w *Wallet) fund(ctx context.Context, be backend, s *PopulateSummary) error {
	for range 2 {
		if len(w.spendable()) > 0 {
			return nil
		}
		need := int64(w.params.CoinbaseMaturity) + 1 - (int64(len(w.hashes)) - 1)
		if need <= 0 {
			need = int64(w.params.CoinbaseMaturity)
		}
		if _, err := be.Generate(ctx, int(need)); err != nil {
			return fmt.Errorf("devnet: populate: mine for funds: %w", err)
		}
		s.Blocks += int(need)
		if err := w.scan(ctx, be); err != nil {
			return err
		}
	}
	if len(w.spendable()) > 0 {
		return nil
	}
	return fmt.Errorf("%w: the node does not mine to the wallet's mining address %s", ErrInsufficientFunds, w.mining.addr)
}

// mineAll mines until every pending transaction is in a block.
func (w *Wallet) mineAll(ctx context.Context, be backend, s *PopulateSummary) error {
	for range 3 {
		if _, err := be.Generate(ctx, 1); err != nil {
			return fmt.Errorf("devnet: populate: mine: %w", err)
		}
		s.Blocks++
		if err := w.scan(ctx, be); err != nil {
			return err
		}
		if len(w.pending) == 0 {
			return nil
		}
	}
	return fmt.Errorf("devnet: populate: %d transactions still unconfirmed after 3 blocks", len(w.pending))
}

// abandon resynchronizes the wallet with the node after transactions were
// built but not all accepted, and returns err.
func (w *Wallet) abandon(ctx context.Context, be backend, err error) error {
	if rerr := w.rescan(ctx, be); rerr != nil {
		return errors.Join(err, fmt.Errorf("devnet: resync after failure: %w", rerr))
	}
	return err
}

// randomTx builds, signs and records one transaction chosen by rng.
func (w *Wallet) randomTx(rng *rand.Rand, s *PopulateSummary, fp hash.Hash, firstSeq int) (*wire.MsgTx, error) {
	sp := w.spendable()
	if len(sp) == 0 {
		return nil, fmt.Errorf("%w: no spendable outputs", ErrInsufficientFunds)
	}
	nIn := pick(rng, []int{65, 20, 10, 5}, 1, 2, 3, 4+rng.IntN(4))
	nPay := pick(rng, []int{40, 35, 18, 7}, 1, 2, 3+rng.IntN(2), 5+rng.IntN(4))
	nIn = min(nIn, len(sp))
	// Partial shuffle: sp[:k] are the chosen inputs.
	for k := range nIn {
		j := k + rng.IntN(len(sp)-k)
		sp[k], sp[j] = sp[j], sp[k]
	}

	// Output keys: a fresh key of a random kind, or now and then one
	// already used.
	payKeys := make([]*walletKey, nPay)
	for i := range payKeys {
		if rng.IntN(10) == 0 {
			payKeys[i] = w.used[rng.IntN(len(w.used))]
			s.ReusedAddresses++
		} else {
			payKeys[i] = w.newKey(kinds[rng.IntN(len(kinds))])
		}
	}
	change := w.newKey(kinds[rng.IntN(len(kinds))])
	scripts := make([][]byte, 0, nPay+1)
	for _, k := range payKeys {
		scripts = append(scripts, k.script)
	}
	scripts = append(scripts, change.script)

	ins := sp[:nIn]
	total := sum(ins)
	fee := func() int64 { return (weightFor(ins, scripts) + 3) / 4 * FeeRate }
	enough := func() bool { return total >= fee()+int64(nPay+1)*popMinOutput }
	// Not enough: add random inputs, then the largest ones.
	for !enough() && nIn < len(sp) && nIn < popMaxInputs {
		j := nIn + rng.IntN(len(sp)-nIn)
		sp[nIn], sp[j] = sp[j], sp[nIn]
		nIn++
		ins, total = sp[:nIn], sum(sp[:nIn])
	}
	if !enough() {
		rest := slices.Clone(sp[nIn:])
		slices.SortStableFunc(rest, func(a, b *coin) int { return cmp.Compare(b.value, a.value) })
		ins = slices.Clone(sp[:nIn])
		for _, c := range rest {
			if enough() {
				break
			}
			ins = append(ins, c)
			total += c.value
		}
		if !enough() {
			return nil, fmt.Errorf("%w: %d sat in %d outputs", ErrInsufficientFunds, total, len(ins))
		}
	}

	// Pay 5%..60% of what is left after the fee and the minimum change,
	// split at random over the payments.
	f := fee()
	budget := total - f - popMinOutput
	payTotal := max(budget*int64(5+rng.IntN(56))/100, int64(nPay)*popMinOutput)
	extra := payTotal - int64(nPay)*popMinOutput
	weights := make([]int64, nPay)
	var wsum int64
	for i := range weights {
		weights[i] = 1 + rng.Int64N(100)
		wsum += weights[i]
	}
	outs := make([]*wire.TxOut, 0, nPay+1)
	var paid int64
	for i, k := range payKeys {
		v := popMinOutput + extra*weights[i]/wsum
		if i == nPay-1 {
			v = payTotal - paid
		}
		paid += v
		outs = append(outs, wire.NewTxOut(v, k.script))
	}
	at := rng.IntN(nPay + 1)
	outs = slices.Insert(outs, at, wire.NewTxOut(total-f-paid, change.script))

	tx, err := w.buildTx(ins, outs)
	if err != nil {
		return nil, err
	}

	// Summary and fingerprint, before record changes the coins.
	fmt.Fprintf(fp, "tx %d:", s.Txs)
	for _, c := range ins {
		s.Spent[c.key.kind]++
		switch {
		case c.coinbase:
			s.CoinbaseSpends++
			fmt.Fprintf(fp, " c%d:%d", c.height, c.op.Index)
		case c.seq >= firstSeq:
			fmt.Fprintf(fp, " t%d:%d", c.seq-firstSeq, c.op.Index)
		default:
			fmt.Fprintf(fp, " x")
		}
		if c.height == 0 {
			s.UnconfirmedSpends++
		}
	}
	fp.Write([]byte(" ->"))
	for _, o := range outs {
		k := w.keys[string(o.PkScript)]
		s.Created[k.kind]++
		fp.Write([]byte(" " + k.kind + ":" + strconv.FormatInt(o.Value, 10)))
	}
	fp.Write([]byte("\n"))
	if len(ins) > 1 {
		s.MultiInput++
	}
	if len(outs) >= 3 {
		s.ManyOutputs++
	}
	s.Fees += f
	s.Txs++
	s.TxIDs = append(s.TxIDs, toChains(tx.TxHash()))
	w.record(tx)
	return tx, nil
}

// pick returns values[i] with probability weights[i]/sum(weights).
func pick(rng *rand.Rand, weights []int, values ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return values[i]
		}
		r -= w
	}
	return values[len(values)-1]
}

func sum(cs []*coin) int64 {
	var t int64
	for _, c := range cs {
		t += c.value
	}
	return t
}
