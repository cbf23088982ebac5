package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/chains/chaintest"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// pipeline builds a pipeline with the UTXO stage and small batches, so
// that runs commit often.
func pipeline(t testing.TB, db *store.DB, src indexer.Source, edit func(*indexer.Config)) *indexer.Pipeline {
	t.Helper()
	cfg := indexer.DefaultConfig(chains.BTC)
	cfg.BatchBlocks, cfg.Workers, cfg.FetchBlocks = 1, 1, 1
	cfg.PollInterval, cfg.MaxRetryWait = 5*time.Millisecond, 20*time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	w := db.NewUTXOWriter(chains.BTC, store.UTXOWriterOptions{})
	p, err := indexer.New(db, src, []indexer.Stage{indexer.NewUTXOStage(w)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// equalsFresh checks that db holds what a fresh index of c's best chain
// (up to height to; -1: the tip) holds.
func equalsFresh(t *testing.T, db *store.DB, c *chaintest.Chain, to int64, what string) {
	t.Helper()
	sameAsFreshIndex(t, db, chaintest.NewChain(t, c.Net(), c.RawBlocks()), to, what)
}

func network(t testing.TB) *bitcoin.Network {
	t.Helper()
	n, err := bitcoin.NetworkFor(chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func forkChain(t *testing.T) (*chaintest.Chain, [][]byte) {
	main, alt := chaintest.ForkFixture(t)
	return chaintest.NewChain(t, network(t), main), alt
}

// reorgOnFetch reorgs its chain to alt when block at height is fetched
// for the first time, after reading that block from the old branch: the
// blocks fetched after it come from the new branch and do not extend it.
type reorgOnFetch struct {
	*chaintest.Chain
	height int64
	alt    [][]byte
	once   sync.Once
}

func (s *reorgOnFetch) Block(ctx context.Context, h int64) (chains.Block, error) {
	b, err := s.Chain.Block(ctx, h)
	if h == s.height {
		s.once.Do(func() { s.Reorg(2, s.alt...) })
	}
	return b, err
}

func TestChainMovesDuringRun(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, alt := forkChain(t)
		src := &reorgOnFetch{Chain: c, height: 3, alt: alt}
		sum, err := pipeline(t, db, src, nil).Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Height != 5 || sum.Reorgs != 1 || sum.Unwound != 1 {
			t.Errorf("got height %d, %d reorgs unwinding %d blocks; want height 5 after 1 reorg unwinding block 3",
				sum.Height, sum.Reorgs, sum.Unwound)
		}
		equalsFresh(t, db, c, -1, "after a reorg during the run")
	})
}

// alwaysMoving returns, for every block, one that does not extend the
// previous block.
type alwaysMoving struct{ *chaintest.Chain }

func (s alwaysMoving) Block(ctx context.Context, h int64) (chains.Block, error) {
	b, err := s.Chain.Block(ctx, h)
	b.PrevHash[0] ^= 1
	return b, err
}

func TestChainKeepsMoving(t *testing.T) {
	db := storetest.SQLite(t)
	c, _ := forkChain(t)
	if _, err := pipeline(t, db, c, func(c *indexer.Config) { c.To = 1 }).Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline(t, db, alwaysMoving{c}, nil).Run(t.Context())
	if !errors.Is(err, indexer.ErrSourceChanged) {
		t.Fatalf("got %v, want ErrSourceChanged", err)
	}
	if !indexer.Transient(err) {
		t.Errorf("ErrSourceChanged is not transient: a follower would stop")
	}
	equalsFresh(t, db, c, 1, "after refusing blocks that do not connect")
}

func TestConfirmations(t *testing.T) {
	db := storetest.SQLite(t)
	c := chaintest.NewChain(t, network(t), chaintest.Mainnet(t, 20))
	sum, err := pipeline(t, db, c, func(c *indexer.Config) { c.Confirmations = 6 }).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Height != 13 || sum.SourceTip != 19 {
		t.Errorf("got height %d with source tip %d, want 13 with 19", sum.Height, sum.SourceTip)
	}
}

// ranger serves Blocks(from, to) and counts the calls.
type ranger struct {
	*chaintest.Chain
	calls atomic.Int64
}

func (r *ranger) Blocks(ctx context.Context, from, to int64) ([]chains.Block, error) {
	r.calls.Add(1)
	var out []chains.Block
	for h := from; h <= to; h++ {
		b, err := r.Block(ctx, h)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func TestBlockRanger(t *testing.T) {
	db := storetest.SQLite(t)
	c := chaintest.NewChain(t, network(t), chaintest.Mainnet(t, 100))
	r := &ranger{Chain: c}
	_, err := pipeline(t, db, r, func(c *indexer.Config) {
		c.Workers, c.FetchBlocks, c.BatchBlocks = 3, 16, 10
	}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.calls.Load(); got != 7 { // 100 blocks in 16s
		t.Errorf("got %d range calls, want 7", got)
	}
	equalsFresh(t, db, c, -1, "indexed through Blocks")
}

// capture collects log output for assertions.
type capture struct {
	mu sync.Mutex
	b  strings.Builder
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// waitHeight polls db until chain is indexed at height with the hash.
func waitHeight(t *testing.T, db *store.DB, height int64, hash chains.Hash) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := db.StoredBlockHash(t.Context(), chains.BTC, height)
		if err == nil && got == hash {
			if _, err := db.StoredBlockHash(t.Context(), chains.BTC, height+1); errors.Is(err, store.ErrNotFound) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not indexed at height %d (%s) within 10 s: last %v %v", height, hash, got, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollow(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		all := chaintest.Mainnet(t, 26)
		c := chaintest.NewChain(t, network(t), all[:20])
		var tips []int64
		p := pipeline(t, db, c, func(cfg *indexer.Config) {
			cfg.OnTip = func(h int64) { tips = append(tips, h) }
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Follow(ctx) }()

		hashes := func() []chains.Hash { return c.Hashes() }
		waitHeight(t, db, 19, hashes()[19])
		c.Extend(all[20:25]...)
		waitHeight(t, db, 24, hashes()[24])
		c.Extend(all[25:26]...)
		waitHeight(t, db, 25, hashes()[25])
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v, want context.Canceled", err)
		}
		equalsFresh(t, db, c, -1, "after following")
		if len(tips) == 0 || tips[len(tips)-1] != 25 {
			t.Errorf("OnTip saw %v, want a last tip of 25", tips)
		}
	})
}

func TestFollowReorg(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, alt := forkChain(t)
		var reorgs, unwound atomic.Int64
		p := pipeline(t, db, c, func(cfg *indexer.Config) {
			cfg.OnReorg = func(fork, n int64) { reorgs.Add(1); unwound.Add(n) }
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Follow(ctx) }()
		waitHeight(t, db, 4, c.Hashes()[4])
		c.Reorg(2, alt...)
		waitHeight(t, db, 5, c.Hashes()[5])
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v, want context.Canceled", err)
		}
		if reorgs.Load() != 1 || unwound.Load() != 2 {
			t.Errorf("got %d reorgs unwinding %d blocks, want 1 unwinding 2", reorgs.Load(), unwound.Load())
		}
		equalsFresh(t, db, c, -1, "after following a reorg")
	})
}

// transientErr is what endpoint errors look like to the indexer after
// their own retries ran out.
type transientErr struct{ transient bool }

func (e transientErr) Error() string   { return fmt.Sprintf("node trouble (transient %v)", e.transient) }
func (e transientErr) Transient() bool { return e.transient }

// flaky fails its first n calls of every method with err.
type flaky struct {
	*chaintest.Chain
	name string
	n    atomic.Int64
	err  error
}

func (f *flaky) fail() error {
	if f.n.Add(-1) >= 0 {
		return f.err
	}
	return nil
}

func (f *flaky) Name() string { return f.name }
func (f *flaky) Tip(ctx context.Context) (int64, chains.Hash, error) {
	if err := f.fail(); err != nil {
		return 0, chains.Hash{}, err
	}
	return f.Chain.Tip(ctx)
}

func (f *flaky) Block(ctx context.Context, h int64) (chains.Block, error) {
	if err := f.fail(); err != nil {
		return chains.Block{}, err
	}
	return f.Chain.Block(ctx, h)
}

func TestFollowSurvivesTransientFailures(t *testing.T) {
	db := storetest.SQLite(t)
	c := chaintest.NewChain(t, network(t), chaintest.Mainnet(t, 10))
	src := &flaky{Chain: c, err: transientErr{true}}
	src.n.Store(5)
	var logs capture
	p := pipeline(t, db, src, func(cfg *indexer.Config) { cfg.Logger = newLogger(&logs) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Follow(ctx) }()
	waitHeight(t, db, 9, c.Hashes()[9])
	src.n.Store(3) // fails while polling for a new tip, too
	c.Extend(chaintest.Mainnet(t, 12)[10:]...)
	waitHeight(t, db, 11, c.Hashes()[11])
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v, want context.Canceled", err)
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("no retry logged:\n%s", logs.String())
	}
}

func TestFollowStopsOnPermanentError(t *testing.T) {
	db := storetest.SQLite(t)
	c := chaintest.NewChain(t, network(t), chaintest.Mainnet(t, 10))
	src := &flaky{Chain: c, err: transientErr{false}}
	src.n.Store(1 << 30)
	done := make(chan error, 1)
	go func() { done <- pipeline(t, db, src, nil).Follow(t.Context()) }()
	select {
	case err := <-done:
		if !errors.As(err, new(transientErr)) {
			t.Fatalf("got %v, want the source's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow kept retrying a permanent error")
	}
}

func TestFailover(t *testing.T) {
	c := chaintest.NewChain(t, network(t), chaintest.Mainnet(t, 30))
	down := &flaky{Chain: c, name: "a", err: transientErr{true}}
	down.n.Store(1 << 30)
	up := &flaky{Chain: c, name: "b"}

	t.Run("second answers", func(t *testing.T) {
		db := storetest.SQLite(t)
		var logs capture
		fo, err := indexer.NewFailover(newLogger(&logs), down, up)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline(t, db, fo, nil).Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		equalsFresh(t, db, c, -1, "through fail-over")
		if !strings.Contains(logs.String(), "failing over") || !strings.Contains(logs.String(), "endpoint=a") {
			t.Errorf("fail-over not logged:\n%s", logs.String())
		}
	})
	t.Run("all fail", func(t *testing.T) {
		down2 := &flaky{Chain: c, name: "c", err: transientErr{true}}
		down2.n.Store(1 << 30)
		fo, err := indexer.NewFailover(nil, down, down2)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = fo.Tip(t.Context())
		if err == nil || !strings.Contains(err.Error(), "all 2 endpoints failed") || !indexer.Transient(err) {
			t.Errorf("got %v, want both endpoints' errors, transient", err)
		}
	})
}
