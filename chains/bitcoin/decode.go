package bitcoin

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/fundtrace/fundtrace/chains"
)

// ErrMalformed is wrapped by every error of DecodeBlock and DecodeTx: the
// bytes are not a well-formed block or transaction. The message says what
// is wrong and where (transaction, input or output index).
var ErrMalformed = errors.New("bitcoin: malformed block or transaction")

const (
	// maxMoney is the most satoshi that can ever exist: 21,000,000 BTC.
	maxMoney = 21_000_000 * 100_000_000
	// maxBlockBytes is the largest serialized block (or transaction) that
	// a block weight of at most 4,000,000 allows.
	maxBlockBytes = 4_000_000

	blockHeaderSize = 80
	// Smallest serializations, used to reject counts that cannot fit in
	// the bytes left before anything is allocated for them.
	minTxSize     = 10 // version, 2 empty counts, lock time
	minInputSize  = 41 // outpoint, empty script, sequence
	minOutputSize = 9  // value, empty script
)

// Errors of the low-level readers; callers add where they happened.
var (
	errEOF          = errors.New("unexpected end of data")
	errNonCanonical = errors.New("non-canonical compact size")
)

// DecodeBlock decodes a serialized block (header and transactions, witness
// serialization allowed) at the given height into chains.Block. Hashes are
// in display order, Size counts witness bytes and Weight is base size*3 +
// total size. Every output is classified and gets its address on this
// network (see ClassifyScript).
//
// It rejects, with an error wrapping ErrMalformed: truncated or trailing
// bytes, a block without transactions, a first transaction that is not a
// coinbase, a null previous output outside it, output values above
// 21,000,000 BTC (alone or summed per transaction), non-canonical compact
// sizes, an unknown segwit flag or an empty witness section, and blocks over
// 4,000,000 bytes. Every count is checked against the bytes left before
// anything is allocated for it, so memory stays proportional to len(raw):
// about 2x for real blocks (output scripts are copied), at most ~30x for
// crafted ones. It never panics. It does not verify proof of work, the Merkle
// root or scripts.
//
// The result does not alias raw: output scripts are copied into one buffer
// per block, so raw may be reused once DecodeBlock returns.
func (n *Network) DecodeBlock(raw []byte, height int64) (chains.Block, error) {
	blk, err := n.decodeBlock(raw, height)
	if err != nil {
		return chains.Block{}, fmt.Errorf("%w: block at height %d: %w", ErrMalformed, height, err)
	}
	return blk, nil
}

// DecodeTx decodes one serialized transaction, e.g. from getrawtransaction.
// Coinbase is set when it has the coinbase shape (one input spending the
// null outpoint). Errors wrap ErrMalformed, as for DecodeBlock.
func (n *Network) DecodeTx(raw []byte) (chains.Tx, error) {
	tx, err := n.decodeTx(raw)
	if err != nil {
		return chains.Tx{}, fmt.Errorf("%w: transaction: %w", ErrMalformed, err)
	}
	return tx, nil
}

