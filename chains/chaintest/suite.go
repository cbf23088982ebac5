package chaintest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
)

// Source is what the indexer reads blocks from (indexer.Source), declared
// again here, where it is consumed, so that adapters need not import the
// indexer to run the suite.
type Source interface {
	// Tip returns the height and hash of the source's best block.
	Tip(ctx context.Context) (int64, chains.Hash, error)
	// BlockHash returns the hash of the best-chain block at height.
	BlockHash(ctx context.Context, height int64) (chains.Hash, error)
	// Block returns the decoded best-chain block at height. It must be safe
	// to call from several goroutines.
	Block(ctx context.Context, height int64) (chains.Block, error)
}

// Rescanner is an optional Source capability: a source that notices new
// blocks only when told to look (bitcoin.BlockDir) implements it. While it
// waits for a source to show blocks added by Extend or Reorg, the suite
// calls Rescan before every look at the tip; other sources are just polled.
type Rescanner interface {
	Rescan(ctx context.Context) error
}

// Timeouts of the suite.
const (
	// CatchUpTimeout is how long a source may take to show the blocks of
	// an Extend or Reorg.
	CatchUpTimeout = 5 * time.Second
	// CancelTimeout is how long a call with a cancelled context may take
	// to return its error.
	CancelTimeout = 5 * time.Second
)

// concurrentReaders is the number of goroutines of the concurrency case.
const concurrentReaders = 8

// maxErrors bounds the mismatches a check reports before it gives up.
const maxErrors = 10

// RunSourceTests runs the conformance suite, one subtest per case. Each case
// builds a fresh Chain and calls newSource(t, chain) (with the case's t) for
// a source that reads it; newSource fails t if it cannot make one and
// registers its own cleanup. The cases:
//
//   - Tip: the tip is the chain's last block (mainnet 0..49).
//   - BlockHash: the hash at every height.
//   - Block: every block equals the network's decode of the chain's bytes
//     (hash, height, parent linkage, header fields, size, transaction
//     count, txids and input and output counts).
//   - BeyondTip: BlockHash and Block above the tip fail with an error
//     wrapping bitcoin.ErrBeyondTip.
//   - NegativeHeight: likewise for heights below zero.
//   - ConcurrentBlock: 8 goroutines read every block at once (run with
//     -race).
//   - CancelledContext: Tip, BlockHash and Block with a cancelled context
//     return an error within CancelTimeout.
//   - Extend: after 10 more blocks are added, the source shows the new tip
//     (within CatchUpTimeout) and serves every block.
//   - ExtendOneByOne: three single-block extensions, each seen.
//   - Reorg: on ForkFixture's chain 0..4, Reorg(2, 3A, 4A, 5A); the source
//     shows tip 5A at height 5, the alt hashes above height 2, Block(3) is
//     3A, and height 6 is beyond the tip.
//
// After Extend and Reorg a source may need time or a nudge: a source that
// implements Rescanner is rescanned while the suite waits; a source built
// from files registers Chain.OnNewBlocks in newSource to write the new
// blocks, as a node would.
func RunSourceTests(t *testing.T, newSource func(t *testing.T, c *Chain) Source) {
	t.Helper()
	mainnet := func(t *testing.T, n int) (*Chain, Source) {
		t.Helper()
		c := NewChain(t, network(t, chains.BTC), Mainnet(t, n))
		return c, newSource(t, c)
	}

	t.Run("Tip", func(t *testing.T) {
		c, src := mainnet(t, 50)
		checkTip(t, src, c.Hashes())
	})
	t.Run("BlockHash", func(t *testing.T) {
		c, src := mainnet(t, 50)
		checkBlockHashes(t, src, c.Hashes())
	})
	t.Run("Block", func(t *testing.T) {
		c, src := mainnet(t, 50)
		checkBlocks(t, src, c)
	})
	t.Run("BeyondTip", func(t *testing.T) {
		_, src := mainnet(t, 50)
		checkBeyondTip(t, src, []int64{50, 51, 1000})
	})
	t.Run("NegativeHeight", func(t *testing.T) {
		_, src := mainnet(t, 50)
		checkBeyondTip(t, src, []int64{-1, -2, -1000})
	})
	t.Run("ConcurrentBlock", func(t *testing.T) {
		c, src := mainnet(t, 50)
		checkConcurrent(t, src, c.Hashes())
	})
	t.Run("CancelledContext", func(t *testing.T) {
		_, src := mainnet(t, 50)
		checkCancelled(t, src)
	})
	t.Run("Extend", func(t *testing.T) {
		blocks := Mainnet(t, 60)
		c := NewChain(t, network(t, chains.BTC), blocks[:50])
		src := newSource(t, c)
		checkTip(t, src, c.Hashes())
		c.Extend(blocks[50:]...)
		WaitTip(t, src, 59, HeaderHash(blocks[59]))
		checkBlockHashes(t, src, c.Hashes())
		checkBlocks(t, src, c)
		checkBeyondTip(t, src, []int64{60})
	})
	t.Run("ExtendOneByOne", func(t *testing.T) {
		blocks := Mainnet(t, 53)
		c := NewChain(t, network(t, chains.BTC), blocks[:50])
		src := newSource(t, c)
		for h := int64(50); h < 53; h++ {
			c.Extend(blocks[h])
			WaitTip(t, src, h, HeaderHash(blocks[h]))
			checkBlock(t, src, c, h)
		}
		checkBlockHashes(t, src, c.Hashes())
	})
	t.Run("Reorg", func(t *testing.T) {
		main, alt := ForkFixture(t)
		c := NewChain(t, network(t, chains.BTC), main)
		src := newSource(t, c)
		checkTip(t, src, c.Hashes())
		checkBlocks(t, src, c)

		c.Reorg(2, alt...)
		WaitTip(t, src, 5, HeaderHash(alt[2]))
		want := c.Hashes()
		checkBlockHashes(t, src, want)
		for h := int64(3); h <= 4; h++ {
			if got, err := src.BlockHash(t.Context(), h); err == nil && got == HeaderHash(main[h]) {
				t.Errorf("BlockHash(%d) after the reorg = %s, the replaced block", h, got)
			}
		}
		b, err := src.Block(t.Context(), 3)
		if err != nil {
			t.Fatalf("Block(3) after the reorg: %v", err)
		}
		if b.Hash != HeaderHash(alt[0]) {
			t.Errorf("Block(3) after the reorg = %s, want 3A %s", b.Hash, HeaderHash(alt[0]))
		}
		checkBlocks(t, src, c)
		checkBeyondTip(t, src, []int64{6})
	})
}

