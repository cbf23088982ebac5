package bitcoin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/bitcoin/bitcointest"
	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// source is the indexer's contract, which both node clients satisfy.
type source interface {
	Tip(ctx context.Context) (int64, chains.Hash, error)
	BlockHash(ctx context.Context, height int64) (chains.Hash, error)
	Block(ctx context.Context, height int64) (chains.Block, error)
}

var (
	_ source = (*bitcoin.Client)(nil)
	_ source = (*bitcoin.Esplora)(nil)
)

// ncHeight is the number of real mainnet blocks the fake nodes serve: enough
// to hold blocks with several transactions (170, 181-183, 187, 221, 248).
const ncHeight = 250

// ncChain is a bitcointest.Chain over the first bundled mainnet blocks.
type ncChain struct {
	hashes []chains.Hash
	raw    [][]byte
	blocks map[chains.Hash][]byte
}

func (c *ncChain) Hashes() []chains.Hash { return slices.Clone(c.hashes) }
func (c *ncChain) RawBlock(h chains.Hash) ([]byte, bool) {
	b, ok := c.blocks[h]
	return b, ok
}

func newNCChain(t testing.TB) *ncChain {
	t.Helper()
	c := &ncChain{raw: bdMainnet(t)[:ncHeight], blocks: map[chains.Hash][]byte{}}
	for _, b := range c.raw {
		h := bdHash(b)
		c.hashes = append(c.hashes, h)
		c.blocks[h] = b
	}
	return c
}

// ncConfig is a fast endpoint config for tests: retried failures cost
// milliseconds.
func ncConfig(url string) endpoint.Config {
	cfg := endpoint.DefaultConfig(url)
	cfg.Timeout = 2 * time.Second
	cfg.Retries = 3
	cfg.MinBackoff = time.Millisecond
	cfg.MaxBackoff = 5 * time.Millisecond
	return cfg
}

func ncEndpoint(t testing.TB, cfg endpoint.Config, opts endpoint.Options) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.New(cfg, opts)
	if err != nil {
		t.Fatalf("endpoint.New: %v", err)
	}
	return ep
}

func ncClient(t testing.TB, node *bitcointest.Node, id chains.ID, modify func(*endpoint.Config)) *bitcoin.Client {
	t.Helper()
	cfg := ncConfig(node.URL())
	if modify != nil {
		modify(&cfg)
	}
	return bitcoin.NewClient(ncEndpoint(t, cfg, endpoint.Options{}), mustNetwork(t, id))
}

// ncWantBlock is what the network's own decoder makes of block h.
func ncWantBlock(t testing.TB, c *ncChain, h int64) chains.Block {
	t.Helper()
	b, err := mustNetwork(t, chains.BTC).DecodeBlock(c.raw[h], h)
	if err != nil {
		t.Fatalf("DecodeBlock(%d): %v", h, err)
	}
	return b
}

// rpcFlavors are the reply shapes the client must accept.
var rpcFlavors = []struct {
	name string
	opts bitcointest.NodeOptions
}{
	{"core legacy", bitcointest.NodeOptions{Flavor: bitcointest.Core}},
	{"core jsonrpc 2.0", bitcointest.NodeOptions{Flavor: bitcointest.Core, JSONRPC2: true}},
	{"core reversed batch", bitcointest.NodeOptions{Flavor: bitcointest.Core, ReverseBatch: true}},
	{"btcd", bitcointest.NodeOptions{Flavor: bitcointest.Btcd}},
	{"btcd reversed batch 2.0", bitcointest.NodeOptions{Flavor: bitcointest.Btcd, ReverseBatch: true, JSONRPC2: true}},
}

