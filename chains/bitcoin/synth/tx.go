package synth

import (
	"fmt"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
)

// txParams are the per-transaction choices made before inputs are encoded.
type txParams struct {
	version uint32
	seq     uint32
	lock    uint32
}

// buildTx appends one non-coinbase transaction to g.txs. blockTxs is the
// number of transactions in the block, used to detect a thin pool during
// the ramp-up (then transactions fan out into more outputs).
func (g *generator) buildTx(height, blockTxs int) error {
	g.ins, g.wit, g.spent, g.outs = g.ins[:0], g.wit[:0], g.spent[:0], g.outs[:0]
	g.segwit = false

	p := txParams{version: 2, seq: 0xfffffffd}
	if g.rng.IntN(100) < 15 {
		p.version = 1
	}
	switch r := g.rng.IntN(100); {
	case r < 40:
		p.seq = 0xfffffffe
	case r < 50:
		p.seq = 0xffffffff
	}
	if p.seq != 0xffffffff && g.rng.IntN(100) < 70 {
		p.lock = uint32(height - 1) // anti fee sniping, as Bitcoin Core does
	}

	// Inputs: 60% one, 25% two, 10% three, 5% four or five, and 1% of all
	// transactions consolidate 10-20 outputs.
	consolidation := false
	k := 1
	switch r := g.rng.IntN(1000); {
	case r < 10:
		consolidation, k = true, 10+g.rng.IntN(11)
	case r < 604:
		k = 1
	case r < 852:
		k = 2
	case r < 951:
		k = 3
	default:
		k = 4 + g.rng.IntN(2)
	}
	var total uint64
	var wallet uint32
	if len(g.pending) > 0 && (len(g.pool) == 0 || g.rng.IntN(100) < chainedPct) {
		// Child of a transaction earlier in this block.
		u := g.takePending(g.rng.IntN(len(g.pending)))
		total += g.spend(u, p)
		wallet = g.addrWallet[u.addr]
		consolidation = false
	} else {
		if len(g.pool) == 0 {
			return errNoFunds
		}
		i := g.randomPoolIndex()
		for try := 0; consolidation && try < 4 && len(g.wallets[g.addrWallet[g.pool[i].addr]]) < k; try++ {
			i = g.randomPoolIndex()
		}
		u := g.takeFromPool(i)
		total += g.spend(u, p)
		wallet = g.addrWallet[u.addr]
		// Further inputs come from the same wallet, as far as it has any.
		for len(g.spent) < k && len(g.wallets[wallet]) > 0 {
			list := g.wallets[wallet]
			total += g.spend(g.takeFromPool(int(list[g.rng.IntN(len(list))])), p)
		}
	}

	// Outputs.
	first := g.spent[0]
	nPay, change := 1, true
	low := len(g.pool)+len(g.pending) < 3*blockTxs
	switch r := g.rng.IntN(100); {
	case consolidation:
		nPay = 0
	case r < 5 || (low && r < 50):
		nPay = 10 + g.rng.IntN(21) // batch payout
	case r < 20:
		change = false // pays the whole amount
	case r < 30:
		nPay = 2
	}
	for range nPay {
		g.outs = append(g.outs, g.planPayment())
	}
	if change {
		o := outPlan{t: g.addrType[first.addr], addr: newAddr, wallet: wallet, change: true}
		if g.rng.IntN(100) < changeReusePct {
			o.addr = first.addr
		}
		g.outs = append(g.outs, o)
	}
	if g.rng.IntN(100) < opReturnPct {
		g.outs = append(g.outs, outPlan{t: chains.ScriptOpReturn, dataLen: 20 + g.rng.IntN(61)})
	}

	// Fee: a fee rate times the exact virtual size. Drop outputs or add
	// inputs until the inputs cover the fee and a non-dust value per output.
	rate := g.feeRate()
	var fee uint64
	for {
		fee = rate * uint64(g.vsize())
		nVal := g.valueOutputs()
		if total >= fee+minOutput*uint64(nVal) {
			break
		}
		if nVal > 1 {
			g.dropOutput()
			continue
		}
		if u, ok := g.extraInput(wallet); ok {
			total += g.spend(u, p)
			continue
		}
		if rate > 1 {
			rate = 1
			continue
		}
		return fmt.Errorf("%w: inputs hold %d sat, fee is %d", errNoFunds, total, fee)
	}
	g.assignValues(total - fee)
	g.rng.Shuffle(len(g.outs), func(i, j int) { g.outs[i], g.outs[j] = g.outs[j], g.outs[i] })
	g.serializeTx(p, fee)
	return nil
}

