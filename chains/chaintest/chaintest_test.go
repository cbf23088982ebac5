package chaintest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

var (
	_ Source = (*Chain)(nil)
	// What the fake nodes of chains/bitcoin/bitcointest serve.
	_ interface {
		Hashes() []chains.Hash
		RawBlock(h chains.Hash) ([]byte, bool)
	} = (*Chain)(nil)
)

// The in-memory chain passes its own suite.
func TestChainConformance(t *testing.T) {
	RunSourceTests(t, func(t *testing.T, c *Chain) Source { return c })
}

func mustHash(t testing.TB, s string) chains.Hash {
	t.Helper()
	h, err := chains.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMainnet(t *testing.T) {
	blocks := Mainnet(t, 3)
	want := []string{
		"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
		"00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
		"000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
	}
	if len(blocks) != len(want) {
		t.Fatalf("Mainnet(3) returned %d blocks, want 3", len(blocks))
	}
	for i, b := range blocks {
		if got := HeaderHash(b); got != mustHash(t, want[i]) {
			t.Errorf("block %d hash = %s, want %s", i, got, want[i])
		}
		if i > 0 && PrevHash(b) != HeaderHash(blocks[i-1]) {
			t.Errorf("block %d parent = %s, want %s", i, PrevHash(b), HeaderHash(blocks[i-1]))
		}
	}
}

func TestForkFixture(t *testing.T) {
	main, alt := ForkFixture(t)
	// Prefixes from chains/bitcoin/testdata/blkfile/README.md.
	prefixes := []struct {
		name  string
		block []byte
		want  string
	}{
		{"2", main[2], "00000000952ccb1b"},
		{"3A", alt[0], "00000000474284d2"},
		{"4A", alt[1], "00000000551dc04c"},
		{"5A", alt[2], "00000000195f8518"},
	}
	for _, p := range prefixes {
		if got := HeaderHash(p.block).String(); !strings.HasPrefix(got, p.want) {
			t.Errorf("block %s hash = %s, want prefix %s", p.name, got, p.want)
		}
	}
	if PrevHash(alt[0]) != HeaderHash(main[2]) {
		t.Errorf("3A parent = %s, want block 2 %s", PrevHash(alt[0]), HeaderHash(main[2]))
	}
	// The fixtures decode and link up, on both branches.
	net := network(t, chains.BTC)
	c := NewChain(t, net, main)
	c.Reorg(2, alt...)
}

func TestChainReorgKeepsReplacedBlocks(t *testing.T) {
	main, alt := ForkFixture(t)
	c := NewChain(t, network(t, chains.BTC), main)
	before := c.Hashes()
	var added [][]byte
	c.OnNewBlocks(func(raw [][]byte) { added = append(added, raw...) })
	c.Reorg(2, alt...)

	want := []chains.Hash{HeaderHash(main[0]), HeaderHash(main[1]), HeaderHash(main[2]), HeaderHash(alt[0]), HeaderHash(alt[1]), HeaderHash(alt[2])}
	if got := c.Hashes(); !slices.Equal(got, want) {
		t.Errorf("Hashes after Reorg = %v, want %v", got, want)
	}
	if before[3] != HeaderHash(main[3]) || len(before) != 5 {
		t.Errorf("Hashes snapshot taken before the Reorg changed: %v", before)
	}
	for _, b := range main {
		if raw, ok := c.RawBlock(HeaderHash(b)); !ok || !slices.Equal(raw, b) {
			t.Errorf("RawBlock(%s) of the replaced branch = %d bytes, %v; want the block", HeaderHash(b), len(raw), ok)
		}
	}
	if _, ok := c.RawBlock(chains.Hash{1}); ok {
		t.Error("RawBlock of an unknown hash found a block")
	}
	if len(added) != 3 || !slices.Equal(added[0], alt[0]) || !slices.Equal(added[2], alt[2]) {
		t.Errorf("OnNewBlocks got %d blocks, want 3A, 4A, 5A", len(added))
	}
	raws := c.RawBlocks()
	if len(raws) != 6 || !slices.Equal(raws[5], alt[2]) {
		t.Errorf("RawBlocks = %d blocks, want 6 ending in 5A", len(raws))
	}
	// The chain's own copy is not shared with callers.
	raws[0][0] ^= 1
	if b, _ := c.Block(t.Context(), 0); b.Hash != HeaderHash(main[0]) {
		t.Errorf("modifying RawBlocks' result changed block 0 to %s", b.Hash)
	}
}

func TestBlkFile(t *testing.T) {
	blocks := Mainnet(t, 5)
	net := network(t, chains.BTC)
	file := BlkFile(net, blocks...)
	if got := file[:4]; string(got) != "\xf9\xbe\xb4\xd9" {
		t.Errorf("magic = %x, want f9beb4d9", got)
	}
	got, err := readFramed(strings.NewReader(string(file)), net.Magic(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blocks) {
		t.Fatalf("read back %d blocks, want %d", len(got), len(blocks))
	}
	for i := range got {
		if !slices.Equal(got[i], blocks[i]) {
			t.Errorf("block %d differs after framing", i)
		}
	}
}

// recorder is a testing.TB that records failures instead of failing the
// test, to check that the suite's checks catch broken sources. Run it with
// run: Fatal ends the goroutine as it does in a real test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Fail()   { r.Errorf("Fail") }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs) > 0
}
func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) FailNow()                          { r.Errorf("FailNow"); runtime.Goexit() }

