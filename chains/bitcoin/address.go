package bitcoin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/address/v2/bech32"
	"github.com/fundtrace/fundtrace/chains"
)

// maxAddressLen bounds user input before any decoding: the longest valid
// address is a 40-byte witness program with the "bcrt" prefix (76
// characters); bech32 allows 90.
const maxAddressLen = 90

// base58Address encodes a 20-byte hash as a base58check address.
func base58Address(version byte, hash []byte) string {
	return base58.CheckEncode(hash, version)
}

// hash160 returns RIPEMD160(SHA256(b)).
func hash160(b []byte) []byte { return address.Hash160(b) }

// segwitAddress encodes a witness program (2..40 bytes, version 0..16) as a
// bech32 (v0) or bech32m (v1+) address with the network's prefix.
func (n *Network) segwitAddress(version byte, program []byte) string {
	// 1 version symbol + at most ceil(40*8/5) = 64 program symbols.
	var buf [65]byte
	data := append(buf[:0], version)
	var acc uint32
	bits := 0
	for _, b := range program {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			data = append(data, byte(acc>>uint(bits))&31)
		}
	}
	if bits > 0 {
		data = append(data, byte(acc<<uint(5-bits))&31)
	}
	encode := bech32.EncodeM
	if version == 0 {
		encode = bech32.Encode
	}
	s, err := encode(n.hrp, data)
	if err != nil {
		// Unreachable: every symbol above is < 32 and the prefix is ours.
		return ""
	}
	return s
}

// ParseAddress validates an address typed or pasted by a user and returns
// its canonical form on this network: base58 addresses unchanged, bech32 and
// bech32m addresses in lower case. Surrounding white space is ignored. The
// error wraps chains.ErrInvalidAddress and says what is wrong: a bad
// checksum, an address of another network, an unknown format or an invalid
// witness program.
func (n *Network) ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", chains.ErrInvalidAddress)
	}
	if len(s) > maxAddressLen {
		return "", n.addrErr(s, fmt.Sprintf("%d characters is too long for an address", len(s)))
	}
	lower := strings.ToLower(s)
	for _, hrp := range []string{"bc1", "tb1", "bcrt1"} {
		if strings.HasPrefix(lower, hrp) {
			return n.parseSegwit(s, lower)
		}
	}
	return n.parseBase58(s)
}

// addrErr builds the error for an invalid address.
func (n *Network) addrErr(s, why string) error {
	return fmt.Errorf("%w %q on %s: %s", chains.ErrInvalidAddress, s, n.id, why)
}

// describeHRP names the networks that use a bech32 prefix.
func describeHRP(hrp string) string {
	switch hrp {
	case "bc":
		return "a mainnet address"
	case "tb":
		return "a testnet/signet address"
	case "bcrt":
		return "a regtest address"
	}
	return "an address of an unknown network"
}

func (n *Network) parseSegwit(s, lower string) (string, error) {
	hrp, data, variant, err := bech32.DecodeGeneric(s)
	if err != nil {
		var mixed bech32.ErrMixedCase
		var sum bech32.ErrInvalidChecksum
		switch {
		case errors.As(err, &mixed):
			return "", n.addrErr(s, "mixes upper and lower case")
		case errors.As(err, &sum):
			return "", n.addrErr(s, "bad checksum (mistyped?)")
		default:
			return "", n.addrErr(s, fmt.Sprintf("not valid bech32: %v", err))
		}
	}
	if hrp != n.hrp {
		return "", n.addrErr(s, fmt.Sprintf("%s (prefix %s1), not for %s (prefix %s1)",
			describeHRP(hrp), hrp, n.id, n.hrp))
	}
	if len(data) == 0 {
		return "", n.addrErr(s, "no witness version")
	}
	version := data[0]
	if version > 16 {
		return "", n.addrErr(s, fmt.Sprintf("witness version %d is above 16", version))
	}
	program, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return "", n.addrErr(s, "bad padding in the witness program")
	}
	switch {
	case len(program) < 2 || len(program) > 40:
		return "", n.addrErr(s, fmt.Sprintf("witness program of %d bytes; must be 2 to 40", len(program)))
	case version == 0 && len(program) != 20 && len(program) != 32:
		return "", n.addrErr(s, fmt.Sprintf("version 0 witness program of %d bytes; must be 20 or 32", len(program)))
	case version == 0 && variant != bech32.Version0:
		return "", n.addrErr(s, "version 0 address with a bech32m checksum; must be bech32 (BIP350)")
	case version != 0 && variant != bech32.VersionM:
		return "", n.addrErr(s, fmt.Sprintf("version %d address with a bech32 checksum; must be bech32m (BIP350)", version))
	}
	return lower, nil
}

func (n *Network) parseBase58(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBase58(c) {
			what := fmt.Sprintf("%q", rune(c))
			if c >= 0x80 {
				what = fmt.Sprintf("byte 0x%02x", c)
			}
			return "", n.addrErr(s, fmt.Sprintf("unknown format: %s is not a base58 character and the prefix is not bc1, tb1 or bcrt1", what))
		}
	}
	payload, version, err := base58.CheckDecode(s)
	switch {
	case errors.Is(err, base58.ErrChecksum):
		return "", n.addrErr(s, "bad checksum (mistyped?)")
	case err != nil:
		return "", n.addrErr(s, "unknown format: too short for a base58 address")
	case len(payload) != 20:
		return "", n.addrErr(s, fmt.Sprintf("unknown format: base58 payload of %d bytes, want 20 (P2PKH or P2SH)", len(payload)))
	case version == n.p2pkhVer || version == n.p2shVer:
		return s, nil
	}
	var other string
	switch version {
	case 0x00, 0x05:
		other = "mainnet"
	case 0x6f, 0xc4:
		other = "testnet/signet/regtest"
	default:
		return "", n.addrErr(s, fmt.Sprintf("unknown format: base58 version byte 0x%02x is not a Bitcoin P2PKH or P2SH prefix", version))
	}
	return "", n.addrErr(s, fmt.Sprintf("a %s address, not for %s", other, n.id))
}

// isBase58 reports whether c is in the Bitcoin base58 alphabet.
func isBase58(c byte) bool {
	switch {
	case c >= '1' && c <= '9', c >= 'A' && c <= 'H', c >= 'J' && c <= 'N',
		c >= 'P' && c <= 'Z', c >= 'a' && c <= 'k', c >= 'm' && c <= 'z':
		return true
	}
	return false
}
