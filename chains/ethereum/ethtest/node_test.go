package ethtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
)

func dial(t *testing.T, url string) *rpc.Client {
	t.Helper()
	c, err := rpc.DialOptions(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestChainConsistent checks the synthetic chain the way a client would:
// parents linked, receipts and traces matching their transactions.
func TestChainConsistent(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 12, Uncles: true, Withdrawals: true})
	var parent common.Hash
	kinds := map[string]bool{}
	for h := int64(0); h <= chain.Tip(); h++ {
		raw := chain.Expected(h, ethereum.TracesCallTracer)
		par := chain.Expected(h, ethereum.TracesParity)
		b := raw.Block
		if int64(b.Number) != h || b.ParentHash != parent || b.Hash != chain.Hash(h) {
			t.Fatalf("block %d: number %d parent %s (want %s)", h, b.Number, b.ParentHash, parent)
		}
		parent = b.Hash
		if len(raw.Receipts) != len(b.Transactions) || len(raw.Calls) != len(b.Transactions) {
			t.Fatalf("block %d: %d txs, %d receipts, %d traces", h, len(b.Transactions), len(raw.Receipts), len(raw.Calls))
		}
		for i, tx := range b.Transactions {
			r, c := raw.Receipts[i], raw.Calls[i]
			if r.TransactionHash != tx.Hash || r.BlockHash != b.Hash || *c.TxHash != tx.Hash {
				t.Errorf("block %d tx %d: receipt or trace of another transaction", h, i)
			}
			failed := *r.Status == 0
			if failed != (c.Result.Error != "") {
				t.Errorf("block %d tx %d: status %d, top frame error %q", h, i, *r.Status, c.Result.Error)
			}
			kinds[c.Result.Type] = true
		}
		top := 0
		for _, p := range par.Parity {
			if p.TransactionPosition != nil && len(p.TraceAddress) == 0 {
				top++
			}
			kinds[p.Type] = true
		}
		if top != len(b.Transactions) {
			t.Errorf("block %d: %d top-level parity traces for %d txs", h, top, len(b.Transactions))
		}
		if len(b.Uncles) != len(raw.Uncles) {
			t.Errorf("block %d: %d uncles, %d headers", h, len(b.Uncles), len(raw.Uncles))
		}
	}
	for _, k := range []string{"CALL", "CREATE", "call", "create", "suicide", "reward"} {
		if !kinds[k] {
			t.Errorf("no %s trace in the chain", k)
		}
	}
}

func TestReorg(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 8})
	before := make([]common.Hash, 9)
	for h := range before {
		before[h] = chain.Hash(int64(h))
	}
	chain.Reorg(3)
	for h := range before {
		changed := chain.Hash(int64(h)) != before[h]
		if changed != (h >= 6) {
			t.Errorf("block %d changed %v after Reorg(3)", h, changed)
		}
	}
	if p := chain.Expected(6, ethereum.TracesNone).Block.ParentHash; p != before[5] {
		t.Errorf("new block 6 has parent %s, want %s", p, before[5])
	}
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	var old *ethereum.RPCBlock
	if err := dial(t, node.URL()).CallContext(t.Context(), &old, "eth_getBlockByHash", before[7], true); err != nil || old == nil || old.Hash != before[7] {
		t.Errorf("replaced block by hash: %v %v", old, err)
	}
	chain.Extend(2)
	if chain.Tip() != 10 {
		t.Errorf("tip %d after Extend(2)", chain.Tip())
	}
}

