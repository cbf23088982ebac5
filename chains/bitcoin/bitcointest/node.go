// Package bitcointest provides scripted fake Bitcoin nodes for tests: an
// HTTP server speaking Bitcoin Core's JSON-RPC (in the manner of Core or
// btcd) and one speaking the Esplora REST API, both serving the real blocks
// of a Chain, with faults injected at run time (delays, HTTP errors,
// garbage, truncated bodies, dropped connections, wrong blocks), and a
// Stop/Restart on the same address.
//
// It depends on package chains only, so that tests anywhere (package
// bitcoin's own included) can use it.
package bitcointest

import (
	"crypto/rand"
	"encoding/hex"
	"github.com/fundtrace/fundtrace/chains/internal/faulttest"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
)

// Chain is what a fake node serves. chaintest.Chain implements it.
type Chain interface {
	// Hashes returns a snapshot of the best chain, genesis first.
	Hashes() []chains.Hash
	// RawBlock returns any known block, on any branch.
	RawBlock(h chains.Hash) ([]byte, bool)
}

// Flavor selects whose behaviour an RPC node imitates.
type Flavor int

const (
	// Core imitates Bitcoin Core: RPC errors to a single legacy request
	// come with HTTP 404 (method not found) or 500, replies to "2.0"
	// requests follow JSON-RPC 2.0 strictly (HTTP 200, result or error);
	// getblockhash above the tip is -8 "Block height out of range"; a 401
	// has an empty body.
	Core Flavor = iota
	// Btcd imitates btcd: every reply is HTTP 200 with "result" and
	// "error" side by side and "Connection: close"; getblockhash above the
	// tip is -1 "Block number out of range"; a 401 body is
	// "401 Unauthorized.".
	Btcd
)

func (f Flavor) String() string {
	switch f {
	case Core:
		return "core"
	case Btcd:
		return "btcd"
	}
	return "flavor(" + strconv.Itoa(int(f)) + ")"
}

// NodeOptions configure a fake node. The zero value serves without
// authentication, as Core.
type NodeOptions struct {
	// User and Password, if set, are required as basic auth.
	User, Password string
	// CookieFile, if set, is written with a fresh "__cookie__:<hex>" when
	// the node starts and restarts (as Core does), and that cookie is
	// required as basic auth.
	CookieFile string
	// Flavor selects Core's or btcd's error shapes (RPC node only).
	Flavor Flavor
	// Headers are required on every request (API keys), else 401.
	Headers map[string]string
	// JSONRPC2 makes the RPC node reply in JSON-RPC 2.0 shape whatever the
	// request's version, as a strict 2.0 server or proxy would.
	JSONRPC2 bool
	// ReverseBatch makes the RPC node answer batches in reverse order.
	ReverseBatch bool
}

// FaultRequest describes a request to a Fault.
type FaultRequest struct {
	// N counts the node's requests, from 1.
	N int
	// Ops are the request's RPC methods (several for a batch) or, for
	// Esplora, its route: "blocks/tip/hash", "blocks/tip/height",
	// "block-height", "block", "block/raw", "block/header", "block/status"
	// or "unknown".
	Ops []string
}

// Fault decides how the node misbehaves for one request. It runs on the
// server's goroutines and must be safe for concurrent use. It must not call
// the node's Stop or Restart itself (do that from another goroutine).
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

// Garbage replies 200 with bytes that are neither JSON nor a block.
func Garbage() FaultAction { return faulttest.Garbage() }

// Truncate sends the correct status and Content-Length but only half the
// body, then closes the connection.
func Truncate() FaultAction { return faulttest.Truncate() }

// CloseConn closes the connection without replying.
func CloseConn() FaultAction { return faulttest.CloseConn() }

const wrongBlock = "wrong-block"

// WrongBlock serves another block's bytes where a block is asked for
// (getblock, /block/HASH/raw); other requests are served normally.
func WrongBlock() FaultAction { return faulttest.Tagged(wrongBlock) }

// Always returns a Fault applying a to every request.
func Always(a FaultAction) Fault { return faulttest.Always[FaultRequest](a) }

// Times returns a Fault applying a to the next n requests, then nothing.
func Times(n int, a FaultAction) Fault { return faulttest.Times[FaultRequest](n, a) }

// Node is a running fake node.
type Node struct {
	t       testing.TB
	chain   Chain
	opts    NodeOptions
	serve   func(w http.ResponseWriter, r *http.Request, req *incoming) reply
	parse   func(r *http.Request) (*incoming, error)
	esplora bool

	requests atomic.Int64

	// Handlers in flight, waited for when the test ends.
	inflightMu sync.Mutex
	inflight   int
	idle       *sync.Cond // signalled when inflight drops to 0
	finished   bool       // the test ended: refuse new requests

	mu     sync.Mutex
	fault  Fault
	addr   string
	srv    *http.Server
	done   chan struct{}
	cookie string
}

// NewRPCNode starts a fake JSON-RPC node on a free loopback port serving
// chain; it stops when the test ends.
func NewRPCNode(t testing.TB, chain Chain, opts NodeOptions) *Node {
	t.Helper()
	n := &Node{t: t, chain: chain, opts: opts}
	n.idle = sync.NewCond(&n.inflightMu)
	n.parse, n.serve = n.parseRPC, n.serveRPC
	n.start(t)
	return n
}

