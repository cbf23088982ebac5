package ethereum_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains/endpoint"
	"github.com/fundtrace/fundtrace/chains/ethereum"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
)

// fuzzTargets are what FuzzRPCReply's first argument selects: the method
// whose result the fuzzed bytes replace, or "body" for the whole reply
// body of every request.
var fuzzTargets = []string{
	"eth_getBlockByNumber", "eth_getBlockReceipts", "debug_traceBlockByNumber", "trace_block",
	"eth_getTransactionReceipt", "eth_getUncleByBlockHashAndIndex", "eth_call", "eth_chainId",
	"eth_blockNumber", "body",
}

// FuzzRPCReply feeds untrusted replies through the fake node into the
// client: a result of one method replaced by the fuzzed JSON, or the whole
// body of every reply replaced by the fuzzed bytes, under each choice of
// receipt and trace methods. The client must not panic, and what it
// returns without error must hang together.
func FuzzRPCReply(f *testing.F) {
	// Seeds: the recorded mainnet answers, each as the result of its
	// method, and some broken ones.
	files, _ := filepath.Glob(etlDir + "*/*/web3_response.*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var rep struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(b, &rep) != nil {
			continue
		}
		base := filepath.Base(file)
		for i, m := range fuzzTargets {
			if len(base) > len("web3_response.")+len(m) && base[len("web3_response."):][:len(m)] == m {
				f.Add(uint8(i), []byte(rep.Result))
				f.Add(uint8(i+len(fuzzTargets)), []byte(rep.Result))
			}
		}
		f.Add(uint8(len(fuzzTargets)-1), b) // a recorded reply as the whole body
	}
	for _, s := range []string{`null`, `[]`, `{}`, `[null]`, `"0x"`, `"0xzz"`, `[{"result":null}]`,
		`{"number":"0x2","hash":"0x00","transactions":[{}]}`, `[{"txHash":null,"result":{"type":"CALL","calls":[{}]}}]`,
		`[{"type":"call","action":{},"traceAddress":null,"transactionPosition":-1}]`, `"0x` + string(make([]byte, 0)) + `"`} {
		for i := range fuzzTargets {
			f.Add(uint8(i), []byte(s))
		}
	}
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 4, Uncles: true, Withdrawals: true})
	node := ethtest.NewNode(f, chain, ethtest.NodeOptions{})
	refusals := [][]string{nil, {"eth_getBlockReceipts"}, {"debug_traceBlockByNumber"}, {"debug_traceBlockByNumber", "trace_block"}}
	allOptional := []string{"eth_getBlockReceipts", "debug_traceBlockByNumber", "trace_block"}

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		target := fuzzTargets[int(which)%len(fuzzTargets)]
		node.Allow(allOptional...)
		node.Refuse(refusals[int(which)/len(fuzzTargets)%len(refusals)]...)
		node.SetFault(nil)
		node.SetResultHook(nil)
		switch {
		case target == "body":
			node.SetFault(ethtest.Always(ethtest.Reply(200, data)))
		case json.Valid(data):
			node.SetResultHook(func(method string, _ []json.RawMessage, res json.RawMessage) json.RawMessage {
				if method == target {
					return json.RawMessage(data)
				}
				return res
			})
		default:
			node.SetFault(ethtest.ForMethod(target, ethtest.Always(ethtest.Reply(200, data))))
		}
		cfg := endpoint.DefaultConfig(node.URL())
		cfg.Retries = -1
		cfg.Timeout = 5 * time.Second
		ep, err := endpoint.New(cfg, endpoint.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ethereum.NewClient(t.Context(), ep, powParams(), ethereum.ClientOptions{BlocksPerBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.Check(t.Context())
		_, _, _ = c.Tip(t.Context())
		_, _ = c.BlockHash(t.Context(), 1)
		raws, err := c.RawBlocks(t.Context(), 0, 4)
		if err == nil {
			for i, raw := range raws {
				if raw.Block == nil || int64(raw.Block.Number) != int64(i) || len(raw.Receipts) != len(raw.Block.Transactions) {
					t.Fatalf("block %d: RawBlocks returned an incoherent block without error", i)
				}
			}
		}
		_, _ = c.Blocks(t.Context(), 0, 4)
	})
}
