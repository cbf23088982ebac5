// Package ethtest provides a fake Ethereum JSON-RPC node for tests: an
// HTTP server answering the methods fundtrace's client uses (in geth's
// manner: error codes, messages, batch limits) from a synthetic or
// hand-made Chain, with methods refused on demand (as a node without the
// debug or trace namespace, or a provider filtering methods), faults
// injected at run time (delays, HTTP errors, garbage, truncated bodies,
// dropped connections), a hook rewriting results, and request statistics.
// A Proxy forwards to a real node instead, refusing chosen methods, for
// fallback tests against a live geth.
package ethtest

import (
	"bytes"
	"encoding/json"
	"github.com/fundtrace/fundtrace/chains/internal/faulttest"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// NodeOptions configure a fake node. The zero value serves without
// authentication and without batch limits.
type NodeOptions struct {
	// User and Password, if set, are required as basic auth.
	User, Password string
	// Headers are required on every request (API keys).
	Headers map[string]string
	// Path, if set, is the only path served (a hosted provider's
	// "/v3/<key>"); other paths get 401 with a body echoing the path.
	Path string
	// BatchLimit is the most calls a batch may hold (geth's
	// --rpc.batch-request-limit, default there 1000); larger batches get
	// geth's "batch too large" reply. 0: no limit.
	BatchLimit int
	// BatchResponseLimit is the most bytes of results a batch reply may
	// carry (geth's --rpc.batch-response-max-size, default there 25 MB):
	// the calls after the limit get error -32003 "response too large".
	// 0: no limit.
	BatchResponseLimit int
	// Refuse lists methods answered with geth's method-not-found error.
	Refuse []string
	// PrunedState makes eth_call below the tip fail as on a node that
	// keeps recent state only (geth: -32000 "missing trie node").
	PrunedState bool
}

// FaultRequest describes a request to a Fault.
type FaultRequest struct {
	// N counts the node's requests, from 1.
	N int
	// Methods are the request's methods, several for a batch.
	Methods []string
}

// Has reports whether the request calls method.
func (r FaultRequest) Has(method string) bool { return slices.Contains(r.Methods, method) }

// Fault decides how the node misbehaves for one request. It runs on the
// server's goroutines and must be safe for concurrent use. It may change
// the node's Chain (a Reorg): the request is served from the chain as it
// is after the Fault returns.
type Fault func(FaultRequest) FaultAction

// FaultAction is what a Fault makes the node do with a request
// (chains/internal/faulttest).
type FaultAction = faulttest.Action

// None serves the request normally.
func None() FaultAction { return faulttest.None() }

// Delay waits d (or until the client gives up), then serves normally.
func Delay(d time.Duration) FaultAction { return faulttest.Delay(d) }

// Status replies with the HTTP status code and a plain-text body instead
// of serving. Add headers (Retry-After) with WithHeader.
func Status(code int, body string) FaultAction { return faulttest.Status(code, body) }

// Reply replies with the status code and exactly body, as JSON.
func Reply(code int, body []byte) FaultAction { return faulttest.Reply(code, body) }

// Garbage replies 200 with bytes that are not JSON.
func Garbage() FaultAction { return faulttest.Garbage() }

// Truncate sends the correct status and Content-Length but only half the
// body, then closes the connection.
func Truncate() FaultAction { return faulttest.Truncate() }

// CloseConn closes the connection without replying.
func CloseConn() FaultAction { return faulttest.CloseConn() }

// Always returns a Fault applying a to every request.
func Always(a FaultAction) Fault { return faulttest.Always[FaultRequest](a) }

// Times returns a Fault applying a to the next n requests, then nothing.
func Times(n int, a FaultAction) Fault { return faulttest.Times[FaultRequest](n, a) }

// ForMethod returns a Fault applying f to the requests that call method
// (alone or in a batch); f sees only those.
func ForMethod(method string, f Fault) Fault {
	return func(r FaultRequest) FaultAction {
		if r.Has(method) {
			return f(r)
		}
		return None()
	}
}

// ResultHook rewrites the JSON result of a successful call before it is
// sent; returning result unchanged keeps it.
type ResultHook func(method string, params []json.RawMessage, result json.RawMessage) json.RawMessage

// Node is a running fake node.
type Node struct {
	t     testing.TB
	chain *Chain
	opts  NodeOptions
	srv   *httptest.Server
	proxy string // Proxy: the target URL

	requests atomic.Int64

	mu      sync.Mutex
	fault   Fault
	hook    ResultHook
	refuse  map[string]int // method → 0 (JSON-RPC -32601) or an HTTP status
	calls   map[string]int
	batches [][]string
}

// NewNode starts a fake node serving chain on a loopback port; it stops
// when the test ends.
func NewNode(t testing.TB, chain *Chain, opts NodeOptions) *Node {
	t.Helper()
	n := &Node{t: t, chain: chain, opts: opts, refuse: map[string]int{}, calls: map[string]int{}}
	n.Refuse(opts.Refuse...)
	n.srv = httptest.NewUnstartedServer(http.HandlerFunc(n.handle))
	n.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	n.srv.Start()
	t.Cleanup(n.srv.Close)
	return n
}

// NewProxy starts a node that forwards every call to the JSON-RPC server
// at target (a live geth, say) except the methods it refuses (Refuse,
// RefuseHTTP, NodeOptions.Refuse), which it answers itself, splitting
// batches as needed. Faults, the result hook and the statistics work as
// for NewNode; authentication options apply to the proxy's clients.
func NewProxy(t testing.TB, target string, opts NodeOptions) *Node {
	t.Helper()
	n := NewNode(t, nil, opts)
	n.proxy = target
	return n
}

// URL returns the URL to give a client: the server's address and
// NodeOptions.Path, without credentials.
func (n *Node) URL() string { return n.srv.URL + n.opts.Path }

// Chain returns the chain the node serves (nil for a Proxy).
func (n *Node) Chain() *Chain { return n.chain }

// SetFault sets the fault applied to the following requests; nil makes the
// node healthy.
func (n *Node) SetFault(f Fault) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// SetResultHook sets a hook rewriting results (nil: none).
func (n *Node) SetResultHook(h ResultHook) {
	n.mu.Lock()
	n.hook = h
	n.mu.Unlock()
}

// Refuse makes the node answer calls of methods as geth answers a method
// it does not serve: JSON-RPC error -32601 "the method M does not
// exist/is not available", with HTTP 200.
func (n *Node) Refuse(methods ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range methods {
		n.refuse[m] = 0
	}
}

// RefuseHTTP makes the node answer any request calling one of methods
// with the HTTP status and a plain-text body, as a provider or a reverse
// proxy filtering methods does (403, 405).
func (n *Node) RefuseHTTP(status int, methods ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range methods {
		n.refuse[m] = status
	}
}

// Allow undoes Refuse and RefuseHTTP for methods.
func (n *Node) Allow(methods ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range methods {
		delete(n.refuse, m)
	}
}

// Requests returns the number of HTTP requests received, faulty ones
// included.
func (n *Node) Requests() int { return int(n.requests.Load()) }

// Calls returns how many calls of method the node received (batch
// elements included; refused ones too).
func (n *Node) Calls(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[method]
}

// Batches returns the methods of every request received that parsed, one
// slice per HTTP request (a single call gives a slice of one).
func (n *Node) Batches() [][]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([][]string, len(n.batches))
	for i, b := range n.batches {
		out[i] = slices.Clone(b)
	}
	return out
}

