package ethereum_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
)

// devParams are the parameters of the synthetic chains: no proof-of-work
// rewards.
func devParams() *ethereum.Params {
	return &ethereum.Params{Chain: chains.ETHDev, ChainID: 1337}
}

// powParams make proof-of-work rewards (and so uncles) apply to the
// synthetic chains.
func powParams() *ethereum.Params {
	return &ethereum.Params{Chain: chains.ETHDev, ChainID: 1337,
		Rewards: []ethereum.RewardEra{{From: 0, Reward: 2_000_000_000_000_000_000}}, MergeHeight: 1_000_000}
}

// logBuffer is a slog destination that tests can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many records of level ("WARN", "INFO") were logged.
func (l *logBuffer) count(level string) int {
	return strings.Count(l.String(), "level="+level+" ")
}

// fastConfig is an endpoint config for the fake node: short timeouts and
// backoffs.
func fastConfig(url string) endpoint.Config {
	cfg := endpoint.DefaultConfig(url)
	cfg.Timeout = 2 * time.Second
	cfg.Retries = 3
	cfg.MinBackoff = time.Millisecond
	cfg.MaxBackoff = 5 * time.Millisecond
	return cfg
}

type clientSetup struct {
	cfg    func(*endpoint.Config)
	opts   ethereum.ClientOptions
	params *ethereum.Params
}

func newClient(t testing.TB, url string, s clientSetup) (*ethereum.Client, *logBuffer) {
	t.Helper()
	cfg := fastConfig(url)
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ep, err := endpoint.New(cfg, endpoint.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if s.params == nil {
		s.params = devParams()
	}
	s.opts.Logger = log
	c, err := ethereum.NewClient(t.Context(), ep, s.params, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, logs
}

// bigEqual compares hexutil.Big values (big.Int has unexported fields).
var bigEqual = cmp.Comparer(func(a, b hexutil.Big) bool { return (*big.Int)(&a).Cmp((*big.Int)(&b)) == 0 })

// amountEqual compares chains.Amount values.
var amountEqual = cmpopts.EquateComparable(chains.Amount{})

// compareRaw fails the test when the client's raw blocks differ from what
// the node's chain says they should be.
func compareRaw(t *testing.T, chain *ethtest.Chain, from int64, got []*ethereum.RawBlock, src ethereum.TraceSource, opts ...cmp.Option) {
	t.Helper()
	for i, raw := range got {
		h := from + int64(i)
		want := chain.Expected(h, src)
		if diff := cmp.Diff(want, raw, append(opts, bigEqual)...); diff != "" {
			t.Fatalf("block %d differs from the node's (-want +got):\n%s", h, diff)
		}
	}
}

// TestRawBlocksFallbacks fetches the same chain from nodes refusing
// methods in every way the client must cope with and checks that the raw
// blocks are the node's, that the client settles on the right methods,
// asks a refused method once only, and warns once when it cannot trace.
func TestRawBlocksFallbacks(t *testing.T) {
	tests := []struct {
		name      string
		refuse    []string
		refuseSt  int // HTTP status refusing refuse, 0: JSON-RPC -32601
		receipts  string
		traces    ethereum.TraceSource
		warnings  int
		chainOpts ethtest.ChainOptions
	}{
		{"every method", nil, 0, "eth_getBlockReceipts", ethereum.TracesCallTracer, 0, ethtest.ChainOptions{}},
		{"no eth_getBlockReceipts", []string{"eth_getBlockReceipts"}, 0, "eth_getTransactionReceipt", ethereum.TracesCallTracer, 0, ethtest.ChainOptions{}},
		{"no debug namespace", []string{"debug_traceBlockByNumber"}, 0, "eth_getBlockReceipts", ethereum.TracesParity, 0, ethtest.ChainOptions{}},
		{"no tracing at all", []string{"debug_traceBlockByNumber", "trace_block"}, 0, "eth_getBlockReceipts", ethereum.TracesNone, 1, ethtest.ChainOptions{}},
		{"nothing optional", []string{"eth_getBlockReceipts", "debug_traceBlockByNumber", "trace_block"}, 0, "eth_getTransactionReceipt", ethereum.TracesNone, 1, ethtest.ChainOptions{}},
		{"debug refused with HTTP 405", []string{"debug_traceBlockByNumber"}, 405, "eth_getBlockReceipts", ethereum.TracesParity, 0, ethtest.ChainOptions{}},
		{"receipts and traces refused with HTTP 403", []string{"eth_getBlockReceipts", "debug_traceBlockByNumber", "trace_block"}, 403, "eth_getTransactionReceipt", ethereum.TracesNone, 1, ethtest.ChainOptions{}},
		{"proof of work, pre-London", nil, 0, "eth_getBlockReceipts", ethereum.TracesCallTracer, 0, ethtest.ChainOptions{PreLondon: true, Uncles: true}},
		{"proof of work, parity", []string{"debug_traceBlockByNumber"}, 0, "eth_getBlockReceipts", ethereum.TracesParity, 0, ethtest.ChainOptions{PreLondon: true, Uncles: true}},
		{"withdrawals, per-tx receipts", []string{"eth_getBlockReceipts"}, 0, "eth_getTransactionReceipt", ethereum.TracesCallTracer, 0, ethtest.ChainOptions{Withdrawals: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.chainOpts
			opts.Height = 14
			chain := ethtest.NewChain(opts)
			node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
			if tt.refuseSt == 0 {
				node.Refuse(tt.refuse...)
			} else {
				node.RefuseHTTP(tt.refuseSt, tt.refuse...)
			}
			setup := clientSetup{opts: ethereum.ClientOptions{BlocksPerBatch: 4}}
			if opts.Uncles {
				setup.params = powParams()
			}
			c, logs := newClient(t, node.URL(), setup)
			if caps := c.Capabilities(); caps.Probed {
				t.Errorf("Capabilities before any fetch = %+v, want not probed", caps)
			}
			// Two fetches: the choice of methods must stick.
			for _, r := range [][2]int64{{0, 7}, {8, 14}} {
				got, err := c.RawBlocks(t.Context(), r[0], r[1])
				if err != nil {
					t.Fatalf("RawBlocks(%d, %d): %v", r[0], r[1], err)
				}
				if len(got) != int(r[1]-r[0]+1) {
					t.Fatalf("RawBlocks(%d, %d) gave %d blocks", r[0], r[1], len(got))
				}
				compareRaw(t, chain, r[0], got, tt.traces)
			}
			caps := c.Capabilities()
			if !caps.Probed || caps.Receipts != tt.receipts || caps.Traces != tt.traces {
				t.Errorf("Capabilities = %+v, want receipts %s, traces %v", caps, tt.receipts, tt.traces)
			}
			for _, m := range tt.refuse {
				if n := node.Calls(m); n != 1 {
					t.Errorf("refused method %s was called %d times, want once", m, n)
				}
			}
			if n := logs.count("WARN"); n != tt.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tt.warnings, logs)
			}
			if tt.chainOpts.Uncles {
				withUncles := 0
				for h := range int64(15) {
					withUncles += len(chain.Expected(h, tt.traces).Uncles)
				}
				if withUncles == 0 || node.Calls("eth_getUncleByBlockHashAndIndex") != withUncles {
					t.Errorf("%d uncle calls for %d uncles", node.Calls("eth_getUncleByBlockHashAndIndex"), withUncles)
				}
			}
		})
	}
}

