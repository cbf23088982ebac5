// Package chaintest is the conformance suite for block sources: everything
// the indexer reads blocks from (a Bitcoin Core block directory, node RPC,
// Esplora) must pass RunSourceTests, reorgs included.
//
// The suite runs each source against a Chain, an in-memory chain of real
// blocks that the test can extend and reorganise. Chain is also a Source
// itself (the in-memory fake) and is what the fake nodes of
// chains/bitcoin/bitcointest serve (it has their Hashes and RawBlock
// methods). Blocks come from Mainnet (the bundled mainnet blocks of
// internal/bundle) and ForkFixture (btcd's fork fixtures, a branch that
// overtakes mainnet blocks 3 and 4).
//
// A source that sees new blocks only when told to look (bitcoin.BlockDir
// reading files that a node writes) implements Rescanner; a source built
// from files registers Chain.OnNewBlocks to write the blocks the test adds,
// as a node would. See RunSourceTests.
//
// The package is for tests only: its functions take a testing.TB and fail
// the test on misuse instead of returning errors.
package chaintest

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/bundle"
)

// headerLen is the size of a serialized Bitcoin block header.
const headerLen = 80

// Chain is an in-memory, mutable best chain of real serialized blocks. It
// is a Source (decoding with its network's DecodeBlock) and keeps every
// block it was ever given, so RawBlock still finds blocks that a Reorg took
// off the best chain.
//
// Read methods (Tip, BlockHash, Block, Hashes, RawBlock, RawBlocks) are safe
// for concurrent use, also while Extend or Reorg run. Extend and Reorg fail
// the test on a block that does not fit, so call them from the test's
// goroutine.
type Chain struct {
	t   testing.TB
	net *bitcoin.Network

	mu    sync.Mutex
	best  []chains.Hash // height -> hash
	raw   map[chains.Hash][]byte
	hooks []func(raw [][]byte)
}

// NewChain returns a chain of net holding raw, serialized blocks in height
// order from the genesis block. It fails the test unless raw[0] is net's
// genesis block, every block names the one before as its parent and every
// block decodes.
func NewChain(t testing.TB, net *bitcoin.Network, raw [][]byte) *Chain {
	t.Helper()
	if net == nil {
		t.Fatal("chaintest.NewChain: nil network")
	}
	if len(raw) == 0 {
		t.Fatal("chaintest.NewChain: no blocks")
	}
	c := &Chain{t: t, net: net, raw: make(map[chains.Hash][]byte)}
	if h := HeaderHash(raw[0]); h != net.GenesisHash() {
		t.Fatalf("chaintest.NewChain: block 0 is %s, want %s's genesis block %s", h, net, net.GenesisHash())
	}
	c.add(0, chains.Hash{}, raw)
	return c
}

// Net returns the chain's network.
func (c *Chain) Net() *bitcoin.Network { return c.net }

// Extend appends raw, serialized blocks to the best chain: raw[0]'s parent
// must be the tip. Functions registered with OnNewBlocks are then called
// with the blocks.
func (c *Chain) Extend(raw ...[]byte) {
	c.t.Helper()
	if len(raw) == 0 {
		return
	}
	c.mu.Lock()
	height := int64(len(c.best))
	tip := c.best[height-1]
	c.mu.Unlock()
	c.add(height, tip, raw)
}

// Reorg replaces the best chain's blocks above height fork by raw: raw[0]'s
// parent must be the block at fork. The replaced blocks stay known to
// RawBlock. Functions registered with OnNewBlocks are then called with raw.
//
// Chain switches whatever the work of the new branch; a source that follows
// the most work (bitcoin.BlockDir, a node) only switches to a branch with
// more work than the old one, such as ForkFixture's.
func (c *Chain) Reorg(fork int64, raw ...[]byte) {
	c.t.Helper()
	if len(raw) == 0 {
		c.t.Fatal("chaintest: Reorg without blocks")
	}
	c.mu.Lock()
	tip := int64(len(c.best) - 1)
	var parent chains.Hash
	if fork >= 0 && fork <= tip {
		parent = c.best[fork]
	}
	c.mu.Unlock()
	if fork < 0 || fork > tip {
		c.t.Fatalf("chaintest: Reorg at height %d, the chain has heights 0 to %d", fork, tip)
	}
	c.add(fork+1, parent, raw)
}

// OnNewBlocks registers fn to be called, after every Extend and Reorg, with
// the raw blocks that the call added (in height order). A source built from
// files uses it to write the new blocks as a node would; fn runs on the
// goroutine that called Extend or Reorg, after the chain has changed.
func (c *Chain) OnNewBlocks(fn func(raw [][]byte)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, fn)
}

