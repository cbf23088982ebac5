package ethereum

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// ErrWrongChain is wrapped by Check when the node's eth_chainId is not the
// chain id the client expects.
var ErrWrongChain = errors.New("ethereum: node serves another chain")

// Method names the client calls.
const (
	methodBlockByNumber   = "eth_getBlockByNumber"
	methodBlockReceipts   = "eth_getBlockReceipts"
	methodTxReceipt       = "eth_getTransactionReceipt"
	methodDebugTrace      = "debug_traceBlockByNumber"
	methodTraceBlock      = "trace_block"
	methodUncleByHash     = "eth_getUncleByBlockHashAndIndex"
	methodCall            = "eth_call"
	methodChainID         = "eth_chainId"
	methodBlockNumber     = "eth_blockNumber"
	defaultBlocksPerBatch = 10
	defaultMaxBatch       = 100
	defaultTraceTimeout   = "60s"
	defaultRefetches      = 2
	defaultTokenCache     = 100_000
)

// ClientOptions tune a Client; the zero value is usable.
type ClientOptions struct {
	// Logger gets the client's records: Info when it falls back to
	// another receipt or trace method, one Warn for the client's lifetime
	// when the node traces neither way, Debug when a block is fetched
	// again because the node's chain moved. Default: discard.
	Logger *slog.Logger
	// BlocksPerBatch is the number of blocks whose eth_getBlockByNumber,
	// eth_getBlockReceipts and trace calls share one batch (default 10).
	// A batch whose reply the node finds too large is split (geth's
	// --rpc.batch-response-max-size, 25 MB by default).
	BlocksPerBatch int
	// MaxBatch bounds the calls of the other batches: per-transaction
	// receipts, uncles, token metadata (default 100; geth allows 1000).
	MaxBatch int
	// TraceTimeout is callTracer's per-transaction timeout (default
	// "60s"; geth's own default is 5s, too short for heavy blocks).
	TraceTimeout string
	// Refetches is how many times a block is fetched again when its
	// receipts or traces turn out to belong to another block (the node's
	// chain moved between the calls) before giving up (default 2).
	Refetches int
	// TokenCache bounds the number of token descriptions kept; the cache
	// is emptied when it is full (default 100,000).
	TokenCache int
	// NoTokenMetadata skips the name/symbol/decimals calls: RawBlock.Tokens
	// stays empty and tokens are described as unknown.
	NoTokenMetadata bool
}

// Capabilities says which methods the client uses for receipts and
// internal transfers. The choice is made once, at Check or at the first
// block fetched, and kept (a node refusing a method once is not asked
// again).
type Capabilities struct {
	// Probed is false until the choice is made.
	Probed bool
	// Receipts is eth_getBlockReceipts, or eth_getTransactionReceipt
	// (one call per transaction) when the node refuses it.
	Receipts string
	// Traces is how internal transfers are read.
	Traces TraceSource
	// TraceMethod is debug_traceBlockByNumber (callTracer), trace_block,
	// or "" when the node has neither (blocks are marked NoTraces).
	TraceMethod string
}

// Client reads blocks from an Ethereum (or other EVM) node's JSON-RPC
// through an endpoint.Endpoint, which brings credentials, timeouts,
// retries, rate limits and secret scrubbing, using go-ethereum's
// rpc.Client for the protocol and fundtrace's own result structs (never
// go-ethereum's core/types, which refuse unknown transaction types).
//
// A block is eth_getBlockByNumber with full transactions, its receipts
// (eth_getBlockReceipts, or eth_getTransactionReceipt per transaction on
// nodes without it), its internal calls (debug_traceBlockByNumber with
// callTracer, else trace_block, else none), its uncles while proof-of-work
// rewards apply, and the ERC-20 metadata of its tokens. Calls of several
// blocks share batches. Receipts and traces are checked against the block
// (block hash, transaction hashes): when the node's chain moved between
// the calls, the block is fetched again.
//
// A Client is an indexer Source and BlockRanger and is safe for
// concurrent use.
type Client struct {
	ep   *endpoint.Endpoint
	rpc  *rpc.Client
	p    *Params
	log  *slog.Logger
	opts ClientOptions

	probeMu sync.Mutex // serializes probing

	mu           sync.Mutex // guards what follows
	receiptsSet  bool
	perTx        bool // eth_getBlockReceipts refused
	tracesSet    bool
	traces       TraceSource
	tokens       map[common.Address]chains.Token
	warnedTraces bool
}

