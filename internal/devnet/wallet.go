package devnet

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

// Address kinds for NewAddress.
const (
	P2PKH  = "p2pkh"  // legacy, ECDSA signature in the scriptSig
	P2WPKH = "p2wpkh" // segwit v0, ECDSA signature in the witness (BIP143)
	P2TR   = "p2tr"   // taproot key path, BIP86 key, Schnorr signature (BIP340/341)
)

// Kinds lists the address kinds the wallet can create and spend.
var kinds = [...]string{P2PKH, P2WPKH, P2TR}

const (
	// FeeRate is what the wallet pays, in sat/vbyte, on an estimated size
	// that is never below the real one: twice btcd's default minimum relay
	// fee (1000 sat/kvB).
	FeeRate = 2
	// MinOutput is the smallest output the wallet creates or accepts in a
	// Payment (well above every dust limit at btcd's relay fee).
	MinOutput = 1000
)

// Payment asks Send to pay Value satoshis to Addr.
type Payment struct {
	Addr  string
	Value int64 // satoshis
}

// Unspent is an output the wallet can spend.
type Unspent struct {
	OutPoint chains.OutPoint
	Value    int64 // satoshis
	Kind     string
	Addr     string
	Height   int64 // 0 while unconfirmed
	Coinbase bool
}

type walletKey struct {
	kind    string
	priv    *btcec.PrivateKey
	pub     []byte // compressed public key
	addr    string
	script  []byte
	tweaked *btcec.PrivateKey // P2TR: BIP86-tweaked key, made at first spend
}

type coin struct {
	op       wire.OutPoint
	value    int64
	key      *walletKey
	height   int64 // 0: unconfirmed (one of our transactions in the mempool)
	coinbase bool
	seq      int // creating transaction's number among those the wallet built; -1 otherwise
}

type pendingTx struct {
	tx  *wire.MsgTx
	seq int
}

// Wallet holds deterministic keys (key i = sha256(seed + "/" + i)), learns
// its outputs by reading the node's blocks, and builds and signs
// transactions itself; btcd has no wallet. Key 0 is the P2WPKH mining key.
// Outputs of the wallet's own unconfirmed transactions are spendable at
// once (the node's mempool chains them). A Wallet is safe for concurrent
// use; operations run one at a time.
type Wallet struct {
	mu     sync.Mutex
	params *chaincfg.Params
	seed   string
	next   int                   // next key index
	keys   map[string]*walletKey // by output script
	used   []*walletKey          // keys handed out, in order (address reuse)
	mining *walletKey

	hashes []chains.Hash // scanned best chain, index = height
	coins  []*coin       // unspent outputs, in a deterministic order
	index  map[wire.OutPoint]int

	built        int // transactions built so far (coin.seq)
	pending      map[chainhash.Hash]*pendingTx
	pendingOrder []chainhash.Hash
}

// NewWallet returns an empty wallet whose keys derive from seed; nil
// params means regtest.
func NewWallet(params *chaincfg.Params, seed string) *Wallet {
	if params == nil {
		params = regtestParams()
	}
	w := &Wallet{
		params:  params,
		seed:    seed,
		keys:    make(map[string]*walletKey),
		index:   make(map[wire.OutPoint]int),
		pending: make(map[chainhash.Hash]*pendingTx),
	}
	w.mining = w.newKey(P2WPKH)
	return w
}

func regtestParams() *chaincfg.Params { return &chaincfg.RegressionNetParams }

// MiningAddress returns the P2WPKH address of key 0; start the node with
// it (BtcdOptions.MiningAddr) so that generated coinbases are the
// wallet's.
func (w *Wallet) MiningAddress() string { return w.mining.addr }

// NewAddress derives the next key and returns its address of the given
// kind (P2PKH, P2WPKH or P2TR). It panics on any other kind.
func (w *Wallet) NewAddress(kind string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newKey(kind).addr
}

func (w *Wallet) newKey(kind string) *walletKey {
	k := deriveKey(w.params, w.seed, w.next, kind)
	w.next++
	w.keys[string(k.script)] = k
	w.used = append(w.used, k)
	return k
}

func deriveKey(params *chaincfg.Params, seed string, i int, kind string) *walletKey {
	sum := sha256.Sum256([]byte(seed + "/" + strconv.Itoa(i)))
	priv, pub := btcec.PrivKeyFromBytes(sum[:])
	addr, script := addressFor(params, pub, kind)
	return &walletKey{kind: kind, priv: priv, pub: pub.SerializeCompressed(), addr: addr, script: script}
}

