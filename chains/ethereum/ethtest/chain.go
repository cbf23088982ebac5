package ethtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto/keccak"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
)

// Well-known accounts of the synthetic chain.
var (
	Alice      = addr("alice")
	Bob        = addr("bob")
	Carol      = addr("carol")
	Miner      = addr("miner")
	UncleMiner = addr("uncle-miner")
	// Forwarder is a contract that forwards part of the value it receives
	// to Carol and calls other contracts (static, delegate, a reverting
	// call with value whose subtree must be ignored).
	Forwarder = addr("forwarder")
	// Reverter is the contract that the failed calls go to.
	Reverter = addr("reverter")
	// Doomed is a contract that self-destructs, sending its balance to Bob.
	Doomed = addr("doomed")
	// Library is the target of Forwarder's DELEGATECALL.
	Library = addr("library")
	// TokenStd answers name, symbol and decimals as a standard ERC-20.
	TokenStd = addr("token-std")
	// TokenBytes32 answers name and symbol as bytes32 (as MKR does).
	TokenBytes32 = addr("token-bytes32")
	// TokenRevert reverts every metadata call.
	TokenRevert = addr("token-revert")
	// TokenGarbage answers metadata calls with bytes that decode to
	// nothing.
	TokenGarbage = addr("token-garbage")
	// NFT emits ERC-721 Transfer events (4 topics), which are not token
	// transfers of value.
	NFT = addr("nft")
)

// Amounts of the synthetic chain, in wei.
const (
	gwei       = 1_000_000_000
	ether      = 1_000_000_000_000_000_000
	blockGas   = 30_000_000
	tipPerGas  = 2 * gwei
	legacyGasP = 20 * gwei
)

// ChainOptions shape a synthetic chain.
type ChainOptions struct {
	// ChainID is the EIP-155 chain id (eth_chainId); default 1337.
	ChainID uint64
	// Height is the tip's height: blocks 0 (genesis, empty) to Height are
	// built. Default 0.
	Height int64
	// PreLondon builds blocks without a base fee, with legacy
	// transactions, as before the London fork.
	PreLondon bool
	// Uncles gives some blocks uncles (proof-of-work style; use with
	// Params whose Rewards apply) and adds reward traces to trace_block.
	Uncles bool
	// Withdrawals gives every block two beacon withdrawals (Shanghai).
	Withdrawals bool
}

// Chain is the data a fake node serves: a best chain of blocks, each with
// its receipts, uncle headers and both kinds of traces (callTracer and
// trace_block), blocks of replaced branches, and contracts answering
// eth_call. It is safe for concurrent use.
type Chain struct {
	mu        sync.Mutex
	opts      ChainOptions
	base      int64                // height of blocks[0]
	blocks    []*ethereum.RawBlock // best chain; Calls and Parity both set
	byHash    map[common.Hash]*ethereum.RawBlock
	uncles    map[common.Hash]*ethereum.RPCBlock
	branch    int
	contracts map[common.Address]*Contract
}

// NewChain builds a synthetic chain that is consistent the way a node's is:
// parents linked by hash, receipts matching their transactions, traces
// matching the calls, and, from block 1 on, transactions of every kind a
// tracer must read: a plain ETH transfer, ERC-20 transfers (a standard
// token, a bytes32 token, a token whose metadata calls revert, one whose
// answers are garbage, a mint from the zero address, an ERC-721 event), a
// call with internal transfers (nested calls, STATICCALL, DELEGATECALL, a
// reverted subtree with value), a failed transaction, contract creations
// with value (CREATE at top level, CREATE2 inside) and a SELFDESTRUCT.
func NewChain(opts ChainOptions) *Chain {
	if opts.ChainID == 0 {
		opts.ChainID = 1337
	}
	c := &Chain{
		opts:      opts,
		byHash:    map[common.Hash]*ethereum.RawBlock{},
		uncles:    map[common.Hash]*ethereum.RPCBlock{},
		contracts: map[common.Address]*Contract{},
	}
	c.contracts[TokenStd] = ERC20("Test Token", "TST", 18)
	c.contracts[TokenBytes32] = Bytes32Token("Maker", "MKR", 18)
	c.contracts[TokenRevert] = Reverting()
	c.contracts[TokenGarbage] = GarbageToken()
	c.contracts[NFT] = ERC20("Test NFT", "TNFT", 0)
	c.appendLocked(c.buildBlock(0, common.Hash{}))
	for h := int64(1); h <= opts.Height; h++ {
		c.appendLocked(c.buildBlock(h, c.blocks[h-1].Block.Hash))
	}
	return c
}

