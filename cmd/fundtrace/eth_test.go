package main

import (
	"bytes"
	"encoding/json"
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
