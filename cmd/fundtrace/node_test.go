//go:build regtest

// Tests against real btcd regtest nodes (internal/devnet). They run with
// -tags regtest (scripts/test-all.sh does) and fail when a node cannot
// start.

package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/devnet"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

const regtest = string(chains.BTCRegtest)

// node starts a btcd regtest node with a funded wallet that has made txs
// transactions, txsPerBlock to a block.
func node(t *testing.T, listen bool, txs, txsPerBlock int) (*devnet.Btcd, *devnet.Wallet) {
	t.Helper()
	net, err := bitcoin.NetworkFor(chains.BTCRegtest)
	if err != nil {
		t.Fatal(err)
	}
	w := devnet.NewWallet(net.Params(), "fundtrace-"+t.Name())
	n, err := devnet.StartBtcd(t.Context(), devnet.BtcdOptions{Dir: t.TempDir(), MiningAddr: w.MiningAddress(), Listen: listen})
	if err != nil {
		t.Fatalf("btcd did not start: %v", err)
	}
	t.Cleanup(func() { n.Stop() })
	if txs > 0 {
		start := time.Now()
		sum, err := w.Populate(t.Context(), n, devnet.Plan{Txs: txs, TxsPerBlock: txsPerBlock, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("populated %d txs in blocks %d..%d (created %v, spent %v) in %s",
			sum.Txs, sum.FirstHeight, sum.LastHeight, sum.Created, sum.Spent, time.Since(start).Round(time.Millisecond))
	}
	return n, w
}

// cli is a fundtrace child process.
type cli struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs fundtrace with args as a child process, credentials for n in
// its environment.
func start(t *testing.T, n *devnet.Btcd, args ...string) *cli {
	t.Helper()
	return startCLI(t, []string{"FUNDTRACE_RPC_USER=" + n.User(), "FUNDTRACE_RPC_PASSWORD=" + n.Password()}, args...)
}

// startCLI runs fundtrace with args as a child process, with env added to
// its environment.
func startCLI(t *testing.T, env []string, args ...string) *cli {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "FUNDTRACE_TEST_MAIN=1"), env...)
	c := &cli{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		c.done <- nil
	})
	return c
}

// wait waits for the child to exit and returns its exit code.
func (c *cli) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(2 * time.Minute):
		t.Fatalf("fundtrace did not exit; stderr:\n%s", c.stderr)
		return -1
	}
}

// indexOnce runs a one-shot index of n into db in this process.
func indexOnce(t *testing.T, n *devnet.Btcd, db string, extra ...string) {
	t.Helper()
	t.Setenv("FUNDTRACE_RPC_USER", n.User())
	t.Setenv("FUNDTRACE_RPC_PASSWORD", n.Password())
	args := append([]string{"index", "--chain", regtest, "--rpc", n.RPCURL(), "--db", db}, extra...)
	if r := fundtrace(t, args...); r.code != 0 {
		t.Fatalf("index: exit %d: %s", r.code, r.stderr)
	}
}

