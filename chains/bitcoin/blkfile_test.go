package bitcoin_test

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/internal/bundle"
)

const bdMainnetGenesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"

var (
	bdMainnetMagic = [4]byte{0xf9, 0xbe, 0xb4, 0xd9}
	bdTestnetMagic = [4]byte{0x0b, 0x11, 0x09, 0x07}
)

var bdBlocks = sync.OnceValues(func() ([][]byte, error) {
	r, err := bundle.MainnetBlocksReader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return bdParseFramed(b, bdMainnetMagic)
})

// bdMainnet returns the real mainnet blocks 0..14131, checked here,
// independently of the reader under test, to be in height order: each
// block's previous-hash field is the double SHA-256 of the block before.
func bdMainnet(t testing.TB) [][]byte {
	t.Helper()
	blocks, err := bdBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 14132 {
		t.Fatalf("bundle has %d blocks, want 14132", len(blocks))
	}
	return blocks
}

func TestBundledBlocksAreAChain(t *testing.T) {
	blocks := bdMainnet(t)
	if got := bdHash(blocks[0]).String(); got != bdMainnetGenesis {
		t.Fatalf("block 0 hash = %s, want %s", got, bdMainnetGenesis)
	}
	for i := 1; i < len(blocks); i++ {
		prev := bdHash(blocks[i-1])
		var link chains.Hash
		for j := range link {
			link[j] = blocks[i][4+31-j]
		}
		if link != prev {
			t.Fatalf("block %d links to %s, block %d is %s", i, link, i-1, prev)
		}
	}
}

func bdParseFramed(b []byte, magic [4]byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off+8 <= len(b); {
		if [4]byte(b[off:off+4]) != magic {
			if bytes.Equal(b[off:off+4], make([]byte, 4)) {
				break
			}
			return nil, fmt.Errorf("offset %d: magic %x", off, b[off:off+4])
		}
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if off+8+n > len(b) {
			return nil, fmt.Errorf("offset %d: truncated", off)
		}
		out = append(out, b[off+8:off+8+n])
		off += 8 + n
	}
	return out, nil
}

// bdHash is the block hash in display order: double SHA-256 of the 80-byte
// header, reversed.
func bdHash(block []byte) chains.Hash {
	a := sha256.Sum256(block[:80])
	b := sha256.Sum256(a[:])
	var h chains.Hash
	for i := range h {
		h[i] = b[31-i]
	}
	return h
}

