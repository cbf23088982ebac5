package ethereum

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fundtrace/fundtrace/chains"
)

// The test vectors of EIP-55 (eips.ethereum.org/EIPS/eip-55).
var eip55Vectors = []string{
	// All caps
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	// All lower
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	// Normal
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestParseAddressEIP55Vectors(t *testing.T) {
	for _, v := range eip55Vectors {
		got, err := ParseAddress(v)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", v, err)
			continue
		}
		if want := strings.ToLower(v); got != want {
			t.Errorf("ParseAddress(%q) = %q, want %q", v, got, want)
		}
	}
	// Each vector is its own checksum form (the "all caps" and "all
	// lower" ones are addresses whose checksum has no lower or no upper
	// letters).
	for _, v := range eip55Vectors {
		if got := Checksum(strings.ToLower(v)); got != v {
			t.Errorf("Checksum(%q) = %q, want %q", strings.ToLower(v), got, v)
		}
	}
	// Changing the case of one letter breaks the checksum of the mixed
	// vectors; all-caps or all-lower forms of any address are accepted.
	for _, v := range eip55Vectors[4:] {
		for _, form := range []string{strings.ToLower(v), "0x" + strings.ToUpper(v[2:])} {
			if _, err := ParseAddress(form); err != nil {
				t.Errorf("ParseAddress(%q): %v", form, err)
			}
		}
	}
}

func TestParseAddressErrors(t *testing.T) {
	good := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	// One letter's case flipped: a typo the checksum catches.
	flipped := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
	tests := []struct {
		in   string
		want string
	}{
		{"", "starts with 0x"},
		{"0x", "got 0 digits"},
		{"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "starts with 0x"},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "got 39 digits"},
		{good + "00", "got 42 digits"},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", `character 42 ('g') is not a hex digit`},
		{"0x 5aaeb6053f3e94c9b9a09f33669435e7ef1beae", `character 3 (' ') is not a hex digit`},
		{flipped, "checksum does not match (EIP-55)"},
		{"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "checksum does not match (EIP-55)"},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error", tt.in, got)
			continue
		}
		if !errors.Is(err, chains.ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q): %v does not wrap chains.ErrInvalidAddress", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseAddress(%q): error %q, want it to name the input and say %q", tt.in, err, tt.want)
		}
	}
	// "0X" is accepted like "0x".
	if got, err := ParseAddress("0X" + good[2:]); err != nil || got != strings.ToLower(good) {
		t.Errorf("ParseAddress(0X...) = %q, %v", got, err)
	}
	// Checksum leaves what is not an address alone.
	if got := Checksum("nonsense"); got != "nonsense" {
		t.Errorf("Checksum(nonsense) = %q", got)
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, v := range eip55Vectors {
		f.Add(v)
	}
	f.Add("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")
	f.Add("0xbb9bc244d798123fde783fcc1c72d3bb8c189413")
	f.Add("0x")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, chains.ErrInvalidAddress) {
				t.Fatalf("ParseAddress(%q): %v does not wrap ErrInvalidAddress", s, err)
			}
			return
		}
		if len(got) != 42 || got != strings.ToLower(got) || !strings.EqualFold(got[2:], s[2:]) {
			t.Fatalf("ParseAddress(%q) = %q", s, got)
		}
		if !common.IsHexAddress(s) {
			t.Fatalf("ParseAddress accepted %q, which go-ethereum does not call an address", s)
		}
		// Our EIP-55 against go-ethereum's.
		c := Checksum(got)
		if want := common.HexToAddress(got).Hex(); c != want {
			t.Fatalf("Checksum(%q) = %q, go-ethereum says %q", got, c, want)
		}
		if again, err := ParseAddress(c); err != nil || again != got {
			t.Fatalf("ParseAddress(Checksum(%q)) = %q, %v", got, again, err)
		}
		// Mixed case was accepted only because it is the checksum.
		d := s[2:]
		if d != strings.ToLower(d) && d != strings.ToUpper(d) && d != c[2:] {
			t.Fatalf("ParseAddress accepted %q, whose checksum form is %q", s, c)
		}
	})
}