// ResetStats zeroes Requests, Calls and Batches.
func (n *Node) ResetStats() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.requests.Store(0)
	n.calls = map[string]int{}
	n.batches = nil
}

// request is a parsed JSON-RPC request body.
type request struct {
	calls []rpcRequest
	batch bool
}

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// maxRequest bounds a request body.
const maxRequest = 16 << 20

func (n *Node) handle(w http.ResponseWriter, r *http.Request) {
	num := int(n.requests.Add(1))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	var req request
	if err == nil {
		req, err = parseRequest(body)
	}
	methods := make([]string, len(req.calls))
	for i, c := range req.calls {
		methods[i] = c.Method
	}
	n.mu.Lock()
	if err == nil {
		n.batches = append(n.batches, methods)
		for _, m := range methods {
			n.calls[m]++
		}
	}
	fault := n.fault
	n.mu.Unlock()

	var act FaultAction
	if fault != nil {
		act = fault(FaultRequest{N: num, Methods: methods})
	}
	faulttest.Serve(w, r, act, func() faulttest.Response {
		status, ctype, out := n.serve(r, req, err)
		return faulttest.Response{Status: status, Header: http.Header{"Content-Type": {ctype}}, Body: out}
	})
}

// serve answers a request: status, content type and body.
func (n *Node) serve(r *http.Request, req request, perr error) (int, string, []byte) {
	if !n.authorized(r) {
		// Like some providers, echo what was asked for: clients must
		// scrub it.
		return http.StatusUnauthorized, "text/plain; charset=utf-8", []byte("invalid project id: " + r.URL.RequestURI() + "\n")
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "text/plain; charset=utf-8", []byte("method not allowed\n")
	}
	if perr != nil {
		return http.StatusOK, "application/json", mustJSON(rpcReply{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{Code: -32700, Message: "parse error"}})
	}
	n.mu.Lock()
	for _, c := range req.calls {
		if st := n.refuse[c.Method]; st != 0 {
			n.mu.Unlock()
			return st, "text/plain; charset=utf-8", []byte(http.StatusText(st) + "\n")
		}
	}
	n.mu.Unlock()
	if !req.batch {
		rep := n.call(req.calls[0])
		return http.StatusOK, "application/json", mustJSON(rep)
	}
	if len(req.calls) == 0 {
		return http.StatusOK, "application/json", mustJSON(rpcReply{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{Code: -32600, Message: "empty batch"}})
	}
	if n.opts.BatchLimit > 0 && len(req.calls) > n.opts.BatchLimit {
		// geth: one error, carrying the first call's id.
		return http.StatusOK, "application/json", mustJSON([]rpcReply{{JSONRPC: "2.0", ID: req.calls[0].ID, Error: &rpcError{Code: -32600, Message: "batch too large"}}})
	}
	var reps []rpcReply
	if n.proxy != "" {
		reps = n.proxyBatch(req.calls)
	} else {
		size := 0
		for _, c := range req.calls {
			if n.opts.BatchResponseLimit > 0 && size > n.opts.BatchResponseLimit {
				reps = append(reps, rpcReply{JSONRPC: "2.0", ID: c.ID, Error: &rpcError{Code: -32003, Message: "response too large"}})
				continue
			}
			rep := n.call(c)
			size += len(rep.Result)
			reps = append(reps, rep)
		}
	}
	return http.StatusOK, "application/json", mustJSON(reps)
}