// bdFrame returns blocks in Core framing.
func bdFrame(magic [4]byte, blocks ...[]byte) []byte {
	var out []byte
	for _, b := range blocks {
		out = append(out, magic[:]...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// bdXOR obfuscates b, to be stored at offset off, with key as Core does.
func bdXOR(b []byte, key [8]byte, off int64) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ key[(off+int64(i))%8]
	}
	return out
}

func bdWrite(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func bdNet(t testing.TB, id chains.ID) *bitcoin.Network {
	t.Helper()
	n, err := bitcoin.NetworkFor(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func bdOpen(t testing.TB, dir string, opts bitcoin.BlockDirOptions) *bitcoin.BlockDir {
	t.Helper()
	d, err := bitcoin.OpenBlockDir(context.Background(), dir, bdNet(t, chains.BTC), opts)
	if err != nil {
		t.Fatalf("OpenBlockDir: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func bdOpenErr(t testing.TB, dir string, net *bitcoin.Network, opts bitcoin.BlockDirOptions) error {
	t.Helper()
	d, err := bitcoin.OpenBlockDir(context.Background(), dir, net, opts)
	if err == nil {
		d.Close()
		t.Fatalf("OpenBlockDir(%s) succeeded, want an error", dir)
	}
	return err
}

// bdCheckChain asserts that the best chain is exactly want[0..len-1].
func bdCheckChain(t testing.TB, d *bitcoin.BlockDir, want [][]byte) {
	t.Helper()
	ctx := context.Background()
	h, hash, err := d.Tip(ctx)
	if err != nil {
		t.Fatalf("Tip: %v", err)
	}
	if h != int64(len(want)-1) || hash != bdHash(want[len(want)-1]) {
		t.Fatalf("Tip = %d %s, want %d %s", h, hash, len(want)-1, bdHash(want[len(want)-1]))
	}
	for i, b := range want {
		got, err := d.BlockHash(ctx, int64(i))
		if err != nil {
			t.Fatalf("BlockHash(%d): %v", i, err)
		}
		if got != bdHash(b) {
			t.Fatalf("BlockHash(%d) = %s, want %s", i, got, bdHash(b))
		}
	}
	if _, err := d.BlockHash(ctx, int64(len(want))); !errors.Is(err, bitcoin.ErrBeyondTip) {
		t.Fatalf("BlockHash(%d) error = %v, want ErrBeyondTip", len(want), err)
	}
}

func bdShuffled(rng *rand.Rand, blocks [][]byte) [][]byte {
	s := append([][]byte(nil), blocks...)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// bdSplit cuts blocks into n runs of random lengths.
func bdSplit(rng *rand.Rand, blocks [][]byte, n int) [][][]byte {
	cuts := map[int]bool{}
	for len(cuts) < n-1 {
		cuts[1+rng.IntN(len(blocks)-1)] = true
	}
	var out [][][]byte
	start := 0
	for i := 1; i <= len(blocks); i++ {
		if i == len(blocks) || cuts[i] {
			out = append(out, blocks[start:i])
			start = i
		}
	}
	return out
}

func TestBlockDirShuffledFiles(t *testing.T) {
	blocks := bdMainnet(t)
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	parts := bdSplit(rng, bdShuffled(rng, blocks), 5)
	for i, p := range parts {
		data := bdFrame(bdMainnetMagic, p...)
		data = append(data, make([]byte, 1000+rng.IntN(5000))...) // preallocated zeros
		bdWrite(t, dir, fmt.Sprintf("blk%05d.dat", len(parts)-1-i), data)
	}
	// Things a Core blocks directory also holds, all to be ignored.
	bdWrite(t, dir, "rev00000.dat", []byte("undo data, not blocks"))
	bdWrite(t, dir, "index/000005.ldb", []byte("leveldb"))
	bdWrite(t, dir, "blk00000.dat.bak", []byte("junk"))
	bdWrite(t, dir, ".lock", nil)

	d := bdOpen(t, dir, bitcoin.BlockDirOptions{})
	bdCheckChain(t, d, blocks)

	ctx := context.Background()
	if h, _ := d.BlockHash(ctx, 0); h.String() != bdMainnetGenesis {
		t.Errorf("genesis hash = %s, want %s", h, bdMainnetGenesis)
	}
	if h, _ := d.BlockHash(ctx, 14131); h != bdHash(blocks[14131]) {
		t.Errorf("block 14131 hash = %s, want %s", h, bdHash(blocks[14131]))
	}
	if n := d.UnconnectedCount(); n != 0 {
		t.Errorf("UnconnectedCount = %d, want 0", n)
	}
	rep := d.LastRescan()
	if rep.NewBlocks != 14132 || rep.NewTip != 14131 || rep.Reorg {
		t.Errorf("LastRescan = %+v, want 14132 new blocks, tip 14131, no reorg", rep)
	}

	// Every block decodes, from several goroutines at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for h := w; h < len(blocks); h += 8 {
				blk, err := d.Block(ctx, int64(h))
				if err != nil {
					errs <- fmt.Errorf("Block(%d): %w", h, err)
					return
				}
				if blk.Height != int64(h) || blk.Hash != bdHash(blocks[h]) || len(blk.Txs) == 0 || !blk.Txs[0].Coinbase {
					errs <- fmt.Errorf("Block(%d) = height %d hash %s, %d txs", h, blk.Height, blk.Hash, len(blk.Txs))
					return
				}
				raw, err := d.RawBlock(ctx, int64(h))
				if err != nil || !bytes.Equal(raw, blocks[h]) {
					errs <- fmt.Errorf("RawBlock(%d) differs from the block (err %v)", h, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBlockDirXOR(t *testing.T) {
	blocks := bdMainnet(t)[:3000]
	rng := rand.New(rand.NewPCG(3, 4))
	var key [8]byte
	for i := range key {
		key[i] = byte(rng.Uint32()) | 1 // no zero byte, so no key byte is a no-op
	}
	dir := t.TempDir()
	bdWrite(t, dir, "xor.dat", key[:])
	parts := bdSplit(rng, bdShuffled(rng, blocks), 3)
	for i, p := range parts {
		data := bdXOR(bdFrame(bdMainnetMagic, p...), key, 0)
		switch i {
		case 0: // Core: preallocated zeros are written around the obfuscation
			data = append(data, make([]byte, 4096)...)
		case 1: // zeros obfuscated like data
			data = append(data, bdXOR(make([]byte, 4096), key, int64(len(data)))...)
		}
		bdWrite(t, dir, fmt.Sprintf("blk%05d.dat", i), data)
	}
	d := bdOpen(t, dir, bitcoin.BlockDirOptions{})
	bdCheckChain(t, d, blocks)
	raw, err := d.RawBlock(context.Background(), 2999)
	if err != nil || !bytes.Equal(raw, blocks[2999]) {
		t.Errorf("RawBlock(2999) is not the de-obfuscated block (err %v)", err)
	}
	if _, err := d.Block(context.Background(), 2999); err != nil {
		t.Errorf("Block(2999): %v", err)
	}

	t.Run("without xor.dat the files are garbage", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "xor.dat")); err != nil {
			t.Fatal(err)
		}
		err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
		if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), "unknown magic") {
			t.Errorf("error = %v, want ErrCorruptBlockFile with unknown magic", err)
		}
	})
	t.Run("all-zero key means none", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "xor.dat", make([]byte, 8))
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, blocks...))
		bdCheckChain(t, bdOpen(t, dir, bitcoin.BlockDirOptions{}), blocks)
	})
	t.Run("short key", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "xor.dat", []byte{1, 2, 3})
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, blocks...))
		err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
		if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), "xor.dat") {
			t.Errorf("error = %v, want ErrCorruptBlockFile naming xor.dat", err)
		}
	})
}