func TestClient(t *testing.T) {
	chain := newNCChain(t)
	tip := int64(ncHeight - 1)
	for _, fl := range rpcFlavors {
		t.Run(fl.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, fl.opts)
			c := ncClient(t, node, chains.BTC, nil)
			ctx := t.Context()

			if err := c.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			h, hash, err := c.Tip(ctx)
			if err != nil || h != tip || hash != chain.hashes[tip] {
				t.Errorf("Tip = %d, %s, %v; want %d, %s", h, hash, err, tip, chain.hashes[tip])
			}
			for _, height := range []int64{0, 170, tip} {
				got, err := c.BlockHash(ctx, height)
				if err != nil || got != chain.hashes[height] {
					t.Errorf("BlockHash(%d) = %s, %v; want %s", height, got, err, chain.hashes[height])
				}
			}
			hashes, err := c.BlockHashes(ctx, 0, tip)
			if err != nil {
				t.Fatalf("BlockHashes: %v", err)
			}
			if diff := cmp.Diff(chain.hashes, hashes); diff != "" {
				t.Errorf("BlockHashes(0, %d) differs (-want +got):\n%s", tip, diff)
			}
			for _, height := range []int64{0, 170, 248} {
				got, err := c.Block(ctx, height)
				if err != nil {
					t.Fatalf("Block(%d): %v", height, err)
				}
				if diff := cmp.Diff(ncWantBlock(t, chain, height), got); diff != "" {
					t.Errorf("Block(%d) differs from DecodeBlock (-want +got):\n%s", height, diff)
				}
			}
			blocks, err := c.Blocks(ctx, 160, 190)
			if err != nil {
				t.Fatalf("Blocks(160, 190): %v", err)
			}
			if len(blocks) != 31 {
				t.Fatalf("Blocks(160, 190) returned %d blocks, want 31", len(blocks))
			}
			for i, got := range blocks {
				if diff := cmp.Diff(ncWantBlock(t, chain, 160+int64(i)), got); diff != "" {
					t.Errorf("Blocks: block %d differs from DecodeBlock (-want +got):\n%s", 160+i, diff)
				}
			}
			raws, err := c.RawBlocks(ctx, chain.hashes[165:175])
			if err != nil {
				t.Fatalf("RawBlocks: %v", err)
			}
			for i, raw := range raws {
				if !bytes.Equal(raw, chain.raw[165+i]) {
					t.Errorf("RawBlocks: block %d differs", 165+i)
				}
			}
			var best string
			if err := c.Call(ctx, "getbestblockhash", nil, &best); err != nil || best != chain.hashes[tip].String() {
				t.Errorf("Call(getbestblockhash) = %q, %v; want %s", best, err, chain.hashes[tip])
			}
		})
	}
}

