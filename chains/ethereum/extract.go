package ethereum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/holiman/uint256"
)

// ErrInconsistent is wrapped by every Extract error that says the node's
// answers about a block do not agree with each other (a receipt or trace
// missing or for another transaction, a trace that contradicts its
// transaction or receipt, an amount out of range). Such a block must not
// be indexed from these answers; asking again, or another node, may help.
var ErrInconsistent = errors.New("ethereum: node data inconsistent")

// gwei is the number of wei in a gwei (withdrawal amounts are in gwei).
const gwei = 1_000_000_000

// Extract turns what a node said about one block into a chains.Block with
// its AccountBlock: the transactions with their receipts, and every
// movement of value in the block, in event order (see the package
// documentation for the rules). It does no I/O. It returns an error
// wrapping ErrInconsistent, naming the block, the transaction and what
// differs, when the answers contradict each other; then nothing of the
// block is returned.
func Extract(p *Params, raw *RawBlock) (chains.Block, error) {
	if p == nil {
		return chains.Block{}, errors.New("ethereum: extract: nil Params")
	}
	if raw == nil || raw.Block == nil {
		return chains.Block{}, fmt.Errorf("ethereum: extract: no block: %w", ErrInconsistent)
	}
	x := &extractor{p: p, raw: raw, b: raw.Block, tokens: map[common.Address]bool{}}
	blk, err := x.run()
	if err != nil {
		return chains.Block{}, err
	}
	return blk, nil
}

// extractor holds the state of one Extract call.
type extractor struct {
	p       *Params
	raw     *RawBlock
	b       *RPCBlock
	baseFee *uint256.Int // nil before London
	traces  []*txTrace   // per transaction; nil without traces
	out     []chains.Transfer
	tokens  map[common.Address]bool
}

// txTrace is one transaction's call trace, from either trace source,
// reduced to what extraction needs.
type txTrace struct {
	top   topFrame
	inner []innerTransfer // pre-order; failed subtrees already dropped
}

// topFrame is the transaction-level frame of a trace.
type topFrame struct {
	create bool
	from   common.Address
	to     *common.Address // recipient, or the created contract (nil when unknown)
	value  *uint256.Int
	err    string // set when the frame failed
}

// innerTransfer is a value-moving frame below the top frame.
type innerTransfer struct {
	kind     chains.TransferKind
	from, to common.Address
	value    *uint256.Int
	path     string
}

func (x *extractor) errf(format string, args ...any) error {
	return fmt.Errorf("ethereum: block %d %s: %s: %w", uint64(x.b.Number), x.b.Hash.Hex(), fmt.Sprintf(format, args...), ErrInconsistent)
}

func (x *extractor) txErrf(i int, format string, args ...any) error {
	return x.errf("tx %d %s: %s", i, x.b.Transactions[i].Hash.Hex(), fmt.Sprintf(format, args...))
}

func (x *extractor) run() (chains.Block, error) {
	b := x.b
	if uint64(b.Number) > math.MaxInt64 || uint64(b.Timestamp) > math.MaxInt64 || uint64(b.Size) > math.MaxInt32 {
		return chains.Block{}, x.errf("number, timestamp or size out of range")
	}
	blk := chains.Block{
		Height:   int64(b.Number),
		Hash:     chains.Hash(b.Hash),
		PrevHash: chains.Hash(b.ParentHash),
		Time:     int64(b.Timestamp),
		Size:     int(b.Size),
	}
	ab := &chains.AccountBlock{
		FeeRecipient: addrString(b.Miner),
		GasUsed:      uint64(b.GasUsed),
		GasLimit:     uint64(b.GasLimit),
		NoTraces:     x.raw.TraceSource == TracesNone,
	}
	if b.BaseFeePerGas != nil {
		bf, err := toU256(b.BaseFeePerGas)
		if err != nil {
			return chains.Block{}, x.errf("baseFeePerGas: %v", err)
		}
		x.baseFee = bf
		a := amountOf(bf)
		ab.BaseFee = &a
	}
	if len(x.raw.Receipts) != len(b.Transactions) {
		return chains.Block{}, x.errf("%d receipts for %d transactions", len(x.raw.Receipts), len(b.Transactions))
	}
	if err := x.loadTraces(); err != nil {
		return chains.Block{}, err
	}
	ab.Txs = make([]chains.AccountTx, 0, len(b.Transactions))
	for i := range b.Transactions {
		tx, err := x.tx(i)
		if err != nil {
			return chains.Block{}, err
		}
		ab.Txs = append(ab.Txs, tx)
	}
	if err := x.blockLevel(); err != nil {
		return chains.Block{}, err
	}
	ab.Transfers = x.out
	ab.Tokens = x.tokenList()
	blk.Account = ab
	return blk, nil
}