// add checks that raw are decodable blocks linking to parent and makes them
// the best chain from height on. The genesis block (height 0) has no parent.
func (c *Chain) add(height int64, parent chains.Hash, raw [][]byte) {
	c.t.Helper()
	hashes := make([]chains.Hash, len(raw))
	blocks := make([][]byte, len(raw))
	for i, b := range raw {
		h := height + int64(i)
		if len(b) < headerLen {
			c.t.Fatalf("chaintest: block at height %d has %d bytes, shorter than a header", h, len(b))
		}
		if h > 0 {
			if prev := PrevHash(b); prev != parent {
				c.t.Fatalf("chaintest: block %s at height %d has parent %s, want %s", HeaderHash(b), h, prev, parent)
			}
		}
		blk, err := c.net.DecodeBlock(b, h)
		if err != nil {
			c.t.Fatalf("chaintest: %v", err)
		}
		if hh := HeaderHash(b); blk.Hash != hh {
			c.t.Fatalf("chaintest: block at height %d decodes to hash %s, header hashes to %s", h, blk.Hash, hh)
		}
		hashes[i], blocks[i] = blk.Hash, bytes.Clone(b)
		parent = blk.Hash
	}
	c.mu.Lock()
	c.best = append(c.best[:height:height], hashes...)
	for i, h := range hashes {
		if _, ok := c.raw[h]; !ok {
			c.raw[h] = blocks[i]
		}
	}
	hooks := slices.Clone(c.hooks)
	c.mu.Unlock()
	for _, fn := range hooks {
		fn(cloneBlocks(blocks))
	}
}

// Tip returns the height and hash of the best chain's last block.
func (c *Chain) Tip(ctx context.Context) (int64, chains.Hash, error) {
	if err := ctx.Err(); err != nil {
		return 0, chains.Hash{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.best)
	return int64(n - 1), c.best[n-1], nil
}

// BlockHash returns the hash of the best-chain block at height, or an error
// wrapping bitcoin.ErrBeyondTip for a height above the tip or below zero.
func (c *Chain) BlockHash(ctx context.Context, height int64) (chains.Hash, error) {
	h, _, err := c.at(ctx, height)
	return h, err
}

// Block decodes and returns the best-chain block at height, or an error
// wrapping bitcoin.ErrBeyondTip for a height above the tip or below zero.
func (c *Chain) Block(ctx context.Context, height int64) (chains.Block, error) {
	_, raw, err := c.at(ctx, height)
	if err != nil {
		return chains.Block{}, err
	}
	return c.net.DecodeBlock(raw, height)
}

func (c *Chain) at(ctx context.Context, height int64) (chains.Hash, []byte, error) {
	if err := ctx.Err(); err != nil {
		return chains.Hash{}, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tip := int64(len(c.best) - 1)
	if height < 0 || height > tip {
		return chains.Hash{}, nil, fmt.Errorf("%w: height %d, in-memory chain ends at height %d (%s)",
			bitcoin.ErrBeyondTip, height, tip, c.best[tip])
	}
	h := c.best[height]
	return h, c.raw[h], nil
}

// Hashes returns a copy of the best chain's hashes, genesis first.
func (c *Chain) Hashes() []chains.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.best)
}

// RawBlock returns a copy of the serialized block with hash h, on the best
// chain or on a branch a Reorg replaced, and whether it is known.
func (c *Chain) RawBlock(h chains.Hash) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.raw[h]
	return bytes.Clone(b), ok
}

// RawBlocks returns copies of the best chain's serialized blocks, genesis
// first.
func (c *Chain) RawBlocks() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, len(c.best))
	for i, h := range c.best {
		out[i] = bytes.Clone(c.raw[h])
	}
	return out
}

func cloneBlocks(blocks [][]byte) [][]byte {
	out := make([][]byte, len(blocks))
	for i, b := range blocks {
		out[i] = bytes.Clone(b)
	}
	return out
}

// HeaderHash returns the hash of a serialized block (or header) in display
// order: the double SHA-256 of its first 80 bytes, reversed. raw must have
// at least 80 bytes.
func HeaderHash(raw []byte) chains.Hash {
	a := sha256.Sum256(raw[:headerLen])
	b := sha256.Sum256(a[:])
	var h chains.Hash
	for i := range h {
		h[i] = b[len(b)-1-i]
	}
	return h
}

