package ethtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/fundtrace/fundtrace/chains/ethereum"
)

// Error codes and messages as geth sends them.
const (
	codeInvalidParams = -32602
	codeDefault       = -32000
	codeReverted      = 3
)

// noTraces answers trace calls for a block made without them.
var noTraces = &rpcError{Code: codeDefault, Message: "no traces in ethtest for this block"}

// dispatch runs one call against the chain.
func (n *Node) dispatch(method string, params []json.RawMessage) (any, *rpcError) {
	c := n.chain
	blocks := c.snapshot()
	tip := blocks.tip()
	switch method {
	case "eth_chainId":
		return hexutil.Uint64(c.ChainID()), nil
	case "net_version":
		return strconv.FormatUint(c.ChainID(), 10), nil
	case "eth_blockNumber":
		return hexutil.Uint64(tip), nil
	case "eth_getBlockByNumber", "eth_getBlockByHash":
		b, err := n.blockParam(method, params, 0, blocks)
		if err != nil || b == nil {
			return nil, err
		}
		full := false
		if len(params) > 1 {
			if err := json.Unmarshal(params[1], &full); err != nil {
				return nil, invalidParams(1, err)
			}
		}
		return blockJSON(b.Block, full), nil
	case "eth_getBlockReceipts":
		b, err := n.blockParam(method, params, 0, blocks)
		if err != nil || b == nil {
			return nil, err
		}
		return b.Receipts, nil
	case "eth_getTransactionReceipt":
		var h common.Hash
		if err := param(params, 0, &h); err != nil {
			return nil, err
		}
		for _, b := range blocks.blocks {
			for _, r := range b.Receipts {
				if r.TransactionHash == h {
					return r, nil
				}
			}
		}
		return nil, nil
	case "debug_traceBlockByNumber", "debug_traceBlockByHash":
		b, err := n.blockParam(method, params, 0, blocks)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return nil, &rpcError{Code: codeDefault, Message: "block " + string(params[0]) + " not found"}
		}
		var cfg struct {
			Tracer  *string `json:"tracer"`
			Timeout *string `json:"timeout"`
		}
		if len(params) > 1 {
			if err := json.Unmarshal(params[1], &cfg); err != nil {
				return nil, invalidParams(1, err)
			}
		}
		if cfg.Tracer == nil || *cfg.Tracer != "callTracer" {
			return nil, &rpcError{Code: codeDefault, Message: "ethtest serves callTracer traces only"}
		}
		if b.Block.Number == 0 {
			return nil, &rpcError{Code: codeDefault, Message: "genesis is not traceable"}
		}
		if b.Calls == nil {
			return nil, noTraces
		}
		return b.Calls, nil
	case "trace_block":
		b, err := n.blockParam(method, params, 0, blocks)
		if err != nil || b == nil {
			return nil, err
		}
		if b.Parity == nil {
			return nil, noTraces
		}
		return b.Parity, nil
	case "eth_getUncleByBlockNumberAndIndex", "eth_getUncleByBlockHashAndIndex":
		b, err := n.blockParam(method, params, 0, blocks)
		if err != nil || b == nil {
			return nil, err
		}
		var i hexutil.Uint64
		if err := param(params, 1, &i); err != nil {
			return nil, err
		}
		if int(i) >= len(b.Block.Uncles) {
			return nil, nil
		}
		h := b.Block.Uncles[i]
		for _, u := range b.Uncles {
			if u.Hash == h {
				return blockJSON(u, false), nil
			}
		}
		c.mu.Lock()
		u := c.uncles[h]
		c.mu.Unlock()
		if u == nil {
			return nil, nil
		}
		return blockJSON(u, false), nil
	case "eth_call":
		var msg struct {
			To    *common.Address `json:"to"`
			Data  *hexutil.Bytes  `json:"data"`
			Input *hexutil.Bytes  `json:"input"`
		}
		if err := param(params, 0, &msg); err != nil {
			return nil, err
		}
		if len(params) > 1 {
			b, err := n.blockParam(method, params, 1, blocks)
			if err != nil {
				return nil, err
			}
			if b == nil {
				return nil, &rpcError{Code: codeDefault, Message: "header not found"}
			}
			if n.opts.PrunedState && int64(b.Block.Number) < tip {
				return nil, &rpcError{Code: codeDefault, Message: "missing trie node " + b.Block.Hash.Hex() + " (path ) state " + b.Block.Hash.Hex() + " is not available"}
			}
		}
		if msg.To == nil {
			return hexutil.Bytes{}, nil
		}
		data := msg.Data
		if data == nil {
			data = msg.Input
		}
		con := c.contract(*msg.To)
		if con == nil {
			return hexutil.Bytes{}, nil // no code: empty return data
		}
		var sel [4]byte
		if data != nil && len(*data) >= 4 {
			copy(sel[:], (*data)[:4])
		}
		ans, ok := con.Answers[sel]
		if !ok {
			return nil, &rpcError{Code: codeReverted, Message: "execution reverted", Data: hexutil.Bytes{}}
		}
		if ans.Revert {
			return nil, &rpcError{Code: codeReverted, Message: "execution reverted", Data: hexutil.Bytes(ans.Data)}
		}
		return hexutil.Bytes(ans.Data), nil
	}
	return nil, methodNotFound(method)
}