// tx checks transaction i against its receipt and trace and appends its
// transfers.
func (x *extractor) tx(i int) (chains.AccountTx, error) {
	t := &x.b.Transactions[i]
	r := x.raw.Receipts[i]
	if uint64(t.TransactionIndex) != uint64(i) {
		return chains.AccountTx{}, x.txErrf(i, "transactionIndex %d in the block", uint64(t.TransactionIndex))
	}
	if r == nil {
		return chains.AccountTx{}, x.txErrf(i, "no receipt")
	}
	if r.TransactionHash != t.Hash {
		return chains.AccountTx{}, x.txErrf(i, "receipt is for tx %s", r.TransactionHash.Hex())
	}
	if uint64(r.TransactionIndex) != uint64(i) {
		return chains.AccountTx{}, x.txErrf(i, "receipt transactionIndex %d", uint64(r.TransactionIndex))
	}
	if r.BlockHash != (common.Hash{}) && r.BlockHash != x.b.Hash {
		return chains.AccountTx{}, x.txErrf(i, "receipt is for block %s", r.BlockHash.Hex())
	}
	if r.From != (common.Address{}) && r.From != t.From {
		return chains.AccountTx{}, x.txErrf(i, "receipt from %s, tx from %s", addrString(r.From), addrString(t.From))
	}
	if t.Type > math.MaxUint8 {
		return chains.AccountTx{}, x.txErrf(i, "type %d out of range", uint64(t.Type))
	}
	value, err := toU256(&t.Value)
	if err != nil {
		return chains.AccountTx{}, x.txErrf(i, "value: %v", err)
	}
	var tr *txTrace
	if x.traces != nil {
		tr = x.traces[i]
	}

	// Status: the receipt's; before Byzantium receipts have none, and the
	// trace says; with neither, success is assumed (see package doc).
	success := true
	switch {
	case r.Status != nil && *r.Status == 1:
	case r.Status != nil && *r.Status == 0:
		success = false
	case r.Status != nil:
		return chains.AccountTx{}, x.txErrf(i, "receipt status %d", uint64(*r.Status))
	case tr != nil:
		success = tr.top.err == ""
	}
	if t.To == nil && success && r.ContractAddress == nil {
		return chains.AccountTx{}, x.txErrf(i, "successful contract creation without a receipt contractAddress")
	}
	if tr != nil {
		if err := x.checkTop(i, tr, value, success); err != nil {
			return chains.AccountTx{}, err
		}
	}

	// Fee: gasUsed × effective gas price, split into tip and burn.
	var price *uint256.Int
	switch {
	case r.EffectiveGasPrice != nil:
		price, err = toU256(r.EffectiveGasPrice)
	case t.GasPrice != nil:
		price, err = toU256(t.GasPrice)
	default:
		return chains.AccountTx{}, x.txErrf(i, "no effectiveGasPrice in the receipt and no gasPrice in the tx")
	}
	if err != nil {
		return chains.AccountTx{}, x.txErrf(i, "gas price: %v", err)
	}
	gasUsed := uint256.NewInt(uint64(r.GasUsed))
	fee, overflow := new(uint256.Int).MulOverflow(price, gasUsed)
	if overflow {
		return chains.AccountTx{}, x.txErrf(i, "fee %s × %d overflows", price.Dec(), uint64(r.GasUsed))
	}
	tip, burn := fee, new(uint256.Int)
	if x.baseFee != nil {
		if price.Lt(x.baseFee) {
			return chains.AccountTx{}, x.txErrf(i, "effective gas price %s below base fee %s", price.Dec(), x.baseFee.Dec())
		}
		burn.Mul(x.baseFee, gasUsed) // ≤ fee: no overflow
		tip = new(uint256.Int).Sub(fee, burn)
	}
	// Blob transactions also buy blob gas, all of it burned.
	blobFee := new(uint256.Int)
	if r.BlobGasUsed != nil && *r.BlobGasUsed > 0 {
		if r.BlobGasPrice == nil {
			return chains.AccountTx{}, x.txErrf(i, "receipt has blobGasUsed %d but no blobGasPrice", uint64(*r.BlobGasUsed))
		}
		bp, err := toU256(r.BlobGasPrice)
		if err != nil {
			return chains.AccountTx{}, x.txErrf(i, "blob gas price: %v", err)
		}
		if _, overflow := blobFee.MulOverflow(bp, uint256.NewInt(uint64(*r.BlobGasUsed))); overflow {
			return chains.AccountTx{}, x.txErrf(i, "blob fee %s × %d overflows", bp.Dec(), uint64(*r.BlobGasUsed))
		}
		total, overflow := new(uint256.Int).AddOverflow(fee, blobFee)
		if overflow {
			return chains.AccountTx{}, x.txErrf(i, "fee %s + blob fee %s overflows", fee.Dec(), blobFee.Dec())
		}
		fee = total
	}

	from := addrString(t.From)
	atx := chains.AccountTx{
		Hash:     chains.Hash(t.Hash),
		Index:    i,
		From:     from,
		Value:    amountOf(value),
		Nonce:    uint64(t.Nonce),
		Type:     uint8(t.Type),
		Success:  success,
		GasUsed:  uint64(r.GasUsed),
		GasPrice: amountOf(price),
		Fee:      amountOf(fee),
	}
	if t.To != nil {
		atx.To = addrString(*t.To)
	} else if success {
		atx.Created = addrString(*r.ContractAddress)
	}

	pos := 0
	emit := func(kind chains.TransferKind, token, from, to string, v *uint256.Int, path string, logIndex int) {
		x.out = append(x.out, chains.Transfer{
			TxIndex: i, Position: pos, Kind: kind, Token: token, From: from, To: to,
			Value: amountOf(v), TraceAddress: path, LogIndex: logIndex,
		})
		pos++
	}
	if !tip.IsZero() {
		emit(chains.TransferFee, "", from, addrString(x.b.Miner), tip, "", -1)
	}
	if !burn.IsZero() {
		emit(chains.TransferBurn, "", from, "", burn, "", -1)
	}
	if !blobFee.IsZero() {
		emit(chains.TransferBurn, "", from, "", blobFee, "", -1)
	}
	if !success {
		return atx, nil
	}
	if !value.IsZero() {
		if t.To != nil {
			emit(chains.TransferCall, "", from, atx.To, value, "", -1)
		} else {
			emit(chains.TransferCreate, "", from, atx.Created, value, "", -1)
		}
	}
	if tr != nil {
		for _, it := range tr.inner {
			emit(it.kind, "", addrString(it.from), addrString(it.to), it.value, it.path, -1)
		}
	}
	logs := make([]*RPCLog, 0, len(r.Logs))
	for j := range r.Logs {
		if l := &r.Logs[j]; isTokenTransfer(l) {
			logs = append(logs, l)
		}
	}
	slices.SortStableFunc(logs, func(a, b *RPCLog) int { return cmpUint64(uint64(a.LogIndex), uint64(b.LogIndex)) })
	for _, l := range logs {
		if uint64(l.LogIndex) > math.MaxInt32 {
			return chains.AccountTx{}, x.txErrf(i, "logIndex %d out of range", uint64(l.LogIndex))
		}
		v := new(uint256.Int).SetBytes32(l.Data)
		var f, to common.Address
		copy(f[:], l.Topics[1][12:])
		copy(to[:], l.Topics[2][12:])
		x.tokens[l.Address] = true
		emit(chains.TransferToken, addrString(l.Address), addrString(f), addrString(to), v, "", int(l.LogIndex))
	}
	return atx, nil
}

