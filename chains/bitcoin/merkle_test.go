package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/internal/bundle"
)

// firstMainnetBlocks reads the first n bundled mainnet blocks.
func firstMainnetBlocks(t testing.TB, n int) [][]byte {
	t.Helper()
	r, err := bundle.MainnetBlocksReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var blocks [][]byte
	var frame [8]byte
	for len(blocks) < n {
		if _, err := io.ReadFull(r, frame[:]); err != nil {
			t.Fatalf("read block %d: %v", len(blocks), err)
		}
		b := make([]byte, binary.LittleEndian.Uint32(frame[4:]))
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("read block %d: %v", len(blocks), err)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

func block277647(t testing.TB) []byte {
	t.Helper()
	raw, err := bundle.Block277647()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mainnet(t testing.TB) *Network {
	t.Helper()
	n, err := NetworkFor(chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMerkleRootOfRealBlocks(t *testing.T) {
	net := mainnet(t)
	type tc struct {
		name   string
		raw    []byte
		height int64
	}
	var tests []tc
	blocks := firstMainnetBlocks(t, 250)
	for _, h := range []int64{0, 170, 181, 187, 248} {
		tests = append(tests, tc{fmt.Sprintf("block %d", h), blocks[h], h})
	}
	tests = append(tests, tc{"block 277647", block277647(t), bundle.Height277647})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blk, err := net.DecodeBlock(tt.raw, tt.height)
			if err != nil {
				t.Fatalf("DecodeBlock(%d): %v", tt.height, err)
			}
			txids := make([]chains.Hash, len(blk.Txs))
			for i, tx := range blk.Txs {
				txids[i] = tx.Hash
			}
			root, mutated := merkleRoot(txids)
			if root != blk.MerkleRoot || mutated {
				t.Errorf("merkleRoot of %d txs = %s, mutated %v; want %s, false", len(txids), root, mutated, blk.MerkleRoot)
			}
		})
	}
}

func TestMerkleRootShapes(t *testing.T) {
	a, b, c := chains.Hash{1}, chains.Hash{2}, chains.Hash{3}
	abc, _ := merkleRoot([]chains.Hash{a, b, c})
	tests := []struct {
		name        string
		txids       []chains.Hash
		wantRoot    *chains.Hash
		wantMutated bool
	}{
		{"none", nil, &chains.Hash{}, false},
		{"one is its own root", []chains.Hash{a}, &a, false},
		{"odd level", []chains.Hash{a, b, c}, nil, false},
		{"last duplicated: same root, mutated", []chains.Hash{a, b, c, c}, &abc, true},
		{"equal pair", []chains.Hash{a, a}, nil, true},
		{"equal but not siblings", []chains.Hash{a, b, a, c}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, mutated := merkleRoot(tt.txids)
			if mutated != tt.wantMutated || (tt.wantRoot != nil && root != *tt.wantRoot) {
				t.Errorf("merkleRoot = %s, %v; want %v, %v", root, mutated, tt.wantRoot, tt.wantMutated)
			}
		})
	}
}

func TestVerifyBlock(t *testing.T) {
	net := mainnet(t)
	raw := block277647(t)
	hash := blkHeaderHash(raw)
	blk, err := net.DecodeBlock(raw, bundle.Height277647)
	if err != nil {
		t.Fatal(err)
	}
	last := blk.Txs[len(blk.Txs)-1]

	// The header with another nonce: another hash, with (almost surely) no
	// proof of work.
	noPoW := bytes.Clone(raw)
	noPoW[76] ^= 0xff
	// The last transaction's lock time changed: same header, other txids.
	badRoot := bytes.Clone(raw)
	badRoot[len(badRoot)-1] ^= 0x01
	// The last transaction repeated (213 -> 214): same root, mutated tree.
	if raw[80] != 213 {
		t.Fatalf("block 277647 tx count byte = %d, want 213", raw[80])
	}
	mutated := append(bytes.Clone(raw), raw[len(raw)-last.Size:]...)
	mutated[80] = 214

	tests := []struct {
		name string
		raw  []byte
		want chains.Hash
		err  error
		text string
	}{
		{"the block", raw, hash, nil, ""},
		{"another block", raw, chains.Hash{9}, ErrBlockMismatch, "got block " + hash.String()},
		{"no proof of work", noPoW, blkHeaderHash(noPoW), ErrBlockMismatch, "proof of work"},
		{"merkle root", badRoot, hash, ErrBlockMismatch, "Merkle root"},
		{"mutated", mutated, hash, ErrBlockMismatch, "mutated"},
		{"truncated", raw[:len(raw)-10], hash, ErrMalformed, "277647"},
		{"short", raw[:40], hash, ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := verifyBlock(net, "node-x", tt.raw, bundle.Height277647, tt.want)
			if tt.err == nil {
				if err != nil || got.Hash != hash || len(got.Txs) != 213 {
					t.Fatalf("verifyBlock = %s with %d txs, %v", got.Hash, len(got.Txs), err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("verifyBlock = %v, want %v mentioning %q", err, tt.err, tt.text)
			}
			if got.Txs != nil {
				t.Errorf("verifyBlock returned a block with its error")
			}
			if tt.err == ErrBlockMismatch && (!strings.Contains(err.Error(), "height 277647") || !strings.Contains(err.Error(), "node-x")) {
				t.Errorf("verifyBlock = %q, want it to name the node and the height", err)
			}
		})
	}
}