// run calls fn with a recorder in a goroutine of its own and returns what
// it recorded.
func run(t *testing.T, fn func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs
}

// broken is a source over a Chain with one fault.
type broken struct {
	*Chain
	blockHash func(ctx context.Context, h int64) (chains.Hash, error)
	block     func(ctx context.Context, h int64) (chains.Block, error)
}

func (b *broken) BlockHash(ctx context.Context, h int64) (chains.Hash, error) {
	if b.blockHash != nil {
		return b.blockHash(ctx, h)
	}
	return b.Chain.BlockHash(ctx, h)
}

func (b *broken) Block(ctx context.Context, h int64) (chains.Block, error) {
	if b.block != nil {
		return b.block(ctx, h)
	}
	return b.Chain.Block(ctx, h)
}

// The checks fail on sources that break the contract.
func TestChecksCatchBrokenSources(t *testing.T) {
	net := network(t, chains.BTC)
	c := NewChain(t, net, Mainnet(t, 20))
	notFound := errors.New("not found")
	tests := []struct {
		name  string
		src   func() Source
		check func(tb testing.TB, src Source)
		want  string // in the first message
	}{
		{
			name: "beyond tip without ErrBeyondTip",
			src: func() Source {
				return &broken{Chain: c, blockHash: func(ctx context.Context, h int64) (chains.Hash, error) {
					if h > 19 {
						return chains.Hash{}, notFound
					}
					return c.BlockHash(ctx, h)
				}}
			},
			check: func(tb testing.TB, src Source) { checkBeyondTip(tb, src, []int64{20}) },
			want:  "BlockHash(20)",
		},
		{
			name: "negative height wraps",
			src: func() Source {
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					return c.Block(ctx, max(h, 0))
				}}
			},
			check: func(tb testing.TB, src Source) { checkBeyondTip(tb, src, []int64{-1}) },
			want:  "Block(-1)",
		},
		{
			name: "block of the height before",
			src: func() Source {
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					b, err := c.Block(ctx, max(h-1, 0))
					b.Height = h
					return b, err
				}}
			},
			check: func(tb testing.TB, src Source) { checkBlocks(tb, src, c) },
			want:  "Block(1).PrevHash",
		},
		{
			name: "wrong height",
			src: func() Source {
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					b, err := c.Block(ctx, h)
					b.Height++
					return b, err
				}}
			},
			check: func(tb testing.TB, src Source) { checkBlocks(tb, src, c) },
			want:  "Block(0).Height = 1, want 0",
		},
		{
			name: "wrong txid",
			src: func() Source {
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					b, err := c.Block(ctx, h)
					if h == 7 {
						b.Txs[0].Hash[0] ^= 1
					}
					return b, err
				}}
			},
			check: func(tb testing.TB, src Source) { checkBlocks(tb, src, c) },
			want:  "Block(7).Txs[0]",
		},
		{
			name: "wrong block in CheckSource",
			src: func() Source {
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					b, err := c.Block(ctx, max(h-1, 0))
					b.Height = h
					return b, err
				}}
			},
			check: func(tb testing.TB, src Source) { CheckSource(tb, src, c.Hashes()) },
			want:  "Block(1) = hash",
		},
		{
			name: "wrong hash in CheckSource",
			src: func() Source {
				return &broken{Chain: c, blockHash: func(ctx context.Context, h int64) (chains.Hash, error) {
					return c.BlockHash(ctx, h/2)
				}}
			},
			check: func(tb testing.TB, src Source) { CheckSource(tb, src, c.Hashes()) },
			want:  "BlockHash(1) = ",
		},
		{
			name: "ignores a cancelled context",
			src: func() Source {
				return &broken{Chain: c, block: func(_ context.Context, h int64) (chains.Block, error) {
					return c.Block(context.Background(), h)
				}}
			},
			check: checkCancelled,
			want:  "Block(1) with a cancelled context succeeded",
		},
		{
			name: "one reader fails",
			src: func() Source {
				var mu sync.Mutex
				calls := 0
				return &broken{Chain: c, block: func(ctx context.Context, h int64) (chains.Block, error) {
					mu.Lock()
					calls++
					n := calls
					mu.Unlock()
					if n == 50 {
						return chains.Block{}, errors.New("busy")
					}
					return c.Block(ctx, h)
				}}
			},
			check: func(tb testing.TB, src Source) { checkConcurrent(tb, src, c.Hashes()) },
			want:  "busy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := run(t, func(tb testing.TB) { tt.check(tb, tt.src()) })
			if len(msgs) == 0 {
				t.Fatalf("check passed, want a failure with %q", tt.want)
			}
			if !strings.Contains(msgs[0], tt.want) {
				t.Errorf("first failure = %q, want it to contain %q", msgs[0], tt.want)
			}
		})
	}
	t.Run("correct source passes", func(t *testing.T) {
		if msgs := run(t, func(tb testing.TB) {
			checkBeyondTip(tb, c, []int64{20, -1})
			checkBlocks(tb, c, c)
			CheckSource(tb, c, c.Hashes())
			checkCancelled(tb, c)
			checkConcurrent(tb, c, c.Hashes())
		}); len(msgs) > 0 {
			t.Errorf("checks of the in-memory chain failed: %q", msgs)
		}
	})
}