// openStore opens db for assertions.
func openStore(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storedChain returns the stored block hashes of the regtest chain.
func storedChain(t *testing.T, db *store.DB) []chains.Hash {
	t.Helper()
	var out []chains.Hash
	for h := int64(0); ; h++ {
		hash, err := db.StoredBlockHash(t.Context(), chains.BTCRegtest, h)
		if err != nil {
			return out
		}
		out = append(out, hash)
	}
}

// sameChain checks that db holds exactly n's best chain.
func sameChain(t *testing.T, db *store.DB, n *devnet.Btcd) {
	t.Helper()
	want, err := n.BestChain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := storedChain(t, db)
	if len(got) != len(want) {
		t.Fatalf("stored %d blocks, node has %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("block %d: stored %s, node %s", i, got[i], want[i])
		}
	}
}

// sameContent checks that two databases hold the same regtest rows.
func sameContent(t *testing.T, got, want *store.DB, what string) {
	t.Helper()
	g, err := got.Checksum(t.Context(), chains.BTCRegtest)
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Checksum(t.Context(), chains.BTCRegtest)
	if err != nil {
		t.Fatal(err)
	}
	if g != w {
		t.Errorf("%s:\n%s\nuninterrupted run:\n%s", what, g, w)
	}
}

// waitIndexed polls db until it holds height with hash.
func waitIndexed(t *testing.T, db *store.DB, height int64, hash chains.Hash, c *cli) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := db.StoredBlockHash(t.Context(), chains.BTCRegtest, height)
		if err == nil && got == hash {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("height %d (%s) not indexed within a minute (have %s, %v); stderr:\n%s", height, hash, got, err, c.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sqliteURL(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "ft.db") }

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestNodeFollow follows a node that keeps mining blocks full of
// transactions: after every block the indexer catches up before the next
// one (it stays within one block of the tip), metrics show it, SIGTERM
// stops it cleanly, and the result equals a fresh index.
func TestNodeFollow(t *testing.T) {
	n, w := node(t, false, 300, 50)
	url := storetest.PostgresDatabase(t)
	metricsAddr := freePort(t)
	c := start(t, n, "index", "--chain", regtest, "--rpc", n.RPCURL(), "--db", url, "--follow",
		"--poll", "50ms", "--metrics-listen", metricsAddr)
	db := openStore(t, url)
	tip, hash, err := n.Tip(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, db, tip, hash, c)

	maxLag := int64(0)
	for i := range 8 {
		if _, err := w.Populate(t.Context(), n, devnet.Plan{Txs: 40, TxsPerBlock: 40, Seed: uint64(10 + i)}); err != nil {
			t.Fatal(err)
		}
		tip, hash, err = n.Tip(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The node mines its next block 2 s after this one: by then the
		// indexer must hold this one.
		time.Sleep(2 * time.Second)
		st, err := db.Status(t.Context(), chains.BTCRegtest)
		if err != nil {
			t.Fatal(err)
		}
		if st.TipHeight == nil {
			t.Fatal("nothing indexed")
		}
		maxLag = max(maxLag, tip-*st.TipHeight)
	}
	if maxLag > 1 {
		t.Errorf("the follower fell %d blocks behind a node mining every 2 s", maxLag)
	}
	waitIndexed(t, db, tip, hash, c)

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`fundtrace_indexer_height{chain="btc-regtest"} %d`, tip),
		`fundtrace_indexer_tip_lag_blocks{chain="btc-regtest"} 0`,
		`fundtrace_source_request_duration_seconds_count{endpoint="` + n.RPCURL(),
		`fundtrace_indexer_txs_total{chain="btc-regtest"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), n.Password()) {
		t.Error("metrics show the RPC password")
	}

	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 || !strings.Contains(c.stderr.String(), "stopped following") {
		t.Fatalf("SIGTERM: exit %d, stderr:\n%s", code, c.stderr)
	}
	if strings.Contains(c.stderr.String(), n.Password()) {
		t.Error("the log shows the RPC password")
	}
	sameChain(t, db, n)
	fresh := sqliteURL(t)
	indexOnce(t, n, fresh)
	sameContent(t, db, openStore(t, fresh), "after following")
}

// TestNodeReorg: two nodes mine different branches while disconnected;
// when they connect, the shorter branch (the one the indexer follows) is
// replaced, and the index ends equal to the node and to a fresh index.
func TestNodeReorg(t *testing.T) {
	a, w := node(t, true, 200, 40)
	b, err := devnet.StartBtcd(t.Context(), devnet.BtcdOptions{Dir: t.TempDir(), MiningAddr: w.MiningAddress(), Listen: true})
	if err != nil {
		t.Fatalf("second btcd did not start: %v", err)
	}
	t.Cleanup(func() { b.Stop() })
	if err := b.Connect(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	_, aTip, _ := a.Tip(t.Context())
	if err := b.WaitTip(t.Context(), aTip); err != nil {
		t.Fatal(err)
	}

	url := storetest.PostgresDatabase(t)
	c := start(t, a, "index", "--chain", regtest, "--rpc", a.RPCURL(), "--db", url, "--follow", "--poll", "50ms")
	db := openStore(t, url)
	h, hash, _ := a.Tip(t.Context())
	waitIndexed(t, db, h, hash, c)

	if err := b.Disconnect(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	// A's branch: two blocks with transactions, indexed by the follower.
	if _, err := w.Populate(t.Context(), a, devnet.Plan{Txs: 30, TxsPerBlock: 15, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	h, hash, _ = a.Tip(t.Context())
	waitIndexed(t, db, h, hash, c)
	orphaned := hash
	// B's branch: four blocks, more work.
	if _, err := b.Generate(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	_, bTip, _ := b.Tip(t.Context())
	if err := a.Connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitTip(t.Context(), bTip); err != nil {
		t.Fatal(err)
	}
	h, hash, _ = a.Tip(t.Context())
	waitIndexed(t, db, h, hash, c)
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("SIGINT: exit %d, stderr:\n%s", code, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "reorg") {
		t.Errorf("no reorg logged:\n%s", c.stderr)
	}
	for _, s := range storedChain(t, db) {
		if s == orphaned {
			t.Errorf("orphaned block %s still stored", orphaned)
		}
	}
	sameChain(t, db, a)
	fresh := sqliteURL(t)
	indexOnce(t, a, fresh)
	sameContent(t, db, openStore(t, fresh), "after the reorg")
}

// TestNodeCrash kills the indexer with SIGKILL at random moments while it
// syncs a chain of a few thousand transactions (and, half way, unwinds a
// reorg), runs it again each time, and compares the result with an
// uninterrupted run: no lost block, no doubled row, no half-written block.
func TestNodeCrash(t *testing.T) {
	n, _ := node(t, false, 3000, 100)
	for _, backend := range []string{"postgres", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			url := sqliteURL(t)
			if backend == "postgres" {
				url = storetest.PostgresDatabase(t)
			}
			args := []string{"index", "--chain", regtest, "--rpc", n.RPCURL(), "--db", url,
				"--batch-txs", "100", "--fetch-blocks", "1", "--workers", "2"}
			// How long an uninterrupted sync takes, start-up included: kills
			// land at random moments within it.
			scratch := sqliteURL(t)
			if backend == "postgres" {
				scratch = storetest.PostgresDatabase(t)
			}
			scratchArgs := append(args[:6:6], append([]string{scratch}, args[7:]...)...)
			begin := time.Now()
			if c := start(t, n, scratchArgs...); c.wait(t) != 0 {
				t.Fatalf("uninterrupted run failed: %s", c.stderr)
			}
			full := time.Since(begin)
			begin = time.Now()
			if c := start(t, n, scratchArgs...); c.wait(t) != 0 {
				t.Fatalf("no-op run failed: %s", c.stderr)
			}
			startup := time.Since(begin)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
			uniform := func(lo, hi time.Duration) time.Duration {
				return lo + time.Duration(rng.Float64()*float64(hi-lo))
			}
			total, err := openStore(t, scratch).Status(t.Context(), chains.BTCRegtest)
			if err != nil {
				t.Fatal(err)
			}
			db := openStore(t, url)
			// syncDelay picks a moment before the expected end of what is
			// left of the sync: start-up (opening the database, migrations,
			// checks), then fetching and writing the remaining
			// transactions.
			syncDelay := func() time.Duration {
				left := 1.0
				if st, err := db.Status(t.Context(), chains.BTCRegtest); err == nil {
					left = float64(total.Txs-st.Txs) / float64(total.Txs)
				}
				return startup + time.Duration(rng.Float64()*0.5*left*float64(full-startup))
			}
			kills := 0
			// crashUntilDone runs the indexer, killing it after delay(),
			// until a run finishes by itself; after budget kills it lets
			// the run finish.
			crashUntilDone := func(budget int, delay func() time.Duration) {
				for round := 0; ; round++ {
					c := start(t, n, args...)
					began := time.Now()
					if round == budget {
						if code := c.wait(t); code != 0 {
							t.Fatalf("run failed: exit %d: %s", code, c.stderr)
						}
						return
					}
					d := delay()
					select {
					case <-c.done:
						c.done <- nil
						if code := c.wait(t); code != 0 {
							t.Fatalf("run failed: exit %d: %s", code, c.stderr)
						}
						t.Logf("round %d: finished after %s (kill planned at %s)", round, time.Since(began), d)
						return
					case <-time.After(d):
					}
					t.Logf("round %d: kill at %s", round, d)
					_ = c.cmd.Process.Signal(syscall.SIGKILL)
					if code := c.wait(t); code == -1 {
						kills++
					} else if code != 0 {
						t.Fatalf("run failed: exit %d: %s", code, c.stderr)
					} else {
						return
					}
				}
			}
			crashUntilDone(15, syncDelay)
			first := kills
			// Three reorgs of 20 blocks on the node: the next runs unwind 20
			// blocks full of transactions and apply 25 new ones, and are
			// killed too, mostly early, where the unwind is.
			for range 3 {
				tip, _, err := n.Tip(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				hashes, err := n.BestChain(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if err := n.InvalidateBlock(t.Context(), hashes[tip-19]); err != nil {
					t.Fatal(err)
				}
				if _, err := n.Generate(t.Context(), 25); err != nil {
					t.Fatal(err)
				}
				crashUntilDone(8, func() time.Duration { return uniform(startup/2, startup+(full-startup)/10) })
			}
			t.Logf("%s: a full sync takes %s (start-up %s); %d runs killed during the sync, %d after the reorg",
				backend, full.Round(time.Millisecond), startup.Round(time.Millisecond), first, kills-first)
			if first < 5 || kills-first < 3 {
				t.Errorf("too few kills (%d, %d): the test did not test much", first, kills-first)
			}
			sameChain(t, db, n)
			ref := sqliteURL(t)
			indexOnce(t, n, ref)
			sameContent(t, db, openStore(t, ref), fmt.Sprintf("after %d SIGKILLs", kills))
		})
	}
}

// TestNodeBadCredentials: wrong credentials are one clear error, not a
// retry loop, and the password is not printed.
func TestNodeBadCredentials(t *testing.T) {
	n, _ := node(t, false, 0, 0)
	t.Setenv("FUNDTRACE_RPC_USER", n.User())
	t.Setenv("FUNDTRACE_RPC_PASSWORD", "not-the-password")
	start := time.Now()
	r := fundtrace(t, "index", "--chain", regtest, "--rpc", n.RPCURL(), "--db", sqliteURL(t))
	if r.code != 1 || !strings.Contains(r.stderr, "credentials") || strings.Contains(r.stderr, "not-the-password") {
		t.Errorf("exit %d, stderr %q: want 1 and a hint about credentials, without the password", r.code, r.stderr)
	}
	t.Logf("failed in %s", time.Since(start))
}

// TestNodeWrongNetwork: a regtest node given as --chain btc.
func TestNodeWrongNetwork(t *testing.T) {
	n, _ := node(t, false, 0, 0)
	t.Setenv("FUNDTRACE_RPC_USER", n.User())
	t.Setenv("FUNDTRACE_RPC_PASSWORD", n.Password())
	r := fundtrace(t, "index", "--chain", "btc", "--rpc", n.RPCURL(), "--db", sqliteURL(t))
	if r.code != 1 || !strings.Contains(r.stderr, "genesis") {
		t.Errorf("exit %d, stderr %q: want 1 naming the genesis mismatch", r.code, r.stderr)
	}
}
