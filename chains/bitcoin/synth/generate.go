package synth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/fundtrace/fundtrace/chains"
)

// Summary describes a generated chain. Every count covers all blocks
// written, the genesis block included, and is tallied while generating,
// independently of the serialized bytes, so tests can compare an index of
// the chain against it.
type Summary struct {
	Chain     chains.ID   // always chains.BTCRegtest
	Blocks    int64       // blocks written, genesis included (tip height + 1)
	TipHeight int64       // height of the last block
	TipHash   chains.Hash // hash of the last block, display order
	Txs       int64       // all transactions, coinbases included
	Coinbases int64       // coinbase transactions (one per block)
	Inputs    int64       // inputs spending a previous output (coinbase inputs excluded)
	Outputs   int64       // all outputs, OP_RETURN outputs included
	OpReturns int64       // OP_RETURN outputs, witness commitments included
	// Addresses is the number of distinct addresses paid, counting the
	// genesis block's P2PK output as one.
	Addresses int64
	// ScriptTypes counts outputs by script type (sums to Outputs).
	ScriptTypes map[chains.ScriptType]int64
	TotalFees   uint64 // sum of all fees, in satoshi
	// TotalSubsidy is the newly issued value, genesis included. Because
	// every coinbase claims exactly subsidy plus fees, it equals
	// UnspentValue.
	TotalSubsidy uint64
	Unspent      int64  // spendable outputs left unspent at the tip, genesis included
	UnspentValue uint64 // their value, in satoshi
	Bytes        int64  // sum of serialized block sizes
	Files        int    // blk*.dat files written (0 for Generate)
	FileBytes    int64  // size of those files, record headers included
}

// Generate builds the chain described by cfg and calls emit with each
// serialized block in height order, genesis first. The slice passed to emit
// is reused afterwards; emit must copy it to keep it. Generate checks ctx
// between blocks and stops at the first error from emit.
func Generate(ctx context.Context, cfg Config, emit func(height int, block []byte) error) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	g := newGenerator(cfg)
	if err := g.genesis(emit); err != nil {
		return Summary{}, err
	}
	for h := 1; h <= cfg.Blocks; h++ {
		if err := ctx.Err(); err != nil {
			return Summary{}, fmt.Errorf("generate block %d: %w", h, err)
		}
		block, err := g.nextBlock(h)
		if err != nil {
			return Summary{}, fmt.Errorf("generate block %d: %w", h, err)
		}
		if err := emit(h, block); err != nil {
			return Summary{}, fmt.Errorf("emit block %d: %w", h, err)
		}
	}
	return g.summary(), nil
}

// Distribution parameters, in percent unless noted.
const (
	minOutput            = 546 // smallest value output (the P2PKH dust limit)
	chainedPct           = 3   // txs that spend an output created earlier in the same block
	opReturnPct          = 6   // txs that carry an OP_RETURN output (about 2% of outputs)
	reusePct             = 20  // payments to an address paid before
	changeReusePct       = 10  // change sent back to the first input's address
	newWalletPct         = 10  // fresh payment addresses that start a new wallet
	recentPct            = 40  // first inputs drawn from the most recently added outputs
	recentWindow         = 4096
	firstInputCandidates = 3  // the largest of these random outputs is spent first
	roundPaymentPct      = 50 // payments rounded to two significant digits
	maxBlockInterval     = 1200
	blockVersion         = 0x20000000 // BIP9 version bits, no signalling
	numMiners            = 5
	coinbaseExtraData    = "/fundtrace-synth/"
)

// scriptMix is the type distribution of fresh payment addresses, in parts
// of 98 (the remaining 2% of outputs are OP_RETURN, added per transaction).
var scriptMix = [...]struct {
	t      chains.ScriptType
	weight int
}{
	{chains.ScriptP2WPKH, 45},
	{chains.ScriptP2TR, 25},
	{chains.ScriptP2SH, 15},
	{chains.ScriptP2PKH, 10},
	{chains.ScriptP2WSH, 3},
}

const scriptMixTotal = 98

var errNoFunds = errors.New("synth: no spendable outputs left")

