package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// Client reads blocks from a node that speaks Bitcoin Core's JSON-RPC
// (bitcoind or btcd) through an endpoint.Endpoint, which brings
// credentials, timeouts, retries and rate limiting.
//
// Requests are JSON-RPC 1.0 objects ({"jsonrpc":"1.0","id":N,...}), which
// both nodes accept. Replies are accepted in the legacy shape (result and
// error side by side, RPC errors with HTTP 200 from btcd or HTTP 404/500
// from Core) and in the JSON-RPC 2.0 shape (HTTP 200, result or error). RPC
// errors are *RPCError and permanent, except -28 (node warming up); HTTP
// 5xx without a JSON body (Core's "work queue depth exceeded") is retried.
//
// Every block is verified before it is returned (see ErrBlockMismatch). A
// Client satisfies the indexer's Source contract (Tip, BlockHash, Block)
// and is safe for concurrent use.
type Client struct {
	ep  *endpoint.Endpoint
	net *Network
	ids atomic.Uint64
}

// NewClient returns a client of the node behind ep, which must serve net.
// Call Check to verify that it does.
func NewClient(ep *endpoint.Endpoint, net *Network) *Client {
	return &Client{ep: ep, net: net}
}

// Name returns the endpoint's name, without secrets.
func (c *Client) Name() string { return c.ep.Name() }

// Network returns the network the client expects.
func (c *Client) Network() *Network { return c.net }

// Call is one call of a Batch.
type Call struct {
	Method string
	Params []any
	// Result receives the call's result, as by json.Unmarshal; nil discards
	// it.
	Result any
	// Err is set by Batch: the call's RPC error (*RPCError) or a result that
	// does not decode into Result.
	Err error
}

// Limits of the batches that the block methods send.
const (
	// maxHashBatch bounds the calls of one getblockhash batch (replies of
	// ~100 bytes each).
	maxHashBatch = 2000
	// maxBlockBatch bounds the calls of one getblock batch.
	maxBlockBatch = 64
	// maxBlockReply is the largest reply to "getblock HASH 0": a
	// 4,000,000-byte block in hex plus the JSON around it.
	maxBlockReply = 2*maxBlockBytes + 256
)

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
	ID      json.RawMessage `json:"id"`
}

// rpcCall is a call with a decoder of its result, run inside the endpoint's
// response handler so that a bad result is reported like any bad response.
type rpcCall struct {
	method string
	params []any
	decode func(result json.RawMessage) error // nil: result ignored
}

// rpcRequestTo is the request carrying a JSON-RPC body: a POST, since it
// has a body.
func rpcRequestTo(body []byte) endpoint.Request {
	return endpoint.Request{Body: body, Header: map[string]string{"Content-Type": "application/json"}}
}

// Call calls one method and decodes its result into result (nil discards
// it). RPC errors are *RPCError; every error is an *endpoint.Error naming
// the endpoint and the method.
func (c *Client) Call(ctx context.Context, method string, params []any, result any) error {
	return c.call(ctx, rpcCall{method: method, params: params, decode: unmarshalInto(method, result)})
}

func unmarshalInto(method string, result any) func(json.RawMessage) error {
	if result == nil {
		return nil
	}
	return func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, result); err != nil {
			return fmt.Errorf("%w: result of %s: %v", endpoint.ErrMalformed, method, err)
		}
		return nil
	}
}

func (c *Client) call(ctx context.Context, rc rpcCall) error {
	id := c.ids.Add(1)
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: id, Method: rc.method, Params: params(rc.params)})
	if err != nil {
		return fmt.Errorf("bitcoin: %s: encode params: %w", rc.method, err)
	}
	return c.ep.Do(ctx, rc.method, rpcRequestTo(body), func(r endpoint.Response) error {
		result, err := decodeReply(r, id)
		if err != nil {
			return err
		}
		if rc.decode != nil {
			return rc.decode(result)
		}
		return nil
	})
}

func params(p []any) []any {
	if p == nil {
		return []any{}
	}
	return p
}