// TestNoUnclesWithoutRewards checks that uncles are not fetched where
// rewards do not apply.
func TestNoUnclesWithoutRewards(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 10, Uncles: true})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	p := powParams()
	p.MergeHeight = 5
	c, _ := newClient(t, node.URL(), clientSetup{params: p})
	got, err := c.RawBlocks(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for h, raw := range got {
		if len(raw.Block.Uncles) > 0 && (h < 5) != (len(raw.Uncles) > 0) {
			t.Errorf("block %d: %d uncle headers of %d uncles, merge at 5", h, len(raw.Uncles), len(raw.Block.Uncles))
		}
	}
}

// TestBatching counts the requests: several blocks' calls share a batch,
// batches stay within their bounds, and token metadata is asked once.
func TestBatching(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 25})
	t.Run("block receipts", func(t *testing.T) {
		node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
		c, _ := newClient(t, node.URL(), clientSetup{opts: ethereum.ClientOptions{BlocksPerBatch: 10, MaxBatch: 7}})
		if _, err := c.RawBlocks(t.Context(), 1, 25); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, b := range node.Batches() {
			sizes = append(sizes, len(b))
		}
		// Probes: eth_getBlockReceipts and debug_traceBlockByNumber alone;
		// then 3 calls per block for 10, 10 and 5 blocks; then the 4
		// tokens' 12 metadata calls in batches of at most 7.
		want := []int{1, 1, 30, 30, 15, 7, 5}
		if !slices.Equal(sizes, want) {
			t.Errorf("batch sizes %v, want %v", sizes, want)
		}
		node.ResetStats()
		if _, err := c.RawBlocks(t.Context(), 1, 3); err != nil {
			t.Fatal(err)
		}
		if got := node.Batches(); len(got) != 1 || len(got[0]) != 9 {
			t.Errorf("second fetch sent %v, want one batch of 9 calls (tokens cached, no probe)", got)
		}
	})
	t.Run("per-transaction receipts", func(t *testing.T) {
		node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: []string{"eth_getBlockReceipts"}})
		c, _ := newClient(t, node.URL(), clientSetup{opts: ethereum.ClientOptions{BlocksPerBatch: 5, MaxBatch: 8, NoTokenMetadata: true}})
		got, err := c.RawBlocks(t.Context(), 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range got {
			if len(raw.Tokens) != 0 {
				t.Errorf("block %d: tokens %v with NoTokenMetadata", i+1, raw.Tokens)
			}
		}
		compareRaw(t, chain, 1, got, ethereum.TracesCallTracer, cmpopts.IgnoreFields(ethereum.RawBlock{}, "Tokens"))
		txs := 0
		for _, raw := range got {
			txs += len(raw.Block.Transactions)
		}
		if n := node.Calls("eth_getTransactionReceipt"); n != txs {
			t.Errorf("%d receipt calls for %d transactions", n, txs)
		}
		for _, b := range node.Batches() {
			if len(b) > 10 || b[0] == "eth_getTransactionReceipt" && len(b) > 8 {
				t.Errorf("batch of %d calls %v exceeds its bound", len(b), b)
			}
		}
		if n := node.Calls("eth_call"); n != 0 {
			t.Errorf("%d eth_call with NoTokenMetadata", n)
		}
	})
}

