//go:build regtest

// Tests against a real geth --dev node (internal/devnet). They run with
// -tags regtest (scripts/test-all.sh does) and fail when geth cannot
// start.

package main

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum/ethtest"
	"github.com/fundtrace/fundtrace/internal/devnet"
	"github.com/fundtrace/fundtrace/store/storetest"
)

const ethDev = string(chains.ETHDev)

// gethNode starts geth --dev and runs rounds of PopulateEth on it.
func gethNode(t *testing.T, rounds int, seed string) (*devnet.Geth, *devnet.EthScenario) {
	t.Helper()
	g, err := devnet.StartGeth(t.Context(), devnet.GethOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("geth did not start: %v", err)
	}
	t.Cleanup(func() { g.Stop() })
	begin := time.Now()
	sc, err := g.PopulateEth(t.Context(), devnet.EthPlan{Seed: seed, Rounds: rounds})
	if err != nil {
		t.Fatalf("populate: %v\n%s", err, g.LogTail())
	}
	t.Logf("populated %d txs up to block %d in %s: %v", len(sc.Actions), sc.Tip, time.Since(begin).Round(time.Millisecond), sc.Counts)
	return g, sc
}

// indexEth runs a one-shot index of url into db in this process and
// returns stderr.
func indexEth(t *testing.T, url, db string, extra ...string) string {
	t.Helper()
	args := append([]string{"index", "--chain", ethDev, "--rpc", url, "--db", db}, extra...)
	r := fundtrace(t, args...)
	if r.code != 0 {
		t.Fatalf("index: exit %d: %s", r.code, r.stderr)
	}
	return r.stderr
}

// startEth runs fundtrace as a child process.
func startEth(t *testing.T, args ...string) *cli {
	t.Helper()
	return startCLI(t, nil, args...)
}

// checkBalances compares, for every address the scenario touched (and the
// genesis allocations), the indexed ETH balance with eth_getBalance and
// the indexed token balances with balanceOf, at the indexed height.
func checkBalances(t *testing.T, g *devnet.Geth, sc *devnet.EthScenario, dbURL string) {
	t.Helper()
	ctx := t.Context()
	db := openStore(t, dbURL)
	st, err := db.Status(ctx, chains.ETHDev)
	if err != nil || st.TipHeight == nil {
		t.Fatalf("status: %+v %v", st, err)
	}
	height := *st.TipHeight
	addrs := map[string]bool{}
	for _, a := range sc.Addresses {
		addrs[strings.ToLower(a.Hex())] = true
	}
	for i := 1; i <= 0x11; i++ {
		addrs[fmt.Sprintf("0x%040x", i)] = true
	}
	list := make([]string, 0, len(addrs))
	for a := range addrs {
		list = append(list, a)
	}
	got, err := db.AccountBalances(ctx, chains.ETHDev, list)
	if err != nil {
		t.Fatal(err)
	}
	tag := "0x" + strconv.FormatInt(height, 16)
	checked, nonZero := 0, 0
	for _, a := range list {
		var hex string
		if err := g.Call(ctx, &hex, "eth_getBalance", a, tag); err != nil {
			t.Fatal(err)
		}
		want, ok := new(big.Int).SetString(strings.TrimPrefix(hex, "0x"), 16)
		if !ok {
			t.Fatalf("eth_getBalance %s = %q", a, hex)
		}
		if got := got[a][""]; got.String() != want.String() {
			t.Errorf("ETH balance of %s at %d: indexed %s, node %s", a, height, got, want)
		}
		checked++
		if want.Sign() > 0 {
			nonZero++
		}
		for _, tok := range sc.Tokens {
			want := balanceOf(t, g, tok, a, tag)
			tk := strings.ToLower(tok.Hex())
			if gt := got[a][tk]; gt.String() != want.String() {
				t.Errorf("token %s balance of %s at %d: indexed %s, balanceOf %s", tk, a, height, gt, want)
			}
		}
	}
	if nonZero < len(sc.EOAs) {
		t.Fatalf("only %d non-zero balances among %d addresses: the scenario did not move much", nonZero, checked)
	}
	t.Logf("checked %d addresses (%d with ETH) and %d tokens at height %d", checked, nonZero, len(sc.Tokens), height)
}

// balanceOf asks token for holder's balance at block tag.
func balanceOf(t *testing.T, g *devnet.Geth, token common.Address, holder, tag string) *big.Int {
	t.Helper()
	var ret string
	data := "0x70a08231" + strings.Repeat("0", 24) + strings.TrimPrefix(holder, "0x")
	if err := g.Call(t.Context(), &ret, "eth_call", map[string]string{"to": token.Hex(), "data": data}, tag); err != nil {
		t.Fatalf("balanceOf(%s) on %s: %v", holder, token, err)
	}
	v, ok := new(big.Int).SetString(strings.TrimPrefix(ret, "0x"), 16)
	if !ok {
		t.Fatalf("balanceOf(%s) on %s = %q", holder, token, ret)
	}
	return v
}

