package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// These tests index fake Ethereum nodes (chains/ethereum/ethtest) through
// the CLI; the live geth tests are in node_eth_test.go.

func ethIndex(t *testing.T, url, db string, extra ...string) result {
	t.Helper()
	return fundtrace(t, append([]string{"index", "--chain", "eth-dev", "--rpc", url, "--db", db, "--workers", "2", "--fetch-blocks", "3", "--batch-txs", "20"}, extra...)...)
}

func ethSum(t *testing.T, url string) string {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Checksum(t.Context(), chains.ETHDev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sqliteDB(t *testing.T) string { return "sqlite:" + t.TempDir() + "/ft.db" }

// TestEthReorgEqualsFresh: a chain indexed, reorged 4 blocks deep on the
// node and extended, then indexed again equals a fresh index of the new
// chain, on both stores, and the two stores agree.
func TestEthReorgEqualsFresh(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db := sqliteDB(t)
			if backend == "postgres" {
				db = storetest.PostgresDatabase(t)
			}
			chain := ethtest.NewChain(ethtest.ChainOptions{Height: 30, Withdrawals: true})
			node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
			if r := ethIndex(t, node.URL(), db); r.code != 0 {
				t.Fatalf("index: %d %s", r.code, r.stderr)
			}
			chain.Reorg(4)
			chain.Extend(3)
			if r := ethIndex(t, node.URL(), db); r.code != 0 || !strings.Contains(r.stderr, "reorg: unwound 4 blocks") {
				t.Fatalf("index after reorg: %d %s", r.code, r.stderr)
			}
			fresh := sqliteDB(t)
			if r := ethIndex(t, node.URL(), fresh); r.code != 0 {
				t.Fatalf("fresh index: %d %s", r.code, r.stderr)
			}
			if got, want := ethSum(t, db), ethSum(t, fresh); got != want {
				t.Errorf("after the reorg:\n%s\nfresh index on sqlite:\n%s", got, want)
			}
		})
	}
}

// TestEthFallbacksSameDatabase: a node without eth_getBlockReceipts, and
// one without debug_traceBlockByNumber (traced by trace_block instead),
// give the same database as a node that has both.
func TestEthFallbacksSameDatabase(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 12, Withdrawals: true})
	full := sqliteDB(t)
	if r := ethIndex(t, ethtest.NewNode(t, chain, ethtest.NodeOptions{}).URL(), full); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	want := ethSum(t, full)
	for _, refuse := range [][]string{{"eth_getBlockReceipts"}, {"debug_traceBlockByNumber"}, {"eth_getBlockReceipts", "debug_traceBlockByNumber"}} {
		db := sqliteDB(t)
		node := ethtest.NewNode(t, chain, ethtest.NodeOptions{Refuse: refuse})
		if r := ethIndex(t, node.URL(), db); r.code != 0 {
			t.Fatalf("index without %v: %d %s", refuse, r.code, r.stderr)
		}
		if got := ethSum(t, db); got != want {
			t.Errorf("without %v:\n%s\nwant:\n%s", refuse, got, want)
		}
	}
}

// TestEthInconsistentBlock: a node whose trace of one block does not
// match its transactions stops the run with an error naming the block,
// and nothing of that block is written.
func TestEthInconsistentBlock(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 12})
	node := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	bad := chain.Hash(9)
	node.SetResultHook(func(method string, params []json.RawMessage, res json.RawMessage) json.RawMessage {
		if method != "debug_traceBlockByNumber" || len(params) == 0 || !bytes.Equal(params[0], []byte(`"0x9"`)) {
			return res
		}
		// Raise the value of the first transaction's top frame.
		var traces []map[string]any
		if err := json.Unmarshal(res, &traces); err != nil || len(traces) == 0 {
			return res
		}
		top := traces[0]["result"].(map[string]any)
		top["value"] = "0xde0b6b3a7640000"
		out, _ := json.Marshal(traces)
		return out
	})
	db := sqliteDB(t)
	r := ethIndex(t, node.URL(), db, "--fetch-blocks", "1", "--batch-txs", "1")
	if r.code != exitFailure || !strings.Contains(r.stderr, "block 9") || !strings.Contains(r.stderr, "inconsistent") {
		t.Fatalf("exit %d, want 1 with an error naming block 9 as inconsistent: %s", r.code, r.stderr)
	}
	t.Logf("%s", r.stderr)
	s, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h, err := s.StoredBlockHash(t.Context(), chains.ETHDev, 9); err == nil {
		t.Errorf("block 9 (%s) was written: %s", bad, h)
	}
	if _, err := s.StoredBlockHash(t.Context(), chains.ETHDev, 8); err != nil {
		t.Errorf("block 8 before the bad one is not indexed: %v", err)
	}
}