// CheckSource checks src against want, the expected best chain (genesis
// first): the tip is want's last hash, BlockHash at every height is want's,
// and Block at every height has want's hash, that height and the previous
// hash of want as parent (zero for the genesis block). It needs no raw
// blocks, so it also checks sources over live nodes.
func CheckSource(t testing.TB, src Source, want []chains.Hash) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("chaintest.CheckSource: empty want")
	}
	checkTip(t, src, want)
	checkBlockHashes(t, src, want)
	r := &reporter{tb: t}
	for h, hash := range want {
		b, err := src.Block(t.Context(), int64(h))
		if err != nil {
			r.Errorf("Block(%d): %v", h, err)
			continue
		}
		var parent chains.Hash
		if h > 0 {
			parent = want[h-1]
		}
		if b.Hash != hash || b.Height != int64(h) || b.PrevHash != parent {
			r.Errorf("Block(%d) = hash %s height %d parent %s, want hash %s height %d parent %s",
				h, b.Hash, b.Height, b.PrevHash, hash, h, parent)
		}
	}
}

// CheckSourceContract checks the whole Source contract that needs no raw
// blocks, so it holds sources of any ledger model, fakes and live nodes
// alike: CheckSource against want; BlockHash and Block fail with
// chains.ErrBeyondTip above the tip; concurrent readers get the same
// blocks; a cancelled context makes every call return promptly with an
// error; and a BlockRanger's Blocks(0, tip) are the blocks Block returns.
func CheckSourceContract(t testing.TB, src Source, want []chains.Hash) {
	t.Helper()
	CheckSource(t, src, want)
	tip := int64(len(want) - 1)
	checkBeyondTip(t, src, []int64{tip + 1, tip + 100})
	checkConcurrent(t, src, want)
	checkCancelled(t, src)
	type ranger interface {
		Blocks(ctx context.Context, from, to int64) ([]chains.Block, error)
	}
	if r, ok := src.(ranger); ok {
		bs, err := r.Blocks(t.Context(), 0, tip)
		if err != nil {
			t.Fatalf("Blocks(0, %d): %v", tip, err)
		}
		if len(bs) != len(want) {
			t.Fatalf("Blocks(0, %d) returned %d blocks, want %d", tip, len(bs), len(want))
		}
		for h, b := range bs {
			one, err := src.Block(t.Context(), int64(h))
			if err != nil {
				t.Fatalf("Block(%d): %v", h, err)
			}
			if b.Hash != want[h] || b.TxCount() != one.TxCount() {
				t.Errorf("Blocks(0, %d)[%d] = %s with %d txs; Block(%d) = %s with %d", tip, h, b.Hash, b.TxCount(), h, one.Hash, one.TxCount())
			}
		}
	}
}

