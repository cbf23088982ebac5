package ethtest

import (
	"encoding/binary"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/ethereum"
)

// Answer is what a contract returns to one eth_call.
type Answer struct {
	// Data is the return data (hex-encoded in the reply).
	Data []byte
	// Revert makes the call fail as geth reports a revert: error code 3,
	// "execution reverted", with Data as the revert data.
	Revert bool
}

// Contract answers eth_call by the call data's 4-byte selector. Calls
// with a selector it does not know revert.
type Contract struct {
	Answers map[[4]byte]Answer
	// Want is the token description a client should derive from the
	// answers to name(), symbol() and decimals() (Address left empty).
	Want chains.Token
}

// ERC20 is a standard token: name and symbol ABI-encoded strings,
// decimals a uint8.
func ERC20(name, symbol string, decimals uint8) *Contract {
	return &Contract{
		Answers: map[[4]byte]Answer{
			ethereum.SelectorName:     {Data: ABIString(name)},
			ethereum.SelectorSymbol:   {Data: ABIString(symbol)},
			ethereum.SelectorDecimals: {Data: ABIUint(uint64(decimals))},
		},
		Want: chains.Token{Name: name, Symbol: symbol, Decimals: int(decimals)},
	}
}

// Bytes32Token is an early token (MKR, SAI) whose name and symbol are
// bytes32, right-padded with zeros.
func Bytes32Token(name, symbol string, decimals uint8) *Contract {
	return &Contract{
		Answers: map[[4]byte]Answer{
			ethereum.SelectorName:     {Data: bytes32(name)},
			ethereum.SelectorSymbol:   {Data: bytes32(symbol)},
			ethereum.SelectorDecimals: {Data: ABIUint(uint64(decimals))},
		},
		Want: chains.Token{Name: name, Symbol: symbol, Decimals: int(decimals)},
	}
}

// Reverting is a contract that reverts every call (with the revert data
// of Error(string), as Solidity's require does).
func Reverting() *Contract {
	data := append([]byte{0x08, 0xc3, 0x79, 0xa0}, ABIString("not a token")...)
	return &Contract{
		Answers: map[[4]byte]Answer{
			ethereum.SelectorName:     {Revert: true, Data: data},
			ethereum.SelectorSymbol:   {Revert: true, Data: data},
			ethereum.SelectorDecimals: {Revert: true, Data: data},
		},
		Want: chains.Token{Decimals: -1},
	}
}

// GarbageToken answers the metadata calls with bytes that are no valid
// ABI value: an offset past the end, a string with control characters, a
// decimals above 255.
func GarbageToken() *Contract {
	badOffset := make([]byte, 64)
	badOffset[31] = 0xff
	ctl := ABIString("bad\x01name")
	big := make([]byte, 32)
	big[30] = 1
	return &Contract{
		Answers: map[[4]byte]Answer{
			ethereum.SelectorName:     {Data: badOffset},
			ethereum.SelectorSymbol:   {Data: ctl},
			ethereum.SelectorDecimals: {Data: big},
		},
		Want: chains.Token{Decimals: -1},
	}
}

// ABIString ABI-encodes s as a function's single string return value.
func ABIString(s string) []byte {
	n := (len(s) + 31) / 32 * 32
	out := make([]byte, 64+n)
	out[31] = 0x20
	binary.BigEndian.PutUint64(out[56:64], uint64(len(s)))
	copy(out[64:], s)
	return out
}

// ABIUint ABI-encodes v as a uint256 return value.
func ABIUint(v uint64) []byte {
	out := make([]byte, 32)
	binary.BigEndian.PutUint64(out[24:], v)
	return out
}

func bytes32(s string) []byte {
	out := make([]byte, 32)
	copy(out, s)
	return out
}
