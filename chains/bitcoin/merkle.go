package bitcoin

import (
	"crypto/sha256"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
)

// merkleRoot computes the Merkle root of a block's txids (display order in,
// display order out) as Bitcoin does: leaves are the txids in wire order,
// each level hashes pairs with double SHA-256, and a level of odd length
// pairs its last hash with itself.
//
// mutated reports a level holding two equal sibling hashes. Duplicating the
// last transactions of a block (CVE-2012-2459) keeps the root but changes
// the block, so a block whose tree is mutated is invalid whatever its root.
func merkleRoot(txids []chains.Hash) (root chains.Hash, mutated bool) {
	if len(txids) == 0 {
		return chains.Hash{}, false
	}
	level := make([][32]byte, len(txids))
	for i, id := range txids {
		copyReversed(level[i][:], id[:])
	}
	var pair [64]byte
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			j := i + 1
			if j == len(level) {
				j = i // odd level: the last hash pairs with itself
			} else if level[i] == level[j] {
				mutated = true
			}
			copy(pair[:32], level[i][:])
			copy(pair[32:], level[j][:])
			first := sha256.Sum256(pair[:])
			next = append(next, sha256.Sum256(first[:]))
		}
		level = next
	}
	copyReversed(root[:], level[0][:])
	return root, mutated
}

// verifyBlock decodes raw, which a node returned for the block with hash
// want at height, and checks that it is that block: its header hashes to
// want, passes its own proof of work, and its transactions hash to the
// header's Merkle root without a mutated tree. node names the source in
// errors. It returns either the whole verified block or an error wrapping
// ErrBlockMismatch or ErrMalformed, never a partial block.
func verifyBlock(net *Network, node string, raw []byte, height int64, want chains.Hash) (chains.Block, error) {
	mismatch := func(format string, args ...any) (chains.Block, error) {
		return chains.Block{}, fmt.Errorf("%w: node %s, height %d, requested %s: %s",
			ErrBlockMismatch, node, height, want, fmt.Sprintf(format, args...))
	}
	if len(raw) >= blockHeaderSize {
		if got := blkHeaderHash(raw); got != want {
			return mismatch("got block %s", got)
		}
	}
	blk, err := net.DecodeBlock(raw, height)
	if err != nil {
		return chains.Block{}, fmt.Errorf("bitcoin: node %s, block %d (%s): %w", node, height, want, err)
	}
	if why := blkCheckPoW(blk.Hash, blk.Bits); why != "" {
		return mismatch("header fails its proof of work: %s", why)
	}
	txids := make([]chains.Hash, len(blk.Txs))
	for i := range blk.Txs {
		txids[i] = blk.Txs[i].Hash
	}
	root, mutated := merkleRoot(txids)
	switch {
	case mutated:
		return mismatch("duplicate transactions (mutated Merkle tree)")
	case root != blk.MerkleRoot:
		return mismatch("the %d txids hash to Merkle root %s, the header says %s", len(txids), root, blk.MerkleRoot)
	}
	return blk, nil
}

// checkRawHeader checks that a raw block returned for want has want's
// header, without decoding the rest.
func checkRawHeader(node string, raw []byte, want chains.Hash) error {
	if len(raw) < blockHeaderSize {
		return fmt.Errorf("%w: node %s, requested %s: %d bytes, shorter than a block header", ErrBlockMismatch, node, want, len(raw))
	}
	if got := blkHeaderHash(raw); got != want {
		return fmt.Errorf("%w: node %s, requested %s: got block %s", ErrBlockMismatch, node, want, got)
	}
	return nil
}
