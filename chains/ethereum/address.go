package ethereum

import (
	"encoding/hex"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto/keccak"
	"github.com/fundtrace/fundtrace/chains"
)

// ParseAddress parses an address typed by a user or read from a file and
// returns its lowercase "0x" form, the form chains types use.
//
// It wants "0x" and 40 hex digits. All-lowercase and all-uppercase digits
// are accepted as they are; mixed case is accepted only when it is a valid
// EIP-55 checksum, because a mixed-case address with a wrong checksum is a
// typo. (go-ethereum's common.HexToAddress accepts anything and never
// fails: it must not be used on user input.) Errors wrap
// chains.ErrInvalidAddress and say what is wrong.
func ParseAddress(s string) (string, error) {
	if len(s) < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return "", fmt.Errorf("%w %q: an Ethereum address starts with 0x", chains.ErrInvalidAddress, s)
	}
	digits := s[2:]
	if len(digits) != 2*common.AddressLength {
		return "", fmt.Errorf("%w %q: want 0x and 40 hex digits, got %d digits", chains.ErrInvalidAddress, s, len(digits))
	}
	lower, upper := false, false
	for i := 0; i < len(digits); i++ {
		switch c := digits[i]; {
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'f':
			lower = true
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", fmt.Errorf("%w %q: character %d (%q) is not a hex digit", chains.ErrInvalidAddress, s, i+3, rune(c))
		}
	}
	var a common.Address
	if _, err := hex.Decode(a[:], []byte(digits)); err != nil {
		return "", fmt.Errorf("%w %q: not hex: %v", chains.ErrInvalidAddress, s, err)
	}
	if lower && upper && checksumDigits(a) != digits {
		return "", fmt.Errorf("%w %q: mixed-case checksum does not match (EIP-55); check the address for a typo", chains.ErrInvalidAddress, s)
	}
	return addrString(a), nil
}

// Checksum returns the EIP-55 mixed-case form of an address for display.
// It accepts what ParseAddress accepts (normally the lowercase form of
// chains types) and returns its input unchanged when it is not a valid
// address.
func Checksum(addr string) string {
	lower, err := ParseAddress(addr)
	if err != nil {
		return addr
	}
	var a common.Address
	_, _ = hex.Decode(a[:], []byte(lower[2:]))
	return "0x" + checksumDigits(a)
}

// checksumDigits returns the 40 EIP-55 digits of a: a letter digit is
// upper case when the matching nibble of keccak256(lowercase hex) is 8 or
// more.
func checksumDigits(a common.Address) string {
	low := []byte(hex.EncodeToString(a[:]))
	h := keccak.NewLegacyKeccak256()
	h.Write(low)
	sum := h.Sum(nil)
	for i, c := range low {
		if c < 'a' {
			continue
		}
		nibble := sum[i/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if nibble&0xf >= 8 {
			low[i] = c - 'a' + 'A'
		}
	}
	return string(low)
}

// addrString returns the lowercase "0x" form of a.
func addrString(a common.Address) string { return "0x" + hex.EncodeToString(a[:]) }
