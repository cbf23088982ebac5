package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/fundtrace/fundtrace/chains"
)

// Serialization helpers: everything is appended to byte slices so a block
// is built without per-transaction allocations.

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// appendVarInt appends Bitcoin's CompactSize encoding of n.
func appendVarInt(b []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(n))
	case n <= 0xffffffff:
		return appendU32(append(b, 0xfe), uint32(n))
	default:
		return appendU64(append(b, 0xff), n)
	}
}

func varIntLen(n int) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	default:
		return 5
	}
}

// appendPushLen appends the opcode that pushes n bytes in a script.
func appendPushLen(b []byte, n int) []byte {
	switch {
	case n < 0x4c:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x4c, byte(n))
	default:
		return binary.LittleEndian.AppendUint16(append(b, 0x4d), uint16(n))
	}
}

// appendScriptNum appends the minimal push of n as CScript() << n does,
// which is how BIP34 encodes the height in a coinbase.
func appendScriptNum(b []byte, n int64) []byte {
	if n == 0 {
		return append(b, 0x00) // OP_0
	}
	if n >= 1 && n <= 16 {
		return append(b, byte(0x50+n)) // OP_1 .. OP_16
	}
	var num [9]byte
	k := 0
	for v := n; v > 0; v >>= 8 {
		num[k] = byte(v)
		k++
	}
	if num[k-1]&0x80 != 0 { // keep the number positive
		num[k] = 0
		k++
	}
	return append(append(b, byte(k)), num[:k]...)
}

// Output script templates. Lengths exclude the CompactSize prefix.
const (
	lenP2WPKH   = 22 // OP_0 <20>
	lenP2TR     = 34 // OP_1 <32>
	lenP2SH     = 23 // OP_HASH160 <20> OP_EQUAL
	lenP2PKH    = 25 // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
	lenP2WSH    = 34 // OP_0 <32>
	lenMultisig = 105
)

func scriptLen(t chains.ScriptType, dataLen int) int {
	switch t {
	case chains.ScriptP2WPKH:
		return lenP2WPKH
	case chains.ScriptP2TR:
		return lenP2TR
	case chains.ScriptP2SH:
		return lenP2SH
	case chains.ScriptP2PKH:
		return lenP2PKH
	case chains.ScriptP2WSH:
		return lenP2WSH
	case chains.ScriptOpReturn:
		if dataLen < 0x4c {
			return 2 + dataLen
		}
		return 3 + dataLen
	}
	panic("synth: no template for script type " + t.String())
}

// appendOutputScript appends CompactSize(len) and an output script of type
// t whose hash or key is h (20 or 32 bytes; OP_RETURN data for OP_RETURN).
func appendOutputScript(b []byte, t chains.ScriptType, h []byte) []byte {
	b = appendVarInt(b, uint64(scriptLen(t, len(h))))
	switch t {
	case chains.ScriptP2WPKH:
		return append(append(b, 0x00, 0x14), h[:20]...)
	case chains.ScriptP2TR:
		return append(append(b, 0x51, 0x20), h[:32]...)
	case chains.ScriptP2SH:
		return append(append(append(b, 0xa9, 0x14), h[:20]...), 0x87)
	case chains.ScriptP2PKH:
		return append(append(append(b, 0x76, 0xa9, 0x14), h[:20]...), 0x88, 0xac)
	case chains.ScriptP2WSH:
		return append(append(b, 0x00, 0x20), h[:32]...)
	case chains.ScriptOpReturn:
		return append(appendPushLen(append(b, 0x6a), len(h)), h...)
	}
	panic("synth: no template for script type " + t.String())
}

// hasher computes Bitcoin's double SHA-256 without allocating.
type hasher struct {
	h   hash.Hash
	buf [sha256.Size]byte
}

func newHasher() *hasher { return &hasher{h: sha256.New()} }

// sum returns SHA256(SHA256(parts...)).
func (s *hasher) sum(parts ...[]byte) [32]byte {
	s.h.Reset()
	for _, p := range parts {
		s.h.Write(p)
	}
	return sha256.Sum256(s.h.Sum(s.buf[:0]))
}

// merkleRoot computes Bitcoin's merkle root of ids in place (ids is
// overwritten): pairs are hashed level by level, the last entry of an odd
// level paired with itself.
func (s *hasher) merkleRoot(ids [][32]byte) [32]byte {
	if len(ids) == 0 {
		return [32]byte{}
	}
	n := len(ids)
	for n > 1 {
		for i := 0; i < n; i += 2 {
			j := min(i+1, n-1)
			ids[i/2] = s.sum(ids[i][:], ids[j][:])
		}
		n = (n + 1) / 2
	}
	return ids[0]
}

// splitmix64 is a fast mixing function used to derive per-address key
// material from the seed without storing it.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
