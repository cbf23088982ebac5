package chains

import (
	"encoding/hex"
	"fmt"
)

// Hash is a 32-byte block or transaction hash in display order: the byte
// order in which explorers and node RPCs print it (for Bitcoin, the reverse
// of the order on the wire). The store keeps hashes in this order, so hex of
// the stored bytes is what users see.
type Hash [32]byte

// String returns the lower-case hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether every byte is zero (the coinbase's previous txid).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses 64 hex digits in display order, with or without a
// "0x" prefix (the form Ethereum tools print).
func ParseHash(s string) (Hash, error) {
	var h Hash
	orig := s
	if len(s) == 66 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	if len(s) != 64 {
		s = orig
		return h, fmt.Errorf("%w %q: want 64 hex digits, got %d characters", ErrInvalidHash, s, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w %q: not hex", ErrInvalidHash, orig)
	}
	return h, nil
}

// Hex0x returns the hash as "0x" and 64 lowercase hex digits, the form of
// Ethereum hashes.
func (h Hash) Hex0x() string { return "0x" + h.String() }

// HashFromBytes copies a 32-byte slice into a Hash.
func HashFromBytes(b []byte) (Hash, error) {
	var h Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("%w: %d bytes, want 32", ErrInvalidHash, len(b))
	}
	copy(h[:], b)
	return h, nil
}