// isTokenTransfer reports whether a log is an ERC-20 Transfer: the
// Transfer topic, exactly two indexed addresses (ERC-721 indexes the
// token id too, making four topics), a 32-byte value, not removed.
// Topics whose upper 12 bytes are not zero are not addresses: skipped.
func isTokenTransfer(l *RPCLog) bool {
	if l.Removed || len(l.Topics) != 3 || l.Topics[0] != TransferTopic || len(l.Data) != 32 {
		return false
	}
	var zero [12]byte
	return bytes.Equal(l.Topics[1][:12], zero[:]) && bytes.Equal(l.Topics[2][:12], zero[:])
}

// checkTop compares a transaction with the top frame of its trace.
func (x *extractor) checkTop(i int, tr *txTrace, value *uint256.Int, success bool) error {
	t := &x.b.Transactions[i]
	r := x.raw.Receipts[i]
	top := &tr.top
	if failed := top.err != ""; failed == success {
		if failed {
			return x.txErrf(i, "receipt status 1 but the top-level trace failed (%q)", top.err)
		}
		return x.txErrf(i, "receipt status 0 but the top-level trace did not fail")
	}
	if top.from != t.From {
		return x.txErrf(i, "trace from %s, tx from %s", addrString(top.from), addrString(t.From))
	}
	if !top.value.Eq(value) {
		return x.txErrf(i, "trace value %s, tx value %s", top.value.Dec(), value.Dec())
	}
	switch {
	case t.To != nil && top.create:
		return x.txErrf(i, "trace is a creation, tx is a call")
	case t.To == nil && !top.create:
		return x.txErrf(i, "trace is a call, tx is a creation")
	case t.To != nil && (top.to == nil || *top.to != *t.To):
		return x.txErrf(i, "trace to %s, tx to %s", optAddr(top.to), addrString(*t.To))
	case t.To == nil && success && (top.to == nil || *top.to != *r.ContractAddress):
		return x.txErrf(i, "trace created %s, receipt contractAddress %s", optAddr(top.to), addrString(*r.ContractAddress))
	}
	return nil
}