// call answers one call, applying refusals and the result hook.
func (n *Node) call(c rpcRequest) rpcReply {
	id := c.ID
	if id == nil {
		id = json.RawMessage("null")
	}
	rep := rpcReply{JSONRPC: "2.0", ID: id}
	n.mu.Lock()
	_, refused := n.refuse[c.Method]
	hook := n.hook
	n.mu.Unlock()
	if refused {
		rep.Error = methodNotFound(c.Method)
		return rep
	}
	var params []json.RawMessage
	if len(c.Params) > 0 && string(c.Params) != "null" {
		if err := json.Unmarshal(c.Params, &params); err != nil {
			rep.Error = &rpcError{Code: -32602, Message: "non-array args"}
			return rep
		}
	}
	var result json.RawMessage
	var rerr *rpcError
	if n.proxy != "" {
		result, rerr = n.forward(c)
	} else {
		var v any
		v, rerr = n.dispatch(c.Method, params)
		if rerr == nil {
			result = mustJSON(v)
		}
	}
	if rerr != nil {
		rep.Error = rerr
		return rep
	}
	if hook != nil {
		result = hook(c.Method, params, result)
	}
	rep.Result = result
	return rep
}

func methodNotFound(method string) *rpcError {
	return &rpcError{Code: -32601, Message: "the method " + method + " does not exist/is not available"}
}

