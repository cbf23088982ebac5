package bitcoin

import (
	"github.com/fundtrace/fundtrace/chains"
)

// Opcodes the classifier looks at.
const (
	opFalse         = 0x00
	opPushData1     = 0x4c
	opPushData2     = 0x4d
	opPushData4     = 0x4e
	op1             = 0x51
	op16            = 0x60
	opReturn        = 0x6a
	opDup           = 0x76
	opEqual         = 0x87
	opEqualVerify   = 0x88
	opHash160       = 0xa9
	opCheckSig      = 0xac
	opCheckMultisig = 0xae
)

// maxMultisigKeys is the most keys OP_CHECKMULTISIG accepts.
const maxMultisigKeys = 20

// ClassifyScript returns the type of an output script and its canonical
// address on this network, or "" when the type has no address (multisig,
// OP_RETURN, non-standard). It works on the raw bytes and never fails; the
// rules follow Bitcoin Core's Solver:
//
//   - P2PK: <33-byte key with prefix 02/03 or 65-byte key with prefix
//     04/06/07> OP_CHECKSIG. The key is not checked to be on the curve (nor
//     does Core). The address is the P2PKH address of HASH160 of the key
//     bytes exactly as they appear in the script. A P2PK-shaped script with
//     any other key length or prefix is non-standard.
//   - P2PKH, P2SH: the usual templates, base58check addresses.
//   - Witness programs (OP_0..OP_16 then one direct push of 2..40 bytes,
//     nothing else): v0 with 20 bytes is P2WPKH, v0 with 32 bytes P2WSH (bech32);
//     v1 with 32 bytes P2TR; OP_1 <4e73> is P2A (pay-to-anchor); any other
//     program of versions 1..16 is ScriptWitnessUnknown (bech32m address).
//     v0 with another length is non-standard (unspendable).
//   - Multisig: OP_m <key>... OP_n OP_CHECKMULTISIG with 1 <= m <= n <= 20
//     (see MultisigKeys); no address.
//   - OP_RETURN: any script whose first byte is OP_RETURN; no address.
func (n *Network) ClassifyScript(script []byte) (chains.ScriptType, string) {
	l := len(script)
	switch {
	case l == 25 && script[0] == opDup && script[1] == opHash160 && script[2] == 20 &&
		script[23] == opEqualVerify && script[24] == opCheckSig:
		return chains.ScriptP2PKH, base58Address(n.p2pkhVer, script[3:23])

	case l == 23 && script[0] == opHash160 && script[1] == 20 && script[22] == opEqual:
		return chains.ScriptP2SH, base58Address(n.p2shVer, script[2:22])

	case l >= 4 && l <= 42 && (script[0] == opFalse || (script[0] >= op1 && script[0] <= op16)) &&
		int(script[1])+2 == l:
		return n.classifyWitness(script)

	case l == 35 && script[0] == 33 && script[34] == opCheckSig && isPubKey(script[1:34]):
		return chains.ScriptP2PK, base58Address(n.p2pkhVer, hash160(script[1:34]))

	case l == 67 && script[0] == 65 && script[66] == opCheckSig && isPubKey(script[1:66]):
		return chains.ScriptP2PK, base58Address(n.p2pkhVer, hash160(script[1:66]))

	case l > 0 && script[0] == opReturn:
		return chains.ScriptOpReturn, ""
	}
	if l > 0 && script[l-1] == opCheckMultisig {
		if _, _, ok := parseMultisig(script, false); ok {
			return chains.ScriptMultisig, ""
		}
	}
	return chains.ScriptNonStandard, ""
}

// classifyWitness classifies a script already known to have the shape of a
// witness program: a version opcode, one direct push of 2..40 bytes.
func (n *Network) classifyWitness(script []byte) (chains.ScriptType, string) {
	version := byte(0)
	if script[0] != opFalse {
		version = script[0] - op1 + 1
	}
	prog := script[2:]
	switch {
	case version == 0 && len(prog) == 20:
		return chains.ScriptP2WPKH, n.segwitAddress(0, prog)
	case version == 0 && len(prog) == 32:
		return chains.ScriptP2WSH, n.segwitAddress(0, prog)
	case version == 0:
		return chains.ScriptNonStandard, "" // v0 must be 20 or 32 bytes: unspendable
	case version == 1 && len(prog) == 32:
		return chains.ScriptP2TR, n.segwitAddress(1, prog)
	case version == 1 && len(prog) == 2 && prog[0] == 0x4e && prog[1] == 0x73:
		return chains.ScriptP2A, n.segwitAddress(1, prog)
	default:
		return chains.ScriptWitnessUnknown, n.segwitAddress(version, prog)
	}
}