// NewChainOf returns a chain of the given blocks (real blocks' data, say),
// which must have consecutive heights; the first need not be the genesis
// block. Each block's Calls and Parity are what the node serves for
// debug_traceBlockByNumber and trace_block, its Uncles what it serves for
// eth_getUncleBy*; nil Calls or Parity make those methods answer an
// error (-32000 "no traces in ethtest for this block"). The blocks are
// kept, not copied.
func NewChainOf(chainID uint64, raws ...*ethereum.RawBlock) *Chain {
	c := &Chain{
		opts:      ChainOptions{ChainID: chainID},
		byHash:    map[common.Hash]*ethereum.RawBlock{},
		uncles:    map[common.Hash]*ethereum.RPCBlock{},
		contracts: map[common.Address]*Contract{},
	}
	if len(raws) > 0 {
		c.base = int64(raws[0].Block.Number)
	}
	for i, raw := range raws {
		if int64(raw.Block.Number) != c.base+int64(i) {
			panic(fmt.Sprintf("ethtest: NewChainOf: block %d after block %d", raw.Block.Number, c.base+int64(i)-1))
		}
		c.appendLocked(raw)
	}
	return c
}

// ChainID returns the chain's EIP-155 id.
func (c *Chain) ChainID() uint64 { return c.opts.ChainID }

// Tip returns the height of the best block.
func (c *Chain) Tip() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base + int64(len(c.blocks)) - 1
}

// Hash returns the hash of the best-chain block at height h (zero if there
// is none).
func (c *Chain) Hash(h int64) common.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.atLocked(h)
	if b == nil {
		return common.Hash{}
	}
	return b.Block.Hash
}

// Extend appends n synthetic blocks to the best chain.
func (c *Chain) Extend(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extendLocked(n)
}

// extendLocked is Extend with c.mu held.
func (c *Chain) extendLocked(n int) {
	for range n {
		last := c.blocks[len(c.blocks)-1].Block
		c.appendLocked(c.buildBlock(int64(last.Number)+1, last.Hash))
	}
}

// Reorg replaces the top k blocks of the best chain with k blocks of a new
// branch (other hashes, other transaction values), as a node does when it
// switches to a heavier chain. The replaced blocks stay known by hash.
func (c *Chain) Reorg(k int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k = min(k, len(c.blocks)-1) // the first block stays
	c.branch++
	c.blocks = c.blocks[:len(c.blocks)-k]
	c.extendLocked(k)
}

// Append adds a block of the caller's making (a real block's data, say) to
// the best chain; its number must follow the tip's. Its Calls and Parity are what the node serves for
// debug_traceBlockByNumber and trace_block; Uncles are served by
// eth_getUncleBy*. raw is kept, not copied.
func (c *Chain) Append(raw *ethereum.RawBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appendLocked(raw)
}

// SetContract makes eth_call to addr answer as con (nil: no code there).
func (c *Chain) SetContract(addr common.Address, con *Contract) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if con == nil {
		delete(c.contracts, addr)
		return
	}
	c.contracts[addr] = con
}

func (c *Chain) appendLocked(raw *ethereum.RawBlock) {
	c.blocks = append(c.blocks, raw)
	c.byHash[raw.Block.Hash] = raw
	for _, u := range raw.Uncles {
		c.uncles[u.Hash] = u
	}
}