// blockParam finds the block named by parameter i: a number, a tag or a
// hash. It returns nil without error for a block the node does not have.
func (n *Node) blockParam(method string, params []json.RawMessage, i int, blocks view) (*ethereum.RawBlock, *rpcError) {
	if i >= len(params) {
		return nil, &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf("missing value for required argument %d", i)}
	}
	raw := params[i]
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// geth also takes {"blockNumber": ...} / {"blockHash": ...}.
		var obj struct {
			BlockNumber *string      `json:"blockNumber"`
			BlockHash   *common.Hash `json:"blockHash"`
		}
		if json.Unmarshal(raw, &obj) != nil || (obj.BlockNumber == nil && obj.BlockHash == nil) {
			return nil, invalidParams(i, err)
		}
		if obj.BlockHash != nil {
			b, _ := n.chain.blockByHash(*obj.BlockHash)
			return b, nil
		}
		s = *obj.BlockNumber
	}
	tip := blocks.tip()
	if len(s) == 66 && strings.HasPrefix(s, "0x") {
		var h common.Hash
		if err := h.UnmarshalText([]byte(s)); err != nil {
			return nil, invalidParams(i, err)
		}
		b, _ := n.chain.blockByHash(h)
		return b, nil
	}
	if strings.HasSuffix(method, "ByHash") || strings.HasSuffix(method, "HashAndIndex") {
		return nil, invalidParams(i, fmt.Errorf("want a block hash, got %q", s))
	}
	var h int64
	switch s {
	case "latest", "pending", "safe", "finalized":
		h = tip
	case "earliest":
		h = 0
	default:
		v, err := hexutil.DecodeUint64(s)
		if err != nil {
			return nil, invalidParams(i, err)
		}
		if v > uint64(tip) {
			return nil, nil
		}
		h = int64(v)
	}
	return blocks.at(h), nil
}

// blockJSON is a block as eth_getBlockBy* sends it: transaction objects or
// only their hashes.
func blockJSON(b *ethereum.RPCBlock, full bool) json.RawMessage {
	if full {
		return mustJSON(b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(mustJSON(b), &m); err != nil {
		panic("ethtest: " + err.Error())
	}
	hashes := make([]common.Hash, len(b.Transactions))
	for i, tx := range b.Transactions {
		hashes[i] = tx.Hash
	}
	m["transactions"] = mustJSON(hashes)
	return mustJSON(m)
}

func param(params []json.RawMessage, i int, v any) *rpcError {
	if i >= len(params) {
		return &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf("missing value for required argument %d", i)}
	}
	if err := json.Unmarshal(params[i], v); err != nil {
		return invalidParams(i, err)
	}
	return nil
}

func invalidParams(i int, err error) *rpcError {
	return &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf("invalid argument %d: %v", i, err)}
}