// bdFork loads btcd's fork fixtures: genesis, 1, 2, 3, 4 and the branch
// 2 -> 3A -> 4A -> 5A, all difficulty 1.
func bdFork(t testing.TB) (main, side [][]byte) {
	t.Helper()
	load := func(name string) [][]byte {
		f, err := os.Open(filepath.Join("testdata", "blkfile", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(bzip2.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := bdParseFramed(b, bdMainnetMagic)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return blocks
	}
	main = load("blk_0_to_4.dat.bz2")
	side = append(append(load("blk_3A.dat.bz2"), load("blk_4A.dat.bz2")...), load("blk_5A.dat.bz2")...)
	if len(main) != 5 || len(side) != 3 {
		t.Fatalf("fork fixtures: %d main and %d side blocks, want 5 and 3", len(main), len(side))
	}
	return main, side
}

func TestBlockDirSideBranches(t *testing.T) {
	main, side := bdFork(t)
	sideChain := func(n int) [][]byte { // genesis, 1, 2, 3A, ...
		return append(append([][]byte(nil), main[:3]...), side[:n]...)
	}
	tests := []struct {
		name  string
		files [][][]byte
		want  [][]byte
	}{
		{"longer main chain wins", [][][]byte{{main[0], main[1], main[2], main[3], main[4], side[0]}}, main},
		{"equal work: first stored wins (main)", [][][]byte{main, side[:2]}, main},
		{"equal work: first stored wins (side, stored before its parent)", [][][]byte{side[:2], main}, sideChain(2)},
		{"more work wins", [][][]byte{main, side}, sideChain(3)},
		{"more work wins, reversed order", [][][]byte{{side[2], side[1], side[0]}, {main[4], main[3], main[2], main[1], main[0]}}, sideChain(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, f := range tt.files {
				bdWrite(t, dir, fmt.Sprintf("blk%05d.dat", i), bdFrame(bdMainnetMagic, f...))
			}
			d := bdOpen(t, dir, bitcoin.BlockDirOptions{})
			bdCheckChain(t, d, tt.want)
			if n := d.UnconnectedCount(); n != 0 {
				t.Errorf("UnconnectedCount = %d, want 0 (side blocks are connected, just not best)", n)
			}
		})
	}

	t.Run("reorg on rescan", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, append(main, side[:2]...)...))
		d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
		bdCheckChain(t, d, main)
		bdWrite(t, dir, "blk00001.dat", bdFrame(bdMainnetMagic, side[2]))
		if err := d.Rescan(context.Background()); err != nil {
			t.Fatalf("Rescan: %v", err)
		}
		bdCheckChain(t, d, sideChain(3))
		want := bitcoin.RescanReport{
			NewBlocks: 1,
			OldTip:    4, OldTipHash: bdHash(main[4]),
			NewTip: 5, NewTipHash: bdHash(side[2]),
			Reorg: true, ForkHeight: 2,
		}
		if diff := cmp.Diff(want, d.LastRescan()); diff != "" {
			t.Errorf("LastRescan (-want +got):\n%s", diff)
		}
	})
}