// randomPoolIndex picks the first input of a transaction: the largest of a
// few random candidates, some of them recent. Preferring larger coins (as
// wallets' coin selection does) keeps value flowing from coinbases into the
// economy instead of splitting ever smaller coins into dust.
func (g *generator) randomPoolIndex() int {
	n := len(g.pool)
	best := -1
	for range firstInputCandidates {
		var i int
		if g.rng.IntN(100) < recentPct {
			i = n - 1 - g.rng.IntN(min(n, recentWindow))
		} else {
			i = g.rng.IntN(n)
		}
		if best < 0 || g.pool[i].value > g.pool[best].value {
			best = i
		}
	}
	return best
}

func (g *generator) takePending(i int) utxo {
	u := g.pending[i]
	last := len(g.pending) - 1
	g.pending[i] = g.pending[last]
	g.pending = g.pending[:last]
	return u
}

// extraInput takes one more output to fund a transaction: from the
// spender's wallet if it has any, else from anyone.
func (g *generator) extraInput(wallet uint32) (utxo, bool) {
	switch {
	case len(g.wallets[wallet]) > 0:
		list := g.wallets[wallet]
		return g.takeFromPool(int(list[g.rng.IntN(len(list))])), true
	case len(g.pool) > 0:
		return g.takeFromPool(g.rng.IntN(len(g.pool))), true
	case len(g.pending) > 0:
		return g.takePending(g.rng.IntN(len(g.pending))), true
	}
	return utxo{}, false
}

// planPayment picks the recipient of a payment: an address paid before, or
// a fresh one owned by a new wallet or by an existing wallet (chosen in
// proportion to its addresses, so wallet sizes grow heavy-tailed).
func (g *generator) planPayment() outPlan {
	if g.rng.IntN(100) < reusePct {
		a := uint32(g.rng.IntN(len(g.addrType)))
		return outPlan{t: g.addrType[a], addr: a}
	}
	o := outPlan{t: g.drawType(), addr: newAddr, wallet: newWallet}
	if g.rng.IntN(100) >= newWalletPct {
		o.wallet = g.addrWallet[g.rng.IntN(len(g.addrWallet))]
	}
	return o
}

func (g *generator) drawType() chains.ScriptType {
	r := g.rng.IntN(scriptMixTotal)
	for _, m := range scriptMix {
		if r < m.weight {
			return m.t
		}
		r -= m.weight
	}
	return scriptMix[0].t
}

// feeRate draws sat/vB: mostly cheap, sometimes congested.
func (g *generator) feeRate() uint64 {
	switch r := g.rng.IntN(100); {
	case r < 60:
		return 1 + g.rng.Uint64N(5)
	case r < 90:
		return 5 + g.rng.Uint64N(16)
	default:
		return 20 + g.rng.Uint64N(81)
	}
}

// vsize is the virtual size of the planned transaction (BIP141).
func (g *generator) vsize() int {
	base := 4 + varIntLen(len(g.spent)) + len(g.ins) + varIntLen(len(g.outs)) + 4
	for i := range g.outs {
		base += 8 + 1 + scriptLen(g.outs[i].t, g.outs[i].dataLen)
	}
	weight := 4 * base
	if g.segwit {
		weight += 2 + len(g.wit)
	}
	return (weight + 3) / 4
}

func (g *generator) valueOutputs() int {
	n := 0
	for i := range g.outs {
		if g.outs[i].t != chains.ScriptOpReturn {
			n++
		}
	}
	return n
}

// dropOutput removes the last payment, or the change once only one
// payment is left.
func (g *generator) dropOutput() {
	pays, lastPay, chg := 0, -1, -1
	for i, o := range g.outs {
		switch {
		case o.change:
			chg = i
		case o.t != chains.ScriptOpReturn:
			pays++
			lastPay = i
		}
	}
	if pays > 1 || chg < 0 {
		g.outs = slices.Delete(g.outs, lastPay, lastPay+1)
		return
	}
	g.outs = slices.Delete(g.outs, chg, chg+1)
}