func parseRequest(body []byte) (request, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var calls []rpcRequest
		err := json.Unmarshal(body, &calls)
		return request{calls: calls, batch: true}, err
	}
	var c rpcRequest
	if err := json.Unmarshal(body, &c); err != nil {
		return request{}, err
	}
	return request{calls: []rpcRequest{c}}, nil
}

func (n *Node) authorized(r *http.Request) bool {
	if n.opts.Path != "" && r.URL.Path != n.opts.Path {
		return false
	}
	for k, v := range n.opts.Headers {
		if r.Header.Get(k) != v {
			return false
		}
	}
	if n.opts.User == "" && n.opts.Password == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && u == n.opts.User && p == n.opts.Password
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("ethtest: encode reply: " + err.Error())
	}
	return b
}

// forward sends one call to the proxy's target and returns its result or
// error.
func (n *Node) forward(c rpcRequest) (json.RawMessage, *rpcError) {
	reps := n.forwardBatch([]rpcRequest{c}, false)
	return reps[0].Result, reps[0].Error
}

// proxyBatch answers a batch: refused calls locally, the others forwarded
// in one batch.
func (n *Node) proxyBatch(calls []rpcRequest) []rpcReply {
	reps := make([]rpcReply, len(calls))
	var fwd []rpcRequest
	var at []int
	for i, c := range calls {
		n.mu.Lock()
		_, refused := n.refuse[c.Method]
		n.mu.Unlock()
		if refused {
			reps[i] = rpcReply{JSONRPC: "2.0", ID: c.ID, Error: methodNotFound(c.Method)}
			continue
		}
		fwd = append(fwd, c)
		at = append(at, i)
	}
	if len(fwd) > 0 {
		got := n.forwardBatch(fwd, true)
		n.mu.Lock()
		hook := n.hook
		n.mu.Unlock()
		for k, i := range at {
			reps[i] = got[k]
			if hook != nil && got[k].Error == nil {
				var params []json.RawMessage
				_ = json.Unmarshal(fwd[k].Params, &params)
				reps[i].Result = hook(fwd[k].Method, params, got[k].Result)
			}
		}
	}
	return reps
}

// forwardBatch sends calls to the target and returns one reply per call,
// in order, matched by id; a failure of the request is reported in every
// reply as error -32603.
func (n *Node) forwardBatch(calls []rpcRequest, batch bool) []rpcReply {
	fail := func(msg string) []rpcReply {
		reps := make([]rpcReply, len(calls))
		for i, c := range calls {
			reps[i] = rpcReply{JSONRPC: "2.0", ID: c.ID, Error: &rpcError{Code: -32603, Message: "ethtest proxy: " + msg}}
		}
		return reps
	}
	var body []byte
	if batch {
		body = mustJSON(calls)
	} else {
		body = mustJSON(calls[0])
	}
	resp, err := http.Post(n.proxy, "application/json", bytes.NewReader(body))
	if err != nil {
		return fail(err.Error())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail(err.Error())
	}
	var got []rpcReply
	if batch {
		err = json.Unmarshal(out, &got)
	} else {
		var one rpcReply
		err = json.Unmarshal(out, &one)
		got = []rpcReply{one}
	}
	if err != nil {
		return fail("target replied " + strings.TrimSpace(string(out[:min(len(out), 200)])))
	}
	byID := map[string]rpcReply{}
	for _, g := range got {
		byID[string(g.ID)] = g
	}
	reps := make([]rpcReply, len(calls))
	for i, c := range calls {
		g, ok := byID[string(c.ID)]
		if !ok {
			reps[i] = rpcReply{JSONRPC: "2.0", ID: c.ID, Error: &rpcError{Code: -32603, Message: "ethtest proxy: no reply from the target"}}
			continue
		}
		reps[i] = g
	}
	return reps
}
