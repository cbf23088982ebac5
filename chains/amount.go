package chains

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

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

// AmountFromUint256 returns the amount u holds (every uint256 fits).
func AmountFromUint256(u *uint256.Int) Amount { return Amount{v: *u} }

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

// maxSumDigits bounds a Sum to what NUMERIC(78,0) stores: below 10^78,
// about 8.6 times 2^256.
const maxSumDigits = 78

// Sum is an exact non-negative total of amounts, such as everything an
// address ever received. Unlike one amount it may exceed 2^256-1 (a fee
// recipient that started with a 2^256-9 genesis allocation receives more),
// up to 10^78-1. The zero value is 0. It prints, and marshals to JSON, as
// a decimal string.
type Sum struct{ v *big.Int }

// SumOf returns a as a Sum.
func SumOf(a Amount) Sum { return Sum{a.v.ToBig()} }

// ParseSum parses a decimal string.
func ParseSum(s string) (Sum, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || len(s) > maxSumDigits {
		return Sum{}, fmt.Errorf("%w: %q is not a total of base units below 10^78", ErrAmountRange, s)
	}
	return Sum{v}, nil
}

func (s Sum) big() *big.Int {
	if s.v == nil {
		return new(big.Int)
	}
	return s.v
}

// Add returns s+t, or ErrAmountRange past 10^78-1.
func (s Sum) Add(t Sum) (Sum, error) {
	r := new(big.Int).Add(s.big(), t.big())
	if len(r.String()) > maxSumDigits {
		return Sum{}, fmt.Errorf("%w: %s + %s has more than %d digits", ErrAmountRange, s, t, maxSumDigits)
	}
	return Sum{r}, nil
}

// Sub returns s-t, or ErrAmountRange when t > s.
func (s Sum) Sub(t Sum) (Sum, error) {
	r := new(big.Int).Sub(s.big(), t.big())
	if r.Sign() < 0 {
		return Sum{}, fmt.Errorf("%w: %s - %s is negative", ErrAmountRange, s, t)
	}
	return Sum{r}, nil
}

// Amount returns s as an Amount and whether it fits one.
func (s Sum) Amount() (Amount, bool) {
	var a Amount
	overflow := a.v.SetFromBig(s.big())
	return a, !overflow
}

// IsZero reports whether s is 0.
func (s Sum) IsZero() bool { return s.v == nil || s.v.Sign() == 0 }

// String returns the decimal form.
func (s Sum) String() string { return s.big().String() }

// MarshalJSON encodes the sum as a JSON string of decimal digits.
func (s Sum) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts a JSON string of decimal digits.
func (s *Sum) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("%w: total must be a JSON string of decimal digits", ErrAmountRange)
	}
	p, err := ParseSum(str)
	if err != nil {
		return err
	}
	*s = p
	return nil
}