// NewClient returns a client of the node behind ep for the chain p. It
// does not contact the node: call Check to verify the chain id.
func NewClient(ctx context.Context, ep *endpoint.Endpoint, p *Params, opts ClientOptions) (*Client, error) {
	if ep == nil || p == nil {
		return nil, errors.New("ethereum: NewClient needs an endpoint and chain parameters")
	}
	rc, err := rpc.DialOptions(ctx, endpoint.TransportURL, rpc.WithHTTPClient(ep.HTTPClient()))
	if err != nil {
		return nil, fmt.Errorf("ethereum: endpoint %s: %w", ep.Name(), ep.Scrub(err))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BlocksPerBatch <= 0 {
		opts.BlocksPerBatch = defaultBlocksPerBatch
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.TraceTimeout == "" {
		opts.TraceTimeout = defaultTraceTimeout
	}
	if opts.Refetches <= 0 {
		opts.Refetches = defaultRefetches
	}
	if opts.TokenCache <= 0 {
		opts.TokenCache = defaultTokenCache
	}
	return &Client{
		ep: ep, rpc: rc, p: p, log: opts.Logger, opts: opts,
		tokens: map[common.Address]chains.Token{},
	}, nil
}

// Close releases the client's resources.
func (c *Client) Close() {
	c.rpc.Close()
	c.ep.CloseIdleConnections()
}

// Name returns the endpoint's name, without secrets.
func (c *Client) Name() string { return c.ep.Name() }

// Params returns the chain parameters the client extracts blocks with.
func (c *Client) Params() *Params { return c.p }

// Capabilities returns the receipt and trace methods in use.
func (c *Client) Capabilities() Capabilities {
	c.mu.Lock()
	defer c.mu.Unlock()
	caps := Capabilities{Probed: c.receiptsSet && c.tracesSet, Traces: c.traces}
	if c.receiptsSet {
		caps.Receipts = methodBlockReceipts
		if c.perTx {
			caps.Receipts = methodTxReceipt
		}
	}
	if c.tracesSet {
		caps.TraceMethod = traceMethod(c.traces)
	}
	return caps
}

func traceMethod(src TraceSource) string {
	switch src {
	case TracesCallTracer:
		return methodDebugTrace
	case TracesParity:
		return methodTraceBlock
	}
	return ""
}

// RPCError is a JSON-RPC error object returned by the node.
type RPCError struct {
	Code    int
	Message string // scrubbed of the endpoint's secrets
	// HTTPStatus is the HTTP status the error came with when it was not
	// 200 (some providers send JSON-RPC errors with 4xx); else 0.
	HTTPStatus int
}

// Error returns "json-rpc error CODE: MESSAGE".
func (e *RPCError) Error() string {
	s := "json-rpc error " + strconv.Itoa(e.Code) + ": " + e.Message
	if e.HTTPStatus != 0 {
		s += " (HTTP " + strconv.Itoa(e.HTTPStatus) + ")"
	}
	return s
}

// ErrorCode returns the JSON-RPC error code (go-ethereum's rpc.Error).
func (e *RPCError) ErrorCode() int { return e.Code }

// Check verifies that the node serves the client's chain: eth_chainId must
// be Params.ChainID, else the error wraps ErrWrongChain and names both ids.
// Bad credentials fail at once with endpoint.ErrUnauthorized. It then
// chooses the receipt and trace methods (see Capabilities), probing the
// node at its tip.
func (c *Client) Check(ctx context.Context) error {
	var id hexutil.Big
	if err := c.callOne(ctx, methodChainID, &id); err != nil {
		return err
	}
	got := id.ToInt()
	if !got.IsUint64() || got.Uint64() != c.p.ChainID {
		other := "an unknown chain"
		for _, k := range chains.Known() {
			if info, err := chains.Lookup(k); err == nil && got.IsUint64() && info.EVMChainID == got.Uint64() {
				other = string(k)
			}
		}
		return fmt.Errorf("%w: node %s has chain id %s (%s), want %d (%s)",
			ErrWrongChain, c.Name(), got, other, c.p.ChainID, c.p.Chain)
	}
	var tip hexutil.Uint64
	if err := c.callOne(ctx, methodBlockNumber, &tip); err != nil {
		return err
	}
	if err := c.probe(ctx, int64(tip)); err != nil {
		return err
	}
	caps := c.Capabilities()
	c.log.LogAttrs(ctx, slog.LevelInfo, "ethereum node checked",
		slog.String("endpoint", c.Name()), slog.Uint64("chain_id", c.p.ChainID), slog.Uint64("tip", uint64(tip)),
		slog.String("receipts", caps.Receipts), slog.String("traces", caps.TraceMethod))
	return nil
}

// header is the part of a block object that Tip and BlockHash read.
type header struct {
	Number hexutil.Uint64 `json:"number"`
	Hash   common.Hash    `json:"hash"`
}

// Tip returns the height and hash of the node's latest block, read
// together from one eth_getBlockByNumber("latest").
func (c *Client) Tip(ctx context.Context) (int64, chains.Hash, error) {
	var h *header
	if err := c.callOne(ctx, methodBlockByNumber, &h, "latest", false); err != nil {
		return 0, chains.Hash{}, err
	}
	if h == nil {
		return 0, chains.Hash{}, c.wrap(methodBlockByNumber, fmt.Errorf("%w: no latest block", endpoint.ErrMalformed))
	}
	return int64(h.Number), chains.Hash(h.Hash), nil
}

// BlockHash returns the hash of the block at height. A height above the
// node's tip (or below zero) gives an error wrapping chains.ErrBeyondTip.
func (c *Client) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	if height < 0 {
		return chains.Hash{}, fmt.Errorf("%w: height %d is negative", chains.ErrBeyondTip, height)
	}
	var h *header
	if err := c.callOne(ctx, methodBlockByNumber, &h, hexutil.EncodeUint64(uint64(height)), false); err != nil {
		return chains.Hash{}, fmt.Errorf("ethereum: block %d: %w", height, err)
	}
	if h == nil {
		return chains.Hash{}, beyondTip(c.Name(), height)
	}
	if int64(h.Number) != height {
		return chains.Hash{}, fmt.Errorf("ethereum: block %d: %w", height,
			c.wrap(methodBlockByNumber, fmt.Errorf("%w: the node sent block %d", endpoint.ErrMalformed, h.Number)))
	}
	return chains.Hash(h.Hash), nil
}

func beyondTip(node string, height int64) error {
	return fmt.Errorf("%w: block %d: node %s does not have it yet", chains.ErrBeyondTip, height, node)
}

// Block returns the block at height, extracted (see Extract).
func (c *Client) Block(ctx context.Context, height int64) (chains.Block, error) {
	raws, err := c.RawBlocks(ctx, height, height)
	if err != nil {
		return chains.Block{}, err
	}
	return Extract(c.p, raws[0])
}

// Blocks returns the blocks from height from to height to, both included,
// extracted (see Extract). Their calls share batches (see
// ClientOptions.BlocksPerBatch). It implements the indexer's BlockRanger.
func (c *Client) Blocks(ctx context.Context, from, to int64) ([]chains.Block, error) {
	raws, err := c.RawBlocks(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]chains.Block, len(raws))
	for i, raw := range raws {
		if out[i], err = Extract(c.p, raw); err != nil {
			return nil, err
		}
		raws[i] = nil // let the GC take the raw block early
	}
	return out, nil
}