// Batch sends calls as one JSON-RPC batch (one HTTP request holding a JSON
// array) and matches the replies by id, in whatever order they come. Each
// call's own error is in its Err; the returned error concerns the whole
// request (unreachable node, bad credentials, a malformed reply). A call
// failing with -28 (warming up) makes the whole batch retry.
func (c *Client) Batch(ctx context.Context, calls []Call) error {
	rcs := make([]rpcCall, len(calls))
	for i, cl := range calls {
		rcs[i] = rpcCall{method: cl.Method, params: cl.Params, decode: unmarshalInto(cl.Method, cl.Result)}
	}
	errs, err := c.batch(ctx, rcs)
	for i := range calls {
		calls[i].Err = nil
		if errs != nil {
			calls[i].Err = errs[i]
		}
	}
	return err
}

// batch sends calls in one request. It returns each call's error (nil
// slice when the request failed), each wrapped in an *endpoint.Error
// naming the method.
func (c *Client) batch(ctx context.Context, calls []rpcCall) ([]error, error) {
	if len(calls) == 0 {
		return nil, nil
	}
	n := uint64(len(calls))
	first := c.ids.Add(n) - n + 1
	reqs := make([]rpcRequest, len(calls))
	ids := make([]uint64, len(calls))
	for i, cl := range calls {
		ids[i] = first + uint64(i)
		reqs[i] = rpcRequest{JSONRPC: "1.0", ID: ids[i], Method: cl.method, Params: params(cl.params)}
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: batch: encode params: %w", err)
	}
	op := batchOp(calls)
	var errs []error
	err = c.ep.Do(ctx, op, rpcRequestTo(body), func(r endpoint.Response) error {
		results, callErrs, err := decodeBatch(r, ids)
		if err != nil {
			return err
		}
		errs = make([]error, len(calls))
		var transient error
		transientMethod := ""
		for i, cl := range calls {
			e := callErrs[i]
			if e == nil && cl.decode != nil {
				e = cl.decode(results[i])
			}
			if e == nil {
				continue
			}
			if transient == nil && endpoint.IsTransient(e) {
				transient, transientMethod = e, cl.method
			}
			errs[i] = &endpoint.Error{Endpoint: c.Name(), Op: cl.method, Err: c.ep.Scrub(e)}
		}
		if transient != nil {
			errs = nil
			return endpoint.Transient(fmt.Errorf("a call of the batch failed: %s: %w", transientMethod, transient))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// batchOp names a batch for errors, logs and metrics with a bounded set of
// labels: "batch:METHOD" when every call has the same method.
func batchOp(calls []rpcCall) string {
	for _, cl := range calls[1:] {
		if cl.method != calls[0].method {
			return "batch"
		}
	}
	return "batch:" + calls[0].method
}

// decodeReply decodes the reply to a single call with the given id and
// returns its result. The body is decoded whatever the HTTP status (Core
// sends RPC errors with 404 or 500); 401 and 403 are
// endpoint.ErrUnauthorized; a non-JSON body with an error status is
// classified by endpoint.CheckStatus.
func decodeReply(r endpoint.Response, id uint64) (json.RawMessage, error) {
	if err := endpoint.CheckStatus(r); errors.Is(err, endpoint.ErrUnauthorized) {
		return nil, err
	}
	body := bytes.TrimSpace(r.Body)
	var rep rpcReply
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &rep) != nil {
		return nil, notJSONRPC(r, "a JSON-RPC reply object")
	}
	return replyResult(r, &rep, id)
}

// notJSONRPC is the error for a body that is not the expected JSON: the
// status's error if it has one, else ErrMalformed.
func notJSONRPC(r endpoint.Response, want string) error {
	if err := endpoint.CheckStatus(r); err != nil {
		return err
	}
	return fmt.Errorf("%w: want %s, got %q", endpoint.ErrMalformed, want, endpoint.Snippet(r.Body))
}

// replyResult checks one reply object against the call's id and returns
// its result or its error.
func replyResult(r endpoint.Response, rep *rpcReply, id uint64) (json.RawMessage, error) {
	if !isNull(rep.Error) {
		var obj struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(rep.Error, &obj) != nil || obj.Code == nil {
			return nil, fmt.Errorf("%w: reply error is not a {code, message} object: %q", endpoint.ErrMalformed, endpoint.Snippet(rep.Error))
		}
		if !isNull(rep.ID) && !idMatches(rep.ID, id) {
			return nil, fmt.Errorf("%w: reply id %s, want %d", endpoint.ErrMalformed, endpoint.Snippet(rep.ID), id)
		}
		re := &RPCError{Code: *obj.Code, Message: obj.Message}
		if re.Code == rpcInWarmup {
			return nil, endpoint.Transient(re)
		}
		return nil, re
	}
	if err := endpoint.CheckStatus(r); err != nil {
		return nil, err // an error status without an error object (a proxy's JSON 503)
	}
	if len(rep.Result) == 0 {
		return nil, fmt.Errorf("%w: reply has neither result nor error: %q", endpoint.ErrMalformed, endpoint.Snippet(r.Body))
	}
	if !idMatches(rep.ID, id) {
		return nil, fmt.Errorf("%w: reply id %s, want %d", endpoint.ErrMalformed, endpoint.Snippet(rep.ID), id)
	}
	return rep.Result, nil
}

// decodeBatch decodes the reply to a batch whose calls have ids, returning
// each call's result or error in the order of ids. The request-level error
// is for a reply that is not an array matching the ids one to one, or a
// single error object (the node rejected the whole batch).
func decodeBatch(r endpoint.Response, ids []uint64) ([]json.RawMessage, []error, error) {
	if err := endpoint.CheckStatus(r); errors.Is(err, endpoint.ErrUnauthorized) {
		return nil, nil, err
	}
	body := bytes.TrimSpace(r.Body)
	if len(body) > 0 && body[0] == '{' {
		var rep rpcReply
		if json.Unmarshal(body, &rep) == nil && !isNull(rep.Error) {
			_, err := replyResult(r, &rep, 0)
			var re *RPCError
			if errors.As(err, &re) {
				return nil, nil, fmt.Errorf("batch rejected: %w", err)
			}
			return nil, nil, err
		}
		return nil, nil, notJSONRPC(r, "a JSON array of replies")
	}
	var reps []rpcReply
	if len(body) == 0 || body[0] != '[' || json.Unmarshal(body, &reps) != nil {
		return nil, nil, notJSONRPC(r, "a JSON array of replies")
	}
	if len(reps) != len(ids) {
		return nil, nil, fmt.Errorf("%w: %d replies to a batch of %d calls", endpoint.ErrMalformed, len(reps), len(ids))
	}
	index := make(map[uint64]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	results := make([]json.RawMessage, len(ids))
	errs := make([]error, len(ids))
	seen := make([]bool, len(ids))
	ok := endpoint.Response{Status: 200} // HTTP 200 OK
	for k := range reps {
		rep := &reps[k]
		id, valid := parseID(rep.ID)
		i, known := index[id]
		if !valid || !known || seen[i] {
			return nil, nil, fmt.Errorf("%w: batch reply %d has id %s, not one of the batch's unanswered ids", endpoint.ErrMalformed, k, endpoint.Snippet(rep.ID))
		}
		seen[i] = true
		// A batch's HTTP status is the request's, not the call's.
		results[i], errs[i] = replyResult(ok, rep, id)
	}
	return results, errs, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// parseID reads a reply id: a number, or a string holding one.
func parseID(raw json.RawMessage) (uint64, bool) {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil
}

func idMatches(raw json.RawMessage, id uint64) bool {
	got, ok := parseID(raw)
	return ok && got == id
}

// hexResult decodes a result that is a JSON string of hex digits, like
// getblock's at verbosity 0, without an intermediate string.
func hexResult(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fmt.Errorf("%w: want a hex string, got %q", endpoint.ErrMalformed, endpoint.Snippet(raw))
	}
	digits := raw[1 : len(raw)-1]
	if len(digits)%2 != 0 {
		return nil, fmt.Errorf("%w: hex string of odd length %d", endpoint.ErrMalformed, len(digits))
	}
	b := make([]byte, len(digits)/2)
	if _, err := hex.Decode(b, digits); err != nil {
		return nil, fmt.Errorf("%w: hex string: %v", endpoint.ErrMalformed, err)
	}
	return b, nil
}

// hashResult decodes a result that is a JSON string holding a hash.
func hashResult(raw json.RawMessage) (chains.Hash, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return chains.Hash{}, fmt.Errorf("%w: want a block hash string, got %q", endpoint.ErrMalformed, endpoint.Snippet(raw))
	}
	h, err := chains.ParseHash(s)
	if err != nil {
		return chains.Hash{}, fmt.Errorf("%w: %w", endpoint.ErrMalformed, err)
	}
	return h, nil
}

// Check verifies that the node serves the client's network: its block 0
// must be the network's genesis block, else the error wraps ErrWrongNetwork
// and names both hashes and, if known, the node's network. Bad credentials
// give endpoint.ErrUnauthorized after one attempt; a node without
// getblockhash gives ErrMethodNotFound.
func (c *Client) Check(ctx context.Context) error {
	h, err := c.BlockHash(ctx, 0)
	if err != nil {
		return err
	}
	return checkGenesis(c.Name(), c.net, h)
}

func checkGenesis(node string, net *Network, got chains.Hash) error {
	if got == net.GenesisHash() {
		return nil
	}
	other := "an unknown network"
	for _, id := range chains.Known() {
		if n, err := NetworkFor(id); err == nil && n.GenesisHash() == got {
			other = string(id)
		}
	}
	return fmt.Errorf("%w: node %s has genesis block %s (%s), want %s (%s)",
		ErrWrongNetwork, node, got, other, net.GenesisHash(), net)
}

// Tip returns the height and hash of the node's best block, read together
// by getblockchaininfo.
func (c *Client) Tip(ctx context.Context) (int64, chains.Hash, error) {
	var height int64
	var hash chains.Hash
	err := c.call(ctx, rpcCall{method: "getblockchaininfo", decode: func(raw json.RawMessage) error {
		var info struct {
			Blocks        *int64 `json:"blocks"`
			BestBlockHash string `json:"bestblockhash"`
		}
		if err := json.Unmarshal(raw, &info); err != nil || info.Blocks == nil || *info.Blocks < 0 {
			return fmt.Errorf("%w: want {blocks, bestblockhash}, got %q", endpoint.ErrMalformed, endpoint.Snippet(raw))
		}
		h, err := chains.ParseHash(info.BestBlockHash)
		if err != nil {
			return fmt.Errorf("%w: bestblockhash: %w", endpoint.ErrMalformed, err)
		}
		height, hash = *info.Blocks, h
		return nil
	}})
	if err != nil {
		return 0, chains.Hash{}, err
	}
	return height, hash, nil
}

// BlockHash returns the hash of the best-chain block at height. A height
// above the node's tip (or below zero) gives an error wrapping
// ErrBeyondTip.
func (c *Client) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	if height < 0 {
		return chains.Hash{}, fmt.Errorf("%w: height %d is negative", ErrBeyondTip, height)
	}
	var hash chains.Hash
	err := c.call(ctx, rpcCall{method: "getblockhash", params: []any{height}, decode: func(raw json.RawMessage) error {
		h, err := hashResult(raw)
		hash = h
		return err
	}})
	if err != nil {
		return chains.Hash{}, beyondTip(err, height)
	}
	return hash, nil
}

// beyondTip marks getblockhash's out-of-range errors (Core: -8 "Block
// height out of range"; btcd: -1 "Block number out of range") with
// ErrBeyondTip.
func beyondTip(err error, height int64) error {
	var re *RPCError
	if errors.As(err, &re) && (re.Code == rpcInvalidParam ||
		re.Code == rpcMisc && strings.Contains(strings.ToLower(re.Message), "out of range")) {
		return fmt.Errorf("%w: height %d: %w", ErrBeyondTip, height, err)
	}
	return err
}

// BlockHashes returns the hashes of the best-chain blocks from height from
// to height to, both included, in one batch (several for more than 2,000
// blocks). Any height above the tip gives an error wrapping ErrBeyondTip.
func (c *Client) BlockHashes(ctx context.Context, from, to int64) ([]chains.Hash, error) {
	if from < 0 || to < from {
		return nil, fmt.Errorf("%w: height range %d..%d", ErrBeyondTip, from, to)
	}
	hashes := make([]chains.Hash, to-from+1)
	for lo := from; lo <= to; lo += maxHashBatch {
		hi := min(to, lo+maxHashBatch-1)
		calls := make([]rpcCall, hi-lo+1)
		for i := range calls {
			slot := &hashes[lo-from+int64(i)]
			calls[i] = rpcCall{method: "getblockhash", params: []any{lo + int64(i)}, decode: func(raw json.RawMessage) error {
				h, err := hashResult(raw)
				*slot = h
				return err
			}}
		}
		errs, err := c.batch(ctx, calls)
		if err != nil {
			return nil, err
		}
		for i, e := range errs {
			if e != nil {
				return nil, beyondTip(e, lo+int64(i))
			}
		}
	}
	return hashes, nil
}

// Block returns the verified best-chain block at height: getblockhash, then
// getblock HASH 0, decoded and checked against the hash (see
// ErrBlockMismatch).
func (c *Client) Block(ctx context.Context, height int64) (chains.Block, error) {
	hash, err := c.BlockHash(ctx, height)
	if err != nil {
		return chains.Block{}, err
	}
	var raw []byte
	err = c.call(ctx, rpcCall{method: "getblock", params: []any{hash.String(), 0}, decode: func(res json.RawMessage) error {
		b, err := hexResult(res)
		raw = b
		return err
	}})
	if err != nil {
		return chains.Block{}, err
	}
	return verifyBlock(c.net, c.Name(), raw, height, hash)
}

// Blocks returns the verified best-chain blocks from height from to height
// to, both included: their hashes in one batch, then the raw blocks in
// batches small enough that a reply of full-size blocks stays within half
// the endpoint's MaxBody.
func (c *Client) Blocks(ctx context.Context, from, to int64) ([]chains.Block, error) {
	hashes, err := c.BlockHashes(ctx, from, to)
	if err != nil {
		return nil, err
	}
	raws, err := c.rawBlocks(ctx, hashes)
	if err != nil {
		return nil, err
	}
	blocks := make([]chains.Block, len(raws))
	for i, raw := range raws {
		if blocks[i], err = verifyBlock(c.net, c.Name(), raw, from+int64(i), hashes[i]); err != nil {
			return nil, err
		}
		raws[i] = nil // let the GC take the raw bytes early
	}
	return blocks, nil
}

// RawBlocks returns the serialized blocks with the given hashes (any
// branch), fetched with batches of "getblock HASH 0" and hex-decoded. Each
// block's header is checked against its hash (ErrBlockMismatch); nothing
// else is decoded.
func (c *Client) RawBlocks(ctx context.Context, hashes []chains.Hash) ([][]byte, error) {
	raws, err := c.rawBlocks(ctx, hashes)
	if err != nil {
		return nil, err
	}
	for i, raw := range raws {
		if err := checkRawHeader(c.Name(), raw, hashes[i]); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

// rawBlocks fetches and hex-decodes blocks in batches sized by MaxBody.
func (c *Client) rawBlocks(ctx context.Context, hashes []chains.Hash) ([][]byte, error) {
	per := int(min(max(c.ep.MaxBody()/2/maxBlockReply, 1), maxBlockBatch))
	raws := make([][]byte, len(hashes))
	for lo := 0; lo < len(hashes); lo += per {
		hi := min(len(hashes), lo+per)
		calls := make([]rpcCall, hi-lo)
		for i := range calls {
			slot := &raws[lo+i]
			calls[i] = rpcCall{method: "getblock", params: []any{hashes[lo+i].String(), 0}, decode: func(res json.RawMessage) error {
				b, err := hexResult(res)
				*slot = b
				return err
			}}
		}
		errs, err := c.batch(ctx, calls)
		if err != nil {
			return nil, err
		}
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	return raws, nil
}