func TestClientBatch(t *testing.T) {
	chain := newNCChain(t)
	for _, fl := range rpcFlavors {
		t.Run(fl.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, fl.opts)
			c := ncClient(t, node, chains.BTC, nil)
			var count int64
			var hash5 string
			var wrongType int
			calls := []bitcoin.Call{
				{Method: "getblockcount", Result: &count},
				{Method: "getblockhash", Params: []any{5}, Result: &hash5},
				{Method: "nosuchmethod"},
				{Method: "getblockhash", Params: []any{ncHeight}},
				{Method: "getblockhash", Params: []any{6}, Result: &wrongType},
			}
			if err := c.Batch(t.Context(), calls); err != nil {
				t.Fatalf("Batch: %v", err)
			}
			if node.Requests() != 1 {
				t.Errorf("Batch sent %d requests, want 1", node.Requests())
			}
			if calls[0].Err != nil || count != ncHeight-1 {
				t.Errorf("getblockcount = %d, %v; want %d", count, calls[0].Err, ncHeight-1)
			}
			if calls[1].Err != nil || hash5 != chain.hashes[5].String() {
				t.Errorf("getblockhash 5 = %q, %v", hash5, calls[1].Err)
			}
			var re *bitcoin.RPCError
			if !errors.Is(calls[2].Err, bitcoin.ErrMethodNotFound) || !errors.As(calls[2].Err, &re) || re.ErrorCode() != -32601 ||
				!strings.Contains(calls[2].Err.Error(), "nosuchmethod") {
				t.Errorf("nosuchmethod: Err = %v, want ErrMethodNotFound naming the method", calls[2].Err)
			}
			if !errors.As(calls[3].Err, &re) || (re.Code != -8 && re.Code != -1) {
				t.Errorf("getblockhash beyond tip: Err = %v, want an RPC error -8 or -1", calls[3].Err)
			}
			if !errors.Is(calls[4].Err, endpoint.ErrMalformed) {
				t.Errorf("result into the wrong type: Err = %v, want endpoint.ErrMalformed", calls[4].Err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	chain := newNCChain(t)
	for _, fl := range rpcFlavors {
		t.Run(fl.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, fl.opts)
			c := ncClient(t, node, chains.BTC, nil)
			ctx := t.Context()
			tests := []struct {
				name string
				call func() error
				want error
				text string
			}{
				{"block hash beyond tip", func() error { _, err := c.BlockHash(ctx, ncHeight); return err }, bitcoin.ErrBeyondTip, "height 250"},
				{"negative height", func() error { _, err := c.BlockHash(ctx, -1); return err }, bitcoin.ErrBeyondTip, "-1"},
				{"block beyond tip", func() error { _, err := c.Block(ctx, ncHeight+5); return err }, bitcoin.ErrBeyondTip, "height 255"},
				{"blocks beyond tip", func() error { _, err := c.Blocks(ctx, ncHeight-2, ncHeight+1); return err }, bitcoin.ErrBeyondTip, "height 250"},
				{"hashes reversed range", func() error { _, err := c.BlockHashes(ctx, 5, 4); return err }, bitcoin.ErrBeyondTip, "5..4"},
				{"missing method", func() error { return c.Call(ctx, "getblockfilter", []any{"x"}, nil) }, bitcoin.ErrMethodNotFound, "getblockfilter"},
				{"unknown block", func() error { _, err := c.RawBlocks(ctx, []chains.Hash{{1}}); return err }, nil, "Block not found"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := node.Requests()
					err := tt.call()
					if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
						t.Fatalf("got %v, want %v mentioning %q", err, tt.want, tt.text)
					}
					if n := node.Requests() - before; n > 2 {
						t.Errorf("%d requests, want at most 2: RPC errors are not retried", n)
					}
				})
			}
		})
	}
}

// ncObserver records the kinds of attempts.
type ncObserver struct {
	mu    sync.Mutex
	kinds []string
	texts []string
}

func (o *ncObserver) Observe(ep, op string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kinds = append(o.kinds, endpoint.Kind(err))
	o.texts = append(o.texts, ep+" "+op)
	if err != nil {
		o.texts = append(o.texts, err.Error())
	}
}

func (o *ncObserver) snapshot() ([]string, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.kinds), slices.Clone(o.texts)
}

// warmup is Core's reply while it loads the block index.
const warmup = `{"result":null,"error":{"code":-28,"message":"Loading block index..."},"id":null}`

// faultCase is a fault and what it must do to a Block(170) call (two
// requests when healthy).
type faultCase struct {
	name         string
	fault        bitcointest.Fault
	timeout      time.Duration
	want         error // nil: the call succeeds
	wantRequests int
	wantKind     string // of the error
}