// TestEthFailover: with two --rpc endpoints, a first one that keeps
// failing hands over to the second, and the result equals a run against
// the second alone.
func TestEthFailover(t *testing.T) {
	chain := ethtest.NewChain(ethtest.ChainOptions{Height: 10})
	bad := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	good := ethtest.NewNode(t, chain, ethtest.NodeOptions{})
	db, ref := sqliteDB(t), sqliteDB(t)
	// The first endpoint answers the start-up checks, then fails every
	// block request.
	bad.SetFault(ethtest.ForMethod("eth_getBlockByNumber", func(r ethtest.FaultRequest) ethtest.FaultAction {
		if len(r.Methods) > 1 {
			return ethtest.Status(503, "overloaded")
		}
		return ethtest.None()
	}))
	r := fundtrace(t, "index", "--chain", "eth-dev", "--rpc", bad.URL(), "--rpc", good.URL(), "--db", db, "--timeout", "2s")
	if r.code != 0 {
		t.Fatalf("index with fail-over: %d %s", r.code, r.stderr)
	}
	if r := ethIndex(t, good.URL(), ref); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	if got, want := ethSum(t, db), ethSum(t, ref); got != want {
		t.Errorf("with fail-over:\n%s\nwant:\n%s", got, want)
	}
	// Besides its start-up checks, the second endpoint served the blocks.
	if n := good.Calls("eth_getBlockByNumber"); n < 11 {
		t.Errorf("the second endpoint served eth_getBlockByNumber %d times, want the 11 blocks", n)
	}
}

// TestEthConfiguredChain: an EVM chain fundtrace does not know by name is
// indexed from a --chains file; its chain id is checked and its native
// symbol shown.
func TestEthConfiguredChain(t *testing.T) {
	cfg := t.TempDir() + "/chains.json"
	if err := os.WriteFile(cfg, []byte(`{"chains":[{"id":"mynet","chain_id":4242,"symbol":"MYC","decimals":18,"name":"My net"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	node := ethtest.NewNode(t, ethtest.NewChain(ethtest.ChainOptions{Height: 5, ChainID: 4242}), ethtest.NodeOptions{})
	db := sqliteDB(t)
	if r := fundtrace(t, "index", "--chains", cfg, "--chain", "mynet", "--rpc", node.URL(), "--db", db); r.code != 0 {
		t.Fatalf("index: %d %s", r.code, r.stderr)
	}
	st := fundtrace(t, "status", "--chains", cfg, "--chain", "mynet", "--db", db, "--format", "json")
	if st.code != 0 || !strings.Contains(st.stdout, `"tip_height": 5`) {
		t.Errorf("status: %d %s %s", st.code, st.stdout, st.stderr)
	}
	wrong := fundtrace(t, "index", "--chain", "eth-dev", "--rpc", node.URL(), "--db", sqliteDB(t))
	if wrong.code != exitFailure || !strings.Contains(wrong.stderr, "4242") {
		t.Errorf("eth-dev against chain 4242: %d %s", wrong.code, wrong.stderr)
	}
	for _, bad := range []string{`{"chains":[{"id":"btc","chain_id":1,"symbol":"X","decimals":18}]}`, `{"chains":[{"id":"x","symbol":"X","decimals":18}]}`, `{"chains":[{"id":"y","chain_id":5,"symbol":"Y"}]}`} {
		if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := fundtrace(t, "status", "--chains", cfg, "--chain", "btc", "--db", db); r.code != exitBadInput {
			t.Errorf("--chains %s: exit %d %s, want 2", bad, r.code, r.stderr)
		}
	}
}
