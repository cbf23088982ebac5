package bitcoin_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

// FuzzBlockDir writes the input as the only blk file of a directory (with
// an obfuscation key when key is not zero) and opens it. Whatever the bytes,
// OpenBlockDir must not panic and must fail with one of the package's
// sentinel errors; when it succeeds, the chain must be readable and stable
// under Rescan.
func FuzzBlockDir(f *testing.F) {
	blocks := bdMainnet(f)
	main, side := bdFork(f)
	good := bdFrame(bdMainnetMagic, blocks[:3]...)
	f.Add(good, uint64(0), false)
	f.Add(bdFrame(bdMainnetMagic, blocks[2], blocks[0], blocks[1]), uint64(0x0102030405060708), false)
	f.Add(append(bdFrame(bdMainnetMagic, append(main, side...)...), make([]byte, 64)...), uint64(0), true)
	f.Add(good[:len(good)-7], uint64(0), true)
	f.Add(good[:len(good)-7], uint64(0), false)
	f.Add(bdFrame(bdTestnetMagic, blocks[0]), uint64(0), false)
	f.Add(make([]byte, 100), uint64(0), false)
	f.Add([]byte{0xf9, 0xbe, 0xb4, 0xd9, 0xff, 0xff, 0xff, 0xff}, uint64(0), true)

	net := bdNet(f, chains.BTC)
	sentinels := []error{bitcoin.ErrNoBlocks, bitcoin.ErrNoGenesis, bitcoin.ErrCorruptBlockFile, bitcoin.ErrWrongNetwork}
	// One directory per fuzzing process, rewritten by each call (calls in
	// a process run one at a time): cheaper than a new one per input.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, key uint64, follow bool) {
		xorPath := filepath.Join(dir, "xor.dat")
		if key != 0 {
			var k [8]byte
			binary.LittleEndian.PutUint64(k[:], key)
			if err := os.WriteFile(xorPath, k[:], 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(xorPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		d, err := bitcoin.OpenBlockDir(ctx, dir, net, bitcoin.BlockDirOptions{Follow: follow})
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("OpenBlockDir error wraps no sentinel: %v", err)
		}
		defer d.Close()
		tip, tipHash, err := d.Tip(ctx)
		if err != nil || tip < 0 {
			t.Fatalf("Tip = %d, %v", tip, err)
		}
		for h := int64(0); h <= tip; h++ {
			hash, err := d.BlockHash(ctx, h)
			if err != nil {
				t.Fatalf("BlockHash(%d): %v", h, err)
			}
			if h == 0 && hash != net.GenesisHash() {
				t.Fatalf("BlockHash(0) = %s, want the genesis block", hash)
			}
			if h == tip && hash != tipHash {
				t.Fatalf("BlockHash(tip) = %s, Tip says %s", hash, tipHash)
			}
			raw, err := d.RawBlock(ctx, h)
			if err != nil {
				t.Fatalf("RawBlock(%d): %v", h, err)
			}
			if bdHash(raw) != hash {
				t.Fatalf("RawBlock(%d) hashes to %s, want %s", h, bdHash(raw), hash)
			}
			if blk, err := d.Block(ctx, h); err != nil {
				if !errors.Is(err, bitcoin.ErrCorruptBlockFile) {
					t.Fatalf("Block(%d) error wraps no sentinel: %v", h, err)
				}
			} else if blk.Hash != hash || blk.Height != h {
				t.Fatalf("Block(%d) = %d %s, want %s", h, blk.Height, blk.Hash, hash)
			}
		}
		if err := d.Rescan(ctx); err != nil {
			t.Fatalf("Rescan of an unchanged directory: %v", err)
		}
		if tip2, hash2, _ := d.Tip(ctx); tip2 != tip || hash2 != tipHash {
			t.Fatalf("Tip after Rescan = %d %s, want %d %s", tip2, hash2, tip, tipHash)
		}
	})
}