// addressFor returns the address and output script of pub for kind; a
// P2TR output commits to pub with no script tree (BIP86).
func addressFor(params *chaincfg.Params, pub *btcec.PublicKey, kind string) (string, []byte) {
	var (
		a   address.Address
		err error
	)
	switch kind {
	case P2PKH:
		a, err = address.NewAddressPubKeyHash(address.Hash160(pub.SerializeCompressed()), params)
	case P2WPKH:
		a, err = address.NewAddressWitnessPubKeyHash(address.Hash160(pub.SerializeCompressed()), params)
	case P2TR:
		a, err = address.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(pub)), params)
	default:
		panic(fmt.Sprintf("devnet: unknown address kind %q (want %s, %s or %s)", kind, P2PKH, P2WPKH, P2TR))
	}
	if err != nil {
		panic(fmt.Sprintf("devnet: %s address: %v", kind, err)) // fixed-size inputs: cannot happen
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		panic(fmt.Sprintf("devnet: %s script: %v", kind, err))
	}
	return a.EncodeAddress(), script
}

// Balance returns the total value of the wallet's spendable outputs
// (mature coinbases, confirmed and own unconfirmed outputs).
func (w *Wallet) Balance() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var sum int64
	for _, c := range w.spendable() {
		sum += c.value
	}
	return sum
}

// Unspent lists the wallet's spendable outputs as of its last scan.
func (w *Wallet) Unspent() []Unspent {
	w.mu.Lock()
	defer w.mu.Unlock()
	sp := w.spendable()
	out := make([]Unspent, len(sp))
	for i, c := range sp {
		out[i] = Unspent{
			OutPoint: chains.OutPoint{TxID: toChains(c.op.Hash), Index: c.op.Index},
			Value:    c.value, Kind: c.key.kind, Addr: c.key.addr, Height: c.height, Coinbase: c.coinbase,
		}
	}
	return out
}