// loadTraces normalises the block's traces, of either source, into
// x.traces (one per transaction).
func (x *extractor) loadTraces() error {
	switch x.raw.TraceSource {
	case TracesNone:
		return nil
	case TracesCallTracer:
		return x.loadCalls()
	case TracesParity:
		return x.loadParity()
	default:
		return fmt.Errorf("ethereum: block %d: unknown trace source %d", uint64(x.b.Number), x.raw.TraceSource)
	}
}

// loadCalls reads geth callTracer output.
func (x *extractor) loadCalls() error {
	txs := x.b.Transactions
	if len(x.raw.Calls) != len(txs) {
		return x.errf("%d callTracer traces for %d transactions", len(x.raw.Calls), len(txs))
	}
	x.traces = make([]*txTrace, len(txs))
	for i := range txs {
		c := &x.raw.Calls[i]
		if c.TxHash != nil && *c.TxHash != txs[i].Hash {
			return x.txErrf(i, "trace is for tx %s", c.TxHash.Hex())
		}
		if c.Error != "" || c.Result == nil {
			return x.txErrf(i, "no trace (tracer error %q)", c.Error)
		}
		f := c.Result
		tr := &txTrace{}
		switch strings.ToUpper(f.Type) {
		case "CALL":
		case "CREATE", "CREATE2":
			tr.top.create = true
		default:
			return x.txErrf(i, "top-level trace frame of type %q", f.Type)
		}
		v, err := toU256(f.Value)
		if err != nil {
			return x.txErrf(i, "trace value: %v", err)
		}
		tr.top.from, tr.top.to, tr.top.value, tr.top.err = f.From, f.To, v, f.Error
		if f.Error == "" {
			if err := x.walkCalls(i, f, "", tr); err != nil {
				return err
			}
		}
		x.traces[i] = tr
	}
	return nil
}