// utxo is one spendable output. The type and owner come from its address.
type utxo struct {
	txid  [32]byte // internal byte order
	value uint64
	addr  uint32
	vout  uint32
	wpos  int32 // position in the owner's wallet list while in the pool
}

type immature struct {
	u      utxo
	height int
}

const (
	newAddr   = ^uint32(0)
	newWallet = ^uint32(0)
)

// outPlan is one planned output. New addresses and wallets are only
// allocated once the transaction is final.
type outPlan struct {
	t       chains.ScriptType
	addr    uint32 // existing address, or newAddr
	wallet  uint32 // owner of a new address, or newWallet
	value   uint64
	change  bool
	dataLen int // OP_RETURN payload size
}

type generator struct {
	cfg  Config
	src  *rand.ChaCha8
	rng  *rand.Rand
	salt uint64
	hs   *hasher

	// Addresses and wallets: address ids index these slices.
	addrType   []chains.ScriptType
	addrWallet []uint32
	wallets    [][]int32 // per wallet: indexes into pool
	miners     [numMiners]uint32

	pool     []utxo     // mature, spendable outputs of earlier blocks
	pending  []utxo     // outputs created in the current block
	immature []immature // coinbase outputs waiting for maturity, by height

	// Per-block scratch.
	txs    []byte
	txids  [][32]byte
	wtxids [][32]byte
	block  []byte
	fees   uint64
	prev   [32]byte
	time   uint32

	// Per-transaction scratch.
	ins, wit []byte
	spent    []utxo
	outs     []outPlan
	segwit   bool
	key      [32]byte
	data     [80]byte

	sum          Summary
	byType       [16]int64
	genesisValue uint64
}

func newGenerator(cfg Config) *generator {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(cfg.Seed))
	copy(seed[8:], "fundtrace/synth/v1")
	src := rand.NewChaCha8(seed)
	g := &generator{
		cfg:  cfg,
		src:  src,
		rng:  rand.New(src),
		hs:   newHasher(),
		time: uint32(cfg.StartTime),
	}
	g.salt = g.rng.Uint64()
	// Size the big slices up front (about one unspent output and 2.3
	// addresses per transaction) to avoid copying them as they grow.
	txs := int(cfg.TotalTxs())
	g.pool = make([]utxo, 0, txs+txs/8+cfg.Blocks)
	g.addrType = make([]chains.ScriptType, 0, txs*5/2+numMiners)
	g.addrWallet = make([]uint32, 0, cap(g.addrType))
	g.wallets = make([][]int32, 0, txs/8+numMiners)
	g.sum.Chain = chains.BTCRegtest
	// Miners: each its own wallet, paid by every coinbase it mines.
	minerTypes := [numMiners]chains.ScriptType{
		chains.ScriptP2WPKH, chains.ScriptP2WPKH, chains.ScriptP2WPKH, chains.ScriptP2TR, chains.ScriptP2PKH,
	}
	for i, t := range minerTypes {
		g.miners[i] = g.allocAddr(t, newWallet)
	}
	return g
}

// allocAddr creates an address of type t owned by wallet w (a new wallet
// for newWallet) and returns its id.
func (g *generator) allocAddr(t chains.ScriptType, w uint32) uint32 {
	if w == newWallet {
		w = uint32(len(g.wallets))
		g.wallets = append(g.wallets, nil)
	}
	id := uint32(len(g.addrType))
	g.addrType = append(g.addrType, t)
	g.addrWallet = append(g.addrWallet, w)
	return id
}

// derive fills g.key with 32 bytes of key material for address id in the
// given domain (0 script hash or key, 1 public key, 2+ further keys).
func (g *generator) derive(id uint32, domain uint64) []byte {
	x := splitmix64(g.salt ^ (uint64(id)<<8 | domain))
	for i := 0; i < 32; i += 8 {
		x = splitmix64(x)
		binary.LittleEndian.PutUint64(g.key[i:], x)
	}
	return g.key[:]
}