// Expected returns what a client should make of the best-chain block at
// height h when it traces by src: the node's data as it comes out of
// JSON (so that it compares with reflect.DeepEqual), the traces of src
// only, and Tokens describing every token contract of the block's ERC-20
// Transfer logs as their contracts answer (see Contract.Want). It returns
// nil above the tip.
func (c *Chain) Expected(h int64, src ethereum.TraceSource) *ethereum.RawBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.atLocked(h)
	if b == nil {
		return nil
	}
	out := &ethereum.RawBlock{TraceSource: src}
	roundTrip(b.Block, &out.Block)
	roundTrip(b.Receipts, &out.Receipts)
	if len(b.Uncles) > 0 {
		roundTrip(b.Uncles, &out.Uncles)
	}
	switch src {
	case ethereum.TracesCallTracer:
		roundTrip(b.Calls, &out.Calls)
	case ethereum.TracesParity:
		roundTrip(b.Parity, &out.Parity)
	}
	out.Tokens = map[common.Address]chains.Token{}
	for _, r := range b.Receipts {
		for _, l := range r.Logs {
			if len(l.Topics) == 3 && l.Topics[0] == ethereum.TransferTopic && !l.Removed {
				want := chains.Token{Decimals: -1}
				if con := c.contracts[l.Address]; con != nil {
					want = con.Want
				}
				out.Tokens[l.Address] = want
			}
		}
	}
	return out
}

// roundTrip sets *out to v as encoded to JSON and decoded again.
func roundTrip(v, out any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ethtest: encode %T: %v", v, err))
	}
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("ethtest: decode %T: %v", out, err))
	}
}

// atLocked returns the best-chain block at height h, or nil.
func (c *Chain) atLocked(h int64) *ethereum.RawBlock {
	if h < c.base || h-c.base >= int64(len(c.blocks)) {
		return nil
	}
	return c.blocks[h-c.base]
}

// view is a snapshot of the best chain.
type view struct {
	base   int64
	blocks []*ethereum.RawBlock
}

func (v view) tip() int64 { return v.base + int64(len(v.blocks)) - 1 }

// at returns the block at height h, or nil.
func (v view) at(h int64) *ethereum.RawBlock {
	if h < v.base || h-v.base >= int64(len(v.blocks)) {
		return nil
	}
	return v.blocks[h-v.base]
}

// snapshot returns the best chain.
func (c *Chain) snapshot() view {
	c.mu.Lock()
	defer c.mu.Unlock()
	return view{c.base, c.blocks[:len(c.blocks):len(c.blocks)]}
}

func (c *Chain) blockByHash(h common.Hash) (*ethereum.RawBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.byHash[h]
	return b, ok
}

func (c *Chain) contract(a common.Address) *Contract {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.contracts[a]
}

// addr derives a fixed address from a name.
func addr(name string) common.Address {
	return common.BytesToAddress(keccakOf("address", name).Bytes()[12:])
}

// keccakOf hashes its parts, each written as text.
func keccakOf(parts ...any) common.Hash {
	h := keccak.NewLegacyKeccak256()
	for _, p := range parts {
		fmt.Fprint(h, p, "|")
	}
	var out common.Hash
	h.Sum(out[:0])
	return out
}

func hexBig(v *big.Int) *hexutil.Big { return (*hexutil.Big)(new(big.Int).Set(v)) }

func wei(n int64) *big.Int { return big.NewInt(n) }

func etherTimes(num, den int64) *big.Int {
	v := new(big.Int).Mul(big.NewInt(ether), big.NewInt(num))
	return v.Div(v, big.NewInt(den))
}

func u64p(v uint64) *hexutil.Uint64 { x := hexutil.Uint64(v); return &x }

func addrp(a common.Address) *common.Address { return &a }

// txSpec is a transaction of a synthetic block before it gets its block
// context.
type txSpec struct {
	from    common.Address
	to      *common.Address // nil: creation
	value   *big.Int
	gasUsed uint64
	failed  bool
	created common.Address // creation: the new contract
	logs    []ethereum.RPCLog
	frame   ethereum.CallFrame // top frame
}