// bdMine returns a header-only block (header and a zero transaction count:
// enough for the index, not for Block) on parent with the given bits.
func bdMine(t testing.TB, parent chains.Hash, bits uint32, tag uint32) []byte {
	t.Helper()
	b := make([]byte, 81)
	binary.LittleEndian.PutUint32(b[0:], 1)
	for i := range 32 {
		b[4+i] = parent[31-i]
	}
	binary.LittleEndian.PutUint32(b[36:], tag) // merkle root stand-in
	binary.LittleEndian.PutUint32(b[68:], 1296688602+tag)
	binary.LittleEndian.PutUint32(b[72:], bits)
	exp, mant := bits>>24, uint64(bits&0x007fffff)
	target := new([32]byte) // big-endian
	for i := 0; i < 3; i++ {
		pos := 32 - int(exp) + i
		if pos >= 0 && pos < 32 {
			target[pos] = byte(mant >> (8 * (2 - i)))
		}
	}
	for nonce := uint32(0); nonce < 1<<24; nonce++ {
		binary.LittleEndian.PutUint32(b[76:], nonce)
		h := bdHash(b)
		if bytes.Compare(h[:], target[:]) <= 0 {
			return b
		}
	}
	t.Fatalf("no nonce found for bits %08x", bits)
	return nil
}

func TestBlockDirMostWorkNotLongest(t *testing.T) {
	var gen bytes.Buffer
	if err := chaincfg.RegressionNetParams.GenesisBlock.Serialize(&gen); err != nil {
		t.Fatal(err)
	}
	regtest := bdNet(t, chains.BTCRegtest)
	g := gen.Bytes()
	if bdHash(g) != regtest.GenesisHash() {
		t.Fatalf("regtest genesis hash %s, want %s", bdHash(g), regtest.GenesisHash())
	}
	// Long branch: 4 blocks of regtest difficulty (work 2 each).
	long := [][]byte{g}
	for i := range 4 {
		long = append(long, bdMine(t, bdHash(long[len(long)-1]), 0x207fffff, uint32(10+i)))
	}
	// Short branch: 1 block with 2^16 times the work.
	short := [][]byte{g, bdMine(t, bdHash(g), 0x1f00ffff, 99)}
	dir := t.TempDir()
	regMagic := [4]byte{0xfa, 0xbf, 0xb5, 0xda}
	bdWrite(t, dir, "blk00000.dat", bdFrame(regMagic, long...))
	d, err := bitcoin.OpenBlockDir(context.Background(), dir, regtest, bitcoin.BlockDirOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bdCheckChain(t, d, long)

	bdWrite(t, dir, "blk00001.dat", bdFrame(regMagic, short[1]))
	if err := d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	bdCheckChain(t, d, short)
	if rep := d.LastRescan(); !rep.Reorg || rep.ForkHeight != 0 || rep.OldTip != 4 || rep.NewTip != 1 {
		t.Errorf("LastRescan = %+v, want a reorg from height 4 to 1 at fork height 0", rep)
	}
}

func TestBlockDirWrongNetwork(t *testing.T) {
	blocks := bdMainnet(t)[:100]
	t.Run("testnet record in a mainnet dir", func(t *testing.T) {
		dir := t.TempDir()
		good := bdFrame(bdMainnetMagic, blocks[:50]...)
		path := bdWrite(t, dir, "blk00000.dat", append(good, bdFrame(bdTestnetMagic, blocks[50:]...)...))
		err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
		if !errors.Is(err, bitcoin.ErrWrongNetwork) {
			t.Fatalf("error = %v, want ErrWrongNetwork", err)
		}
		for _, want := range []string{path, fmt.Sprintf("offset %d", len(good)), "0b110907", "btc-testnet"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	})
	t.Run("mainnet dir opened as testnet", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, blocks...))
		err := bdOpenErr(t, dir, bdNet(t, chains.BTCTestnet), bitcoin.BlockDirOptions{Follow: true})
		if !errors.Is(err, bitcoin.ErrWrongNetwork) || !strings.Contains(err.Error(), "offset 0: magic f9beb4d9") {
			t.Fatalf("error = %v, want ErrWrongNetwork at offset 0 naming f9beb4d9", err)
		}
	})
	t.Run("unknown magic", func(t *testing.T) {
		dir := t.TempDir()
		good := bdFrame(bdMainnetMagic, blocks[:10]...)
		bdWrite(t, dir, "blk00000.dat", append(good, bdFrame([4]byte{0xde, 0xad, 0xbe, 0xef}, blocks[10])...))
		err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
		if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d: unknown magic deadbeef", len(good))) {
			t.Fatalf("error = %v, want ErrCorruptBlockFile naming the offset and magic", err)
		}
	})
}