func (n *Network) decodeBlock(raw []byte, height int64) (chains.Block, error) {
	if len(raw) > maxBlockBytes {
		return chains.Block{}, fmt.Errorf("%d bytes, more than the %d a block can have", len(raw), maxBlockBytes)
	}
	if len(raw) < blockHeaderSize {
		return chains.Block{}, fmt.Errorf("header: %w (%d bytes, want %d)", errEOF, len(raw), blockHeaderSize)
	}
	blk := chains.Block{
		Height:  height,
		Version: int32(binary.LittleEndian.Uint32(raw[0:4])),
		Time:    int64(binary.LittleEndian.Uint32(raw[68:72])),
		Bits:    binary.LittleEndian.Uint32(raw[72:76]),
		Nonce:   binary.LittleEndian.Uint32(raw[76:80]),
		Size:    len(raw),
	}
	first := sha256.Sum256(raw[:blockHeaderSize])
	blk.Hash = displayHash(sha256.Sum256(first[:]))
	copyReversed(blk.PrevHash[:], raw[4:36])
	copyReversed(blk.MerkleRoot[:], raw[36:68])

	d := decoder{n: n, b: raw}
	count, pos, err := d.count(blockHeaderSize, minTxSize)
	if err != nil {
		return chains.Block{}, fmt.Errorf("transaction count: %w", err)
	}
	if count == 0 {
		return chains.Block{}, errors.New("no transactions (a block needs at least its coinbase)")
	}
	baseSize := pos // header and count
	// Reserve for the count, but no more than real transactions (at least
	// 60 bytes with an input and an output) could fill; typical blocks
	// have ~2 inputs and ~2.5 outputs per transaction. A hostile count so
	// reserves at most ~4 times len(raw).
	txs := make([]chains.Tx, 0, min(count, len(raw)/60))
	d.ins = make([]chains.Input, 0, min(2*count, len(raw)/64))
	d.outs = make([]chains.Output, 0, min(3*count, len(raw)/32))
	for i := 0; i < count; i++ {
		tx, end, nullIn, err := d.tx(pos)
		if err != nil {
			return chains.Block{}, fmt.Errorf("tx %d: %w", i, err)
		}
		switch {
		case i == 0 && !tx.Coinbase:
			return chains.Block{}, fmt.Errorf("tx 0 (%s) is not a coinbase", tx.Hash)
		case i > 0 && nullIn >= 0:
			return chains.Block{}, fmt.Errorf("tx %d (%s) input %d: spends the null outpoint but only the first transaction may be a coinbase", i, tx.Hash, nullIn)
		}
		baseSize += (tx.Weight - tx.Size) / 3
		txs = append(txs, tx)
		pos = end
	}
	if pos != len(raw) {
		return chains.Block{}, fmt.Errorf("%d trailing bytes after the last transaction", len(raw)-pos)
	}
	blk.Weight = baseSize*3 + len(raw)
	d.finish(txs)
	blk.Txs = txs
	return blk, nil
}

func (n *Network) decodeTx(raw []byte) (chains.Tx, error) {
	if len(raw) > maxBlockBytes {
		return chains.Tx{}, fmt.Errorf("%d bytes, more than the %d a block can have", len(raw), maxBlockBytes)
	}
	d := decoder{n: n, b: raw}
	tx, end, nullIn, err := d.tx(0)
	if err != nil {
		return chains.Tx{}, err
	}
	if !tx.Coinbase && nullIn >= 0 {
		return chains.Tx{}, fmt.Errorf("%s input %d: spends the null outpoint but is not a coinbase", tx.Hash, nullIn)
	}
	if end != len(raw) {
		return chains.Tx{}, fmt.Errorf("%d trailing bytes after the transaction", len(raw)-end)
	}
	txs := [1]chains.Tx{tx}
	d.finish(txs[:])
	return txs[0], nil
}

// decoder walks a serialized block or transaction. Inputs and outputs of
// all transactions are appended to two shared slices (few allocations per
// block); output scripts alias the input bytes until finish copies them.
type decoder struct {
	n           *Network
	b           []byte
	ins         []chains.Input
	outs        []chains.Output
	scriptBytes int
	h           hash.Hash // reused for witness txids
	sum         []byte
}

// count reads a compact size at pos that counts items of at least minEach
// bytes, and checks that they can fit in the bytes left.
func (d *decoder) count(pos, minEach int) (int, int, error) {
	v, pos, err := d.compactSize(pos)
	if err != nil {
		return 0, pos, err
	}
	left := uint64(len(d.b) - pos)
	if v > left/uint64(minEach) {
		return 0, pos, fmt.Errorf("count %d cannot fit in the %d bytes left: %w", v, left, errEOF)
	}
	return int(v), pos, nil
}

