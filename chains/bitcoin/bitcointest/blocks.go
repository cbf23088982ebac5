package bitcointest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/fundtrace/fundtrace/chains"
)

// header holds the fields of an 80-byte block header.
type header struct {
	hash       chains.Hash
	version    int32
	prev       chains.Hash
	merkleRoot chains.Hash
	time       uint32
	bits       uint32
	nonce      uint32
}

// parseHeader reads the header of a serialized block; ok is false for
// fewer than 80 bytes.
func parseHeader(raw []byte) (header, bool) {
	if len(raw) < 80 {
		return header{}, false
	}
	first := sha256.Sum256(raw[:80])
	second := sha256.Sum256(first[:])
	var h header
	reverse(h.hash[:], second[:])
	h.version = int32(binary.LittleEndian.Uint32(raw[0:4]))
	reverse(h.prev[:], raw[4:36])
	reverse(h.merkleRoot[:], raw[36:68])
	h.time = binary.LittleEndian.Uint32(raw[68:72])
	h.bits = binary.LittleEndian.Uint32(raw[72:76])
	h.nonce = binary.LittleEndian.Uint32(raw[76:80])
	return h, true
}

func reverse(dst, src []byte) {
	for i := range dst {
		dst[i] = src[len(src)-1-i]
	}
}

// txCount reads the transaction count that follows the header; -1 if it
// does not parse.
func txCount(raw []byte) int64 {
	if len(raw) < 81 {
		return -1
	}
	b := raw[80:]
	switch b[0] {
	case 0xfd:
		if len(b) >= 3 {
			return int64(binary.LittleEndian.Uint16(b[1:3]))
		}
	case 0xfe:
		if len(b) >= 5 {
			return int64(binary.LittleEndian.Uint32(b[1:5]))
		}
	case 0xff:
		if len(b) >= 9 {
			return int64(binary.LittleEndian.Uint64(b[1:9]) & (1<<62 - 1))
		}
	default:
		return int64(b[0])
	}
	return -1
}

// heightOf returns the height of a block: its index in the best chain, or
// for a block of another branch the height reached by walking back to the
// best chain. onBest is false for such blocks; ok is false if the block or
// an ancestor is unknown.
func heightOf(c Chain, hashes []chains.Hash, h chains.Hash) (height int64, onBest, ok bool) {
	steps := int64(0)
	for {
		for i := len(hashes) - 1; i >= 0; i-- {
			if hashes[i] == h {
				return int64(i) + steps, steps == 0, true
			}
		}
		raw, known := c.RawBlock(h)
		if !known {
			return 0, false, false
		}
		hdr, valid := parseHeader(raw)
		if !valid || hdr.prev.IsZero() {
			return 0, false, false
		}
		h = hdr.prev
		steps++
	}
}

// otherBlock returns the bytes of a known block other than h, for the
// WrongBlock fault: the genesis block, or block 1 when h is the genesis.
// With a one-block chain it returns h's bytes with the last byte flipped.
func otherBlock(c Chain, hashes []chains.Hash, h chains.Hash, raw []byte) []byte {
	for _, cand := range hashes[:min(2, len(hashes))] {
		if cand != h {
			if b, ok := c.RawBlock(cand); ok {
				return b
			}
		}
	}
	bad := append([]byte(nil), raw...)
	if len(bad) > 0 {
		bad[len(bad)-1] ^= 0xff
	}
	return bad
}

// chainName is getblockchaininfo's "chain" for a genesis hash.
func chainName(genesis chains.Hash) string {
	switch hex.EncodeToString(genesis[:]) {
	case "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f":
		return "main"
	case "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943":
		return "test"
	case "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043":
		return "testnet4"
	case "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6":
		return "signet"
	case "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206":
		return "regtest"
	}
	return "unknown"
}
