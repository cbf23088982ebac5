package bitcointest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
)

// JSON-RPC error codes the fake node uses.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeMisc           = -1
	codeType           = -3
	codeBlockNotFound  = -5
	codeInvalidParam   = -8
)

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type legacyReply struct {
	Result any             `json:"result"`
	Error  *rpcError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

type v2Reply struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

// maxRequest bounds a request body.
const maxRequest = 8 << 20

func (n *Node) parseRPC(r *http.Request) (*incoming, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	in := &incoming{}
	if len(body) > 0 && body[0] == '[' {
		in.batch = true
		if err := json.Unmarshal(body, &in.rpc); err != nil {
			return nil, err
		}
	} else {
		var req rpcRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, err
		}
		in.rpc = []rpcRequest{req}
	}
	for _, req := range in.rpc {
		in.ops = append(in.ops, req.Method)
	}
	return in, nil
}

// badRequest replies to a request that does not parse.
func (n *Node) badRequest(err error) reply {
	if n.esplora {
		return textReply(http.StatusBadRequest, "bad request")
	}
	e := &rpcError{Code: codeParse, Message: "Parse error"}
	if n.opts.Flavor == Btcd {
		e.Message = "Failed to parse request: " + err.Error()
		return n.jsonReply(http.StatusOK, legacyReply{Error: e})
	}
	return n.jsonReply(http.StatusInternalServerError, legacyReply{Error: e})
}

func (n *Node) serveRPC(_ http.ResponseWriter, r *http.Request, in *incoming) reply {
	if r.Method != http.MethodPost {
		return textReply(http.StatusMethodNotAllowed, "JSONRPC server handles only POST requests")
	}
	hashes := n.chain.Hashes()
	replies := make([]any, 0, len(in.rpc))
	status := http.StatusOK
	for _, req := range in.rpc {
		result, rerr := n.dispatch(req, hashes, in.wrong)
		v2 := n.opts.JSONRPC2 || (n.opts.Flavor == Core && req.JSONRPC == "2.0")
		id := req.ID
		if id == nil {
			id = json.RawMessage("null")
		}
		if v2 {
			replies = append(replies, v2Reply{JSONRPC: "2.0", Result: result, Error: rerr, ID: id})
			continue
		}
		replies = append(replies, legacyReply{Result: result, Error: rerr, ID: id})
		if !in.batch && rerr != nil && n.opts.Flavor == Core {
			switch rerr.Code {
			case codeMethodNotFound:
				status = http.StatusNotFound
			case codeInvalidRequest:
				status = http.StatusBadRequest
			default:
				status = http.StatusInternalServerError
			}
		}
	}
	if !in.batch {
		return n.jsonReply(status, replies[0])
	}
	if n.opts.ReverseBatch {
		slices.Reverse(replies)
	}
	return n.jsonReply(http.StatusOK, replies)
}

func (n *Node) jsonReply(status int, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		return textReply(http.StatusInternalServerError, err.Error())
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if n.opts.Flavor == Btcd && !n.esplora {
		h.Set("Connection", "close")
	}
	return reply{status: status, header: h, body: append(body, '\n')}
}

func textReply(status int, text string) reply {
	return reply{status: status, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: []byte(text)}
}