func (g *generator) summary() Summary {
	s := g.sum
	s.Addresses = int64(len(g.addrType)) + 1 // + the genesis P2PK
	s.ScriptTypes = make(map[chains.ScriptType]int64)
	for t, n := range g.byType {
		if n != 0 {
			s.ScriptTypes[chains.ScriptType(t)] = n
		}
	}
	s.Unspent = 1 + int64(len(g.pool)+len(g.pending)+len(g.immature))
	s.UnspentValue = g.genesisValue
	for i := range g.pool {
		s.UnspentValue += g.pool[i].value
	}
	for i := range g.immature {
		s.UnspentValue += g.immature[i].u.value
	}
	return s
}

// genesis emits the real regtest genesis block.
func (g *generator) genesis(emit func(int, []byte) error) error {
	gb := chaincfg.RegressionNetParams.GenesisBlock
	var buf bytes.Buffer
	if err := gb.Serialize(&buf); err != nil {
		return fmt.Errorf("serialize genesis block: %w", err)
	}
	g.prev = gb.BlockHash()
	cb := gb.Transactions[0]
	g.genesisValue = uint64(cb.TxOut[0].Value)
	g.sum.Blocks, g.sum.Txs, g.sum.Coinbases = 1, 1, 1
	g.sum.Outputs = 1
	g.sum.TotalSubsidy = g.genesisValue
	g.byType[chains.ScriptP2PK]++
	g.sum.Bytes = int64(buf.Len())
	g.sum.TipHash = displayHash(g.prev)
	if err := emit(0, buf.Bytes()); err != nil {
		return fmt.Errorf("emit block 0: %w", err)
	}
	return nil
}

func displayHash(h [32]byte) chains.Hash {
	slices.Reverse(h[:])
	return chains.Hash(h)
}

// addToPool makes u spendable and indexes it under its owner's wallet.
func (g *generator) addToPool(u utxo) {
	w := g.addrWallet[u.addr]
	u.wpos = int32(len(g.wallets[w]))
	g.wallets[w] = append(g.wallets[w], int32(len(g.pool)))
	g.pool = append(g.pool, u)
}

// takeFromPool removes and returns pool[i], swap-removing it from both the
// pool and its wallet's list.
func (g *generator) takeFromPool(i int) utxo {
	u := g.pool[i]
	w := g.addrWallet[u.addr]
	list := g.wallets[w]
	lastW := list[len(list)-1]
	list[u.wpos] = lastW
	g.pool[lastW].wpos = u.wpos
	g.wallets[w] = list[:len(list)-1]

	last := len(g.pool) - 1
	if i != last {
		moved := g.pool[last]
		g.pool[i] = moved
		g.wallets[g.addrWallet[moved.addr]][moved.wpos] = int32(i)
	}
	g.pool = g.pool[:last]
	return u
}

func subsidy(height int) uint64 {
	halvings := height / int(chaincfg.RegressionNetParams.SubsidyReductionInterval)
	if halvings >= 64 {
		return 0
	}
	return (50 * 100_000_000) >> halvings
}