// TestBatchLimits checks that batches the node refuses as too large, or
// answers only in part, are split until every call is answered.
func TestBatchLimits(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 12})
	for _, opts := range []ethtest.NodeOptions{
		{BatchLimit: 5},
		{BatchResponseLimit: 3000},
		{BatchLimit: 4, BatchResponseLimit: 1},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			node := ethtest.NewNode(t, chain, opts)
			c, _ := newClient(t, node.URL(), clientSetup{opts: ethereum.ClientOptions{BlocksPerBatch: 6}})
			got, err := c.RawBlocks(t.Context(), 0, 12)
			if err != nil {
				t.Fatal(err)
			}
			compareRaw(t, chain, 0, got, ethereum.TracesCallTracer)
		})
	}
}

// TestBatchRejected checks that a batch rejected as a whole for its size
// (one error object for the batch, as some providers answer) is split.
func TestBatchRejected(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 8})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	node.SetFault(func(r ethtest.FaultRequest) ethtest.FaultAction {
		if len(r.Methods) > 4 {
			return ethtest.Reply(200, []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch size limit exceeded"}}`))
		}
		return ethtest.None()
	})
	c, _ := newClient(t, node.URL(), clientSetup{})
	got, err := c.RawBlocks(t.Context(), 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	compareRaw(t, chain, 1, got, ethereum.TracesCallTracer)

	// A rejection for another reason is an error naming it.
	node.SetFault(ethtest.Always(ethtest.Reply(200, []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"daily request count exceeded"}}`))))
	_, err = c.RawBlocks(t.Context(), 1, 8)
	var re *ethereum.RPCError
	if !errors.As(err, &re) || re.Code != -32005 || !strings.Contains(err.Error(), "batch rejected") {
		t.Fatalf("RawBlocks = %v, want the batch's RPCError -32005", err)
	}
}

// TestFaults checks that transient faults are retried and permanent ones
// fail clearly.
func TestFaults(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 6})
	tests := []struct {
		name    string
		fault   ethtest.Fault
		nodeOpt ethtest.NodeOptions
		url     func(*ethtest.Node) string
		wantErr error // nil: the fetch succeeds
		maxReqs int   // at most this many requests in all (0: no bound)
	}{
		{"503 twice", ethtest.Times(2, ethtest.Status(503, "busy")), ethtest.NodeOptions{}, nil, nil, 0},
		{"429 with Retry-After", ethtest.Times(1, ethtest.Status(429, "slow down").WithHeader("Retry-After", "0")), ethtest.NodeOptions{}, nil, nil, 0},
		{"timeout", ethtest.Times(1, ethtest.Delay(3*time.Second)), ethtest.NodeOptions{}, nil, nil, 0},
		{"truncated", ethtest.Times(2, ethtest.Truncate()), ethtest.NodeOptions{}, nil, nil, 0},
		{"closed connection", ethtest.Times(2, ethtest.CloseConn()), ethtest.NodeOptions{}, nil, nil, 0},
		{"truncated block batch", ethtest.ForMethod("eth_getBlockByNumber", ethtest.Times(1, ethtest.Truncate())), ethtest.NodeOptions{}, nil, nil, 0},
		{"5xx for ever", ethtest.Always(ethtest.Status(502, "bad gateway")), ethtest.NodeOptions{}, nil, endpoint.ErrServer, 4},
		{"garbage", ethtest.Always(ethtest.Garbage()), ethtest.NodeOptions{}, nil, endpoint.ErrMalformed, 1},
		{"garbage JSON", ethtest.Always(ethtest.Reply(200, []byte(`{"jsonrpc":"2.0","id":1,"result":`))), ethtest.NodeOptions{}, nil, endpoint.ErrMalformed, 1},
		{"bad credentials", nil, ethtest.NodeOptions{User: "u", Password: "right-password"}, nil, endpoint.ErrUnauthorized, 1},
		{"bad path key", nil, ethtest.NodeOptions{Path: "/v3/0123456789abcdef0123456789abcdef"}, func(n *ethtest.Node) string {
			return strings.Replace(n.URL(), "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", 1)
		}, endpoint.ErrUnauthorized, 1},
		{"token metadata server error", ethtest.ForMethod("eth_call", ethtest.Always(ethtest.Status(500, "boom"))), ethtest.NodeOptions{}, nil, endpoint.ErrServer, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := ethtest.NewNode(t, chain, tt.nodeOpt)
			node.SetFault(tt.fault)
			url := node.URL()
			if tt.url != nil {
				url = tt.url(node)
			}
			c, _ := newClient(t, url, clientSetup{cfg: func(cfg *endpoint.Config) {
				cfg.Timeout = 300 * time.Millisecond
				cfg.User, cfg.Password = "u", "wrong-password"
			}})
			var err error
			if tt.fault == nil {
				err = c.Check(t.Context())
			}
			var got []*ethereum.RawBlock
			if err == nil {
				got, err = c.RawBlocks(t.Context(), 1, 6)
			}
			t.Logf("error: %v", err)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				compareRaw(t, chain, 1, got, ethereum.TracesCallTracer)
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
			}
			if tt.maxReqs > 0 && node.Requests() > tt.maxReqs {
				t.Errorf("%d requests, want at most %d", node.Requests(), tt.maxReqs)
			}
			var ee *endpoint.Error
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), "endpoint ") {
				t.Errorf("error %v does not name the endpoint", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Run("right chain", func(t *testing.T) {
		node := ethtest.NewNode(t, ethtest.NewChain(ethtest.ChainOptions{Height: 3}), ethtest.NodeOptions{Refuse: []string{"debug_traceBlockByNumber"}})
		c, logs := newClient(t, node.URL(), clientSetup{})
		if err := c.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		caps := c.Capabilities()
		if !caps.Probed || caps.Receipts != "eth_getBlockReceipts" || caps.TraceMethod != "trace_block" {
			t.Errorf("Capabilities after Check = %+v", caps)
		}
		if !strings.Contains(logs.String(), "traces=trace_block") {
			t.Errorf("Check did not log the capabilities:\n%s", logs)
		}
	})
	t.Run("wrong chain", func(t *testing.T) {
		node := ethtest.NewNode(t, ethtest.NewChain(ethtest.ChainOptions{ChainID: 1}), ethtest.NodeOptions{})
		c, _ := newClient(t, node.URL(), clientSetup{})
		err := c.Check(t.Context())
		if !errors.Is(err, ethereum.ErrWrongChain) {
			t.Fatalf("Check = %v, want ErrWrongChain", err)
		}
		for _, s := range []string{"chain id 1 (eth)", "want 1337 (eth-dev)"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
		if node.Requests() != 1 {
			t.Errorf("%d requests, want 1 (nothing after eth_chainId)", node.Requests())
		}
	})
}

func TestTipAndBlockHash(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 5})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	c, _ := newClient(t, node.URL(), clientSetup{})
	h, hash, err := c.Tip(t.Context())
	if err != nil || h != 5 || hash != chains.Hash(chain.Hash(5)) {
		t.Fatalf("Tip = %d %s %v, want 5 %s", h, hash, err, chain.Hash(5))
	}
	for i := range int64(6) {
		got, err := c.BlockHash(t.Context(), i)
		if err != nil || got != chains.Hash(chain.Hash(i)) {
			t.Errorf("BlockHash(%d) = %s %v, want %s", i, got, err, chain.Hash(i))
		}
	}
	chain.Extend(1)
	if h, _, err := c.Tip(t.Context()); err != nil || h != 6 {
		t.Errorf("Tip after Extend = %d %v", h, err)
	}
}

func TestBeyondTip(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 4})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	c, _ := newClient(t, node.URL(), clientSetup{})
	checks := map[string]func() error{
		"BlockHash": func() error { _, err := c.BlockHash(t.Context(), 5); return err },
		"negative":  func() error { _, err := c.BlockHash(t.Context(), -1); return err },
		"RawBlocks": func() error { _, err := c.RawBlocks(t.Context(), 3, 6); return err },
		"Block":     func() error { _, err := c.Block(t.Context(), 9); return err },
		"Blocks":    func() error { _, err := c.Blocks(t.Context(), 5, 5); return err },
	}
	for name, f := range checks {
		if err := f(); !errors.Is(err, chains.ErrBeyondTip) {
			t.Errorf("%s: %v, want ErrBeyondTip", name, err)
		}
	}
}

// TestReorgBetweenCalls makes the node switch branches between the
// client's calls for a block: the client must notice (receipts or traces
// of another block) and fetch the block again, or give up with
// ErrInconsistent when the chain keeps moving.
func TestReorgBetweenCalls(t *testing.T) {
	for _, tt := range []struct {
		name   string
		refuse []string
		src    ethereum.TraceSource
	}{
		{"block receipts", nil, ethereum.TracesCallTracer},
		{"per-transaction receipts", []string{"eth_getBlockReceipts"}, ethereum.TracesCallTracer},
		{"parity traces", []string{"debug_traceBlockByNumber"}, ethereum.TracesParity},
		{"parity traces, per-transaction receipts", []string{"debug_traceBlockByNumber", "eth_getBlockReceipts"}, ethereum.TracesParity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			chain := ethtest.NewChain(ethtest.ChainOptions{Height: 6})
			node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: tt.refuse})
			c, logs := newClient(t, node.URL(), clientSetup{})
			if err := c.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			old := chain.Hash(6)
			// The node switches branches right after it served the block:
			// the receipts and traces that follow (in the same batch or a
			// later request) are the new branch's.
			var once sync.Once
			node.SetResultHook(func(method string, _ []json.RawMessage, res json.RawMessage) json.RawMessage {
				if method == "eth_getBlockByNumber" {
					once.Do(func() { chain.Reorg(2) })
				}
				return res
			})
			got, err := c.RawBlocks(t.Context(), 5, 6)
			if err != nil {
				t.Fatal(err)
			}
			if chain.Hash(6) == old {
				t.Fatal("the test did not reorg the chain")
			}
			compareRaw(t, chain, 5, got, tt.src)
			// Block 5 was served from the old branch, its receipts or
			// traces from the new one; block 6 came all from the new one.
			if n := node.Calls("eth_getBlockByNumber"); n != 3 {
				t.Errorf("eth_getBlockByNumber called %d times, want 3 (2 blocks, block 5 again)", n)
			}
			if !strings.Contains(logs.String(), "fetching it again") {
				t.Errorf("no refetch logged:\n%s", logs)
			}
		})
	}
}

// TestReorgEveryCall makes the chain move at every receipts call: the
// client gives up after its refetches with a transient ErrInconsistent.
func TestReorgEveryCall(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 6})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: []string{"eth_getBlockReceipts"}})
	c, logs := newClient(t, node.URL(), clientSetup{opts: ethereum.ClientOptions{Refetches: 2}})
	if err := c.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	node.SetFault(ethtest.ForMethod("eth_getTransactionReceipt", func(ethtest.FaultRequest) ethtest.FaultAction {
		chain.Reorg(1)
		return ethtest.None()
	}))
	_, err := c.RawBlocks(t.Context(), 6, 6)
	if !errors.Is(err, ethereum.ErrInconsistent) {
		t.Fatalf("RawBlocks = %v, want ErrInconsistent", err)
	}
	var tr interface{ Transient() bool }
	if !errors.As(err, &tr) || !tr.Transient() {
		t.Errorf("error %v is not transient", err)
	}
	if !strings.Contains(err.Error(), "block 6") {
		t.Errorf("error %q does not name the block", err)
	}
	if n := node.Calls("eth_getBlockByNumber"); n != 3 {
		t.Errorf("block fetched %d times, want 3 (once and 2 refetches)", n)
	}
	if n := strings.Count(logs.String(), "fetching it again"); n != 2 {
		t.Errorf("%d refetch records, want 2", n)
	}
}

// TestTokenMetadata checks the token descriptions: fetched at the block's
// height, asked again at the latest block when the node has pruned the
// state, reverts and garbage unknown, cached.
func TestTokenMetadata(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 4})
	for _, pruned := range []bool{false, true} {
		t.Run(fmt.Sprint("pruned=", pruned), func(t *testing.T) {
			node := ethtest.NewNode(t, chain, ethtest.NodeOptions{PrunedState: pruned})
			c, _ := newClient(t, node.URL(), clientSetup{})
			got, err := c.RawBlocks(t.Context(), 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := map[common.Address]chains.Token{
				ethtest.TokenStd:     {Name: "Test Token", Symbol: "TST", Decimals: 18},
				ethtest.TokenBytes32: {Name: "Maker", Symbol: "MKR", Decimals: 18},
				ethtest.TokenRevert:  {Decimals: -1},
				ethtest.TokenGarbage: {Decimals: -1},
			}
			if diff := cmp.Diff(want, got[0].Tokens); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
			calls := node.Calls("eth_call")
			if _, err := c.RawBlocks(t.Context(), 2, 4); err != nil {
				t.Fatal(err)
			}
			if node.Calls("eth_call") != calls {
				t.Errorf("tokens asked again: %d eth_call, then %d", calls, node.Calls("eth_call"))
			}
		})
	}
}

// TestSecretsNeverShown runs failures against a node whose URL holds an
// API key in its path and whose errors echo it, and checks errors and
// logs.
func TestSecretsNeverShown(t *testing.T) {
	const key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	const pass = "pw-Sup3rS3cret-17"
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 3})
	echo := []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"key ` + key + ` over its limit"}}`)
	tests := []struct {
		name  string
		fault ethtest.Fault
		path  string
	}{
		{"wrong key echoed", nil, "/v3/00000000000000000000000000000000"},
		{"rpc error echoing the key", ethtest.Always(ethtest.Reply(200, echo)), ""},
		{"400 echoing the key", ethtest.Always(ethtest.Reply(400, echo)), ""},
		{"503 echoing the key", ethtest.Always(ethtest.Status(503, "overloaded: "+key)), ""},
		{"timeouts", ethtest.Always(ethtest.Delay(time.Second)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ethtest.NodeOptions{Path: "/v3/" + key}
			if tt.path != "" {
				opts.Path = tt.path
			}
			node := ethtest.NewNode(t, chain, opts)
			node.SetFault(tt.fault)
			url := strings.Replace(node.URL(), opts.Path, "/v3/"+key, 1)
			url = strings.Replace(url, "http://", "http://bob:"+pass+"@", 1)
			c, logs := newClient(t, url, clientSetup{cfg: func(cfg *endpoint.Config) {
				cfg.Retries = 1
				cfg.Timeout = 100 * time.Millisecond
			}})
			var errs []error
			errs = append(errs, c.Check(t.Context()))
			_, err := c.RawBlocks(t.Context(), 1, 2)
			errs = append(errs, err)
			_, _, err = c.Tip(t.Context())
			errs = append(errs, err)
			for _, err := range errs {
				if err == nil {
					t.Fatal("no error")
				}
				t.Logf("error: %v", err)
				for _, s := range []string{fmt.Sprint(err), fmt.Sprintf("%+v", err), logs.String(), c.Name()} {
					if strings.Contains(s, key) || strings.Contains(s, pass) {
						t.Errorf("secret shown in %q", s)
					}
				}
				var re *ethereum.RPCError
				if errors.As(err, &re) && strings.Contains(re.Message, key) {
					t.Errorf("RPCError.Message holds the key: %q", re.Message)
				}
			}
		})
	}
}

// TestConcurrentBlocks fetches blocks from several goroutines (run with
// -race).
func TestConcurrentBlocks(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 20})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: []string{"debug_traceBlockByNumber"}})
	c, logs := newClient(t, node.URL(), clientSetup{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for h := range int64(20) {
		wg.Go(func() {
			raws, err := c.RawBlocks(t.Context(), h, h)
			if err == nil && raws[0].TraceSource != ethereum.TracesParity {
				err = fmt.Errorf("block %d traced by %v", h, raws[0].TraceSource)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := node.Calls("debug_traceBlockByNumber"); n != 1 {
		t.Errorf("debug_traceBlockByNumber called %d times, want once", n)
	}
	if n := logs.count("INFO"); n != 1 {
		t.Errorf("%d info records, want 1 (the fallback):\n%s", n, logs)
	}
}

// TestContextCanceled checks that a canceled context stops a fetch at
// once.
func TestContextCanceled(t *testing.T) {
	node := ethtest.NewNode(t, ethtest.NewChain(ethtest.ChainOptions{Height: 3}), ethtest.NodeOptions{})
	node.SetFault(ethtest.Always(ethtest.Delay(5 * time.Second)))
	c, _ := newClient(t, node.URL(), clientSetup{cfg: func(cfg *endpoint.Config) { cfg.Timeout = 10 * time.Second }})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.RawBlocks(ctx, 1, 2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RawBlocks = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestHTTPStatusRefusalNeedsCredentials checks that a 403 to a probe is
// not taken for a refused method when the credentials are what is wrong.
func TestHTTPStatusRefusalNeedsCredentials(t *testing.T) {
	node := ethtest.NewNode(t, ethtest.NewChain(ethtest.ChainOptions{Height: 3}), ethtest.NodeOptions{})
	node.SetFault(ethtest.Always(ethtest.Status(http.StatusForbidden, "invalid key")))
	c, _ := newClient(t, node.URL(), clientSetup{})
	_, err := c.RawBlocks(t.Context(), 1, 1)
	if !errors.Is(err, endpoint.ErrUnauthorized) {
		t.Fatalf("RawBlocks = %v, want ErrUnauthorized", err)
	}
	if c.Capabilities().Probed {
		t.Errorf("capabilities decided from bad credentials: %+v", c.Capabilities())
	}
}

// TestBlockEndToEnd fetches and extracts the synthetic chain by every
// trace method and checks the transfers the chain was built with; the
// call-tracer and trace_block extractions must agree.
func TestBlockEndToEnd(t *testing.T) {
	const height = 9
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: height, Uncles: true, Withdrawals: true})
	byMode := map[ethereum.TraceSource][]chains.Block{}
	for _, tt := range []struct {
		src    ethereum.TraceSource
		refuse []string
	}{
		{ethereum.TracesCallTracer, nil},
		{ethereum.TracesParity, []string{"debug_traceBlockByNumber"}},
		{ethereum.TracesNone, []string{"debug_traceBlockByNumber", "trace_block"}},
	} {
		node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: tt.refuse})
		c, _ := newClient(t, node.URL(), clientSetup{params: powParams(), opts: ethereum.ClientOptions{BlocksPerBatch: 4}})
		blocks, err := c.Blocks(t.Context(), 0, height)
		if err != nil {
			t.Fatalf("%v: Blocks: %v", tt.src, err)
		}
		for h := int64(0); h <= height; h++ {
			one, err := c.Block(t.Context(), h)
			if err != nil {
				t.Fatalf("%v: Block(%d): %v", tt.src, h, err)
			}
			if diff := cmp.Diff(blocks[h], one, amountEqual); diff != "" {
				t.Errorf("%v: Block(%d) differs from Blocks (-Blocks +Block):\n%s", tt.src, h, diff)
			}
		}
		byMode[tt.src] = blocks
	}
	if diff := cmp.Diff(byMode[ethereum.TracesCallTracer], byMode[ethereum.TracesParity], amountEqual); diff != "" {
		t.Errorf("callTracer and trace_block extractions differ (-callTracer +trace_block):\n%s", diff)
	}
	hexAddr := func(a common.Address) string { return strings.ToLower(a.Hex()) }
	type key struct {
		kind     chains.TransferKind
		token    string
		from, to string
	}
	for src, blocks := range byMode {
		for h, b := range blocks {
			raw := chain.Expected(int64(h), src)
			if b.Height != int64(h) || b.Hash != chains.Hash(raw.Block.Hash) || b.PrevHash != chains.Hash(raw.Block.ParentHash) || b.Account == nil {
				t.Fatalf("%v: block %d: height %d hash %s prev %s account %v", src, h, b.Height, b.Hash, b.PrevHash, b.Account != nil)
			}
			acc := b.Account
			if len(acc.Txs) != len(raw.Block.Transactions) || acc.NoTraces != (src == ethereum.TracesNone) {
				t.Errorf("%v: block %d: %d txs (want %d), NoTraces %v", src, h, len(acc.Txs), len(raw.Block.Transactions), acc.NoTraces)
			}
			if h == 0 {
				continue
			}
			have := map[key]bool{}
			for _, tr := range acc.Transfers {
				have[key{tr.Kind, tr.Token, tr.From, tr.To}] = true
			}
			want := []key{
				{chains.TransferCall, "", hexAddr(ethtest.Alice), hexAddr(ethtest.Bob)},
				{chains.TransferFee, "", hexAddr(ethtest.Carol), hexAddr(ethtest.Miner)}, // the failed tx pays its fee
				{chains.TransferBurn, "", hexAddr(ethtest.Carol), ""},
				{chains.TransferToken, hexAddr(ethtest.TokenStd), hexAddr(ethtest.Alice), hexAddr(ethtest.Bob)},
				{chains.TransferToken, hexAddr(ethtest.TokenStd), hexAddr(common.Address{}), hexAddr(ethtest.Carol)},
				{chains.TransferWithdrawal, "", "", hexAddr(ethtest.Carol)},
				{chains.TransferBlockReward, "", "", hexAddr(ethtest.Miner)},
			}
			unwanted := []key{
				{chains.TransferCall, "", hexAddr(ethtest.Carol), hexAddr(ethtest.Reverter)},   // failed tx
				{chains.TransferInternal, "", hexAddr(ethtest.Reverter), hexAddr(ethtest.Bob)}, // reverted subtree
				{chains.TransferInternal, "", hexAddr(ethtest.Forwarder), hexAddr(ethtest.Reverter)},
				{chains.TransferInternal, "", hexAddr(ethtest.Forwarder), hexAddr(ethtest.Library)}, // DELEGATECALL
			}
			if src != ethereum.TracesNone {
				want = append(want, key{chains.TransferInternal, "", hexAddr(ethtest.Forwarder), hexAddr(ethtest.Carol)})
				if h%4 == 2 {
					want = append(want, key{chains.TransferSelfdestruct, "", hexAddr(ethtest.Doomed), hexAddr(ethtest.Bob)})
				}
			} else {
				unwanted = append(unwanted, key{chains.TransferInternal, "", hexAddr(ethtest.Forwarder), hexAddr(ethtest.Carol)})
			}
			if len(raw.Block.Uncles) > 0 {
				want = append(want, key{chains.TransferUncleReward, "", "", hexAddr(ethtest.UncleMiner)})
			}
			for _, k := range want {
				if !have[k] {
					t.Errorf("%v: block %d: no %v transfer %s %s → %s", src, h, k.kind, k.token, k.from, k.to)
				}
			}
			for _, k := range unwanted {
				if have[k] {
					t.Errorf("%v: block %d: unwanted %v transfer %s → %s", src, h, k.kind, k.from, k.to)
				}
			}
			var std *chains.Token
			for i := range acc.Tokens {
				if acc.Tokens[i].Address == hexAddr(ethtest.TokenStd) {
					std = &acc.Tokens[i]
				}
			}
			if std == nil || std.Symbol != "TST" || std.Decimals != 18 {
				t.Errorf("%v: block %d: tokens %+v, want TST among them", src, h, acc.Tokens)
			}
		}
	}
}

// etlDir is where the ethereum-etl fixtures are.
const etlDir = "testdata/ethereum-etl/"

// loadResult decodes the result of a recorded JSON-RPC answer.
func loadResult(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(etlDir + path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(rep.Result, v); err != nil {
		t.Fatalf("%s: result: %v", path, err)
	}
}

// realBlock loads a recorded mainnet block and the receipts of its
// transactions.
func realBlock(t testing.TB, blockFile, receiptDir string) *ethereum.RawBlock {
	t.Helper()
	raw := &ethereum.RawBlock{Block: new(ethereum.RPCBlock), Receipts: []*ethereum.RPCReceipt{}}
	loadResult(t, blockFile, raw.Block)
	for _, tx := range raw.Block.Transactions {
		r := new(ethereum.RPCReceipt)
		loadResult(t, receiptDir+"/web3_response.eth_getTransactionReceipt_"+tx.Hash.Hex()+".json", r)
		raw.Receipts = append(raw.Receipts, r)
	}
	return raw
}

// TestRealBlocks serves recorded mainnet blocks (no traces recorded: the
// node refuses both trace methods) and checks what the client reads, by
// block receipts and per transaction, and that it extracts them.
func TestRealBlocks(t *testing.T) {
	const stream = "test_stream/blocks_1755634_1755635"
	realChains := map[string]*ethtest.Chain{
		"blocks 1755634-1755635": ethtest.NewChainOf(1,
			realBlock(t, stream+"/web3_response.eth_getBlockByNumber_0x1ac9f2_true.json", stream),
			realBlock(t, stream+"/web3_response.eth_getBlockByNumber_0x1ac9f3_true.json", stream)),
		"block 483920": ethtest.NewChainOf(1,
			realBlock(t, "test_export_blocks_job/block_with_logs/web3_response.eth_getBlockByNumber_0x76250_true.json", "test_export_receipts_job/receipts_with_logs")),
	}
	for name, chain := range realChains {
		for _, refuse := range [][]string{
			{"debug_traceBlockByNumber", "trace_block"},
			{"debug_traceBlockByNumber", "trace_block", "eth_getBlockReceipts"},
		} {
			t.Run(fmt.Sprintf("%s, refusing %v", name, refuse), func(t *testing.T) {
				node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: refuse})
				p, err := ethereum.ParamsFor(chains.ETH)
				if err != nil {
					t.Fatal(err)
				}
				c, logs := newClient(t, node.URL(), clientSetup{params: p})
				if err := c.Check(t.Context()); err != nil {
					t.Fatal(err)
				}
				tip := chain.Tip()
				first := tip
				for chain.Hash(first-1) != (common.Hash{}) {
					first--
				}
				got, err := c.RawBlocks(t.Context(), first, tip)
				if err != nil {
					t.Fatal(err)
				}
				compareRaw(t, chain, first, got, ethereum.TracesNone)
				blocks, err := c.Blocks(t.Context(), first, tip)
				if err != nil {
					t.Fatalf("Blocks: %v", err)
				}
				for i, b := range blocks {
					if !b.Account.NoTraces || len(b.Account.Txs) != len(got[i].Block.Transactions) {
						t.Errorf("block %d: NoTraces %v, %d txs", b.Height, b.Account.NoTraces, len(b.Account.Txs))
					}
				}
				if logs.count("WARN") != 1 {
					t.Errorf("want one warning:\n%s", logs)
				}
			})
		}
	}
}
