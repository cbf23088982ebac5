package chains

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/holiman/uint256"
)

// ErrAmountRange is returned when an amount would leave [0, 2^256).
var ErrAmountRange = errors.New("chains: amount out of range")

// Amount is an exact non-negative quantity in base units (satoshi, wei,
// token units), up to 2^256-1. It is a value type; the zero value is 0.
// It prints, and marshals to JSON, as a decimal string. Never a float.
type Amount struct{ v uint256.Int }

// NewAmount returns an amount of n base units.
func NewAmount(n uint64) Amount {
	var a Amount
	a.v.SetUint64(n)
	return a
}

// ParseAmount parses a decimal string of base units.
func ParseAmount(s string) (Amount, error) {
	var a Amount
	if err := a.v.SetFromDecimal(s); err != nil {
		return Amount{}, fmt.Errorf("%w: %q is not a decimal number of base units: %v", ErrAmountRange, s, err)
	}
	return a, nil
}

// Add returns a+b, or ErrAmountRange on overflow.
func (a Amount) Add(b Amount) (Amount, error) {
	var r Amount
	if _, overflow := r.v.AddOverflow(&a.v, &b.v); overflow {
		return Amount{}, fmt.Errorf("%w: %s + %s overflows", ErrAmountRange, a, b)
	}
	return r, nil
}

// Sub returns a-b, or ErrAmountRange when b > a.
func (a Amount) Sub(b Amount) (Amount, error) {
	var r Amount
	if _, underflow := r.v.SubOverflow(&a.v, &b.v); underflow {
		return Amount{}, fmt.Errorf("%w: %s - %s is negative", ErrAmountRange, a, b)
	}
	return r, nil
}

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int { return a.v.Cmp(&b.v) }

// IsZero reports whether a is 0.
func (a Amount) IsZero() bool { return a.v.IsZero() }

// Uint64 returns a as a uint64 and whether it fits.
func (a Amount) Uint64() (uint64, bool) { return a.v.Uint64(), a.v.IsUint64() }

// String returns the decimal form.
func (a Amount) String() string { return a.v.Dec() }

// MarshalJSON encodes the amount as a JSON string of decimal digits.
func (a Amount) MarshalJSON() ([]byte, error) { return json.Marshal(a.v.Dec()) }

// UnmarshalJSON accepts a JSON string of decimal digits.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: amount must be a JSON string of decimal digits", ErrAmountRange)
	}
	p, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = p
	return nil
}