func TestBlockDirTruncated(t *testing.T) {
	blocks := bdMainnet(t)[:200]
	full := bdFrame(bdMainnetMagic, blocks...)
	lastOff := len(bdFrame(bdMainnetMagic, blocks[:199]...))
	for _, cut := range []int{lastOff + 2, lastOff + 6, lastOff + 50, len(full) - 1} {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			dir := t.TempDir()
			path := bdWrite(t, dir, "blk00000.dat", full[:cut])
			err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
			if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), fmt.Sprintf("%s offset %d: truncated", path, lastOff)) {
				t.Fatalf("error = %v, want a truncated record at %s offset %d", err, path, lastOff)
			}

			// A node writing the last file: stop before the record, take
			// it when it is complete.
			d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
			bdCheckChain(t, d, blocks[:199])
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(full[cut:]); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := d.Rescan(context.Background()); err != nil {
				t.Fatalf("Rescan: %v", err)
			}
			bdCheckChain(t, d, blocks)
		})
	}
	t.Run("follow: truncation in an older file is an error", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", full[:len(full)-1])
		bdWrite(t, dir, "blk00001.dat", bdFrame(bdMainnetMagic, bdMainnet(t)[200:300]...))
		err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{Follow: true})
		if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), "blk00000.dat") {
			t.Fatalf("error = %v, want ErrCorruptBlockFile in blk00000.dat", err)
		}
	})
	t.Run("follow: a record left incomplete becomes an error once a newer file exists", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", full[:len(full)-1])
		d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
		bdCheckChain(t, d, blocks[:199])
		bdWrite(t, dir, "blk00001.dat", bdFrame(bdMainnetMagic, bdMainnet(t)[200:300]...))
		if err := d.Rescan(context.Background()); !errors.Is(err, bitcoin.ErrCorruptBlockFile) {
			t.Fatalf("Rescan error = %v, want ErrCorruptBlockFile", err)
		}
	})
}

func TestBlockDirCorruptRecord(t *testing.T) {
	blocks := bdMainnet(t)[:100]
	off := len(bdFrame(bdMainnetMagic, blocks[:50]...)) // record of block 50
	n := len(blocks[50])
	tests := []struct {
		name   string
		edit   func(b []byte)
		offset int
		want   string
	}{
		{"length beyond the file", func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 1<<24) }, off, "truncated record"},
		{"length beyond any block", func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 0xffffffff) }, off, "exceeds the limit"},
		{"length shorter than a header", func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 79) }, off, "shorter than an 80-byte header"},
		{"length one short", func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], uint32(n-1)) }, off + 8 + n - 1, "unknown magic"},
		{"header without proof of work", func(b []byte) { b[off+8+76] ^= 0x55 }, off, "header does not parse"},
		{"zero length", func(b []byte) { binary.LittleEndian.PutUint32(b[off+4:], 0) }, off, "shorter than an 80-byte header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bdFrame(bdMainnetMagic, blocks...)
			tt.edit(data)
			dir := t.TempDir()
			path := bdWrite(t, dir, "blk00000.dat", data)
			err := bdOpenErr(t, dir, bdNet(t, chains.BTC), bitcoin.BlockDirOptions{})
			want := fmt.Sprintf("%s offset %d: ", path, tt.offset)
			if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrCorruptBlockFile with %q and %q", err, want, tt.want)
			}
		})
	}
}