func TestNodeMethods(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 4, ChainID: 5})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	c := dial(t, node.URL())
	ctx := t.Context()

	var id, tip hexutil.Uint64
	if err := c.CallContext(ctx, &id, "eth_chainId"); err != nil || id != 5 {
		t.Errorf("eth_chainId = %d, %v", id, err)
	}
	if err := c.CallContext(ctx, &tip, "eth_blockNumber"); err != nil || tip != 4 {
		t.Errorf("eth_blockNumber = %d, %v", tip, err)
	}
	var light struct {
		Hash         common.Hash   `json:"hash"`
		Transactions []common.Hash `json:"transactions"`
	}
	if err := c.CallContext(ctx, &light, "eth_getBlockByNumber", "latest", false); err != nil || light.Hash != chain.Hash(4) || len(light.Transactions) == 0 {
		t.Errorf("latest block = %+v, %v", light, err)
	}
	var none *ethereum.RPCBlock
	if err := c.CallContext(ctx, &none, "eth_getBlockByNumber", "0x5", true); err != nil || none != nil {
		t.Errorf("block above the tip = %v, %v; want null", none, err)
	}
	want := chain.Expected(2, ethereum.TracesCallTracer)
	var rc *ethereum.RPCReceipt
	if err := c.CallContext(ctx, &rc, "eth_getTransactionReceipt", want.Block.Transactions[1].Hash); err != nil || rc == nil || rc.BlockHash != want.Block.Hash {
		t.Errorf("eth_getTransactionReceipt = %+v, %v", rc, err)
	}
	err := c.CallContext(ctx, nil, "debug_traceBlockByNumber", "0x0", map[string]string{"tracer": "callTracer"})
	if err == nil || !strings.Contains(err.Error(), "genesis is not traceable") {
		t.Errorf("tracing genesis: %v", err)
	}

	// Token answers, as the extract helper decodes them.
	for addr, wantName := range map[common.Address]string{ethtest.TokenStd: "Test Token", ethtest.TokenBytes32: "Maker", ethtest.TokenGarbage: ""} {
		var ret hexutil.Bytes
		msg := map[string]any{"to": addr, "data": hexutil.Bytes(ethereum.SelectorName[:])}
		if err := c.CallContext(ctx, &ret, "eth_call", msg, "0x2"); err != nil {
			t.Errorf("name() of %s: %v", addr, err)
		}
		if got := ethereum.DecodeTokenString(ret); got != wantName {
			t.Errorf("name() of %s decodes to %q, want %q", addr, got, wantName)
		}
	}
	var ret hexutil.Bytes
	err = c.CallContext(ctx, &ret, "eth_call", map[string]any{"to": ethtest.TokenRevert, "data": "0x313ce567"}, "latest")
	var re rpc.Error
	if !errors.As(err, &re) || re.ErrorCode() != 3 || err.Error() != "execution reverted" {
		t.Errorf("reverting call: %v", err)
	}
}

func TestRefuseAndLimits(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 4})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{BatchLimit: 3, BatchResponseLimit: 10})
	node.Refuse("trace_block")
	c := dial(t, node.URL())
	err := c.CallContext(t.Context(), nil, "trace_block", "0x1")
	var re rpc.Error
	if !errors.As(err, &re) || re.ErrorCode() != -32601 || err.Error() != "the method trace_block does not exist/is not available" {
		t.Errorf("refused method: %v", err)
	}
	batch := []rpc.BatchElem{
		{Method: "eth_blockNumber", Result: new(hexutil.Uint64)},
		{Method: "eth_chainId", Result: new(hexutil.Uint64)},
		{Method: "eth_blockNumber", Result: new(hexutil.Uint64)},
	}
	if err := c.BatchCallContext(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The first result passes the 10-byte limit: the rest are refused.
	if batch[0].Error != nil || !errors.As(batch[2].Error, &re) || re.ErrorCode() != -32003 {
		t.Errorf("batch over the response limit: %v, %v, %v", batch[0].Error, batch[1].Error, batch[2].Error)
	}
	batch = append(batch, rpc.BatchElem{Method: "eth_chainId", Result: new(hexutil.Uint64)})
	if err := c.BatchCallContext(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if !errors.As(batch[0].Error, &re) || re.Error() != "batch too large" || !errors.Is(batch[1].Error, rpc.ErrMissingBatchResponse) {
		t.Errorf("batch over the call limit: %v, %v", batch[0].Error, batch[1].Error)
	}

	node.RefuseHTTP(http.StatusForbidden, "eth_chainId")
	err = c.CallContext(t.Context(), nil, "eth_chainId")
	var he rpc.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
		t.Errorf("HTTP refusal: %v", err)
	}
	if node.Calls("eth_chainId") != 4 || node.Calls("trace_block") != 1 {
		t.Errorf("call counts: eth_chainId %d, trace_block %d", node.Calls("eth_chainId"), node.Calls("trace_block"))
	}
}