// nextBlock builds the block at height and returns its serialization.
func (g *generator) nextBlock(height int) ([]byte, error) {
	// Coinbases CoinbaseMaturity blocks deep become spendable.
	n := 0
	for n < len(g.immature) && height-g.immature[n].height >= CoinbaseMaturity {
		g.addToPool(g.immature[n].u)
		n++
	}
	g.immature = g.immature[:copy(g.immature, g.immature[n:])]

	g.txs = g.txs[:0]
	g.txids = append(g.txids[:0], [32]byte{}) // coinbase, filled in below
	g.wtxids = append(g.wtxids[:0], [32]byte{})
	g.fees = 0
	count := g.cfg.TxsAt(height)
	for i := range count {
		if err := g.buildTx(height, count-i); err != nil {
			return nil, fmt.Errorf("tx %d: %w", i+1, err)
		}
	}
	for _, u := range g.pending {
		g.addToPool(u)
	}
	g.pending = g.pending[:0]

	// Witness commitment (BIP141): the coinbase's wtxid counts as zero.
	witRoot := g.hs.merkleRoot(g.wtxids)
	var reserved [32]byte
	commitment := g.hs.sum(witRoot[:], reserved[:])

	cbStart := len(g.txs)
	g.txs = g.appendCoinbase(g.txs, height, commitment)
	coinbase := g.txs[cbStart:]
	g.txids[0] = g.coinbaseTxid(coinbase)

	if height > 1 {
		g.time += uint32(1 + g.rng.IntN(maxBlockInterval))
	}
	var hdr [80]byte
	binary.LittleEndian.PutUint32(hdr[0:], blockVersion)
	copy(hdr[4:36], g.prev[:])
	root := g.hs.merkleRoot(g.txids)
	copy(hdr[36:68], root[:])
	binary.LittleEndian.PutUint32(hdr[68:], g.time)
	binary.LittleEndian.PutUint32(hdr[72:], chaincfg.RegressionNetParams.PowLimitBits)
	// Real proof of work at regtest difficulty: the target of 0x207fffff is
	// 0x7fffff<<232, so a hash whose most significant byte (the last in wire
	// order) is below 0x7f is always below it. About two tries per block.
	for nonce := g.rng.Uint32(); ; nonce++ {
		binary.LittleEndian.PutUint32(hdr[76:], nonce)
		if g.prev = g.hs.sum(hdr[:]); g.prev[31] < 0x7f {
			break
		}
	}

	b := append(g.block[:0], hdr[:]...)
	b = appendVarInt(b, uint64(count+1))
	b = append(b, coinbase...)
	b = append(b, g.txs[:cbStart]...)
	g.block = b

	g.sum.Blocks++
	g.sum.TipHeight = int64(height)
	g.sum.TipHash = displayHash(g.prev)
	g.sum.Bytes += int64(len(b))
	return b, nil
}

// appendCoinbase appends a segwit coinbase paying subsidy plus fees to one
// of the miners, followed by the witness commitment output.
func (g *generator) appendCoinbase(b []byte, height int, commitment [32]byte) []byte {
	miner := g.miners[g.rng.IntN(numMiners)]
	value := subsidy(height) + g.fees

	b = appendU32(b, 2)
	b = append(b, 0x00, 0x01) // segwit marker and flag
	b = append(b, 1)          // one input
	b = append(b, make([]byte, 32)...)
	b = appendU32(b, 0xffffffff)
	var sig [64]byte
	s := appendScriptNum(sig[:0], int64(height)) // BIP34
	s = append(s, 8)
	s = appendU64(s, g.rng.Uint64()) // extra nonce
	s = append(appendPushLen(s, len(coinbaseExtraData)), coinbaseExtraData...)
	b = append(appendVarInt(b, uint64(len(s))), s...)
	b = appendU32(b, 0xffffffff)

	b = append(b, 2) // two outputs
	b = appendU64(b, value)
	t := g.addrType[miner]
	b = appendOutputScript(b, t, g.derive(miner, 0))
	b = appendU64(b, 0)
	b = append(b, 38, 0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed)
	b = append(b, commitment[:]...)

	b = append(b, 1, 32) // witness: the 32-byte reserved value
	b = append(b, make([]byte, 32)...)
	b = appendU32(b, 0) // lock time

	g.immature = append(g.immature, immature{
		u:      utxo{value: value, addr: miner, vout: 0}, // txid set by coinbaseTxid
		height: height,
	})
	g.sum.Txs++
	g.sum.Coinbases++
	g.sum.Outputs += 2
	g.sum.OpReturns++
	g.byType[t]++
	g.byType[chains.ScriptOpReturn]++
	g.sum.TotalSubsidy += subsidy(height)
	return b
}

// coinbaseTxid hashes the coinbase without its marker, flag and witness and
// records the txid on the coinbase's pending output.
func (g *generator) coinbaseTxid(cb []byte) [32]byte {
	// version(4) marker/flag(2) ... witness(1+1+32) locktime(4)
	body := cb[6 : len(cb)-4-34]
	id := g.hs.sum(cb[:4], body, cb[len(cb)-4:])
	g.immature[len(g.immature)-1].u.txid = id
	return id
}