// isPubKey reports whether b has the length its prefix byte calls for: 33
// bytes after 02 or 03 (compressed), 65 bytes after 04 (uncompressed) or 06,
// 07 (hybrid). This is Bitcoin Core's CPubKey::ValidSize.
func isPubKey(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case 0x02, 0x03:
		return len(b) == 33
	case 0x04, 0x06, 0x07:
		return len(b) == 65
	}
	return false
}

// MultisigKeys returns the required signature count m and the public keys of
// a bare multisig script (OP_m <key>... OP_n OP_CHECKMULTISIG), for the
// clustering heuristics; ok is false for any other script. The keys are
// copies, so they stay valid when the script's buffer is reused.
func (n *Network) MultisigKeys(script []byte) (m int, keys [][]byte, ok bool) {
	return parseMultisig(script, true)
}

// parseMultisig matches the multisig template as Bitcoin Core's
// MatchMultisig does: m and n are OP_1..OP_16 or a minimal one-byte push of
// 17..20, each key is any push of 33 or 65 bytes with a valid prefix, the
// number of keys equals n, m <= n, and OP_CHECKMULTISIG ends the script.
// With collect false it only checks the shape and allocates nothing.
func parseMultisig(script []byte, collect bool) (m int, keys [][]byte, ok bool) {
	if len(script) < 3 || script[len(script)-1] != opCheckMultisig {
		return 0, nil, false
	}
	body := script[:len(script)-1]
	op, data, pos, good := nextOp(body, 0)
	if !good {
		return 0, nil, false
	}
	m, good = smallNumber(op, data, 1)
	if !good {
		return 0, nil, false
	}
	nKeys := 0
	for {
		op, data, next, good := nextOp(body, pos)
		if !good {
			return 0, nil, false
		}
		if data != nil && isPubKey(data) {
			if nKeys == maxMultisigKeys {
				return 0, nil, false
			}
			if collect {
				keys = append(keys, append([]byte(nil), data...))
			}
			nKeys++
			pos = next
			continue
		}
		total, good := smallNumber(op, data, m)
		if !good || total != nKeys || next != len(body) {
			return 0, nil, false
		}
		return m, keys, true
	}
}

// smallNumber decodes a script number in [lo, 20] pushed as OP_1..OP_16 or
// as a minimal one-byte push (only 17..20 can be pushed minimally that way).
func smallNumber(op byte, data []byte, lo int) (int, bool) {
	var v int
	switch {
	case op >= op1 && op <= op16:
		v = int(op-op1) + 1
	case op == 1 && len(data) == 1 && data[0] > 16:
		v = int(data[0])
	default:
		return 0, false
	}
	return v, v >= lo && v <= maxMultisigKeys
}

// nextOp reads the opcode at pos and, for push opcodes, its data (non-nil,
// possibly empty). It reports false when the script ends or a push runs
// past the end.
func nextOp(script []byte, pos int) (op byte, data []byte, next int, ok bool) {
	if pos >= len(script) {
		return 0, nil, pos, false
	}
	op = script[pos]
	pos++
	var size int
	switch {
	case op < opPushData1:
		size = int(op)
	case op == opPushData1:
		if len(script)-pos < 1 {
			return 0, nil, pos, false
		}
		size = int(script[pos])
		pos++
	case op == opPushData2:
		if len(script)-pos < 2 {
			return 0, nil, pos, false
		}
		size = int(script[pos]) | int(script[pos+1])<<8
		pos += 2
	case op == opPushData4:
		if len(script)-pos < 4 {
			return 0, nil, pos, false
		}
		size64 := uint64(script[pos]) | uint64(script[pos+1])<<8 | uint64(script[pos+2])<<16 | uint64(script[pos+3])<<24
		pos += 4
		if size64 > uint64(len(script)-pos) {
			return 0, nil, pos, false
		}
		size = int(size64)
	default:
		return op, nil, pos, true
	}
	if size > len(script)-pos {
		return 0, nil, pos, false
	}
	return op, script[pos : pos+size : pos+size], pos + size, true
}