// WaitTip polls src until its tip is (height, hash), calling Rescan first
// each time when src is a Rescanner. It fails t after CatchUpTimeout.
func WaitTip(t testing.TB, src Source, height int64, hash chains.Hash) {
	t.Helper()
	ctx := t.Context()
	rescanner, _ := src.(Rescanner)
	deadline := time.Now().Add(CatchUpTimeout)
	delay := 5 * time.Millisecond
	for {
		if rescanner != nil {
			if err := rescanner.Rescan(ctx); err != nil {
				t.Fatalf("Rescan: %v", err)
			}
		}
		gotH, gotHash, err := src.Tip(ctx)
		if err == nil && gotH == height && gotHash == hash {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("Tip after %v: %v; want %d %s", CatchUpTimeout, err, height, hash)
			}
			t.Fatalf("Tip after %v = %d %s, want %d %s", CatchUpTimeout, gotH, gotHash, height, hash)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for tip %d %s: %v", height, hash, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// reporter reports errors through tb and gives up after maxErrors.
type reporter struct {
	tb testing.TB
	n  int
}

func (r *reporter) Errorf(format string, args ...any) {
	r.tb.Helper()
	r.n++
	r.tb.Errorf(format, args...)
	if r.n >= maxErrors {
		r.tb.Fatalf("%d errors, giving up", r.n)
	}
}

func checkTip(t testing.TB, src Source, want []chains.Hash) {
	t.Helper()
	h, hash, err := src.Tip(t.Context())
	if err != nil {
		t.Fatalf("Tip: %v", err)
	}
	wantH := int64(len(want) - 1)
	if h != wantH || hash != want[wantH] {
		t.Fatalf("Tip = %d %s, want %d %s", h, hash, wantH, want[wantH])
	}
}

func checkBlockHashes(t testing.TB, src Source, want []chains.Hash) {
	t.Helper()
	r := &reporter{tb: t}
	for h, w := range want {
		got, err := src.BlockHash(t.Context(), int64(h))
		if err != nil {
			r.Errorf("BlockHash(%d): %v", h, err)
			continue
		}
		if got != w {
			r.Errorf("BlockHash(%d) = %s, want %s", h, got, w)
		}
	}
}

// checkBlocks compares Block at every height of c's best chain with the
// network's decode of c's bytes.
func checkBlocks(t testing.TB, src Source, c *Chain) {
	t.Helper()
	r := &reporter{tb: t}
	for h := range c.Hashes() {
		if d := blockDiff(t.Context(), src, c, int64(h)); d != "" {
			r.Errorf("%s", d)
		}
	}
}

func checkBlock(t testing.TB, src Source, c *Chain, h int64) {
	t.Helper()
	if d := blockDiff(t.Context(), src, c, h); d != "" {
		t.Errorf("%s", d)
	}
}

// blockDiff returns what is wrong with src's block at height h, or "".
func blockDiff(ctx context.Context, src Source, c *Chain, h int64) string {
	hashes := c.Hashes()
	raw, ok := c.RawBlock(hashes[h])
	if !ok {
		return fmt.Sprintf("chaintest: no raw block %s at height %d", hashes[h], h)
	}
	want, err := c.Net().DecodeBlock(raw, h)
	if err != nil {
		return fmt.Sprintf("chaintest: %v", err)
	}
	got, err := src.Block(ctx, h)
	if err != nil {
		return fmt.Sprintf("Block(%d): %v", h, err)
	}
	var parent chains.Hash
	if h > 0 {
		parent = hashes[h-1]
	}
	if got.PrevHash != parent {
		return fmt.Sprintf("Block(%d).PrevHash = %s, want %s (the hash at height %d)", h, got.PrevHash, parent, h-1)
	}
	type field struct {
		name      string
		got, want any
	}
	fields := []field{
		{"Hash", got.Hash, want.Hash},
		{"Height", got.Height, want.Height},
		{"MerkleRoot", got.MerkleRoot, want.MerkleRoot},
		{"Time", got.Time, want.Time},
		{"Version", got.Version, want.Version},
		{"Bits", got.Bits, want.Bits},
		{"Nonce", got.Nonce, want.Nonce},
		{"Size", got.Size, want.Size},
		{"Weight", got.Weight, want.Weight},
		{"len(Txs)", len(got.Txs), len(want.Txs)},
	}
	for _, f := range fields {
		if f.got != f.want {
			return fmt.Sprintf("Block(%d).%s = %v, want %v", h, f.name, f.got, f.want)
		}
	}
	for i, tx := range got.Txs {
		w := want.Txs[i]
		if tx.Hash != w.Hash || len(tx.Inputs) != len(w.Inputs) || len(tx.Outputs) != len(w.Outputs) {
			return fmt.Sprintf("Block(%d).Txs[%d] = %s with %d inputs and %d outputs, want %s with %d and %d",
				h, i, tx.Hash, len(tx.Inputs), len(tx.Outputs), w.Hash, len(w.Inputs), len(w.Outputs))
		}
	}
	return ""
}

// checkBeyondTip checks that BlockHash and Block fail with
// chains.ErrBeyondTip (bitcoin.ErrBeyondTip is the same error) at every
// height of heights.
func checkBeyondTip(t testing.TB, src Source, heights []int64) {
	t.Helper()
	for _, h := range heights {
		hash, err := src.BlockHash(t.Context(), h)
		if !errors.Is(err, chains.ErrBeyondTip) {
			t.Errorf("BlockHash(%d) = %s, %v; want an error wrapping chains.ErrBeyondTip", h, hash, err)
		}
		b, err := src.Block(t.Context(), h)
		if !errors.Is(err, chains.ErrBeyondTip) {
			t.Errorf("Block(%d) = block %s, %v; want an error wrapping chains.ErrBeyondTip", h, b.Hash, err)
		}
	}
}

// checkConcurrent has concurrentReaders goroutines read every block, each
// starting at a different height.
func checkConcurrent(t testing.TB, src Source, want []chains.Hash) {
	t.Helper()
	ctx := t.Context()
	errc := make(chan error, concurrentReaders*len(want))
	var wg sync.WaitGroup
	for g := range concurrentReaders {
		wg.Go(func() {
			for i := range want {
				h := (i + g*len(want)/concurrentReaders) % len(want)
				b, err := src.Block(ctx, int64(h))
				switch {
				case err != nil:
					errc <- fmt.Errorf("goroutine %d: Block(%d): %w", g, h, err)
				case b.Hash != want[h] || b.Height != int64(h):
					errc <- fmt.Errorf("goroutine %d: Block(%d) = %s at height %d, want %s", g, h, b.Hash, b.Height, want[h])
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	r := &reporter{tb: t}
	for err := range errc {
		r.Errorf("%v", err)
	}
}

// checkCancelled checks that Tip, BlockHash and Block fail promptly with a
// cancelled context.
func checkCancelled(t testing.TB, src Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Tip", func() error { _, _, err := src.Tip(ctx); return err }},
		{"BlockHash(1)", func() error { _, err := src.BlockHash(ctx, 1); return err }},
		{"Block(1)", func() error { _, err := src.Block(ctx, 1); return err }},
	}
	for _, c := range calls {
		done := make(chan error, 1)
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s with a cancelled context succeeded, want an error", c.name)
			}
		case <-time.After(CancelTimeout):
			t.Errorf("%s with a cancelled context did not return within %v", c.name, CancelTimeout)
		}
	}
}
