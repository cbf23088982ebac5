package devnet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
)

// memChain is an in-memory regtest-like node for the wallet: it mines
// deterministic blocks paying one script, and accepts a transaction only
// if every input exists, is unspent, is mature, and passes btcd's script
// engine, and if the fee covers the real virtual size at FeeRate.
type memChain struct {
	params   *chaincfg.Params
	payTo    []byte
	chain    []*wire.MsgBlock
	hashes   []chains.Hash
	pool     []*wire.MsgTx
	utxo     map[wire.OutPoint]*wire.TxOut // confirmed and mempool outputs
	cbHeight map[wire.OutPoint]int64       // coinbase outputs
	poolFees int64
}

// vsize returns a transaction's virtual size (BIP141).
func vsize(tx *wire.MsgTx) int64 {
	weight := int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
	return (weight + 3) / 4
}

var errRejected = errors.New("memchain: rejected")

func newMemChain(params *chaincfg.Params, miningAddr string) (*memChain, error) {
	a, err := address.DecodeAddress(miningAddr, params)
	if err != nil {
		return nil, err
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, err
	}
	g := params.GenesisBlock
	return &memChain{
		params:   params,
		payTo:    script,
		chain:    []*wire.MsgBlock{g},
		hashes:   []chains.Hash{toChains(g.BlockHash())},
		utxo:     map[wire.OutPoint]*wire.TxOut{},
		cbHeight: map[wire.OutPoint]int64{},
	}, nil
}

func (m *memChain) Tip(context.Context) (int64, chains.Hash, error) {
	return int64(len(m.hashes) - 1), m.hashes[len(m.hashes)-1], nil
}

func (m *memChain) subsidy(height int64) int64 {
	return 50_0000_0000 >> uint(height/int64(m.params.SubsidyReductionInterval))
}

func (m *memChain) Generate(_ context.Context, n int) ([]chains.Hash, error) {
	var out []chains.Hash
	for range n {
		height := int64(len(m.chain))
		sig, err := txscript.NewScriptBuilder().AddInt64(height).AddInt64(0).Script()
		if err != nil {
			return nil, err
		}
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), sig, nil))
		cb.AddTxOut(wire.NewTxOut(m.subsidy(height)+m.poolFees, m.payTo))
		prev := m.chain[len(m.chain)-1]
		blk := wire.NewMsgBlock(&wire.BlockHeader{
			Version:   4,
			PrevBlock: prev.BlockHash(),
			Timestamp: time.Unix(1_700_000_000+height*600, 0),
			Bits:      m.params.PowLimitBits,
			Nonce:     uint32(height),
		})
		_ = blk.AddTransaction(cb)
		for _, tx := range m.pool {
			_ = blk.AddTransaction(tx)
		}
		m.pool, m.poolFees = nil, 0
		op := wire.OutPoint{Hash: cb.TxHash(), Index: 0}
		m.utxo[op] = cb.TxOut[0]
		m.cbHeight[op] = height
		m.chain = append(m.chain, blk)
		h := toChains(blk.BlockHash())
		m.hashes = append(m.hashes, h)
		out = append(out, h)
	}
	return out, nil
}

func (m *memChain) blockHashes(_ context.Context, from, to int64) ([]chains.Hash, error) {
	if from < 0 || to >= int64(len(m.hashes)) || from > to {
		return nil, fmt.Errorf("memchain: heights %d..%d out of range", from, to)
	}
	return append([]chains.Hash(nil), m.hashes[from:to+1]...), nil
}

func (m *memChain) blocks(_ context.Context, hashes []chains.Hash) ([]*wire.MsgBlock, error) {
	out := make([]*wire.MsgBlock, 0, len(hashes))
	for _, h := range hashes {
		found := false
		for i, x := range m.hashes {
			if x == h {
				out = append(out, m.chain[i])
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("memchain: no block %s", h)
		}
	}
	return out, nil
}

func (m *memChain) mempool(context.Context) ([]chains.Hash, error) {
	out := make([]chains.Hash, len(m.pool))
	for i, tx := range m.pool {
		out[i] = toChains(tx.TxHash())
	}
	return out, nil
}

func (m *memChain) submit(_ context.Context, txs []*wire.MsgTx) ([]error, error) {
	errs := make([]error, len(txs))
	for i, tx := range txs {
		errs[i] = m.accept(tx)
	}
	return errs, nil
}

func (m *memChain) accept(tx *wire.MsgTx) error {
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	var in int64
	seen := map[wire.OutPoint]bool{}
	next := int64(len(m.chain))
	for _, ti := range tx.TxIn {
		op := ti.PreviousOutPoint
		prev, ok := m.utxo[op]
		if !ok || seen[op] {
			return fmt.Errorf("%w: input %s missing or spent", errRejected, op)
		}
		if h, cb := m.cbHeight[op]; cb && next-h < int64(m.params.CoinbaseMaturity) {
			return fmt.Errorf("%w: immature coinbase %s", errRejected, op)
		}
		seen[op] = true
		prevs.AddPrevOut(op, prev)
		in += prev.Value
	}
	var out int64
	for _, o := range tx.TxOut {
		if o.Value < MinOutput {
			return fmt.Errorf("%w: output of %d sat", errRejected, o.Value)
		}
		out += o.Value
	}
	if fee := in - out; fee < vsize(tx)*FeeRate {
		return fmt.Errorf("%w: fee %d below %d sat/vB of vsize %d", errRejected, fee, FeeRate, vsize(tx))
	}
	hashes := txscript.NewTxSigHashes(tx, prevs)
	for i, ti := range tx.TxIn {
		prev := prevs.FetchPrevOutput(ti.PreviousOutPoint)
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prev.Value, prevs)
		if err != nil {
			return fmt.Errorf("%w: input %d: %w", errRejected, i, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("%w: input %d: %w", errRejected, i, err)
		}
	}
	for _, ti := range tx.TxIn {
		delete(m.utxo, ti.PreviousOutPoint)
		delete(m.cbHeight, ti.PreviousOutPoint)
	}
	txid := tx.TxHash()
	for i, o := range tx.TxOut {
		m.utxo[wire.OutPoint{Hash: txid, Index: uint32(i)}] = o
	}
	m.pool = append(m.pool, tx)
	m.poolFees += in - out
	return nil
}

var _ backend = (*memChain)(nil)
var _ backend = (*Btcd)(nil)