// assignValues splits avail (inputs minus fee) over the value outputs:
// payments get log-uniform amounts, half of them rounded to two significant
// digits; the change, or the last payment if there is none, takes the rest.
// Every value output gets at least minOutput.
func (g *generator) assignValues(avail uint64) {
	taker := -1
	n := 0
	for i, o := range g.outs {
		if o.t == chains.ScriptOpReturn {
			continue
		}
		n++
		if o.change || (taker < 0 || !g.outs[taker].change) {
			taker = i
		}
	}
	share := (avail - minOutput*uint64(n)) / uint64(max(n-1, 1))
	rest := avail
	for i := range g.outs {
		o := &g.outs[i]
		if o.t == chains.ScriptOpReturn || i == taker {
			continue
		}
		// Half the payments are absolute amounts (3,000 sat to 3 BTC,
		// log-uniform) so value does not shrink from hop to hop, half a
		// share of what the inputs hold so large coins get split up.
		v := minOutput + g.logUniform(35, 85)
		if v > minOutput+share || g.rng.IntN(2) == 0 {
			v = minOutput + share/100*(5+g.rng.Uint64N(91)) + share%100
		}
		if g.rng.IntN(100) < roundPaymentPct {
			v = max(roundDown(v), minOutput)
		}
		o.value = v
		rest -= v
	}
	g.outs[taker].value = rest
}

// tenthPowers[i] is 10^(i/10) * 1e6, rounded.
var tenthPowers = [10]uint64{
	1000000, 1258925, 1584893, 1995262, 2511886, 3162278, 3981072, 5011872, 6309573, 7943282,
}

// logUniform draws an amount between 10^(lo/10) and 10^(hi/10) whose
// logarithm is (nearly) uniform, in integer arithmetic only: floating-point
// results could differ between CPU architectures and break determinism.
func (g *generator) logUniform(lo, hi int) uint64 {
	e := lo + g.rng.IntN(hi-lo)
	v := tenthPowers[e%10] * (1_000_000 + g.rng.Uint64N(258_925)) / 1_000_000 // one more tenth, spread
	for range e / 10 {
		v *= 10
	}
	return v / 1_000_000
}

// roundDown keeps two significant decimal digits.
func roundDown(v uint64) uint64 {
	p := uint64(1)
	for v/p >= 100 {
		p *= 10
	}
	return v / p * p
}

// spend encodes u as an input with realistic unlocking data for its script
// type and returns its value.
func (g *generator) spend(u utxo, p txParams) uint64 {
	g.spent = append(g.spent, u)
	b := append(g.ins, u.txid[:]...)
	b = appendU32(b, u.vout)
	w := g.wit
	switch t := g.addrType[u.addr]; t {
	case chains.ScriptP2PKH:
		sig := g.sigLen()
		b = append(b, byte(1+sig+1+33))
		b = g.appendSig(append(b, byte(sig)), sig)
		b = g.appendPubKey(append(b, 33), u.addr)
		w = append(w, 0) // empty witness, used if the tx is segwit
	case chains.ScriptP2WPKH:
		b = append(b, 0)
		w = g.appendSigAndKey(w, u.addr)
		g.segwit = true
	case chains.ScriptP2SH: // P2SH-P2WPKH: the redeem script is the witness program
		b = append(b, 23, 22, 0x00, 0x14)
		b = append(b, g.derive(u.addr, 2)[:20]...)
		w = g.appendSigAndKey(w, u.addr)
		g.segwit = true
	case chains.ScriptP2TR: // key path: one Schnorr signature
		b = append(b, 0)
		n := 64
		if g.rng.IntN(100) < 5 {
			n = 65 // explicit sighash type
		}
		w = append(w, 1, byte(n))
		w = g.appendRandom(w, n)
		if n == 65 {
			w[len(w)-1] = 0x01
		}
		g.segwit = true
	case chains.ScriptP2WSH: // 2-of-3 multisig
		b = append(b, 0)
		w = append(w, 4, 0)
		for range 2 {
			sig := g.sigLen()
			w = g.appendSig(append(w, byte(sig)), sig)
		}
		w = append(w, lenMultisig, 0x52)
		for i := range 3 {
			w = append(w, 33, 0x02|g.derive(u.addr, uint64(3+i))[31]&1)
			w = append(w, g.key[:]...)
		}
		w = append(w, 0x53, 0xae)
		g.segwit = true
	default:
		panic("synth: cannot spend script type " + t.String())
	}
	g.ins = appendU32(b, p.seq)
	g.wit = w
	return u.value
}