func TestClientFaults(t *testing.T) {
	chain := newNCChain(t)
	tests := []faultCase{
		{"500 twice", bitcointest.Times(2, bitcointest.Status(500, "")), 0, nil, 4, ""},
		{"502", bitcointest.Times(1, bitcointest.Status(502, "<html>Bad Gateway</html>")), 0, nil, 3, ""},
		{"503 work queue", bitcointest.Times(1, bitcointest.Status(503, "Work queue depth exceeded")), 0, nil, 3, ""},
		{"429 retry after", bitcointest.Times(1, bitcointest.Status(429, "").WithHeader("Retry-After", "0")), 0, nil, 3, ""},
		{"warming up", bitcointest.Times(2, bitcointest.Status(500, warmup)), 0, nil, 4, ""},
		{"proxy JSON 503", bitcointest.Times(1, bitcointest.Status(503, `{"message":"Service Unavailable"}`)), 0, nil, 3, ""},
		{"empty 200", bitcointest.Times(1, bitcointest.Status(200, `{}`)), 0, endpoint.ErrMalformed, 1, "malformed"},
		{"timeout", bitcointest.Times(1, bitcointest.Delay(time.Second)), 50 * time.Millisecond, nil, 3, ""},
		{"truncated", bitcointest.Times(1, bitcointest.Truncate()), 0, nil, 3, ""},
		{"closed connection", bitcointest.Times(2, bitcointest.CloseConn()), 0, nil, 4, ""},
		{"garbage", bitcointest.Times(1, bitcointest.Garbage()), 0, endpoint.ErrMalformed, 1, "malformed"},
		{"wrong block", bitcointest.Always(bitcointest.WrongBlock()), 0, bitcoin.ErrBlockMismatch, 2, "other"},
		{"500 forever", bitcointest.Always(bitcointest.Status(500, "")), 0, endpoint.ErrServer, 4, "server"},
		{"timeout forever", bitcointest.Always(bitcointest.Delay(time.Second)), 30 * time.Millisecond, endpoint.ErrTimeout, 4, "timeout"},
		{"truncated forever", bitcointest.Always(bitcointest.Truncate()), 0, endpoint.ErrUnreachable, 4, "unreachable"},
		{"404 html", bitcointest.Always(bitcointest.Status(404, "<html>not here</html>")), 0, endpoint.ErrNotFound, 1, "not_found"},
		{"unauthorized", bitcointest.Always(bitcointest.Status(401, "")), 0, endpoint.ErrUnauthorized, 1, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
			node.SetFault(tt.fault)
			c := ncClient(t, node, chains.BTC, func(cfg *endpoint.Config) {
				if tt.timeout > 0 {
					cfg.Timeout = tt.timeout
				}
			})
			got, err := c.Block(t.Context(), 170)
			checkFault(t, tt, node, err)
			if err == nil {
				if diff := cmp.Diff(ncWantBlock(t, chain, 170), got); diff != "" {
					t.Errorf("Block(170) differs from DecodeBlock (-want +got):\n%s", diff)
				}
			} else if got.Txs != nil || got.Height != 0 {
				t.Errorf("Block returned a partial block with its error: %+v", got)
			}
		})
	}
}

func checkFault(t *testing.T, tt faultCase, node *bitcointest.Node, err error) {
	t.Helper()
	switch {
	case tt.want == nil && err != nil:
		t.Fatalf("got %v, want success", err)
	case tt.want != nil && !errors.Is(err, tt.want):
		t.Fatalf("got %v, want %v", err, tt.want)
	case tt.want != nil && endpoint.Kind(err) != tt.wantKind:
		t.Errorf("Kind(%v) = %s, want %s", err, endpoint.Kind(err), tt.wantKind)
	}
	if err != nil && !strings.Contains(err.Error(), node.URL()) {
		t.Errorf("error %q does not name the node %s", err, node.URL())
	}
	if got := node.Requests(); got != tt.wantRequests {
		t.Errorf("node saw %d requests, want %d", got, tt.wantRequests)
	}
}