// walkCalls appends the value-moving subcalls of f in pre-order, leaving
// out every failed frame with its subtree.
func (x *extractor) walkCalls(i int, f *CallFrame, prefix string, tr *txTrace) error {
	for j := range f.Calls {
		c := &f.Calls[j]
		path := strconv.Itoa(j)
		if prefix != "" {
			path = prefix + "." + path
		}
		if c.Error != "" {
			continue // reverted: its value and its subcalls' are undone
		}
		v, err := toU256(c.Value)
		if err != nil {
			return x.txErrf(i, "trace %s value: %v", path, err)
		}
		typ := strings.ToUpper(c.Type)
		switch typ {
		case "SELFDESTRUCT":
			if c.To == nil || c.Value == nil {
				return x.txErrf(i, "trace %s: SELFDESTRUCT frame without beneficiary or value (callTracer too old?)", path)
			}
		case "DELEGATECALL", "STATICCALL", "CALLCODE":
			v = new(uint256.Int) // the value shown is the caller's: nothing moves
		}
		if !v.IsZero() {
			var kind chains.TransferKind
			switch typ {
			case "CALL":
				kind = chains.TransferInternal
			case "CREATE", "CREATE2":
				kind = chains.TransferCreate
			case "SELFDESTRUCT":
				kind = chains.TransferSelfdestruct
			default:
				return x.txErrf(i, "trace %s: frame of unknown type %q carries value %s", path, c.Type, v.Dec())
			}
			if c.To == nil {
				return x.txErrf(i, "trace %s: %s frame moving %s has no to", path, c.Type, v.Dec())
			}
			tr.inner = append(tr.inner, innerTransfer{kind: kind, from: c.From, to: *c.To, value: v, path: path})
		}
		if err := x.walkCalls(i, c, path, tr); err != nil {
			return err
		}
	}
	return nil
}

// loadParity reads trace_block output: flat traces located by
// transactionPosition and traceAddress.
func (x *extractor) loadParity() error {
	txs := x.b.Transactions
	groups := make([][]*ParityTrace, len(txs))
	for k := range x.raw.Parity {
		pt := &x.raw.Parity[k]
		if pt.Type == "reward" {
			continue // rewards come from Params
		}
		if pt.TransactionPosition == nil {
			return x.errf("trace %d (%s) has no transactionPosition", k, pt.Type)
		}
		pos := *pt.TransactionPosition
		if pos < 0 || pos >= len(txs) {
			return x.errf("trace %d: transactionPosition %d, block has %d transactions", k, pos, len(txs))
		}
		if pt.TransactionHash != nil && *pt.TransactionHash != txs[pos].Hash {
			return x.txErrf(pos, "trace %d is for tx %s", k, pt.TransactionHash.Hex())
		}
		groups[pos] = append(groups[pos], pt)
	}
	x.traces = make([]*txTrace, len(txs))
	for i, g := range groups {
		tr, err := x.parityTx(i, g)
		if err != nil {
			return err
		}
		x.traces[i] = tr
	}
	return nil
}