// RawBlocks returns what the node says about the blocks from height from
// to height to, both included, before extraction: block, receipts,
// uncles (while proof-of-work rewards apply), traces by the method in use
// (see Capabilities), and the token metadata of the block's ERC-20
// Transfer logs. A height above the tip gives an error wrapping
// chains.ErrBeyondTip; receipts or traces that keep belonging to another
// block (a chain that keeps moving) give an error wrapping ErrInconsistent
// whose Transient method reports true.
func (c *Client) RawBlocks(ctx context.Context, from, to int64) ([]*RawBlock, error) {
	if from < 0 || to < from {
		return nil, fmt.Errorf("%w: height range %d..%d", chains.ErrBeyondTip, from, to)
	}
	if err := c.probe(ctx, from); err != nil {
		return nil, err
	}
	out := make([]*RawBlock, 0, to-from+1)
	for lo := from; lo <= to; lo += int64(c.opts.BlocksPerBatch) {
		hi := min(to, lo+int64(c.opts.BlocksPerBatch)-1)
		raws, err := c.fetchRange(ctx, lo, hi)
		if err != nil {
			return nil, err
		}
		out = append(out, raws...)
	}
	if err := c.addTokens(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// mode is the choice of receipt and trace methods for one fetch.
type mode struct {
	perTx  bool
	traces TraceSource
}

func (c *Client) mode() mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return mode{perTx: c.perTx, traces: c.traces}
}

// errModeChanged tells fetchRange that a method was refused during the
// fetch and the sticky choice changed: fetch again with the fallback.
var errModeChanged = errors.New("ethereum: method refused, falling back")

// moved is a block whose receipts or traces belong to another block.
type moved struct {
	i   int
	why string
}

// fetchRange fetches the blocks lo..hi, fetching again those whose
// receipts or traces turn out to belong to another block.
func (c *Client) fetchRange(ctx context.Context, lo, hi int64) ([]*RawBlock, error) {
	raws := make([]*RawBlock, hi-lo+1)
	todo := make([]int, len(raws))
	for i := range todo {
		todo[i] = i
	}
	for round := 0; ; {
		mv, err := c.fetchSet(ctx, lo, todo, raws)
		if errors.Is(err, errModeChanged) {
			continue // at most three times: each fallback happens once
		}
		if err != nil {
			return nil, err
		}
		if len(mv) == 0 {
			return raws, nil
		}
		if round >= c.opts.Refetches {
			h := lo + int64(mv[0].i)
			return nil, &chainMovedError{fmt.Errorf("%w: block %d: %s (node %s; fetched %d times, the node's chain kept moving)",
				ErrInconsistent, h, mv[0].why, c.Name(), round+1)}
		}
		round++
		todo = todo[:0]
		for _, m := range mv {
			c.log.LogAttrs(ctx, slog.LevelDebug, "ethereum block changed between calls, fetching it again",
				slog.String("endpoint", c.Name()), slog.Int64("height", lo+int64(m.i)), slog.String("why", m.why))
			todo = append(todo, m.i)
		}
	}
}

// chainMovedError marks an inconsistency caused by a node whose chain kept
// moving while a block was fetched: it may go away by itself.
type chainMovedError struct{ error }

func (e *chainMovedError) Unwrap() error   { return e.error }
func (e *chainMovedError) Transient() bool { return true }

// fetched is one block's calls of a fetch.
type fetched struct {
	block    *RPCBlock
	receipts []*RPCReceipt
	calls    []TxTrace
	parity   []ParityTrace
	bc       *call
	rc       *call
	tc       *call
}

// fetchSet fetches the blocks lo+i for i in todo into raws and returns
// those whose parts do not belong together.
func (c *Client) fetchSet(ctx context.Context, lo int64, todo []int, raws []*RawBlock) ([]moved, error) {
	m := c.mode()
	fs := make([]*fetched, len(todo))
	var calls []*call
	for k, i := range todo {
		num := hexutil.EncodeUint64(uint64(lo + int64(i)))
		f := &fetched{}
		f.bc = &call{method: methodBlockByNumber, args: []any{num, true}, result: &f.block}
		calls = append(calls, f.bc)
		if !m.perTx {
			f.rc = &call{method: methodBlockReceipts, args: []any{num}, result: &f.receipts}
			calls = append(calls, f.rc)
		}
		switch {
		case lo+int64(i) == 0:
			// The genesis block has no transactions, and geth refuses to
			// trace it ("genesis is not traceable").
			f.calls, f.parity = []TxTrace{}, []ParityTrace{}
		case m.traces == TracesCallTracer:
			f.tc = &call{method: methodDebugTrace, args: []any{num, c.traceConfig()}, result: &f.calls}
			calls = append(calls, f.tc)
		case m.traces == TracesParity:
			f.tc = &call{method: methodTraceBlock, args: []any{num}, result: &f.parity}
			calls = append(calls, f.tc)
		}
		fs[k] = f
	}
	if err := c.batch(ctx, "batch:blocks", calls); err != nil {
		return nil, fmt.Errorf("ethereum: blocks %d..%d: %w", lo+int64(todo[0]), lo+int64(todo[len(todo)-1]), err)
	}
	changed := false
	for k, i := range todo {
		h, f := lo+int64(i), fs[k]
		if f.bc.err != nil {
			return nil, fmt.Errorf("ethereum: block %d: %w", h, f.bc.err)
		}
		if f.block == nil {
			return nil, beyondTip(c.Name(), h)
		}
		if int64(f.block.Number) != h {
			return nil, fmt.Errorf("ethereum: block %d: %w", h,
				c.wrap(methodBlockByNumber, fmt.Errorf("%w: the node sent block %d", endpoint.ErrMalformed, f.block.Number)))
		}
		for _, cl := range []*call{f.rc, f.tc} {
			if cl == nil || cl.err == nil {
				continue
			}
			if refused(cl.err, cl.method) {
				c.refuse(ctx, cl.method)
				changed = true
				continue
			}
			return nil, fmt.Errorf("ethereum: block %d: %w", h, cl.err)
		}
	}
	if changed {
		return nil, errModeChanged
	}
	if m.perTx {
		if err := c.txReceipts(ctx, lo, todo, fs); err != nil {
			return nil, err
		}
	}
	var mv []moved
	var withUncles []*fetched
	for k, i := range todo {
		f := fs[k]
		if why := belongs(f, m); why != "" {
			mv = append(mv, moved{i, why})
			continue
		}
		if f.receipts == nil {
			f.receipts = []*RPCReceipt{} // null: an empty block that the node no longer has
		}
		raw := &RawBlock{Block: f.block, Receipts: f.receipts, TraceSource: m.traces}
		switch m.traces {
		case TracesCallTracer:
			raw.Calls = f.calls
		case TracesParity:
			raw.Parity = f.parity
		}
		raws[i] = raw
		if len(f.block.Uncles) > 0 && c.rewardsApply(lo+int64(i)) {
			withUncles = append(withUncles, f)
		}
	}
	if err := c.uncles(ctx, withUncles, raws, lo, todo, fs); err != nil {
		return nil, err
	}
	return mv, nil
}

func (c *Client) traceConfig() map[string]any {
	return map[string]any{"tracer": "callTracer", "timeout": c.opts.TraceTimeout}
}

// rewardsApply reports whether proof-of-work rewards, and so uncles,
// matter at height h.
func (c *Client) rewardsApply(h int64) bool {
	return len(c.p.Rewards) > 0 && h >= c.p.Rewards[0].From && h < c.p.MergeHeight
}

// txReceipts fetches the receipts of the blocks' transactions one call per
// transaction. A transaction the node no longer knows leaves its block's
// receipts short (belongs reports the block as moved).
func (c *Client) txReceipts(ctx context.Context, lo int64, todo []int, fs []*fetched) error {
	var calls []*call
	var owner []int
	for k, f := range fs {
		if f.block == nil {
			continue
		}
		f.receipts = make([]*RPCReceipt, len(f.block.Transactions))
		for j := range f.block.Transactions {
			calls = append(calls, &call{method: methodTxReceipt, args: []any{f.block.Transactions[j].Hash}, result: &f.receipts[j]})
			owner = append(owner, k)
		}
	}
	for start := 0; start < len(calls); start += c.opts.MaxBatch {
		end := min(len(calls), start+c.opts.MaxBatch)
		if err := c.batch(ctx, "batch:"+methodTxReceipt, calls[start:end]); err != nil {
			return fmt.Errorf("ethereum: receipts of blocks from %d: %w", lo+int64(todo[owner[start]]), err)
		}
		for j := start; j < end; j++ {
			if err := calls[j].err; err != nil {
				return fmt.Errorf("ethereum: block %d: %w", lo+int64(todo[owner[j]]), err)
			}
		}
	}
	return nil
}

// belongs checks that a block's receipts and traces are the block's, as
// they may not be when the node's chain moved between the calls; it
// returns what differs, or "".
func belongs(f *fetched, m mode) string {
	b := f.block
	if f.receipts == nil && len(b.Transactions) > 0 || len(f.receipts) != len(b.Transactions) {
		return fmt.Sprintf("%d receipts for %d transactions", len(f.receipts), len(b.Transactions))
	}
	for j, r := range f.receipts {
		tx := b.Transactions[j].Hash
		switch {
		case r == nil:
			return fmt.Sprintf("no receipt for transaction %s", tx.Hex())
		case r.BlockHash != (common.Hash{}) && r.BlockHash != b.Hash:
			return fmt.Sprintf("receipt of transaction %s has block hash %s, the block is %s", tx.Hex(), r.BlockHash.Hex(), b.Hash.Hex())
		case r.TransactionHash != tx:
			return fmt.Sprintf("receipt %d is of transaction %s, want %s", j, r.TransactionHash.Hex(), tx.Hex())
		}
	}
	switch m.traces {
	case TracesCallTracer:
		if len(f.calls) != len(b.Transactions) {
			return fmt.Sprintf("%d call traces for %d transactions", len(f.calls), len(b.Transactions))
		}
		for j, t := range f.calls {
			if t.TxHash != nil && *t.TxHash != b.Transactions[j].Hash {
				return fmt.Sprintf("call trace %d is of transaction %s, want %s", j, t.TxHash.Hex(), b.Transactions[j].Hash.Hex())
			}
		}
	case TracesParity:
		top := make([]bool, len(b.Transactions))
		for _, t := range f.parity {
			if t.TransactionPosition == nil {
				continue // a reward
			}
			pos := *t.TransactionPosition
			if pos < 0 || pos >= len(b.Transactions) {
				return fmt.Sprintf("trace of transaction position %d in a block of %d transactions", pos, len(b.Transactions))
			}
			if t.TransactionHash != nil && *t.TransactionHash != b.Transactions[pos].Hash {
				return fmt.Sprintf("trace of transaction %s at position %d, want %s", t.TransactionHash.Hex(), pos, b.Transactions[pos].Hash.Hex())
			}
			if len(t.TraceAddress) == 0 {
				top[pos] = true
			}
		}
		for j, ok := range top {
			if !ok {
				return fmt.Sprintf("no trace of transaction %s", b.Transactions[j].Hash.Hex())
			}
		}
	}
	return ""
}

// uncles fetches the uncle headers of the blocks in fs, by block hash so
// that they are the block's whatever the chain did since.
func (c *Client) uncles(ctx context.Context, fs []*fetched, raws []*RawBlock, lo int64, todo []int, all []*fetched) error {
	if len(fs) == 0 {
		return nil
	}
	index := map[*fetched]int{}
	for k, f := range all {
		index[f] = todo[k]
	}
	type slot struct {
		f *fetched
		j int
	}
	var calls []*call
	var slots []slot
	got := map[*fetched][]*RPCBlock{}
	for _, f := range fs {
		got[f] = make([]*RPCBlock, len(f.block.Uncles))
		for j := range f.block.Uncles {
			calls = append(calls, &call{method: methodUncleByHash, args: []any{f.block.Hash, hexutil.EncodeUint64(uint64(j))}, result: &got[f][j]})
			slots = append(slots, slot{f, j})
		}
	}
	for start := 0; start < len(calls); start += c.opts.MaxBatch {
		end := min(len(calls), start+c.opts.MaxBatch)
		if err := c.batch(ctx, "batch:"+methodUncleByHash, calls[start:end]); err != nil {
			return fmt.Errorf("ethereum: uncles: %w", err)
		}
	}
	for k, cl := range calls {
		s := slots[k]
		h := lo + int64(index[s.f])
		if cl.err != nil {
			return fmt.Errorf("ethereum: block %d: uncle %d: %w", h, s.j, cl.err)
		}
		u := got[s.f][s.j]
		if u == nil || u.Hash != s.f.block.Uncles[s.j] {
			what := "none"
			if u != nil {
				what = u.Hash.Hex()
			}
			return fmt.Errorf("%w: block %d (%s): uncle %d is %s, the node sent %s", ErrInconsistent, h, s.f.block.Hash.Hex(), s.j, s.f.block.Uncles[s.j].Hex(), what)
		}
	}
	for _, f := range fs {
		raws[index[f]].Uncles = got[f]
	}
	return nil
}

// probe chooses the receipt and trace methods, once: it calls
// eth_getBlockReceipts and the trace methods alone for block height and
// falls back from each one the node refuses.
func (c *Client) probe(ctx context.Context, height int64) error {
	c.mu.Lock()
	done := c.receiptsSet && c.tracesSet
	c.mu.Unlock()
	if done {
		return nil
	}
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	c.mu.Lock()
	receiptsSet, tracesSet := c.receiptsSet, c.tracesSet
	c.mu.Unlock()
	num := hexutil.EncodeUint64(uint64(max(height, 0)))
	if !receiptsSet {
		no, err := c.probeMethod(ctx, methodBlockReceipts, num)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.receiptsSet = true
		c.mu.Unlock()
		if no {
			c.refuse(ctx, methodBlockReceipts)
		}
	}
	if !tracesSet {
		src := TracesCallTracer
		no, err := c.probeMethod(ctx, methodDebugTrace, num, c.traceConfig())
		if err != nil {
			return err
		}
		if no {
			src = TracesParity
			if no, err = c.probeMethod(ctx, methodTraceBlock, num); err != nil {
				return err
			}
			if no {
				src = TracesNone
			}
		}
		c.setTraces(ctx, src)
	}
	return nil
}

// probeMethod calls method alone and reports whether the node refuses it.
// An error other than a refusal (a block not found, a tracer failure)
// means the method exists. A refusal by HTTP status (403, 405, 501)
// counts only if the node answers eth_blockNumber, so that bad
// credentials are not taken for a refused method.
func (c *Client) probeMethod(ctx context.Context, method string, args ...any) (bool, error) {
	var discard json.RawMessage
	cl := &call{method: method, args: args, result: &discard}
	err := c.batch(ctx, method, []*call{cl})
	if err == nil && cl.err == nil {
		return false, nil
	}
	if err == nil && refused(cl.err, method) {
		return true, nil
	}
	if e := firstErr(err, cl.err); httpRefusal(e) {
		var n hexutil.Uint64
		if c.callOne(ctx, methodBlockNumber, &n) != nil {
			return false, e
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var re *RPCError
	if !errors.As(cl.err, &re) {
		return false, cl.err // a reply that does not decode says nothing
	}
	return false, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// refuse records that the node refused method and falls back, for the
// client's lifetime.
func (c *Client) refuse(ctx context.Context, method string) {
	switch method {
	case methodBlockReceipts:
		c.mu.Lock()
		already := c.perTx
		c.perTx = true
		c.mu.Unlock()
		if !already {
			c.log.LogAttrs(ctx, slog.LevelInfo, "node refuses eth_getBlockReceipts: fetching receipts one transaction at a time",
				slog.String("endpoint", c.Name()))
		}
	case methodDebugTrace:
		c.setTraces(ctx, TracesParity)
	case methodTraceBlock:
		c.setTraces(ctx, TracesNone)
	}
}

// setTraces sets the trace source; it only ever moves down (callTracer,
// parity, none) and logs each change once.
func (c *Client) setTraces(ctx context.Context, src TraceSource) {
	c.mu.Lock()
	if c.tracesSet && (src == c.traces || c.traces == TracesNone || c.traces == TracesParity && src == TracesCallTracer) {
		c.mu.Unlock()
		return
	}
	c.tracesSet, c.traces = true, src
	warn := src == TracesNone && !c.warnedTraces
	if warn {
		c.warnedTraces = true
	}
	c.mu.Unlock()
	switch {
	case warn:
		c.log.LogAttrs(ctx, slog.LevelWarn, "node traces neither by debug_traceBlockByNumber nor by trace_block: internal transfers (contract calls, creations, self-destructs) will be missing; blocks are marked NoTraces",
			slog.String("endpoint", c.Name()))
	case src == TracesParity:
		c.log.LogAttrs(ctx, slog.LevelInfo, "node refuses debug_traceBlockByNumber: tracing with trace_block",
			slog.String("endpoint", c.Name()))
	}
}

// refused reports whether err says that the node does not serve method:
// JSON-RPC -32601, or a message saying the method does not exist, is not
// available, supported, allowed or enabled (providers use -32600, -32000
// or -32603 for that too), or that the tracer is unknown.
func refused(err error, method string) bool {
	var re *RPCError
	if !errors.As(err, &re) {
		return false
	}
	if re.Code == -32601 {
		return true
	}
	m := strings.ToLower(re.Message)
	if !strings.Contains(m, "method") && !strings.Contains(m, strings.ToLower(method)) &&
		!strings.Contains(m, "tracer") && !strings.Contains(m, "namespace") {
		return false
	}
	for _, s := range []string{"not exist", "not available", "not supported", "unsupported", "not found",
		"not allowed", "not enabled", "disabled", "not whitelisted", "not permitted", "unknown"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// httpRefusal reports whether err is an HTTP status that refuses a
// request as such: 403, 405 or 501.
func httpRefusal(err error) bool {
	st := endpoint.StatusCode(err)
	var re *RPCError
	if errors.As(err, &re) && re.HTTPStatus != 0 {
		st = re.HTTPStatus
	}
	return st == 403 || st == 405 || st == 501
}

// addTokens describes the token contracts of the blocks' ERC-20 Transfer
// logs in RawBlock.Tokens, asking the node for those not yet cached.
func (c *Client) addTokens(ctx context.Context, raws []*RawBlock) error {
	for _, raw := range raws {
		raw.Tokens = map[common.Address]chains.Token{}
	}
	if c.opts.NoTokenMetadata {
		return nil
	}
	var need []common.Address
	at := map[common.Address]int64{} // the height to ask at
	c.mu.Lock()
	for _, raw := range raws {
		for _, a := range transferTokens(raw) {
			if _, ok := c.tokens[a]; ok {
				continue
			}
			if _, ok := at[a]; !ok {
				at[a] = int64(raw.Block.Number)
				need = append(need, a)
			}
		}
	}
	c.mu.Unlock()
	fresh, err := c.tokenMetadata(ctx, need, at)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens)+len(fresh) > c.opts.TokenCache {
		c.tokens = map[common.Address]chains.Token{}
	}
	for a, t := range fresh {
		c.tokens[a] = t
	}
	for _, raw := range raws {
		for _, a := range transferTokens(raw) {
			t, ok := fresh[a]
			if !ok {
				t, ok = c.tokens[a]
			}
			if !ok {
				t = chains.Token{Decimals: -1}
			}
			raw.Tokens[a] = t
		}
	}
	return nil
}

// transferTokens lists the contracts of a block's ERC-20 Transfer logs
// (three topics, 32 bytes of data, not removed), in log order, each once.
func transferTokens(raw *RawBlock) []common.Address {
	var out []common.Address
	seen := map[common.Address]bool{}
	for _, r := range raw.Receipts {
		for _, l := range r.Logs {
			if len(l.Topics) == 3 && l.Topics[0] == TransferTopic && len(l.Data) == 32 && !l.Removed && !seen[l.Address] {
				seen[l.Address] = true
				out = append(out, l.Address)
			}
		}
	}
	return out
}

// tokenMetadata calls name(), symbol() and decimals() of the tokens, at
// the height where each was seen; calls failing for another reason than a
// revert (state pruned by a non-archive node) are asked again at the
// latest block. Reverts and garbage make the value unknown; a failed
// request is an error.
func (c *Client) tokenMetadata(ctx context.Context, tokens []common.Address, at map[common.Address]int64) (map[common.Address]chains.Token, error) {
	out := make(map[common.Address]chains.Token, len(tokens))
	if len(tokens) == 0 {
		return out, nil
	}
	selectors := [][4]byte{SelectorName, SelectorSymbol, SelectorDecimals}
	rets := make([][3][]byte, len(tokens))
	calls := make([]*call, 0, 3*len(tokens))
	for i, a := range tokens {
		for j, sel := range selectors {
			msg := map[string]any{"to": a, "data": hexutil.Bytes(sel[:])}
			calls = append(calls, &call{method: methodCall, args: []any{msg, hexutil.EncodeUint64(uint64(at[a]))}, result: (*hexutil.Bytes)(&rets[i][j])})
		}
	}
	run := func(cs []*call) error {
		for start := 0; start < len(cs); start += c.opts.MaxBatch {
			if err := c.batch(ctx, "batch:"+methodCall, cs[start:min(len(cs), start+c.opts.MaxBatch)]); err != nil {
				return fmt.Errorf("ethereum: token metadata: %w", err)
			}
		}
		return nil
	}
	if err := run(calls); err != nil {
		return nil, err
	}
	var again []*call
	for _, cl := range calls {
		var re *RPCError
		if cl.err != nil && errors.As(cl.err, &re) && !reverted(re) {
			cl.args[1] = "latest"
			again = append(again, cl)
		}
	}
	if err := run(again); err != nil {
		return nil, err
	}
	for i, a := range tokens {
		var r [3][]byte
		for j := range selectors {
			if calls[3*i+j].err == nil {
				r[j] = rets[i][j]
			}
		}
		out[a] = chains.Token{Name: DecodeTokenString(r[0]), Symbol: DecodeTokenString(r[1]), Decimals: DecodeTokenDecimals(r[2])}
	}
	return out, nil
}

// reverted reports whether an eth_call error is the contract's revert
// (geth: code 3 "execution reverted"; others: -32000 or -32015 with
// "revert" in the message) or another failure of the call's execution.
func reverted(re *RPCError) bool {
	m := strings.ToLower(re.Message)
	return re.Code == 3 || strings.Contains(m, "revert") || strings.Contains(m, "invalid opcode") ||
		strings.Contains(m, "out of gas") || strings.Contains(m, "stack") || strings.Contains(m, "invalid jump")
}

// call is one JSON-RPC call of a batch.
type call struct {
	method string
	args   []any
	result any   // a pointer the result is decoded into
	err    error // the call's own error, after batch
}

// callOne makes one call; every error is returned.
func (c *Client) callOne(ctx context.Context, method string, result any, args ...any) error {
	cl := &call{method: method, args: args, result: result}
	if err := c.batch(ctx, method, []*call{cl}); err != nil {
		return err
	}
	return cl.err
}

// batch sends calls in one request (one call alone, not as a batch) with
// op as its label. The returned error concerns the whole request; each
// call's own error (an *RPCError, a result that does not decode) is in its
// err, wrapped in an *endpoint.Error naming the method. Calls that a batch
// could not answer (geth's "response too large", "batch too large", a
// batch timeout, missing replies) are sent again in halves, down to single
// calls, which no batch limit applies to.
func (c *Client) batch(ctx context.Context, op string, calls []*call) error {
	switch len(calls) {
	case 0:
		return nil
	case 1:
		cl := calls[0]
		err := c.rpc.CallContext(endpoint.WithOp(ctx, cl.method), cl.result, cl.method, cl.args...)
		cl.err = nil
		if err == nil {
			return nil
		}
		if e, whole := c.requestError(cl.method, err); whole {
			return e
		}
		cl.err = c.callError(cl.method, err)
		return nil
	}
	elems := make([]rpc.BatchElem, len(calls))
	for i, cl := range calls {
		elems[i] = rpc.BatchElem{Method: cl.method, Args: cl.args, Result: cl.result}
	}
	if err := c.rpc.BatchCallContext(endpoint.WithOp(ctx, op), elems); err != nil {
		if rej, ok := asBatchRejected(err); ok && rej.tooLarge() {
			half := len(calls) / 2
			if err := c.batch(ctx, op, calls[:half]); err != nil {
				return err
			}
			return c.batch(ctx, op, calls[half:])
		}
		e, _ := c.requestError(op, err)
		return e
	}
	var again []*call
	for i, cl := range calls {
		cl.err = nil
		if el := elems[i].Error; el != nil {
			if unanswered(el) {
				again = append(again, cl)
				continue
			}
			cl.err = c.callError(cl.method, el)
		}
	}
	if len(again) == 0 {
		return nil
	}
	half := (len(again) + 1) / 2 // < len(calls): the halves shrink down to single calls
	if err := c.batch(ctx, op, again[:half]); err != nil {
		return err
	}
	return c.batch(ctx, op, again[half:])
}

// unanswered reports whether a batch element failed because of the batch
// (its size or duration) rather than the call itself.
func unanswered(err error) bool {
	if errors.Is(err, rpc.ErrMissingBatchResponse) {
		return true
	}
	var re rpc.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode() {
	case -32003, -32002: // response too large, request timed out
		return true
	case -32600:
		return strings.Contains(strings.ToLower(re.Error()), "batch")
	}
	return false
}

// requestError converts an error of rpc.Client; whole reports whether it
// concerns the request as such (transport, HTTP status, reply that does
// not parse) rather than one call.
func (c *Client) requestError(op string, err error) (out error, whole bool) {
	var ee *endpoint.Error
	if errors.As(err, &ee) {
		return ee, true // names the endpoint and op; already scrubbed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return c.wrap(op, err), true
	}
	if rej, ok := asBatchRejected(err); ok {
		return c.wrap(op, fmt.Errorf("batch rejected: %w", c.scrubRPC(rej.err))), true
	}
	var he rpc.HTTPError
	if errors.As(err, &he) {
		if re := rpcErrorFromBody(he.Body, he.StatusCode); re != nil {
			return c.wrap(op, c.scrubRPC(re)), false
		}
		return c.wrap(op, fmt.Errorf("%w: HTTP %d: %q", endpoint.ErrBadStatus, he.StatusCode, endpoint.Snippet(he.Body))), true
	}
	var re rpc.Error
	if errors.As(err, &re) {
		return c.wrap(op, c.scrubRPC(&RPCError{Code: re.ErrorCode(), Message: re.Error()})), false
	}
	// A reply or a result that does not decode. For a single call the two
	// look alike; either way the call failed.
	return c.wrap(op, fmt.Errorf("%w: %v", endpoint.ErrMalformed, err)), false
}

// callError converts the error of one call.
func (c *Client) callError(method string, err error) error {
	var re rpc.Error
	if errors.As(err, &re) {
		return c.wrap(method, c.scrubRPC(&RPCError{Code: re.ErrorCode(), Message: re.Error()}))
	}
	if e, _ := c.requestError(method, err); e != nil {
		return e
	}
	return c.wrap(method, err)
}

// rpcErrorFromBody reads the JSON-RPC error object of a reply body (a
// single reply or a batch's first), or nil.
func rpcErrorFromBody(body []byte, status int) *RPCError {
	type reply struct {
		Error *struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	var rep reply
	if json.Unmarshal(body, &rep) != nil {
		var reps []reply
		if json.Unmarshal(body, &reps) != nil || len(reps) == 0 {
			return nil
		}
		rep = reps[0]
	}
	if rep.Error == nil || rep.Error.Code == nil {
		return nil
	}
	return &RPCError{Code: *rep.Error.Code, Message: rep.Error.Message, HTTPStatus: status}
}

// maxRPCMessage bounds the message kept in an RPCError.
const maxRPCMessage = 300

// scrubRPC removes the endpoint's secrets from re's message and makes it
// printable and short.
func (c *Client) scrubRPC(re *RPCError) *RPCError {
	msg := c.ep.Scrub(errors.New(re.Message)).Error()
	if len(msg) > maxRPCMessage || endpoint.Snippet([]byte(msg)) != msg {
		msg = endpoint.Snippet([]byte(msg))
	}
	re.Message = msg
	return re
}

// wrap names the endpoint and the operation in err, scrubbed.
func (c *Client) wrap(op string, err error) error {
	return &endpoint.Error{Endpoint: c.Name(), Op: op, Err: c.ep.Scrub(err)}
}

// asBatchRejected recognises a batch the node answered with one error
// object (endpoint.BatchRejected).
func asBatchRejected(err error) (*batchRejected, bool) {
	var br *endpoint.BatchRejected
	if errors.As(err, &br) {
		if re := rpcErrorFromBody(bytes.TrimSpace(br.Body), 0); re != nil {
			return &batchRejected{re}, true
		}
	}
	return nil, false
}

// batchRejected is a batch answered by one error object.
type batchRejected struct{ err *RPCError }

func (b *batchRejected) Error() string { return "batch rejected: " + b.err.Error() }
func (b *batchRejected) Unwrap() error { return b.err }

// tooLarge reports whether the rejection is about the batch's size, so
// that smaller batches may pass.
func (b *batchRejected) tooLarge() bool {
	m := strings.ToLower(b.err.Message)
	if !strings.Contains(m, "batch") {
		return false
	}
	for _, s := range []string{"large", "limit", "exceed", "too many", "size", "maximum"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