// buildBlock makes the best-chain block at height h on the current branch.
func (c *Chain) buildBlock(h int64, parent common.Hash) *ethereum.RawBlock {
	br := c.branch
	var specs []txSpec
	if h > 0 {
		specs = c.txSpecs(h, br)
	}
	blk := &ethereum.RPCBlock{
		Number:       hexutil.Uint64(h),
		ParentHash:   parent,
		Timestamp:    hexutil.Uint64(1_700_000_000 + 12*h),
		Miner:        Miner,
		GasLimit:     blockGas,
		Uncles:       []common.Hash{},
		Transactions: []ethereum.RPCTx{},
	}
	if !c.opts.PreLondon {
		blk.BaseFeePerGas = hexBig(wei(gwei + h))
	}
	if c.opts.Withdrawals && h > 0 {
		blk.Withdrawals = []ethereum.RPCWithdrawal{
			{Index: hexutil.Uint64(2 * h), ValidatorIndex: 7, Address: Carol, Amount: hexutil.Uint64(32_000_000 + h)},
			{Index: hexutil.Uint64(2*h + 1), ValidatorIndex: 9, Address: Alice, Amount: 1_234},
		}
	}
	var uncles []*ethereum.RPCBlock
	if c.opts.Uncles && h >= 2 {
		n := 0
		switch {
		case h%7 == 0:
			n = 2
		case h%5 == 3:
			n = 1
		}
		for i := range n {
			u := &ethereum.RPCBlock{
				Number:       hexutil.Uint64(h - 1 - int64(i)),
				Hash:         keccakOf("uncle", br, h, i),
				ParentHash:   keccakOf("uncle-parent", br, h, i),
				Timestamp:    hexutil.Uint64(1_700_000_000 + 12*h - 6),
				Miner:        UncleMiner,
				GasLimit:     blockGas,
				Uncles:       []common.Hash{},
				Transactions: []ethereum.RPCTx{},
			}
			uncles = append(uncles, u)
			blk.Uncles = append(blk.Uncles, u.Hash)
		}
	}
	// The block hash covers its number, parent, branch and transactions.
	txHashes := make([]common.Hash, len(specs))
	for i := range specs {
		txHashes[i] = keccakOf("tx", br, h, i, specs[i].value)
	}
	blk.Hash = keccakOf("block", br, h, parent, txHashes)

	raw := &ethereum.RawBlock{Block: blk, Uncles: uncles, Receipts: []*ethereum.RPCReceipt{}, Calls: []ethereum.TxTrace{}, Parity: []ethereum.ParityTrace{}}
	logIndex := uint64(0)
	var gasTotal uint64
	for i, s := range specs {
		price := big.NewInt(legacyGasP)
		typ := uint64(0)
		if blk.BaseFeePerGas != nil {
			price = new(big.Int).Add(blk.BaseFeePerGas.ToInt(), big.NewInt(tipPerGas))
			typ = 2
		}
		tx := ethereum.RPCTx{
			Hash:             txHashes[i],
			TransactionIndex: hexutil.Uint64(i),
			From:             s.from,
			To:               s.to,
			Value:            hexutil.Big(*new(big.Int).Set(s.value)),
			Nonce:            hexutil.Uint64(uint64(h)*10 + uint64(i)),
			Type:             hexutil.Uint64(typ),
			Gas:              hexutil.Uint64(s.gasUsed * 2),
			GasPrice:         hexBig(price),
		}
		blk.Transactions = append(blk.Transactions, tx)
		gasTotal += s.gasUsed
		rc := &ethereum.RPCReceipt{
			TransactionHash:   tx.Hash,
			TransactionIndex:  tx.TransactionIndex,
			BlockHash:         blk.Hash,
			From:              s.from,
			To:                s.to,
			GasUsed:           hexutil.Uint64(s.gasUsed),
			EffectiveGasPrice: hexBig(price),
			Status:            u64p(1),
			Logs:              []ethereum.RPCLog{},
		}
		if s.to == nil {
			rc.ContractAddress = addrp(s.created)
		}
		if s.failed {
			rc.Status = u64p(0)
		} else {
			for _, l := range s.logs {
				l.LogIndex = hexutil.Uint64(logIndex)
				logIndex++
				rc.Logs = append(rc.Logs, l)
			}
		}
		raw.Receipts = append(raw.Receipts, rc)
		frame := s.frame
		raw.Calls = append(raw.Calls, ethereum.TxTrace{TxHash: &txHashes[i], Result: &frame})
		raw.Parity = append(raw.Parity, parityOf(&frame, []int{}, tx.Hash, i)...)
	}
	blk.GasUsed = hexutil.Uint64(gasTotal)
	blk.Size = hexutil.Uint64(600 + 150*len(specs))
	if c.opts.Uncles && h > 0 {
		raw.Parity = append(raw.Parity, ethereum.ParityTrace{
			Type:         "reward",
			Action:       ethereum.ParityAction{Author: addrp(Miner), RewardType: "block", Value: hexBig(etherTimes(2, 1))},
			TraceAddress: []int{},
		})
	}
	return raw
}