func ethChecksum(t *testing.T, url string) string {
	t.Helper()
	s, err := openStore(t, url).Checksum(t.Context(), chains.ETHDev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNodeEthBalances indexes a geth --dev chain with every kind of value
// flow and checks every touched address's ETH and token balance against
// the node, on both stores; a node without eth_getBlockReceipts gives the
// same database; a node that cannot trace is indexed with its blocks
// marked; the tx and address commands answer.
func TestNodeEthBalances(t *testing.T) {
	g, sc := gethNode(t, 2, "balances")
	pg := storetest.PostgresDatabase(t)
	lite := sqliteURL(t)
	for _, db := range []string{pg, lite} {
		indexEth(t, g.RPCURL(), db)
		checkBalances(t, g, sc, db)
	}
	if a, b := ethChecksum(t, pg), ethChecksum(t, lite); a != b {
		t.Errorf("postgres and sqlite differ:\n%s\n%s", a, b)
	}

	t.Run("no eth_getBlockReceipts", func(t *testing.T) {
		proxy := ethtest.NewProxy(t, g.RPCURL(), ethtest.NodeOptions{Refuse: []string{"eth_getBlockReceipts"}})
		db := sqliteURL(t)
		indexEth(t, proxy.URL(), db)
		if got, want := ethChecksum(t, db), ethChecksum(t, lite); got != want {
			t.Errorf("per-tx receipts gave another database:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("no tracer", func(t *testing.T) {
		proxy := ethtest.NewProxy(t, g.RPCURL(), ethtest.NodeOptions{Refuse: []string{"debug_traceBlockByNumber", "trace_block"}})
		db := sqliteURL(t)
		stderr := indexEth(t, proxy.URL(), db, "--log-level", "warn")
		if n := strings.Count(stderr, "internal transfers"); n != 1 {
			t.Errorf("want exactly one warning about internal transfers, got %d:\n%s", n, stderr)
		}
		s := openStore(t, db)
		st, err := s.Status(t.Context(), chains.ETHDev)
		if err != nil {
			t.Fatal(err)
		}
		// A split's tx shows that the internal transfers are unknown.
		for _, act := range sc.Actions {
			if act.Kind != devnet.EthSplit {
				continue
			}
			tx, err := s.AccountTxByHash(t.Context(), chains.ETHDev, chains.Hash(act.Hash))
			if err != nil {
				t.Fatal(err)
			}
			if !tx.NoTraces {
				t.Errorf("split %s not marked as without traces", act.Hash)
			}
			for _, tr := range tx.Transfers {
				if tr.Kind == chains.TransferInternal {
					t.Errorf("split %s has an internal transfer without a tracer: %+v", act.Hash, tr)
				}
			}
			break
		}
		if st.Transfers == 0 {
			t.Errorf("nothing indexed without a tracer")
		}
	})

	t.Run("commands", func(t *testing.T) {
		var split devnet.EthAction
		for _, act := range sc.Actions {
			if act.Kind == devnet.EthSplit {
				split = act
				break
			}
		}
		r := fundtrace(t, "tx", "--chain", ethDev, "--db", lite, split.Hash.Hex())
		if r.code != 0 || !strings.Contains(r.stdout, "success") || strings.Count(r.stdout, "internal") != 3 {
			t.Errorf("tx %s: exit %d\n%s%s", split.Hash, r.code, r.stdout, r.stderr)
		}
		eoa := sc.EOAs[0].Hex()
		r = fundtrace(t, "address", "--chain", ethDev, "--db", lite, "--format", "json", "--txs", "--page-size", "5", eoa)
		if r.code != 0 || !strings.Contains(r.stdout, `"next_page"`) || !strings.Contains(r.stdout, `"decimals": 18`) {
			t.Errorf("address %s: exit %d\n%s%s", eoa, r.code, r.stdout, r.stderr)
		}
		bad := strings.ToLower(eoa[:2]) + strings.ToUpper(eoa[2:3]) + strings.ToLower(eoa[3:])
		if bad != eoa {
			r = fundtrace(t, "address", "--chain", ethDev, "--db", lite, bad)
			if r.code != exitBadInput || !strings.Contains(r.stderr, "checksum") {
				t.Errorf("mis-checksummed %s: exit %d: %s", bad, r.code, r.stderr)
			}
		}
	})
}

// TestNodeEthReorg rewinds geth (debug_setHead) under a following
// indexer and sends other transactions: the indexer unwinds, and the
// database equals the node's balances and a fresh index.
func TestNodeEthReorg(t *testing.T) {
	g, sc := gethNode(t, 1, "reorg")
	db := sqliteURL(t)
	c := startEth(t, "index", "--chain", ethDev, "--rpc", g.RPCURL(), "--db", db, "--follow", "--poll", "50ms")
	s := openStore(t, db)
	waitEth := func(height uint64) {
		t.Helper()
		hash, err := g.BlockHash(t.Context(), height)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			got, err := s.StoredBlockHash(t.Context(), chains.ETHDev, int64(height))
			if err == nil && got == chains.Hash(hash) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("block %d not indexed within a minute; stderr:\n%s", height, c.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitEth(sc.Tip)
	// Rewind 6 blocks and build a different branch, longer than the old.
	fork := sc.Tip - 6
	if err := g.SetHead(t.Context(), fork); err != nil {
		t.Fatal(err)
	}
	sc2, err := g.PopulateEth(t.Context(), devnet.EthPlan{Seed: "reorg-branch", Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitEth(sc2.Tip)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(t); code != 0 {
		t.Fatalf("follower exit %d: %s", code, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "reorg") {
		t.Errorf("the follower did not report a reorg:\n%s", c.stderr)
	}
	merged := *sc2
	merged.Addresses = append(append([]common.Address(nil), sc.Addresses...), sc2.Addresses...)
	merged.Tokens = append(append([]common.Address(nil), sc.Tokens...), sc2.Tokens...)
	checkBalances(t, g, &merged, db)
	fresh := sqliteURL(t)
	indexEth(t, g.RPCURL(), fresh)
	if a, b := ethChecksum(t, db), ethChecksum(t, fresh); a != b {
		t.Errorf("after the reorg:\n%s\nfresh index:\n%s", a, b)
	}
}

// TestNodeEthCrash kills the indexer at random moments while it syncs a
// geth chain, on both stores: the resumed result equals an uninterrupted
// run.
func TestNodeEthCrash(t *testing.T) {
	g, _ := gethNode(t, 6, "crash")
	for _, backend := range []string{"postgres", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			url, ref := sqliteURL(t), sqliteURL(t)
			if backend == "postgres" {
				url, ref = storetest.PostgresDatabase(t), storetest.PostgresDatabase(t)
			}
			// Small batches and one worker: many commits to land between.
			opts := []string{"--batch-txs", "2", "--fetch-blocks", "1", "--workers", "1"}
			args := append([]string{"index", "--chain", ethDev, "--rpc", g.RPCURL(), "--db", url}, opts...)
			refArgs := append([]string{"index", "--chain", ethDev, "--rpc", g.RPCURL(), "--db", ref}, opts...)
			// How long an uninterrupted child run takes, start-up included,
			// and a run with nothing to do: kills land within the sync.
			begin := time.Now()
			if c := startEth(t, refArgs...); c.wait(t) != 0 {
				t.Fatalf("uninterrupted run failed: %s", c.stderr)
			}
			full := time.Since(begin)
			begin = time.Now()
			if c := startEth(t, refArgs...); c.wait(t) != 0 {
				t.Fatalf("no-op run failed: %s", c.stderr)
			}
			startup := time.Since(begin)
			total, err := openStore(t, ref).Status(t.Context(), chains.ETHDev)
			if err != nil {
				t.Fatal(err)
			}
			db := openStore(t, url)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
			kills := 0
			for round := 0; ; round++ {
				c := startEth(t, args...)
				if round == 15 {
					if code := c.wait(t); code != 0 {
						t.Fatalf("final run failed: exit %d: %s", code, c.stderr)
					}
					break
				}
				left := 1.0
				if st, err := db.Status(t.Context(), chains.ETHDev); err == nil {
					left = float64(total.Transfers-st.Transfers) / float64(total.Transfers)
				}
				d := startup + time.Duration(rng.Float64()*0.5*left*float64(full-startup))
				select {
				case <-c.done:
					c.done <- nil
				case <-time.After(d):
					_ = c.cmd.Process.Signal(syscall.SIGKILL)
				}
				code := c.wait(t)
				if code == 0 {
					break // finished by itself
				}
				if code != -1 {
					t.Fatalf("run failed: exit %d: %s", code, c.stderr)
				}
				kills++
			}
			t.Logf("%s: a full run takes %s (start-up %s); %d runs killed", backend, full.Round(time.Millisecond), startup.Round(time.Millisecond), kills)
			if kills < 4 {
				t.Errorf("only %d kills: the test did not test much", kills)
			}
			if a, b := ethChecksum(t, url), ethChecksum(t, ref); a != b {
				t.Errorf("after %d SIGKILLs:\n%s\nuninterrupted:\n%s", kills, a, b)
			}
		})
	}
}

// TestNodeEthWrongChain: a node whose chain id is not the configured
// chain's is refused before anything is written.
func TestNodeEthWrongChain(t *testing.T) {
	g, err := devnet.StartGeth(t.Context(), devnet.GethOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	r := fundtrace(t, "index", "--chain", "eth-sepolia", "--rpc", g.RPCURL(), "--db", sqliteURL(t))
	if r.code != exitFailure || !strings.Contains(r.stderr, "1337") || !strings.Contains(r.stderr, "11155111") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