// PrevHash returns the previous-block hash field of a serialized block (or
// header) in display order. raw must have at least 80 bytes.
func PrevHash(raw []byte) chains.Hash {
	var h chains.Hash
	for i := range h {
		h[i] = raw[4+31-i]
	}
	return h
}

// BlkFile returns raw, serialized blocks of net framed as in a Bitcoin Core
// blk*.dat file: for each block the network magic, its length as a
// little-endian uint32, then the block. There is no padding and no
// obfuscation.
func BlkFile(net *bitcoin.Network, raw ...[]byte) []byte {
	n := 0
	for _, b := range raw {
		n += 8 + len(b)
	}
	out := make([]byte, 0, n)
	for _, b := range raw {
		out = binary.LittleEndian.AppendUint32(out, net.Magic())
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// Mainnet returns the first n real mainnet blocks (heights 0 to n-1) from
// the bundled data of internal/bundle, 1 <= n <= bundle.MainnetBlockCount.
// Only the first n blocks are decompressed.
func Mainnet(t testing.TB, n int) [][]byte {
	t.Helper()
	if n < 1 || n > bundle.MainnetBlockCount {
		t.Fatalf("chaintest.Mainnet(%d): the bundle has blocks 0 to %d", n, bundle.MainnetTip)
	}
	net := network(t, chains.BTC)
	r, err := bundle.MainnetBlocksReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	blocks, err := readFramed(r, net.Magic(), n)
	if err != nil {
		t.Fatalf("chaintest.Mainnet: bundled blocks: %v", err)
	}
	if len(blocks) != n {
		t.Fatalf("chaintest.Mainnet: bundle has %d blocks, want %d", len(blocks), n)
	}
	return blocks
}

// ForkFixture returns btcd's fork fixtures (mainnet magic, difficulty 1,
// on the real mainnet genesis block): main holds the genesis block and
// blocks 1 to 4 (not mainnet's), alt the blocks 3A, 4A and 5A of a branch
// forking after block 2. The alt branch has more work than main, so a
// source that follows the most work switches to it:
//
//	chain.Reorg(2, alt...) // best chain: 0, 1, 2, 3A, 4A, 5A
//
// The fixtures are read from chains/bitcoin/testdata/blkfile, found relative
// to this source file (so tests of any package can call it; a binary built
// with -trimpath cannot).
func ForkFixture(t testing.TB) (main, alt [][]byte) {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("chaintest.ForkFixture: cannot locate the chaintest source directory")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "bitcoin", "testdata", "blkfile")
	magic := network(t, chains.BTC).Magic()
	load := func(name string) [][]byte {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("chaintest.ForkFixture: %v", err)
		}
		defer f.Close()
		blocks, err := readFramed(bzip2.NewReader(f), magic, -1)
		if err != nil {
			t.Fatalf("chaintest.ForkFixture: %s: %v", name, err)
		}
		return blocks
	}
	main = load("blk_0_to_4.dat.bz2")
	for _, name := range []string{"blk_3A.dat.bz2", "blk_4A.dat.bz2", "blk_5A.dat.bz2"} {
		alt = append(alt, load(name)...)
	}
	if len(main) != 5 || len(alt) != 3 {
		t.Fatalf("chaintest.ForkFixture: %d main and %d alt blocks, want 5 and 3", len(main), len(alt))
	}
	return main, alt
}

// readFramed reads up to limit (all when limit < 0) blk-file records of the
// given magic from r and returns their blocks. It stops at the end of r or
// at zero padding.
func readFramed(r io.Reader, magic uint32, limit int) ([][]byte, error) {
	var out [][]byte
	var frame [8]byte
	for limit < 0 || len(out) < limit {
		_, err := io.ReadFull(r, frame[:])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("record %d: frame: %w", len(out), err)
		}
		m := binary.LittleEndian.Uint32(frame[:4])
		if m == 0 {
			break // zero padding
		}
		if m != magic {
			return nil, fmt.Errorf("record %d: magic %x, want %08x", len(out), frame[:4], magic)
		}
		n := binary.LittleEndian.Uint32(frame[4:])
		if n < headerLen || n > 4_000_000 {
			return nil, fmt.Errorf("record %d: impossible block length %d", len(out), n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("record %d: block of %d bytes: %w", len(out), n, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func network(t testing.TB, id chains.ID) *bitcoin.Network {
	t.Helper()
	net, err := bitcoin.NetworkFor(id)
	if err != nil {
		t.Fatal(err)
	}
	return net
}