// txSpecs lists the transactions of block h on branch br.
func (c *Chain) txSpecs(h int64, br int) []txSpec {
	bump := wei(h*1000 + int64(br)) // makes every branch's values differ
	var specs []txSpec

	// 0: a plain transfer.
	v0 := new(big.Int).Add(etherTimes(1, 1), bump)
	specs = append(specs, txSpec{
		from: Alice, to: addrp(Bob), value: v0, gasUsed: 21_000,
		frame: ethereum.CallFrame{Type: "CALL", From: Alice, To: addrp(Bob), Value: hexBig(v0), Gas: 21_000, GasUsed: 21_000},
	})

	// 1: ERC-20 transfers: the standard token, and a mint.
	specs = append(specs, txSpec{
		from: Alice, to: addrp(TokenStd), value: wei(0), gasUsed: 52_000,
		logs: []ethereum.RPCLog{
			transferLog(TokenStd, Alice, Bob, etherTimes(5, 1)),
			transferLog(TokenStd, common.Address{}, Carol, wei(1)),
		},
		frame: ethereum.CallFrame{Type: "CALL", From: Alice, To: addrp(TokenStd), Value: hexBig(wei(0)), Gas: 60_000, GasUsed: 52_000},
	})

	// 2: a call with internal transfers.
	v2 := etherTimes(1, 2)
	specs = append(specs, txSpec{
		from: Bob, to: addrp(Forwarder), value: v2, gasUsed: 120_000,
		logs: []ethereum.RPCLog{
			transferLog(TokenBytes32, Forwarder, Carol, wei(7)),
			nftLog(Forwarder, Bob, 42),
			transferLog(TokenGarbage, Forwarder, Bob, wei(0)),
		},
		frame: ethereum.CallFrame{
			Type: "CALL", From: Bob, To: addrp(Forwarder), Value: hexBig(v2), Gas: 200_000, GasUsed: 120_000,
			Calls: []ethereum.CallFrame{
				{Type: "CALL", From: Forwarder, To: addrp(Carol), Value: hexBig(etherTimes(1, 5)), Gas: 2_300},
				{Type: "STATICCALL", From: Forwarder, To: addrp(TokenStd), Gas: 5_000, GasUsed: 2_000},
				{Type: "DELEGATECALL", From: Forwarder, To: addrp(Library), Value: hexBig(v2), Gas: 9_000, GasUsed: 3_000,
					Calls: []ethereum.CallFrame{
						{Type: "CALL", From: Forwarder, To: addrp(Alice), Value: hexBig(wei(3)), Gas: 2_300},
					}},
				{Type: "CALL", From: Forwarder, To: addrp(Reverter), Value: hexBig(etherTimes(1, 10)), Gas: 30_000, GasUsed: 30_000, Error: "execution reverted",
					Calls: []ethereum.CallFrame{
						{Type: "CALL", From: Reverter, To: addrp(Bob), Value: hexBig(etherTimes(1, 20)), Gas: 2_300},
					}},
			},
		},
	})

	// 3: a failed transaction (it pays its fee, moves nothing else).
	v3 := etherTimes(1, 1)
	specs = append(specs, txSpec{
		from: Carol, to: addrp(Reverter), value: v3, gasUsed: 30_000, failed: true,
		frame: ethereum.CallFrame{Type: "CALL", From: Carol, To: addrp(Reverter), Value: hexBig(v3), Gas: 30_000, GasUsed: 30_000, Error: "execution reverted",
			Calls: []ethereum.CallFrame{{Type: "CALL", From: Reverter, To: addrp(Bob), Value: hexBig(wei(5)), Gas: 2_300}}},
	})

	// 4: a creation with value, creating another contract with CREATE2.
	if h%3 == 1 {
		created := addr(fmt.Sprint("created", br, h))
		inner := addr(fmt.Sprint("created2", br, h))
		v4 := etherTimes(3, 10)
		specs = append(specs, txSpec{
			from: Alice, value: v4, gasUsed: 200_000, created: created,
			logs: []ethereum.RPCLog{transferLog(TokenRevert, common.Address{}, Alice, wei(1_000))},
			frame: ethereum.CallFrame{Type: "CREATE", From: Alice, To: addrp(created), Value: hexBig(v4), Gas: 300_000, GasUsed: 200_000,
				Calls: []ethereum.CallFrame{{Type: "CREATE2", From: created, To: addrp(inner), Value: hexBig(etherTimes(1, 10)), Gas: 100_000, GasUsed: 50_000}}},
		})
	}

	// 5: a self-destruct sending the contract's balance to Bob.
	if h%4 == 2 {
		specs = append(specs, txSpec{
			from: Alice, to: addrp(Doomed), value: wei(0), gasUsed: 30_000,
			frame: ethereum.CallFrame{Type: "CALL", From: Alice, To: addrp(Doomed), Value: hexBig(wei(0)), Gas: 40_000, GasUsed: 30_000,
				Calls: []ethereum.CallFrame{{Type: "SELFDESTRUCT", From: Doomed, To: addrp(Bob), Value: hexBig(etherTimes(7, 10))}}},
		})
	}
	return specs
}