func TestFaultsAndAuth(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 2})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Path: "/v3/key", User: "u", Password: "p", Headers: map[string]string{"X-Key": "k"}})
	post := func(url, user string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`))
		req.SetBasicAuth(user, "p")
		req.Header.Set("X-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, err.Error()
		}
		return resp.StatusCode, string(b)
	}
	if st, body := post(node.URL(), "u"); st != 200 || !strings.Contains(body, `"result":"0x2"`) {
		t.Errorf("authorized request: %d %s", st, body)
	}
	if st, body := post(node.URL(), "x"); st != 401 {
		t.Errorf("bad user: %d %s", st, body)
	}
	if st, body := post(strings.Replace(node.URL(), "/v3/key", "/v3/nokey", 1), "u"); st != 401 || !strings.Contains(body, "/v3/nokey") {
		t.Errorf("bad path: %d %s", st, body)
	}
	node.SetFault(ethtest.ForMethod("eth_blockNumber", ethtest.Times(1, ethtest.Status(503, "busy"))))
	if st, _ := post(node.URL(), "u"); st != 503 {
		t.Errorf("first request after the fault: %d, want 503", st)
	}
	if st, _ := post(node.URL(), "u"); st != 200 {
		t.Errorf("second request after the fault: %d, want 200", st)
	}
	node.SetFault(ethtest.Always(ethtest.Truncate()))
	if st, body := post(node.URL(), "u"); st != 0 || !strings.Contains(body, "EOF") {
		t.Errorf("truncated reply read without error: %d %q", st, body)
	}
	if node.Requests() != 6 || len(node.Batches()) != 6 {
		t.Errorf("%d requests, %d logged", node.Requests(), len(node.Batches()))
	}
}

// TestProxy forwards to a fake node through a proxy refusing a method,
// alone and inside a batch.
func TestProxy(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 3})
	target := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	proxy := ethtest.NewProxy(t, target.URL(), ethtest.NodeOptions{Refuse: []string{"debug_traceBlockByNumber"}})
	c := dial(t, proxy.URL())
	var tip hexutil.Uint64
	if err := c.CallContext(t.Context(), &tip, "eth_blockNumber"); err != nil || tip != 3 {
		t.Errorf("forwarded call: %d %v", tip, err)
	}
	var traces []ethereum.TxTrace
	var receipts []*ethereum.RPCReceipt
	batch := []rpc.BatchElem{
		{Method: "debug_traceBlockByNumber", Args: []any{"0x1", map[string]string{"tracer": "callTracer"}}, Result: &traces},
		{Method: "eth_getBlockReceipts", Args: []any{"0x1"}, Result: &receipts},
	}
	if err := c.BatchCallContext(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	var re rpc.Error
	if !errors.As(batch[0].Error, &re) || re.ErrorCode() != -32601 {
		t.Errorf("refused call in a batch: %v", batch[0].Error)
	}
	want := chain.Expected(1, ethereum.TracesNone)
	got, _ := json.Marshal(receipts)
	exp, _ := json.Marshal(want.Receipts)
	if batch[1].Error != nil || !bytes.Equal(got, exp) {
		t.Errorf("forwarded receipts: %v\n%s\nwant\n%s", batch[1].Error, got, exp)
	}
	if target.Calls("debug_traceBlockByNumber") != 0 || target.Calls("eth_getBlockReceipts") != 1 {
		t.Errorf("target saw debug %d, receipts %d", target.Calls("debug_traceBlockByNumber"), target.Calls("eth_getBlockReceipts"))
	}
}
