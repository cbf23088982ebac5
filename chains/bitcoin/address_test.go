package bitcoin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/fundtrace/fundtrace/chains"
)

func TestParseAddressValid(t *testing.T) {
	for _, tc := range scriptVectors {
		if tc.address == "" {
			continue
		}
		for _, id := range tc.nets {
			n := mustNetwork(t, id)
			inputs := []string{tc.address, "  " + tc.address + "\n", "\t" + tc.address}
			if !isBase58Address(tc.address) {
				inputs = append(inputs, strings.ToUpper(tc.address))
			}
			for _, in := range inputs {
				got, err := n.ParseAddress(in)
				if err != nil || got != tc.address {
					t.Errorf("%s: ParseAddress(%q) = %q, %v; want %q", id, in, got, err, tc.address)
				}
			}
		}
	}
}

func isBase58Address(s string) bool {
	return !strings.HasPrefix(s, "bc1") && !strings.HasPrefix(s, "tb1") && !strings.HasPrefix(s, "bcrt1")
}

func TestParseAddressInvalid(t *testing.T) {
	tests := []struct {
		net  chains.ID
		in   string
		want string // substring of the error
	}{
		{chains.BTC, "", "empty"},
		{chains.BTC, " \t\n", "empty"},
		{chains.BTC, strings.Repeat("1", 91), "91 characters is too long"},
		// Base58.
		{chains.BTC, "1A1zP1eP5QGefi2DMPTfTL5SmLxtDNa1", "bad checksum"},
		{chains.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bad checksum"},
		{chains.BTC, "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r", "a testnet/signet/regtest address, not for btc"},
		{chains.BTC, "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK", "a testnet/signet/regtest address, not for btc"},
		{chains.BTCTestnet4, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH", "a mainnet address, not for btc-testnet4"},
		{chains.BTCRegtest, "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm", "a mainnet address, not for btc-regtest"},
		{chains.BTC, "LVuDpNCSSj6pQ7t9Pv6d6sUkLKoqDEVUnJ", "base58 version byte 0x30 is not a Bitcoin P2PKH or P2SH prefix"},
		{chains.BTC, "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", "base58 payload of 32 bytes, want 20"},
		{chains.BTC, "0x742d35Cc6634C0532925a3b844Bc454e4438f44e", `unknown format: '0' is not a base58 character`},
		{chains.BTC, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMl", `'l' is not a base58 character`},
		{chains.BTC, "hey world", `' ' is not a base58 character`},
		{chains.BTC, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMé", "byte 0xc3 is not a base58 character"},
		{chains.BTC, "1111", "too short for a base58 address"},
		{chains.BTC, "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "unknown format"},
		// Bech32 and bech32m (BIP173, BIP350 invalid vectors).
		{chains.BTC, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad checksum"},
		{chains.BTC, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "a testnet/signet address (prefix tb1), not for btc (prefix bc1)"},
		{chains.BTCTestnet, "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", "a regtest address (prefix bcrt1), not for btc-testnet (prefix tb1)"},
		{chains.BTCRegtest, "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54", "a testnet/signet address (prefix tb1), not for btc-regtest (prefix bcrt1)"},
		{chains.BTCSignet, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "a mainnet address (prefix bc1), not for btc-signet"},
		{chains.BTC, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "version 1 address with a bech32 checksum; must be bech32m"},
		{chains.BTC, "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "version 16 address with a bech32 checksum"},
		{chains.BTC, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "version 0 address with a bech32m checksum"},
		{chains.BTCTestnet, "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "version 2 address with a bech32 checksum"},
		{chains.BTCTestnet, "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "version 0 address with a bech32m checksum"},
		{chains.BTC, "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "not valid bech32"},
		{chains.BTC, "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "witness version 17 is above 16"},
		{chains.BTC, "bc1pw5dgrnzv", "witness program of 1 bytes; must be 2 to 40"},
		{chains.BTC, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "witness program of 41 bytes"},
		{chains.BTC, "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "version 0 witness program of 16 bytes; must be 20 or 32"},
		{chains.BTCTestnet, "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "mixes upper and lower case"},
		{chains.BTC, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "bad padding"},
		{chains.BTCTestnet, "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "bad padding"},
		{chains.BTC, "bc1gmk9yu", "no witness version"},
	}
	for _, tc := range tests {
		t.Run(string(tc.net)+"/"+tc.in, func(t *testing.T) {
			n := mustNetwork(t, tc.net)
			got, err := n.ParseAddress(tc.in)
			if err == nil {
				t.Fatalf("ParseAddress(%q) = %q, nil; want an error containing %q", tc.in, got, tc.want)
			}
			if !errors.Is(err, chains.ErrInvalidAddress) {
				t.Errorf("ParseAddress(%q) error %q does not wrap chains.ErrInvalidAddress", tc.in, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) {
				t.Errorf("ParseAddress(%q) error = %q; want it to contain %q", tc.in, msg, tc.want)
			}
			if trimmed := strings.TrimSpace(tc.in); trimmed != "" && !strings.Contains(err.Error(), trimmed) {
				t.Errorf("ParseAddress(%q) error = %q; want it to name the input", tc.in, err)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, tc := range scriptVectors {
		if tc.address != "" {
			f.Add(tc.address)
			f.Add(strings.ToUpper(tc.address))
		}
	}
	for _, s := range []string{"", " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa ", "bc1gmk9yu", "bc1pw5dgrnzv", "1111", "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, id := range allNetworks {
			n := mustNetwork(t, id)
			got, err := n.ParseAddress(s)
			if err != nil {
				if !errors.Is(err, chains.ErrInvalidAddress) {
					t.Fatalf("%s: ParseAddress(%q) error %q does not wrap ErrInvalidAddress", id, s, err)
				}
				continue
			}
			trimmed := strings.TrimSpace(s)
			if got != trimmed && got != strings.ToLower(trimmed) {
				t.Fatalf("%s: ParseAddress(%q) = %q, not the input in canonical form", id, s, got)
			}
			if again, err := n.ParseAddress(got); err != nil || again != got {
				t.Fatalf("%s: ParseAddress(%q) = %q, %v; not idempotent", id, got, again, err)
			}
			// btcd decodes everything we accept except witness versions
			// and lengths it does not support.
			if a, err := address.DecodeAddress(got, n.Params()); err == nil {
				if !a.IsForNet(n.Params()) {
					t.Fatalf("%s: we accept %q, btcd says it is for another network", id, got)
				}
			} else if isBase58Address(got) {
				t.Fatalf("%s: we accept %q, btcd rejects it: %v", id, got, err)
			}
		}
	})
}