// dispatch runs one call.
func (n *Node) dispatch(req rpcRequest, hashes []chains.Hash, wrong bool) (any, *rpcError) {
	var params []json.RawMessage
	if len(req.Params) > 0 && string(req.Params) != "null" {
		if err := json.Unmarshal(req.Params, &params); err != nil {
			return nil, &rpcError{Code: codeInvalidParams, Message: "params must be an array"}
		}
	}
	tip := int64(len(hashes) - 1)
	switch req.Method {
	case "getblockchaininfo":
		info := map[string]any{
			"chain":                "unknown",
			"blocks":               tip,
			"headers":              tip,
			"bestblockhash":        nil,
			"initialblockdownload": false,
		}
		if tip >= 0 {
			info["chain"] = chainName(hashes[0])
			info["bestblockhash"] = hashes[tip].String()
		}
		return info, nil
	case "getblockcount":
		return tip, nil
	case "getbestblockhash":
		if tip < 0 {
			return nil, &rpcError{Code: codeMisc, Message: "no blocks"}
		}
		return hashes[tip].String(), nil
	case "getblockhash":
		var h int64
		if err := n.param(params, 0, &h); err != nil {
			return nil, err
		}
		if h < 0 || h > tip {
			if n.opts.Flavor == Btcd {
				return nil, &rpcError{Code: codeMisc, Message: "Block number out of range"}
			}
			return nil, &rpcError{Code: codeInvalidParam, Message: "Block height out of range"}
		}
		return hashes[h].String(), nil
	case "getblock":
		hash, raw, rerr := n.blockParam(params)
		if rerr != nil {
			return nil, rerr
		}
		verbosity := int64(1)
		if len(params) > 1 {
			if err := n.param(params, 1, &verbosity); err != nil {
				return nil, err
			}
		}
		if verbosity != 0 {
			return nil, &rpcError{Code: codeInvalidParam, Message: "the fake node serves getblock at verbosity 0 only"}
		}
		if wrong {
			raw = otherBlock(n.chain, hashes, hash, raw)
		}
		return hex.EncodeToString(raw), nil
	case "getblockheader":
		hash, raw, rerr := n.blockParam(params)
		if rerr != nil {
			return nil, rerr
		}
		verbose := true
		if len(params) > 1 {
			if err := n.param(params, 1, &verbose); err != nil {
				return nil, err
			}
		}
		if !verbose {
			return hex.EncodeToString(raw[:80]), nil
		}
		return headerJSON(n.chain, hashes, hash, raw), nil
	}
	return nil, &rpcError{Code: codeMethodNotFound, Message: "Method not found"}
}

// param decodes positional parameter i into v.
func (n *Node) param(params []json.RawMessage, i int, v any) *rpcError {
	if i >= len(params) {
		return &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf("missing parameter %d", i+1)}
	}
	if err := json.Unmarshal(params[i], v); err != nil {
		if n.opts.Flavor == Btcd {
			return &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf("parameter #%d: %v", i+1, err)}
		}
		return &rpcError{Code: codeType, Message: fmt.Sprintf("parameter %d has the wrong type", i+1)}
	}
	return nil
}

// blockParam reads the block hash of parameter 0 and finds the block.
func (n *Node) blockParam(params []json.RawMessage) (chains.Hash, []byte, *rpcError) {
	var s string
	if err := n.param(params, 0, &s); err != nil {
		return chains.Hash{}, nil, err
	}
	h, err := chains.ParseHash(s)
	if err != nil {
		return chains.Hash{}, nil, &rpcError{Code: codeInvalidParam, Message: "blockhash must be of length 64 (not " + strconv.Itoa(len(s)) + ", for '" + s + "')"}
	}
	raw, ok := n.chain.RawBlock(h)
	if !ok || len(raw) < 80 {
		return chains.Hash{}, nil, &rpcError{Code: codeBlockNotFound, Message: "Block not found"}
	}
	return h, raw, nil
}

// headerJSON is getblockheader's verbose result.
func headerJSON(c Chain, hashes []chains.Hash, h chains.Hash, raw []byte) map[string]any {
	hdr, _ := parseHeader(raw)
	height, onBest, known := heightOf(c, hashes, h)
	m := map[string]any{
		"hash":          h.String(),
		"confirmations": int64(-1),
		"version":       hdr.version,
		"versionHex":    fmt.Sprintf("%08x", uint32(hdr.version)),
		"merkleroot":    hdr.merkleRoot.String(),
		"time":          hdr.time,
		"nonce":         hdr.nonce,
		"bits":          fmt.Sprintf("%08x", hdr.bits),
		"nTx":           txCount(raw),
	}
	if known {
		m["height"] = height
	}
	if onBest {
		m["confirmations"] = int64(len(hashes)) - height
		if height+1 < int64(len(hashes)) {
			m["nextblockhash"] = hashes[height+1].String()
		}
	}
	if !hdr.prev.IsZero() {
		m["previousblockhash"] = hdr.prev.String()
	}
	return m
}