// NewEsploraNode starts a fake Esplora API on a free loopback port serving
// chain at its root (URL()+"/blocks/tip/hash"); it stops when the test
// ends.
func NewEsploraNode(t testing.TB, chain Chain, opts NodeOptions) *Node {
	t.Helper()
	n := &Node{t: t, chain: chain, opts: opts, esplora: true}
	n.idle = sync.NewCond(&n.inflightMu)
	n.parse, n.serve = n.parseEsplora, n.serveEsplora
	n.start(t)
	return n
}

func (n *Node) start(t testing.TB) {
	t.Helper()
	if err := n.listen("127.0.0.1:0"); err != nil {
		t.Fatalf("bitcointest: start node: %v", err)
	}
	t.Cleanup(func() {
		n.Stop()
		n.inflightMu.Lock()
		n.finished = true
		for n.inflight > 0 {
			n.idle.Wait()
		}
		n.inflightMu.Unlock()
	})
}

// listen writes the cookie and serves on addr.
func (n *Node) listen(addr string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return nil
	}
	if err := n.writeCookieLocked(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	n.addr = ln.Addr().String()
	srv := &http.Server{
		Handler:           http.HandlerFunc(n.handle),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Stop
	}()
	n.srv, n.done = srv, done
	return nil
}

func (n *Node) writeCookieLocked() error {
	if n.opts.CookieFile == "" {
		return nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	cookie := hex.EncodeToString(b[:])
	if err := os.WriteFile(n.opts.CookieFile, []byte("__cookie__:"+cookie), 0o600); err != nil {
		return err
	}
	n.cookie = cookie
	return nil
}

// URL returns the node's base URL, http://127.0.0.1:PORT, without
// credentials.
func (n *Node) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return "http://" + n.addr
}

// SetFault sets the fault applied to the following requests; nil makes the
// node healthy.
func (n *Node) SetFault(f Fault) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// Requests returns the number of requests received so far, faulty ones
// included.
func (n *Node) Requests() int { return int(n.requests.Load()) }

// Stop closes the listener and every connection: clients get "connection
// refused" until Restart. It is idempotent.
func (n *Node) Stop() {
	n.mu.Lock()
	srv, done := n.srv, n.done
	n.srv, n.done = nil, nil
	n.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// Restart serves again on the same address after Stop, with a new cookie if
// NodeOptions.CookieFile is set. It fails the test if the address cannot be
// bound again within two seconds.
func (n *Node) Restart() {
	n.mu.Lock()
	addr := n.addr
	n.mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := n.listen(addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Errorf("bitcointest: restart node on %s: %v", addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RotateCookie writes a new cookie, as a restarted node would, without
// restarting.
func (n *Node) RotateCookie() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.writeCookieLocked(); err != nil {
		n.t.Errorf("bitcointest: rotate cookie: %v", err)
	}
}

// incoming is a parsed request.
type incoming struct {
	ops   []string
	rpc   []rpcRequest // RPC node
	batch bool
	wrong bool // WrongBlock fault
}

// reply is a response before it is written.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (n *Node) handle(w http.ResponseWriter, r *http.Request) {
	n.inflightMu.Lock()
	if n.finished {
		n.inflightMu.Unlock()
		return
	}
	n.inflight++
	n.inflightMu.Unlock()
	defer func() {
		n.inflightMu.Lock()
		if n.inflight--; n.inflight == 0 {
			n.idle.Broadcast()
		}
		n.inflightMu.Unlock()
	}()
	num := int(n.requests.Add(1))

	in, perr := n.parse(r)
	if in == nil {
		in = &incoming{ops: []string{"unknown"}}
	}
	n.mu.Lock()
	fault := n.fault
	n.mu.Unlock()
	var act FaultAction
	if fault != nil {
		act = fault(FaultRequest{N: num, Ops: in.ops})
	}
	in.wrong = act.Tag() == wrongBlock
	faulttest.Serve(w, r, act, func() faulttest.Response {
		var rep reply
		switch {
		case !n.authorized(r):
			rep = n.unauthorized()
		case perr != nil:
			rep = n.badRequest(perr)
		default:
			rep = n.serve(w, r, in)
		}
		return faulttest.Response{Status: rep.status, Header: rep.header, Body: rep.body}
	})
}

func (n *Node) authorized(r *http.Request) bool {
	for k, v := range n.opts.Headers {
		if r.Header.Get(k) != v {
			return false
		}
	}
	n.mu.Lock()
	user, pass := n.opts.User, n.opts.Password
	if n.opts.CookieFile != "" {
		user, pass = "__cookie__", n.cookie
	}
	n.mu.Unlock()
	if user == "" && pass == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && u == user && p == pass
}

func (n *Node) unauthorized() reply {
	h := http.Header{}
	if n.esplora {
		h.Set("Content-Type", "text/plain")
		return reply{status: http.StatusUnauthorized, header: h, body: []byte("Unauthorized")}
	}
	if n.opts.Flavor == Btcd {
		h.Set("WWW-Authenticate", `Basic realm="btcd RPC"`)
		h.Set("Content-Type", "text/plain; charset=utf-8")
		return reply{status: http.StatusUnauthorized, header: h, body: []byte("401 Unauthorized.\n")}
	}
	h.Set("WWW-Authenticate", `Basic realm="jsonrpc"`)
	return reply{status: http.StatusUnauthorized, header: h}
}