// spendable returns the coins that can go into the next block: all but
// immature coinbases.
func (w *Wallet) spendable() []*coin {
	next := int64(len(w.hashes)) // height of the next block
	out := make([]*coin, 0, len(w.coins))
	for _, c := range w.coins {
		if c.coinbase && next-c.height < int64(w.params.CoinbaseMaturity) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (w *Wallet) addCoin(c *coin) {
	w.index[c.op] = len(w.coins)
	w.coins = append(w.coins, c)
}

func (w *Wallet) removeCoin(op wire.OutPoint) {
	i, ok := w.index[op]
	if !ok {
		return
	}
	last := w.coins[len(w.coins)-1]
	w.coins[i] = last
	w.index[last.op] = i
	w.coins = w.coins[:len(w.coins)-1]
	delete(w.index, op)
}

// applyTx records tx's effect: spent inputs leave, outputs to our keys
// join (or get their height if we already hold them as unconfirmed).
func (w *Wallet) applyTx(tx *wire.MsgTx, height int64, coinbase bool, seq int) {
	if !coinbase {
		for _, in := range tx.TxIn {
			w.removeCoin(in.PreviousOutPoint)
		}
	}
	txid := tx.TxHash()
	for i, out := range tx.TxOut {
		k := w.keys[string(out.PkScript)]
		if k == nil {
			continue
		}
		op := wire.OutPoint{Hash: txid, Index: uint32(i)}
		if j, ok := w.index[op]; ok {
			w.coins[j].height = height
			continue
		}
		w.addCoin(&coin{op: op, value: out.Value, key: k, height: height, coinbase: coinbase, seq: seq})
	}
}

// backend is what the wallet needs from a node; *Btcd implements it and
// the unit tests use an in-memory chain.
type backend interface {
	Tip(ctx context.Context) (int64, chains.Hash, error)
	Generate(ctx context.Context, n int) ([]chains.Hash, error)
	blockHashes(ctx context.Context, from, to int64) ([]chains.Hash, error)
	blocks(ctx context.Context, hashes []chains.Hash) ([]*wire.MsgBlock, error)
	mempool(ctx context.Context) ([]chains.Hash, error)
	submit(ctx context.Context, txs []*wire.MsgTx) ([]error, error)
}

// Scan reads the node's best chain from where the last scan stopped and
// records the wallet's outputs and spends. If the chain the wallet saw was
// reorganized away, it rescans from genesis and keeps its own unconfirmed
// transactions that are still in the node's mempool.
func (w *Wallet) Scan(ctx context.Context, node *Btcd) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.scan(ctx, node)
}

func (w *Wallet) scan(ctx context.Context, be backend) error {
	restart, err := w.scanOnce(ctx, be)
	if err != nil || !restart {
		return err
	}
	return w.rescan(ctx, be)
}

// scanOnce extends the scanned chain to the node's tip. It reports
// restart when the chain no longer extends what the wallet saw.
func (w *Wallet) scanOnce(ctx context.Context, be backend) (restart bool, err error) {
	height, tip, err := be.Tip(ctx)
	if err != nil {
		return false, fmt.Errorf("devnet: scan: %w", err)
	}
	have := int64(len(w.hashes))
	if have > 0 {
		if w.hashes[have-1] == tip {
			return false, nil
		}
		if have-1 > height {
			return true, nil
		}
		hs, err := be.blockHashes(ctx, have-1, have-1)
		if err != nil {
			return false, fmt.Errorf("devnet: scan: %w", err)
		}
		if hs[0] != w.hashes[have-1] {
			return true, nil
		}
	}
	for lo := have; lo <= height; lo += batchBlocks {
		hi := min(height, lo+batchBlocks-1)
		hs, err := be.blockHashes(ctx, lo, hi)
		if err != nil {
			return false, fmt.Errorf("devnet: scan: %w", err)
		}
		blks, err := be.blocks(ctx, hs)
		if err != nil {
			return false, fmt.Errorf("devnet: scan: %w", err)
		}
		for i, blk := range blks {
			h := lo + int64(i)
			if h > 0 && toChains(blk.Header.PrevBlock) != w.hashes[h-1] {
				return true, nil
			}
			w.applyBlock(h, hs[i], blk)
		}
	}
	return false, nil
}

func (w *Wallet) applyBlock(height int64, h chains.Hash, blk *wire.MsgBlock) {
	for i, tx := range blk.Transactions {
		seq := -1
		if i > 0 {
			txid := tx.TxHash()
			if p, ok := w.pending[txid]; ok {
				seq = p.seq
				delete(w.pending, txid)
			}
		}
		w.applyTx(tx, height, i == 0, seq)
	}
	w.hashes = append(w.hashes, h)
	if len(w.pending) == 0 {
		w.pendingOrder = w.pendingOrder[:0]
	}
}

// rescan forgets the scanned chain, scans from genesis, then re-applies
// the wallet's unconfirmed transactions that the node still has.
func (w *Wallet) rescan(ctx context.Context, be backend) error {
	for try := 0; ; try++ {
		w.hashes, w.coins = nil, nil
		clear(w.index)
		restart, err := w.scanOnce(ctx, be)
		if err != nil {
			return err
		}
		if !restart {
			break
		}
		if try == 3 {
			return fmt.Errorf("devnet: rescan: the node's best chain keeps changing")
		}
	}
	pool, err := be.mempool(ctx)
	if err != nil {
		return fmt.Errorf("devnet: rescan: %w", err)
	}
	inPool := make(map[chainhash.Hash]bool, len(pool))
	for _, h := range pool {
		inPool[toWire(h)] = true
	}
	order := w.pendingOrder
	w.pendingOrder = nil
	for _, txid := range order {
		p, ok := w.pending[txid]
		if !ok {
			continue
		}
		if !inPool[txid] {
			delete(w.pending, txid)
			continue
		}
		w.applyTx(p.tx, 0, false, p.seq)
		w.pendingOrder = append(w.pendingOrder, txid)
	}
	return nil
}

// Send pays pays from the wallet's largest spendable outputs, with change
// (if any) to a new P2WPKH address, and submits the transaction. Outputs
// are in the order of pays, change last. It scans the node first.
func (w *Wallet) Send(ctx context.Context, node *Btcd, pays []Payment) (chains.Hash, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.scan(ctx, node); err != nil {
		return chains.Hash{}, err
	}
	outs, err := w.paymentOutputs(pays)
	if err != nil {
		return chains.Hash{}, err
	}
	var want int64
	for _, o := range outs {
		want += o.Value
	}
	sp := w.spendable()
	slices.SortStableFunc(sp, func(a, b *coin) int { return cmp.Compare(b.value, a.value) })
	change := w.newKey(P2WPKH)
	var ins []*coin
	var total int64
	for _, c := range sp {
		ins = append(ins, c)
		total += c.value
		if total >= want+feeFor(ins, outs, change.script) {
			break
		}
	}
	return w.finishSend(ctx, node, ins, outs, change)
}

// SendFrom spends exactly the given outputs of the wallet, pays pays and
// sends the rest, less the fee, to a new P2WPKH change address (omitted if
// below MinOutput). Outputs are in the order of pays, change last.
func (w *Wallet) SendFrom(ctx context.Context, node *Btcd, from []chains.OutPoint, pays []Payment) (chains.Hash, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.scan(ctx, node); err != nil {
		return chains.Hash{}, err
	}
	outs, err := w.paymentOutputs(pays)
	if err != nil {
		return chains.Hash{}, err
	}
	ok := make(map[wire.OutPoint]*coin)
	for _, c := range w.spendable() {
		ok[c.op] = c
	}
	ins := make([]*coin, 0, len(from))
	for _, op := range from {
		c := ok[wire.OutPoint{Hash: toWire(op.TxID), Index: op.Index}]
		if c == nil {
			return chains.Hash{}, fmt.Errorf("%w: %s", ErrUnknownCoin, op)
		}
		ins = append(ins, c)
	}
	return w.finishSend(ctx, node, ins, outs, w.newKey(P2WPKH))
}

func (w *Wallet) finishSend(ctx context.Context, be backend, ins []*coin, outs []*wire.TxOut, change *walletKey) (chains.Hash, error) {
	var total, want int64
	for _, c := range ins {
		total += c.value
	}
	for _, o := range outs {
		want += o.Value
	}
	if len(ins) == 0 {
		return chains.Hash{}, fmt.Errorf("%w: no spendable outputs", ErrInsufficientFunds)
	}
	if rest := total - want - feeFor(ins, outs, change.script); rest >= MinOutput {
		outs = append(outs, wire.NewTxOut(rest, change.script))
	} else if total-want < feeFor(ins, outs, nil) {
		return chains.Hash{}, fmt.Errorf("%w: have %d sat, need %d plus fee", ErrInsufficientFunds, total, want)
	}
	tx, err := w.buildTx(ins, outs)
	if err != nil {
		return chains.Hash{}, err
	}
	errs, err := be.submit(ctx, []*wire.MsgTx{tx})
	if err != nil {
		return chains.Hash{}, err
	}
	if errs[0] != nil {
		return chains.Hash{}, errs[0]
	}
	w.record(tx)
	return toChains(tx.TxHash()), nil
}

// record applies a transaction the node accepted to the wallet and keeps
// it as pending until a scanned block holds it.
func (w *Wallet) record(tx *wire.MsgTx) {
	txid := tx.TxHash()
	w.pending[txid] = &pendingTx{tx: tx, seq: w.built}
	w.pendingOrder = append(w.pendingOrder, txid)
	w.applyTx(tx, 0, false, w.built)
	w.built++
}

func (w *Wallet) paymentOutputs(pays []Payment) ([]*wire.TxOut, error) {
	if len(pays) == 0 {
		return nil, fmt.Errorf("%w: no payments", ErrBadPayment)
	}
	outs := make([]*wire.TxOut, len(pays))
	for i, p := range pays {
		a, err := address.DecodeAddress(p.Addr, w.params)
		if err != nil || !a.IsForNet(w.params) {
			return nil, fmt.Errorf("%w: address %q is not a %s address", ErrBadPayment, p.Addr, w.params.Name)
		}
		if p.Value < MinOutput {
			return nil, fmt.Errorf("%w: %d sat to %s is below %d", ErrBadPayment, p.Value, p.Addr, MinOutput)
		}
		script, err := txscript.PayToAddrScript(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadPayment, p.Addr, err)
		}
		outs[i] = wire.NewTxOut(p.Value, script)
	}
	return outs, nil
}

