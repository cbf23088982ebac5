package ethereum

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
)

// ERC-20 metadata calls: the 4-byte selectors of name(), symbol() and
// decimals() (the first four bytes of keccak256 of the signature), sent
// as eth_call data with no arguments.
var (
	SelectorName     = [4]byte{0x06, 0xfd, 0xde, 0x03}
	SelectorSymbol   = [4]byte{0x95, 0xd8, 0x9b, 0x41}
	SelectorDecimals = [4]byte{0x31, 0x3c, 0xe5, 0x67}
)

// TransferTopic is topics[0] of an ERC-20 (and ERC-721) Transfer event:
// keccak256("Transfer(address,address,uint256)").
var TransferTopic = common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

// MaxTokenText is the longest token name or symbol kept, in bytes.
const MaxTokenText = 64

// DecodeTokenString decodes what a token's name() or symbol() returned.
// Contracts answer in two ways: an ABI-encoded dynamic string (the
// standard), or a bytes32 right-padded with zeros (early tokens such as
// MKR and SAI). NUL bytes around the text are trimmed. Anything else,
// text that is not UTF-8 or holds control characters, or an empty answer,
// gives "": the text is unknown. Text longer than MaxTokenText bytes is
// cut to that length at a character boundary. It never panics: the
// contract is untrusted.
func DecodeTokenString(ret []byte) string {
	var raw []byte
	if s, ok := abiString(ret); ok {
		raw = s
	} else if len(ret) == 32 {
		raw = ret
	} else {
		return ""
	}
	raw = bytes.Trim(raw, "\x00")
	if !utf8.Valid(raw) {
		return ""
	}
	for _, r := range string(raw) {
		if unicode.IsControl(r) {
			return ""
		}
	}
	if len(raw) > MaxTokenText {
		n := MaxTokenText
		for n > 0 && !utf8.RuneStart(raw[n]) {
			n--
		}
		raw = raw[:n]
	}
	return string(raw)
}

// abiString decodes an ABI-encoded dynamic string or bytes return value:
// a 32-byte offset, then at that offset a 32-byte length and the bytes.
// It refuses offsets and lengths that do not fit inside ret.
func abiString(ret []byte) ([]byte, bool) {
	if len(ret) < 64 {
		return nil, false
	}
	off, ok := abiUint(ret[:32])
	if !ok || off%32 != 0 || off > uint64(len(ret)-32) {
		return nil, false
	}
	n, ok := abiUint(ret[off : off+32])
	if !ok || n > uint64(len(ret))-off-32 {
		return nil, false
	}
	start := off + 32
	return ret[start : start+n], true
}

// abiUint reads a 32-byte big-endian word that must fit in 32 bits (as
// every sane offset or length does).
func abiUint(w []byte) (uint64, bool) {
	for _, b := range w[:28] {
		if b != 0 {
			return 0, false
		}
	}
	return uint64(w[28])<<24 | uint64(w[29])<<16 | uint64(w[30])<<8 | uint64(w[31]), true
}

// DecodeTokenDecimals decodes what a token's decimals() returned: an
// ABI-encoded uint8 (one 32-byte word; trailing bytes are ignored, as ABI
// decoders do). It returns -1 when the answer is missing, shorter than a
// word, or above 255.
func DecodeTokenDecimals(ret []byte) int {
	if len(ret) < 32 {
		return -1
	}
	for _, b := range ret[:31] {
		if b != 0 {
			return -1
		}
	}
	return int(ret[31])
}