// parityTx builds one transaction's trace from its parity traces.
func (x *extractor) parityTx(i int, g []*ParityTrace) (*txTrace, error) {
	if len(g) == 0 {
		return nil, x.txErrf(i, "no trace")
	}
	slices.SortStableFunc(g, func(a, b *ParityTrace) int { return slices.Compare(a.TraceAddress, b.TraceAddress) })
	top := g[0]
	if len(top.TraceAddress) != 0 {
		return nil, x.txErrf(i, "no top-level trace")
	}
	tr := &txTrace{}
	switch {
	case top.Type == "call" && (top.Action.CallType == "call" || top.Action.CallType == ""):
	case top.Type == "create":
		tr.top.create = true
	default:
		return nil, x.txErrf(i, "top-level trace of type %q %q", top.Type, top.Action.CallType)
	}
	if top.Action.From == nil {
		return nil, x.txErrf(i, "top-level trace without from")
	}
	v, err := toU256(top.Action.Value)
	if err != nil {
		return nil, x.txErrf(i, "trace value: %v", err)
	}
	tr.top.from, tr.top.value, tr.top.err = *top.Action.From, v, top.Error
	if tr.top.create {
		tr.top.to = createdAddress(top)
	} else {
		tr.top.to = top.Action.To
	}
	dropped := map[string]bool{"": top.Error != ""}
	for _, pt := range g[1:] {
		path := dotted(pt.TraceAddress)
		if len(pt.TraceAddress) == 0 {
			return nil, x.txErrf(i, "two top-level traces")
		}
		if _, dup := dropped[path]; dup {
			return nil, x.txErrf(i, "two traces at %s", path)
		}
		parentDropped, ok := dropped[dotted(pt.TraceAddress[:len(pt.TraceAddress)-1])]
		if !ok {
			return nil, x.txErrf(i, "trace %s without its parent", path)
		}
		drop := parentDropped || pt.Error != ""
		dropped[path] = drop
		if drop {
			continue
		}
		it, err := x.parityInner(i, pt, path)
		if err != nil {
			return nil, err
		}
		if it != nil {
			tr.inner = append(tr.inner, *it)
		}
	}
	return tr, nil
}

// parityInner returns the transfer of a successful inner parity trace, or
// nil when it moves nothing.
func (x *extractor) parityInner(i int, pt *ParityTrace, path string) (*innerTransfer, error) {
	a := &pt.Action
	it := &innerTransfer{path: path}
	var from, to *common.Address
	var v *big.Int
	switch {
	case pt.Type == "call" && (a.CallType == "call" || a.CallType == ""):
		it.kind, from, to, v = chains.TransferInternal, a.From, a.To, a.Value.ToInt()
	case pt.Type == "call" && (a.CallType == "delegatecall" || a.CallType == "staticcall" || a.CallType == "callcode"):
		return nil, nil
	case pt.Type == "create":
		it.kind, from, to, v = chains.TransferCreate, a.From, createdAddress(pt), a.Value.ToInt()
	case pt.Type == "suicide" || pt.Type == "selfdestruct":
		if a.Address == nil || a.RefundAddress == nil || a.Balance == nil {
			return nil, x.txErrf(i, "trace %s: %s without address, refundAddress or balance", path, pt.Type)
		}
		it.kind, from, to, v = chains.TransferSelfdestruct, a.Address, a.RefundAddress, a.Balance.ToInt()
	default:
		v = a.Value.ToInt()
		if v != nil && v.Sign() != 0 {
			return nil, x.txErrf(i, "trace %s of unknown type %q %q carries value %s", path, pt.Type, a.CallType, v)
		}
		return nil, nil
	}
	u, err := bigToU256(v)
	if err != nil {
		return nil, x.txErrf(i, "trace %s value: %v", path, err)
	}
	if u.IsZero() {
		return nil, nil
	}
	if from == nil || to == nil {
		return nil, x.txErrf(i, "trace %s: %s moving %s without from or to", path, pt.Type, u.Dec())
	}
	it.from, it.to, it.value = *from, *to, u
	return it, nil
}

// createdAddress returns the address a parity create trace made, or nil.
func createdAddress(pt *ParityTrace) *common.Address {
	if len(pt.Result) == 0 || string(pt.Result) == "null" {
		return nil
	}
	var res ParityCreateResult
	if err := json.Unmarshal(pt.Result, &res); err != nil || res.Address == (common.Address{}) {
		return nil
	}
	return &res.Address
}