// buildTx makes and signs a version-2 transaction spending ins.
func (w *Wallet) buildTx(ins []*coin, outs []*wire.TxOut) (*wire.MsgTx, error) {
	tx := wire.NewMsgTx(2)
	for _, c := range ins {
		tx.AddTxIn(wire.NewTxIn(&c.op, nil, nil))
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	if err := signTx(tx, ins); err != nil {
		return nil, err
	}
	return tx, nil
}

// signTx signs every input: P2PKH with a legacy ECDSA scriptSig, P2WPKH
// with a BIP143 ECDSA witness, P2TR with a BIP341 key-path Schnorr
// signature (SIGHASH_DEFAULT) by the BIP86-tweaked key. The sighashes
// come from txscript with a fetcher of every input's previous output
// (taproot commits to all their amounts and scripts). The keys' public
// halves are cached, and Schnorr signing skips its self-check (btcd checks
// every input on submission): elliptic-curve work is what makes Populate
// slow under the race detector.
func signTx(tx *wire.MsgTx, ins []*coin) error {
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	for _, c := range ins {
		prevs.AddPrevOut(c.op, wire.NewTxOut(c.value, c.key.script))
	}
	hashes := txscript.NewTxSigHashes(tx, prevs)
	for i, c := range ins {
		if err := signInput(tx, i, c, hashes, prevs); err != nil {
			return fmt.Errorf("devnet: sign input %d (%s): %w", i, c.key.kind, err)
		}
	}
	return nil
}

func signInput(tx *wire.MsgTx, i int, c *coin, hashes *txscript.TxSigHashes, prevs txscript.PrevOutputFetcher) error {
	k := c.key
	switch k.kind {
	case P2PKH:
		sig, err := txscript.RawTxInSignature(tx, i, k.script, txscript.SigHashAll, k.priv)
		if err != nil {
			return err
		}
		script, err := txscript.NewScriptBuilder().AddData(sig).AddData(k.pub).Script()
		if err != nil {
			return err
		}
		tx.TxIn[i].SignatureScript = script
	case P2WPKH:
		sig, err := txscript.RawTxInWitnessSignature(tx, hashes, i, c.value, k.script, txscript.SigHashAll, k.priv)
		if err != nil {
			return err
		}
		tx.TxIn[i].Witness = wire.TxWitness{sig, k.pub}
	case P2TR:
		if k.tweaked == nil {
			k.tweaked = txscript.TweakTaprootPrivKey(*k.priv, nil)
		}
		hash, err := txscript.CalcTaprootSignatureHash(hashes, txscript.SigHashDefault, tx, i, prevs)
		if err != nil {
			return err
		}
		sig, err := schnorr.Sign(k.tweaked, hash, schnorr.FastSign())
		if err != nil {
			return err
		}
		tx.TxIn[i].Witness = wire.TxWitness{sig.Serialize()}
	default:
		return fmt.Errorf("unknown kind %q", k.kind)
	}
	return nil
}

// Weight upper bounds, in weight units, of the parts of a transaction.
const (
	wuOverhead   = 4 * (4 + 4)      // version, lock time
	wuSegwitFlag = 2                // marker and flag
	wuInBase     = 4 * (32 + 4 + 4) // outpoint, sequence
	wuP2PKHIn    = 4 * (1 + 1 + 72 + 1 + 33)
	wuP2WPKHIn   = 4*1 + (1 + 1 + 72 + 1 + 33)
	wuP2TRIn     = 4*1 + (1 + 1 + 64)
)

// weightFor is an upper bound of the weight of a transaction with these
// inputs and output scripts.
func weightFor(ins []*coin, scripts [][]byte) int64 {
	wu := int64(wuOverhead + 4*(varIntLen(len(ins))+varIntLen(len(scripts))))
	segwit := false
	for _, c := range ins {
		if c.key.kind != P2PKH {
			segwit = true
		}
	}
	if segwit {
		wu += wuSegwitFlag
	}
	for _, c := range ins {
		wu += wuInBase
		switch c.key.kind {
		case P2PKH:
			wu += wuP2PKHIn
			if segwit {
				wu++ // empty witness
			}
		case P2WPKH:
			wu += wuP2WPKHIn
		case P2TR:
			wu += wuP2TRIn
		}
	}
	for _, s := range scripts {
		wu += int64(4 * (8 + varIntLen(len(s)) + len(s)))
	}
	return wu
}

// feeFor returns the fee for spending ins into outs plus, if change is not
// nil, one more output with that script.
func feeFor(ins []*coin, outs []*wire.TxOut, change []byte) int64 {
	scripts := make([][]byte, 0, len(outs)+1)
	for _, o := range outs {
		scripts = append(scripts, o.PkScript)
	}
	if change != nil {
		scripts = append(scripts, change)
	}
	return (weightFor(ins, scripts) + 3) / 4 * FeeRate
}

func varIntLen(n int) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	default:
		return 5
	}
}

// serialize returns tx's wire form with witnesses.
func serialize(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	buf.Grow(tx.SerializeSize())
	_ = tx.Serialize(&buf) // writes to memory: cannot fail
	return buf.Bytes()
}