// compactSize reads Bitcoin's variable-length integer at pos, rejecting
// non-canonical encodings as Bitcoin Core and btcd do.
func (d *decoder) compactSize(pos int) (uint64, int, error) {
	b := d.b
	if pos >= len(b) {
		return 0, pos, errEOF
	}
	var v, min uint64
	switch p := b[pos]; p {
	case 0xfd:
		if len(b)-pos < 3 {
			return 0, pos, errEOF
		}
		v, min = uint64(binary.LittleEndian.Uint16(b[pos+1:])), 0xfd
		pos += 3
	case 0xfe:
		if len(b)-pos < 5 {
			return 0, pos, errEOF
		}
		v, min = uint64(binary.LittleEndian.Uint32(b[pos+1:])), 0x10000
		pos += 5
	case 0xff:
		if len(b)-pos < 9 {
			return 0, pos, errEOF
		}
		v, min = binary.LittleEndian.Uint64(b[pos+1:]), 0x100000000
		pos += 9
	default:
		return uint64(p), pos + 1, nil
	}
	if v < min {
		return 0, pos, errNonCanonical
	}
	return v, pos, nil
}

// skip reads a length-prefixed byte string at pos and returns its bounds.
func (d *decoder) skip(pos int) (start, end int, err error) {
	l, start, err := d.count(pos, 1)
	if err != nil {
		return 0, pos, err
	}
	return start, start + l, nil
}

// tx decodes the transaction starting at start. It returns the end offset
// and the index of the first input spending the null outpoint (-1 if none).
// tx.Inputs and tx.Outputs are provisional (only their lengths count) until
// finish.
func (d *decoder) tx(start int) (tx chains.Tx, end, nullIn int, err error) {
	b := d.b
	nullIn = -1
	if len(b)-start < minTxSize {
		return tx, 0, nullIn, errEOF
	}
	tx.Version = int32(binary.LittleEndian.Uint32(b[start:]))
	pos := start + 4
	segwit := false
	if b[pos] == 0x00 { // BIP144 marker; the flag must be 1
		if b[pos+1] != 0x01 {
			return tx, 0, nullIn, fmt.Errorf("segwit marker followed by flag 0x%02x, want 0x01", b[pos+1])
		}
		segwit = true
		pos += 2
	}

	nIn, pos, err := d.count(pos, minInputSize)
	if err != nil {
		return tx, 0, nullIn, fmt.Errorf("input count: %w", err)
	}
	inStart := len(d.ins)
	d.ins = slices.Grow(d.ins, nIn)
	for i := 0; i < nIn; i++ {
		// count guaranteed 41 bytes per input, but scripts may use them up.
		if len(b)-pos < 36 {
			return tx, 0, nullIn, fmt.Errorf("input %d: outpoint: %w", i, errEOF)
		}
		var in chains.Input
		copyReversed(in.Prev.TxID[:], b[pos:pos+32])
		in.Prev.Index = binary.LittleEndian.Uint32(b[pos+32:])
		if in.Prev.Index == 0xffffffff && in.Prev.TxID.IsZero() && nullIn < 0 {
			nullIn = i
		}
		_, scriptEnd, err := d.skip(pos + 36)
		if err != nil {
			return tx, 0, nullIn, fmt.Errorf("input %d: script: %w", i, err)
		}
		pos = scriptEnd
		if len(b)-pos < 4 {
			return tx, 0, nullIn, fmt.Errorf("input %d: sequence: %w", i, errEOF)
		}
		in.Sequence = binary.LittleEndian.Uint32(b[pos:])
		pos += 4
		d.ins = append(d.ins, in)
	}

	nOut, pos, err := d.count(pos, minOutputSize)
	if err != nil {
		return tx, 0, nullIn, fmt.Errorf("output count: %w", err)
	}
	outStart := len(d.outs)
	d.outs = slices.Grow(d.outs, nOut)
	var total uint64
	for j := 0; j < nOut; j++ {
		if len(b)-pos < 8 {
			return tx, 0, nullIn, fmt.Errorf("output %d: value: %w", j, errEOF)
		}
		v := binary.LittleEndian.Uint64(b[pos:])
		if v > maxMoney {
			if int64(v) < 0 {
				return tx, 0, nullIn, fmt.Errorf("output %d: negative value %d sat", j, int64(v))
			}
			return tx, 0, nullIn, fmt.Errorf("output %d: value %d sat is more than 21,000,000 BTC", j, v)
		}
		total += v
		if total > maxMoney {
			return tx, 0, nullIn, fmt.Errorf("output %d: outputs add up to %d sat, more than 21,000,000 BTC", j, total)
		}
		s, e, err := d.skip(pos + 8)
		if err != nil {
			return tx, 0, nullIn, fmt.Errorf("output %d: script: %w", j, err)
		}
		script := b[s:e:e]
		typ, addr := d.n.ClassifyScript(script)
		d.outs = append(d.outs, chains.Output{Value: v, ScriptType: typ, Address: addr, Script: script})
		d.scriptBytes += len(script)
		pos = e
	}

	witStart := pos
	if segwit {
		any := false
		for i := 0; i < nIn; i++ {
			items, p, err := d.count(pos, 1)
			if err != nil {
				return tx, 0, nullIn, fmt.Errorf("input %d: witness item count: %w", i, err)
			}
			pos = p
			any = any || items > 0
			for k := 0; k < items; k++ {
				_, e, err := d.skip(pos)
				if err != nil {
					return tx, 0, nullIn, fmt.Errorf("input %d: witness item %d: %w", i, k, err)
				}
				pos = e
			}
		}
		if !any {
			return tx, 0, nullIn, errors.New("segwit flag set but every witness is empty")
		}
	}
	if len(b)-pos < 4 {
		return tx, 0, nullIn, fmt.Errorf("lock time: %w", errEOF)
	}
	tx.LockTime = binary.LittleEndian.Uint32(b[pos:])
	end = pos + 4

	tx.Size = end - start
	base := tx.Size
	if segwit {
		base -= 2 + (pos - witStart) // marker, flag and witnesses
	}
	tx.Weight = base*3 + tx.Size
	tx.Hash = d.txid(start, witStart, end, segwit)
	tx.Inputs = d.ins[inStart:len(d.ins):len(d.ins)]
	tx.Outputs = d.outs[outStart:len(d.outs):len(d.outs)]
	if nIn == 1 && nullIn == 0 {
		tx.Coinbase = true
		tx.Inputs[0].Prev = chains.OutPoint{}
	}
	return tx, end, nullIn, nil
}