func (g *generator) appendSigAndKey(w []byte, addr uint32) []byte {
	sig := g.sigLen()
	w = append(w, 2, byte(sig))
	w = g.appendSig(w, sig)
	return g.appendPubKey(append(w, 33), addr)
}

// sigLen is the size of an ECDSA signature with its sighash byte: 71 with
// low-R grinding (most wallets), else 72.
func (g *generator) sigLen() int {
	if g.rng.IntN(100) < 75 {
		return 71
	}
	return 72
}

func (g *generator) appendRandom(b []byte, n int) []byte {
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	_, _ = g.src.Read(b[start:]) // ChaCha8.Read never fails
	return b
}

// appendSig appends a DER-shaped ECDSA signature of n (71 or 72) bytes
// including the SIGHASH_ALL byte, with random r and low s.
func (g *generator) appendSig(b []byte, n int) []byte {
	start := len(b)
	b = g.appendRandom(b, n)
	s := b[start:]
	rLen := n - 39
	s[0], s[1], s[2], s[3] = 0x30, byte(n-3), 0x02, byte(rLen)
	r := s[4 : 4+rLen]
	if rLen == 33 {
		r[0], r[1] = 0x00, r[1]|0x80
	} else {
		r[0] = 0x01 + r[0]%0x7f
	}
	s[4+rLen], s[5+rLen] = 0x02, 0x20
	s[6+rLen] = 0x01 + s[6+rLen]%0x7f
	s[n-1] = 0x01 // SIGHASH_ALL
	return b
}

func (g *generator) appendPubKey(b []byte, addr uint32) []byte {
	k := g.derive(addr, 1)
	return append(append(b, 0x02|k[31]&1), k...)
}

// serializeTx appends the final transaction to g.txs, allocates its new
// addresses, records its outputs as pending and tallies the summary.
func (g *generator) serializeTx(p txParams, fee uint64) {
	start := len(g.txs)
	b := appendU32(g.txs, p.version)
	if g.segwit {
		b = append(b, 0x00, 0x01)
	}
	bodyStart := len(b)
	b = appendVarInt(b, uint64(len(g.spent)))
	b = append(b, g.ins...)
	b = appendVarInt(b, uint64(len(g.outs)))
	pendingStart := len(g.pending)
	for vout := range g.outs {
		o := &g.outs[vout]
		b = appendU64(b, o.value)
		g.byType[o.t]++
		if o.t == chains.ScriptOpReturn {
			b = appendOutputScript(b, o.t, g.appendRandom(g.data[:0], o.dataLen))
			g.sum.OpReturns++
			continue
		}
		if o.addr == newAddr {
			o.addr = g.allocAddr(o.t, o.wallet)
		}
		b = appendOutputScript(b, o.t, g.derive(o.addr, 0))
		g.pending = append(g.pending, utxo{value: o.value, addr: o.addr, vout: uint32(vout)})
	}
	bodyEnd := len(b)
	if g.segwit {
		b = append(b, g.wit...)
	}
	b = appendU32(b, p.lock)
	g.txs = b

	txid := g.hs.sum(b[start:start+4], b[bodyStart:bodyEnd], b[len(b)-4:])
	wtxid := txid
	if g.segwit {
		wtxid = g.hs.sum(b[start:])
	}
	for i := pendingStart; i < len(g.pending); i++ {
		g.pending[i].txid = txid
	}
	g.txids = append(g.txids, txid)
	g.wtxids = append(g.wtxids, wtxid)

	g.fees += fee
	g.sum.TotalFees += fee
	g.sum.Txs++
	g.sum.Inputs += int64(len(g.spent))
	g.sum.Outputs += int64(len(g.outs))
}