func TestClientBatchFaults(t *testing.T) {
	chain := newNCChain(t)
	tests := []struct {
		name         string
		fault        bitcointest.Fault
		want         error
		wantRequests int
	}{
		{"truncated batch", bitcointest.Times(1, bitcointest.Truncate()), nil, 3},
		{"warming up", bitcointest.Times(1, bitcointest.Status(500, warmup)), nil, 3},
		{"garbage", bitcointest.Times(1, bitcointest.Garbage()), endpoint.ErrMalformed, 1},
		{"wrong block", bitcointest.Always(bitcointest.WrongBlock()), bitcoin.ErrBlockMismatch, 2},
		{"reply that is not a batch", bitcointest.Times(1, bitcointest.Status(200, `{"result":1,"error":null,"id":1}`)), endpoint.ErrMalformed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
			node.SetFault(tt.fault)
			c := ncClient(t, node, chains.BTC, nil)
			blocks, err := c.Blocks(t.Context(), 165, 175)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Blocks: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Blocks = %v, want %v", err, tt.want)
			case tt.want != nil && blocks != nil:
				t.Errorf("Blocks returned %d blocks with its error", len(blocks))
			}
			if got := node.Requests(); got != tt.wantRequests {
				t.Errorf("node saw %d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestClientSubBatches(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
	// MaxBody far below a full block: one getblock per request.
	c := ncClient(t, node, chains.BTC, func(cfg *endpoint.Config) { cfg.MaxBody = 100_000 })
	blocks, err := c.Blocks(t.Context(), 10, 19)
	if err != nil || len(blocks) != 10 {
		t.Fatalf("Blocks = %d blocks, %v", len(blocks), err)
	}
	if got := node.Requests(); got != 11 {
		t.Errorf("node saw %d requests, want 11 (one hash batch, ten block batches)", got)
	}
	// With the default MaxBody, one batch of blocks.
	c = ncClient(t, node, chains.BTC, nil)
	before := node.Requests()
	if _, err := c.Blocks(t.Context(), 10, 19); err != nil {
		t.Fatal(err)
	}
	if got := node.Requests() - before; got != 2 {
		t.Errorf("node saw %d requests, want 2", got)
	}
}

func TestClientStopRestart(t *testing.T) {
	chain := newNCChain(t)
	tests := []struct {
		name       string
		during     bool          // stop while a request is in flight
		restart    time.Duration // < 0: never
		wantErr    bool
		wantPrefix string
	}{
		{"between requests, back in time", false, 150 * time.Millisecond, false, ""},
		{"during a request, back in time", true, 150 * time.Millisecond, false, ""},
		{"never back", false, -1, true, "getblockhash: after 9 attempts: endpoint: unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{Flavor: bitcointest.Btcd})
			obs := &ncObserver{}
			cfg := ncConfig(node.URL())
			// The retries span at least ~0.5s: well over the 150ms restart.
			cfg.Retries = 8
			cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
			c := bitcoin.NewClient(ncEndpoint(t, cfg, endpoint.Options{Observer: obs}), mustNetwork(t, chains.BTC))
			ctx := t.Context()
			var wg sync.WaitGroup
			defer wg.Wait()
			for h := int64(0); h < 80; h++ {
				if h == 40 {
					if tt.during {
						node.SetFault(bitcointest.Times(1, bitcointest.Delay(5*time.Second)))
						wg.Go(func() {
							time.Sleep(50 * time.Millisecond)
							node.Stop()
							node.SetFault(nil)
							time.Sleep(tt.restart)
							node.Restart()
						})
					} else {
						node.Stop()
						if tt.restart >= 0 {
							wg.Go(func() {
								time.Sleep(tt.restart)
								node.Restart()
							})
						}
					}
				}
				b, err := c.Block(ctx, h)
				if tt.wantErr {
					if h < 40 {
						if err != nil {
							t.Fatalf("Block(%d) before the stop: %v", h, err)
						}
						continue
					}
					want := "endpoint " + node.URL() + ": " + tt.wantPrefix
					if !errors.Is(err, endpoint.ErrUnreachable) || !strings.HasPrefix(err.Error(), want) {
						t.Fatalf("Block(%d) = %v\nwant ErrUnreachable starting with %q", h, err, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("Block(%d): %v", h, err)
				}
				if b.Hash != chain.hashes[h] {
					t.Fatalf("Block(%d) = %s, want %s", h, b.Hash, chain.hashes[h])
				}
			}
			kinds, _ := obs.snapshot()
			failed := 0
			for _, k := range kinds {
				if k != "ok" {
					failed++
				}
			}
			if failed == 0 {
				t.Errorf("no attempt failed: the node never looked stopped (kinds %v)", kinds)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	chain := newNCChain(t)
	for _, flavor := range []bitcointest.Flavor{bitcointest.Core, bitcointest.Btcd} {
		t.Run(flavor.String(), func(t *testing.T) {
			tests := []struct {
				name   string
				node   bitcointest.NodeOptions
				client func(*endpoint.Config)
				want   error
			}{
				{"right password", bitcointest.NodeOptions{User: "alice", Password: "s3cret-pass"},
					func(c *endpoint.Config) { c.User, c.Password = "alice", "s3cret-pass" }, nil},
				{"password in URL", bitcointest.NodeOptions{User: "alice", Password: "s3cret-pass"},
					func(c *endpoint.Config) { c.URL = strings.Replace(c.URL, "http://", "http://alice:s3cret-pass@", 1) }, nil},
				{"wrong password", bitcointest.NodeOptions{User: "alice", Password: "s3cret-pass"},
					func(c *endpoint.Config) { c.User, c.Password = "alice", "wrong-pass" }, endpoint.ErrUnauthorized},
				{"no credentials", bitcointest.NodeOptions{User: "alice", Password: "s3cret-pass"}, nil, endpoint.ErrUnauthorized},
				{"missing API key", bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": "k-123456"}}, nil, endpoint.ErrUnauthorized},
				{"API key", bitcointest.NodeOptions{Headers: map[string]string{"X-Api-Key": "k-123456"}},
					func(c *endpoint.Config) { c.Headers = map[string]string{"X-Api-Key": "k-123456"} }, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					opts := tt.node
					opts.Flavor = flavor
					node := bitcointest.NewRPCNode(t, chain, opts)
					c := ncClient(t, node, chains.BTC, tt.client)
					err := c.Check(t.Context())
					if tt.want == nil {
						if err != nil {
							t.Fatalf("Check: %v", err)
						}
						return
					}
					if !errors.Is(err, tt.want) {
						t.Fatalf("Check = %v, want %v", err, tt.want)
					}
					if got := node.Requests(); got != 1 {
						t.Errorf("node saw %d requests, want exactly 1", got)
					}
				})
			}
		})
	}
}

func TestClientCookie(t *testing.T) {
	chain := newNCChain(t)
	cookie := filepath.Join(t.TempDir(), ".cookie")
	node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{CookieFile: cookie})
	c := ncClient(t, node, chains.BTC, func(cfg *endpoint.Config) { cfg.CookieFile = cookie })
	if err := c.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	// The node restarts and writes a new cookie: getblockhash gets a 401,
	// the client re-reads the cookie and retries, then getblock.
	node.Stop()
	node.Restart()
	before := node.Requests()
	if _, err := c.Block(t.Context(), 1); err != nil {
		t.Fatalf("Block after the cookie changed: %v", err)
	}
	if got := node.Requests() - before; got != 3 {
		t.Errorf("node saw %d requests, want 3 (401, retry, getblock)", got)
	}
}

func TestClientWrongNetwork(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
	for _, id := range []chains.ID{chains.BTCRegtest, chains.BTCTestnet4} {
		t.Run(string(id), func(t *testing.T) {
			c := ncClient(t, node, id, nil)
			err := c.Check(t.Context())
			if !errors.Is(err, bitcoin.ErrWrongNetwork) {
				t.Fatalf("Check = %v, want ErrWrongNetwork", err)
			}
			want := mustNetwork(t, id).GenesisHash().String()
			for _, s := range []string{chain.hashes[0].String(), want, "(btc)", string(id), node.URL()} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Check error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestClientRateLimit(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
	var mu sync.Mutex
	var times []time.Time
	node.SetFault(func(bitcointest.FaultRequest) bitcointest.FaultAction {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return bitcointest.None()
	})
	c := ncClient(t, node, chains.BTC, func(cfg *endpoint.Config) { cfg.Rate, cfg.Burst = 20, 1 })
	for h := range int64(6) {
		if _, err := c.BlockHash(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 6 {
		t.Fatalf("node saw %d requests, want 6", len(times))
	}
	// 20 per second, burst 1: 50ms apart, so >= 250ms from first to last
	// (less a little arrival jitter). Only a lower bound: never flaky.
	if span := times[5].Sub(times[0]); span < 200*time.Millisecond {
		t.Errorf("6 requests within %v, want >= ~250ms at 20 requests/s", span)
	}
}

// Secrets of TestClientSecrets.
const (
	ncPassword = "pw-Ultra5ecret-42"
	ncQueryKey = "qk-7a6b5c4d3e2f1a0b"
	ncHeader   = "hk-f0e1d2c3b4a59687"
)

// TestClientSecrets runs failures with a password, a query-string key and a
// header key and checks that none shows in errors, logs or Observer labels.
func TestClientSecrets(t *testing.T) {
	chain := newNCChain(t)
	tests := []struct {
		name   string
		fault  bitcointest.Fault
		stop   bool
		badKey bool
	}{
		{"server error echoing the key", bitcointest.Always(bitcointest.Status(500, "bad key "+ncHeader+" pw "+ncPassword+" q "+ncQueryKey)), false, false},
		{"bad request echoing the key", bitcointest.Always(bitcointest.Status(400, "apikey="+ncQueryKey)), false, false},
		{"garbage", bitcointest.Always(bitcointest.Garbage()), false, false},
		{"timeout", bitcointest.Always(bitcointest.Delay(time.Second)), false, false},
		{"closed connection", bitcointest.Always(bitcointest.CloseConn()), false, false},
		{"truncated", bitcointest.Always(bitcointest.Truncate()), false, false},
		{"wrong block", bitcointest.Always(bitcointest.WrongBlock()), false, false},
		{"stopped", nil, true, false},
		{"wrong key", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{
				User: "bob", Password: ncPassword, Headers: map[string]string{"X-Api-Key": ncHeader},
			})
			node.SetFault(tt.fault)
			var logs bytes.Buffer
			obs := &ncObserver{}
			cfg := ncConfig(strings.Replace(node.URL(), "http://", "http://bob:"+ncPassword+"@", 1) + "/?apikey=" + ncQueryKey)
			cfg.Timeout = 30 * time.Millisecond
			cfg.Retries = 1
			cfg.Headers = map[string]string{"X-Api-Key": ncHeader}
			if tt.badKey {
				cfg.Headers["X-Api-Key"] = ncHeader + "-old"
			}
			ep := ncEndpoint(t, cfg, endpoint.Options{
				Observer: obs,
				Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			c := bitcoin.NewClient(ep, mustNetwork(t, chains.BTC))
			if tt.stop {
				node.Stop()
			}
			var errs []error
			_, err := c.Block(t.Context(), 170)
			errs = append(errs, err)
			_, err = c.Blocks(t.Context(), 165, 175)
			errs = append(errs, err)
			calls := []bitcoin.Call{{Method: "getblockhash", Params: []any{1}}}
			errs = append(errs, c.Batch(t.Context(), calls), calls[0].Err)
			errs = append(errs, c.Check(t.Context()))
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					ncNoSecrets(t, "error", err.Error())
					ncNoSecrets(t, "error %+v", fmt.Sprintf("%+v", err))
				}
			}
			if failed == 0 {
				t.Fatal("no call failed")
			}
			ncNoSecrets(t, "log", logs.String())
			ncNoSecrets(t, "Name", c.Name())
			_, texts := obs.snapshot()
			for _, s := range texts {
				ncNoSecrets(t, "Observer", s)
			}
		})
	}
}

func ncNoSecrets(t testing.TB, where, s string) {
	t.Helper()
	for _, secret := range []string{ncPassword, ncQueryKey, ncHeader, "bob:"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows secret %q: %s", where, secret, s)
		}
	}
}

func TestClientContext(t *testing.T) {
	chain := newNCChain(t)
	node := bitcointest.NewRPCNode(t, chain, bitcointest.NodeOptions{})
	node.SetFault(bitcointest.Always(bitcointest.Delay(5 * time.Second)))
	c := ncClient(t, node, chains.BTC, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Block(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Block = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Block returned %v after the deadline", took)
	}
}