// txid hashes the transaction without its marker, flag and witnesses,
// straight from the input bytes.
func (d *decoder) txid(start, witStart, end int, segwit bool) chains.Hash {
	var first [32]byte
	if !segwit {
		first = sha256.Sum256(d.b[start:end])
	} else {
		if d.h == nil {
			d.h = sha256.New()
			d.sum = make([]byte, 0, sha256.Size)
		}
		d.h.Reset()
		d.h.Write(d.b[start : start+4])
		d.h.Write(d.b[start+6 : witStart])
		d.h.Write(d.b[end-4 : end])
		copy(first[:], d.h.Sum(d.sum[:0]))
	}
	return displayHash(sha256.Sum256(first[:]))
}

// finish gives every transaction its final inputs and outputs (sub-slices
// of the shared slices, which may have moved while growing) and copies the
// output scripts out of the input bytes into one buffer.
func (d *decoder) finish(txs []chains.Tx) {
	scripts := make([]byte, 0, d.scriptBytes)
	for j := range d.outs {
		s := len(scripts)
		scripts = append(scripts, d.outs[j].Script...)
		d.outs[j].Script = scripts[s:len(scripts):len(scripts)]
	}
	in, out := 0, 0
	for i := range txs {
		nIn, nOut := len(txs[i].Inputs), len(txs[i].Outputs)
		txs[i].Inputs = d.ins[in : in+nIn : in+nIn]
		txs[i].Outputs = d.outs[out : out+nOut : out+nOut]
		in += nIn
		out += nOut
	}
}

// displayHash turns a hash in wire (internal) byte order into display order.
func displayHash(wire [32]byte) chains.Hash {
	var h chains.Hash
	copyReversed(h[:], wire[:])
	return h
}

// copyReversed copies src into dst in reverse byte order; len(dst) ==
// len(src).
func copyReversed(dst, src []byte) {
	for i, j := 0, len(src)-1; j >= 0; i, j = i+1, j-1 {
		dst[i] = src[j]
	}
}