// transferLog is an ERC-20 Transfer event of token.
func transferLog(token, from, to common.Address, v *big.Int) ethereum.RPCLog {
	return ethereum.RPCLog{
		Address: token,
		Topics:  []common.Hash{ethereum.TransferTopic, common.BytesToHash(from.Bytes()), common.BytesToHash(to.Bytes())},
		Data:    common.BigToHash(v).Bytes(),
	}
}

// nftLog is an ERC-721 Transfer event: the token id is the fourth topic.
func nftLog(from, to common.Address, id uint64) ethereum.RPCLog {
	var idt common.Hash
	binary.BigEndian.PutUint64(idt[24:], id)
	return ethereum.RPCLog{
		Address: NFT,
		Topics:  []common.Hash{ethereum.TransferTopic, common.BytesToHash(from.Bytes()), common.BytesToHash(to.Bytes()), idt},
		Data:    []byte{},
	}
}

// parityOf flattens a callTracer frame and its subtree into trace_block's
// form, in pre-order.
func parityOf(f *ethereum.CallFrame, path []int, txHash common.Hash, pos int) []ethereum.ParityTrace {
	th, tp := txHash, pos
	t := ethereum.ParityTrace{
		Subtraces:           len(f.Calls),
		TraceAddress:        append([]int{}, path...),
		TransactionHash:     &th,
		TransactionPosition: &tp,
	}
	from := f.From
	value := f.Value
	if value == nil {
		value = hexBig(wei(0))
	}
	switch f.Type {
	case "CREATE", "CREATE2":
		t.Type = "create"
		t.Action = ethereum.ParityAction{From: &from, Value: value}
		if f.Error == "" {
			t.Result = json.RawMessage(fmt.Sprintf(`{"address":%q,"code":"0x","gasUsed":"%#x"}`, strings.ToLower(f.To.Hex()), uint64(f.GasUsed)))
		}
	case "SELFDESTRUCT":
		t.Type = "suicide"
		t.Action = ethereum.ParityAction{Address: &from, RefundAddress: f.To, Balance: value}
	default:
		t.Type = "call"
		t.Action = ethereum.ParityAction{CallType: strings.ToLower(f.Type), From: &from, To: f.To, Value: value}
		if f.Error == "" {
			t.Result = json.RawMessage(fmt.Sprintf(`{"gasUsed":"%#x","output":"0x"}`, uint64(f.GasUsed)))
		}
	}
	if f.Error != "" {
		t.Error = "Reverted"
	}
	out := []ethereum.ParityTrace{t}
	for i := range f.Calls {
		out = append(out, parityOf(&f.Calls[i], append(path[:len(path):len(path)], i), txHash, pos)...)
	}
	return out
}