func TestBlockDirGrowing(t *testing.T) {
	blocks := bdMainnet(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var key [8]byte
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	bdWrite(t, dir, "xor.dat", key[:])
	// File 0 is full; file 1 is being written: data, then preallocated
	// zeros (not obfuscated, as Core allocates them).
	f0 := bdFrame(bdMainnetMagic, bdShuffled(rng, blocks[:3000])...)
	bdWrite(t, dir, "blk00000.dat", bdXOR(f0, key, 0))
	f1 := bdFrame(bdMainnetMagic, blocks[3000:6000]...)
	path1 := bdWrite(t, dir, "blk00001.dat", append(bdXOR(f1, key, 0), make([]byte, 1<<20)...))

	d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
	bdCheckChain(t, d, blocks[:6000])

	// Nothing new.
	if err := d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep := d.LastRescan(); rep.NewBlocks != 0 || rep.NewTip != 5999 || rep.Reorg {
		t.Errorf("LastRescan after no change = %+v", rep)
	}

	// The node fills file 1's preallocated space and goes beyond it, then
	// starts file 2.
	more := bdFrame(bdMainnetMagic, blocks[6000:9000]...)
	f, err := os.OpenFile(path1, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bdXOR(more, key, int64(len(f1))), int64(len(f1))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f2 := bdFrame(bdMainnetMagic, bdShuffled(rng, blocks[9000:])...)
	bdWrite(t, dir, "blk00002.dat", bdXOR(f2, key, 0))

	if err := d.Rescan(context.Background()); err != nil {
		t.Fatalf("Rescan: %v", err)
	}
	bdCheckChain(t, d, blocks)
	want := bitcoin.RescanReport{
		NewBlocks: len(blocks) - 6000,
		OldTip:    5999, OldTipHash: bdHash(blocks[5999]),
		NewTip: 14131, NewTipHash: bdHash(blocks[14131]),
		ForkHeight: -1,
	}
	if diff := cmp.Diff(want, d.LastRescan()); diff != "" {
		t.Errorf("LastRescan (-want +got):\n%s", diff)
	}
	if _, err := d.Block(context.Background(), 7000); err != nil {
		t.Errorf("Block(7000) from the filled padding: %v", err)
	}
}

func TestBlockDirEmpty(t *testing.T) {
	net := bdNet(t, chains.BTC)
	t.Run("empty dir", func(t *testing.T) {
		dir := t.TempDir()
		if err := bdOpenErr(t, dir, net, bitcoin.BlockDirOptions{}); !errors.Is(err, bitcoin.ErrNoBlocks) || !strings.Contains(err.Error(), dir) {
			t.Errorf("error = %v, want ErrNoBlocks naming %s", err, dir)
		}
	})
	t.Run("only padding and undo files", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", make([]byte, 1<<16))
		bdWrite(t, dir, "rev00000.dat", []byte{1, 2, 3})
		if err := bdOpenErr(t, dir, net, bitcoin.BlockDirOptions{Follow: true}); !errors.Is(err, bitcoin.ErrNoBlocks) {
			t.Errorf("error = %v, want ErrNoBlocks", err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		if err := bdOpenErr(t, dir, net, bitcoin.BlockDirOptions{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("no genesis", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, bdMainnet(t)[1:100]...))
		err := bdOpenErr(t, dir, net, bitcoin.BlockDirOptions{})
		if !errors.Is(err, bitcoin.ErrNoGenesis) {
			t.Fatalf("error = %v, want ErrNoGenesis", err)
		}
		for _, want := range []string{dir, "99 blocks", "missing parent " + bdMainnetGenesis} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		dir := t.TempDir()
		bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, bdMainnet(t)...))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestBlockDirBrokenLink(t *testing.T) {
	blocks := bdMainnet(t)
	rng := rand.New(rand.NewPCG(7, 8))
	var rest [][]byte
	rest = append(rest, blocks[:5000]...)
	rest = append(rest, blocks[5001:]...)
	dir := t.TempDir()
	for i, p := range bdSplit(rng, bdShuffled(rng, rest), 3) {
		bdWrite(t, dir, fmt.Sprintf("blk%05d.dat", i), bdFrame(bdMainnetMagic, p...))
	}
	d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
	bdCheckChain(t, d, blocks[:5000])
	missing := bdHash(blocks[5000])
	if diff := cmp.Diff([]chains.Hash{missing}, d.Unconnected()); diff != "" {
		t.Errorf("Unconnected (-want +got):\n%s", diff)
	}
	if n := d.UnconnectedCount(); n != 14131-5000 {
		t.Errorf("UnconnectedCount = %d, want %d", n, 14131-5000)
	}
	_, err := d.Block(context.Background(), 5000)
	if !errors.Is(err, bitcoin.ErrBeyondTip) || !strings.Contains(err.Error(), "ends at height 4999") || !strings.Contains(err.Error(), missing.String()) {
		t.Errorf("Block(5000) error = %v, want ErrBeyondTip naming the tip and the missing parent", err)
	}

	// The missing block turns up in a new file.
	bdWrite(t, dir, "blk00003.dat", bdFrame(bdMainnetMagic, blocks[5000]))
	if err := d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	bdCheckChain(t, d, blocks)
	if u := d.Unconnected(); len(u) != 0 {
		t.Errorf("Unconnected after the gap is filled = %v", u)
	}
}

func TestBlockDirRewrittenFile(t *testing.T) {
	blocks := bdMainnet(t)[:100]
	dir := t.TempDir()
	data := bdFrame(bdMainnetMagic, blocks...)
	path := bdWrite(t, dir, "blk00000.dat", data)
	d := bdOpen(t, dir, bitcoin.BlockDirOptions{})
	off := len(bdFrame(bdMainnetMagic, blocks[:10]...))
	data[off+8+5] ^= 1 // previous-hash byte of block 10
	bdWrite(t, dir, "blk00000.dat", data)
	_, err := d.Block(context.Background(), 10)
	if !errors.Is(err, bitcoin.ErrCorruptBlockFile) || !strings.Contains(err.Error(), fmt.Sprintf("%s offset %d", path, off)) {
		t.Errorf("Block(10) of a rewritten file: error = %v, want ErrCorruptBlockFile at %s offset %d", err, path, off)
	}
}

func TestBlockDirFewHandlesManyReaders(t *testing.T) {
	blocks := bdMainnet(t)[:2000]
	dir := t.TempDir()
	for i := range 20 {
		bdWrite(t, dir, fmt.Sprintf("blk%05d.dat", i), bdFrame(bdMainnetMagic, blocks[i*100:(i+1)*100]...))
	}
	d := bdOpen(t, dir, bitcoin.BlockDirOptions{MaxOpenFiles: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed sync.Once
	for w := range 6 {
		wg.Go(func() {
			for h := w; h < len(blocks); h += 6 {
				if _, err := d.Block(ctx, int64(h)); err != nil {
					failed.Do(func() { t.Errorf("Block(%d): %v", h, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Block(ctx, 1); !errors.Is(err, bitcoin.ErrBlockDirClosed) {
		t.Errorf("Block after Close: error = %v, want ErrBlockDirClosed", err)
	}
	if _, _, err := d.Tip(ctx); !errors.Is(err, bitcoin.ErrBlockDirClosed) {
		t.Errorf("Tip after Close: error = %v, want ErrBlockDirClosed", err)
	}
}

// bdCountdownCtx reports cancellation from the n-th call of Err on.
type bdCountdownCtx struct {
	context.Context
	left atomic.Int32
}

func (c *bdCountdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestBlockDirRescanCanceledMidFile(t *testing.T) {
	blocks := bdMainnet(t)
	dir := t.TempDir()
	bdWrite(t, dir, "blk00000.dat", bdFrame(bdMainnetMagic, blocks[:1000]...))
	d := bdOpen(t, dir, bitcoin.BlockDirOptions{Follow: true})
	bdWrite(t, dir, "blk00001.dat", bdFrame(bdMainnetMagic, blocks[1000:]...))

	// One Err call per file, then one per 1024 records: the fourth call
	// stops the scan inside blk00001.dat.
	ctx := &bdCountdownCtx{Context: context.Background()}
	ctx.left.Store(3)
	if err := d.Rescan(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rescan error = %v, want context.Canceled", err)
	}
	tip, _, err := d.Tip(context.Background())
	if err != nil || tip <= 999 || tip >= 14131 {
		t.Fatalf("Tip after a canceled Rescan = %d, %v; want a partial advance", tip, err)
	}
	if err := d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	bdCheckChain(t, d, blocks)
	if rep := d.LastRescan(); rep.OldTip != tip || rep.NewBlocks != 14131-int(tip) {
		t.Errorf("LastRescan = %+v, want it to resume after block %d", rep, tip)
	}
}