// blockLevel appends the genesis allocations (block 0), the withdrawals
// and the pre-Merge rewards.
func (x *extractor) blockLevel() error {
	pos := 0
	emit := func(kind chains.TransferKind, to common.Address, v *uint256.Int) {
		x.out = append(x.out, chains.Transfer{
			TxIndex: -1, Position: pos, Kind: kind, To: addrString(to), Value: amountOf(v), LogIndex: -1,
		})
		pos++
	}
	if x.b.Number == 0 {
		// The genesis block pays no reward; it allocates.
		for _, g := range genesisTransfers(x.p) {
			g.Position = pos
			x.out = append(x.out, g)
			pos++
		}
		return nil
	}
	for _, w := range x.b.Withdrawals {
		if w.Amount == 0 {
			continue
		}
		v := new(uint256.Int).Mul(uint256.NewInt(uint64(w.Amount)), uint256.NewInt(gwei))
		emit(chains.TransferWithdrawal, w.Address, v)
	}
	reward := blockReward(x.p, int64(x.b.Number))
	if reward == 0 {
		return nil
	}
	if len(x.raw.Uncles) != len(x.b.Uncles) {
		return x.errf("block has %d uncles, got %d uncle headers", len(x.b.Uncles), len(x.raw.Uncles))
	}
	R := uint256.NewInt(reward)
	n := uint256.NewInt(uint64(len(x.b.Uncles)))
	total := new(uint256.Int).Div(R, uint256.NewInt(32))
	total.Mul(total, n).Add(total, R)
	emit(chains.TransferBlockReward, x.b.Miner, total)
	num := uint64(x.b.Number)
	for k, u := range x.raw.Uncles {
		if u == nil {
			return x.errf("uncle %d: no header", k)
		}
		if u.Hash != (common.Hash{}) && u.Hash != x.b.Uncles[k] {
			return x.errf("uncle %d: header %s, block lists %s", k, u.Hash.Hex(), x.b.Uncles[k].Hex())
		}
		un := uint64(u.Number)
		if un >= num || un+8 <= num {
			return x.errf("uncle %d at height %d cannot be an uncle of height %d", k, un, num)
		}
		v := new(uint256.Int).Mul(uint256.NewInt(un+8-num), R)
		v.Div(v, uint256.NewInt(8))
		if !v.IsZero() {
			emit(chains.TransferUncleReward, u.Miner, v)
		}
	}
	return nil
}

// blockReward returns the base block reward at a height, 0 when none is
// paid (after the Merge, or on chains without rewards).
func blockReward(p *Params, height int64) uint64 {
	if len(p.Rewards) == 0 || height >= p.MergeHeight {
		return 0
	}
	var r uint64
	for _, e := range p.Rewards {
		if height >= e.From {
			r = e.Reward
		}
	}
	return r
}

// tokenList describes every token contract the transfers mention, sorted
// by address.
func (x *extractor) tokenList() []chains.Token {
	if len(x.tokens) == 0 {
		return nil
	}
	list := make([]chains.Token, 0, len(x.tokens))
	for a := range x.tokens {
		t, ok := x.raw.Tokens[a]
		if !ok {
			t = chains.Token{Decimals: -1}
		}
		t.Address = addrString(a)
		list = append(list, t)
	}
	slices.SortFunc(list, func(a, b chains.Token) int { return strings.Compare(a.Address, b.Address) })
	return list
}

// toU256 converts a JSON-RPC quantity; nil is 0.
func toU256(b *hexutil.Big) (*uint256.Int, error) {
	return bigToU256(b.ToInt())
}

// bigToU256 converts an integer that must be in [0, 2^256); nil is 0.
func bigToU256(b *big.Int) (*uint256.Int, error) {
	if b == nil {
		return new(uint256.Int), nil
	}
	if b.Sign() < 0 {
		return nil, fmt.Errorf("%w: negative %s", chains.ErrAmountRange, b)
	}
	u, overflow := uint256.FromBig(b)
	if overflow {
		return nil, fmt.Errorf("%w: %s is 2^256 or more", chains.ErrAmountRange, b)
	}
	return u, nil
}

// amountOf converts a uint256 (always in range) to a chains.Amount.
func amountOf(u *uint256.Int) chains.Amount { return chains.AmountFromUint256(u) }

// dotted writes a traceAddress as "0.2".
func dotted(path []int) string {
	var sb strings.Builder
	for k, p := range path {
		if k > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(strconv.Itoa(p))
	}
	return sb.String()
}

func optAddr(a *common.Address) string {
	if a == nil {
		return "nothing"
	}
	return addrString(*a)
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