// lagging shows the chain as it was at the last Rescan.
type lagging struct {
	c       *Chain
	mu      sync.Mutex
	snap    *Chain
	rescans int
}

func (l *lagging) Rescan(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rescans++
	l.snap = NewChain(l.c.t, l.c.Net(), l.c.RawBlocks())
	return nil
}

func (l *lagging) source() *Chain {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snap
}

func (l *lagging) Tip(ctx context.Context) (int64, chains.Hash, error) { return l.source().Tip(ctx) }
func (l *lagging) BlockHash(ctx context.Context, h int64) (chains.Hash, error) {
	return l.source().BlockHash(ctx, h)
}
func (l *lagging) Block(ctx context.Context, h int64) (chains.Block, error) {
	return l.source().Block(ctx, h)
}

// A source that sees new blocks only on Rescan passes the suite: the suite
// rescans it while waiting.
func TestRescannerConformance(t *testing.T) {
	var last *lagging
	RunSourceTests(t, func(t *testing.T, c *Chain) Source {
		l := &lagging{c: c}
		if err := l.Rescan(t.Context()); err != nil {
			t.Fatal(err)
		}
		last = l
		return l
	})
	if last == nil {
		t.Fatal("newSource was never called")
	}
	if last.rescans < 2 {
		t.Errorf("the Reorg case rescanned %d times, want at least 2 (open and after the reorg)", last.rescans)
	}
}

func TestChainErrors(t *testing.T) {
	net := network(t, chains.BTC)
	blocks := Mainnet(t, 5)
	main, alt := ForkFixture(t)
	tests := []struct {
		name string
		fn   func(tb testing.TB)
		want string
	}{
		{"no genesis", func(tb testing.TB) { NewChain(tb, net, blocks[1:]) }, "genesis block"},
		{"broken link", func(tb testing.TB) { NewChain(tb, net, [][]byte{blocks[0], blocks[2]}) }, "height 1 has parent"},
		{"short block", func(tb testing.TB) { NewChain(tb, net, [][]byte{blocks[0], blocks[1][:79]}) }, "shorter than a header"},
		{"extend not on tip", func(tb testing.TB) { NewChain(tb, net, blocks[:3]).Extend(blocks[4]) }, "height 3 has parent"},
		{"reorg above tip", func(tb testing.TB) { NewChain(tb, net, main).Reorg(5, alt[0]) }, "Reorg at height 5"},
		{"reorg at wrong fork", func(tb testing.TB) { NewChain(tb, net, main).Reorg(1, alt...) }, "height 2 has parent"},
		{"wrong network", func(tb testing.TB) { NewChain(tb, network(tb, chains.BTCRegtest), blocks) }, "btc-regtest's genesis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := run(t, tt.fn)
			if len(msgs) != 1 || !strings.Contains(msgs[0], tt.want) {
				t.Errorf("failures = %q, want one containing %q", msgs, tt.want)
			}
		})
	}

	t.Run("beyond tip", func(t *testing.T) {
		c := NewChain(t, net, blocks)
		for _, h := range []int64{5, -1} {
			if _, err := c.Block(t.Context(), h); !errors.Is(err, bitcoin.ErrBeyondTip) {
				t.Errorf("Block(%d) error = %v, want ErrBeyondTip", h, err)
			}
		}
	})
}
