package chains_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
)

func TestAmount(t *testing.T) {
	max := "115792089237316195423570985008687907853269984665640564039457584007913129639935" // 2^256-1
	tests := []struct {
		a, b    string
		sum     string
		diff    string
		sumErr  bool
		diffErr bool
	}{
		{"0", "0", "0", "0", false, false},
		{"5000000000", "1000000", "5001000000", "4999000000", false, false},
		{max, "1", "", "115792089237316195423570985008687907853269984665640564039457584007913129639934", true, false},
		{"1", "2", "3", "", false, true},
		{max, max, "", "0", true, false},
	}
	for _, tc := range tests {
		a, err := chains.ParseAmount(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := chains.ParseAmount(tc.b)
		s, err := a.Add(b)
		if (err != nil) != tc.sumErr || (err == nil && s.String() != tc.sum) {
			t.Errorf("%s + %s = %s, %v; want %s (error %v)", tc.a, tc.b, s, err, tc.sum, tc.sumErr)
		}
		if err != nil && !errors.Is(err, chains.ErrAmountRange) {
			t.Errorf("overflow error %v does not wrap ErrAmountRange", err)
		}
		d, err := a.Sub(b)
		if (err != nil) != tc.diffErr || (err == nil && d.String() != tc.diff) {
			t.Errorf("%s - %s = %s, %v; want %s (error %v)", tc.a, tc.b, d, err, tc.diff, tc.diffErr)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "1e8", "0x10", max + "0"} {
		if _, err := chains.ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q): no error", bad)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	a, _ := chains.ParseAmount("2100000000000000")
	b, err := json.Marshal(a)
	if err != nil || string(b) != `"2100000000000000"` {
		t.Fatalf("marshal = %s, %v; want a decimal string", b, err)
	}
	var back chains.Amount
	if err := json.Unmarshal(b, &back); err != nil || back.Cmp(a) != 0 {
		t.Errorf("round trip = %s, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`2100000000000000`), &back); err == nil {
		t.Errorf("a JSON number was accepted; amounts must be strings")
	}
}

func TestHash(t *testing.T) {
	const g = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	h, err := chains.ParseHash(g)
	if err != nil || h.String() != g || h[0] != 0 || h[31] != 0x6f {
		t.Fatalf("ParseHash = %s, %v (display order expected)", h, err)
	}
	for _, bad := range []string{"", g[:63], g + "0", "zz" + g[2:]} {
		if _, err := chains.ParseHash(bad); !errors.Is(err, chains.ErrInvalidHash) {
			t.Errorf("ParseHash(%q) = %v, want ErrInvalidHash", bad, err)
		}
	}
}

func TestParseChain(t *testing.T) {
	for _, id := range chains.Known() {
		if got, err := chains.Parse(string(id)); err != nil || got != id {
			t.Errorf("Parse(%s) = %s, %v", id, got, err)
		}
	}
	if _, err := chains.Parse("BTC"); !errors.Is(err, chains.ErrUnknownChain) {
		t.Errorf("Parse(BTC) = %v, want ErrUnknownChain (ids are lower case)", err)
	}
}

func TestScriptTypeNamesStable(t *testing.T) {
	// The numbers are stored in databases; the names are API.
	want := map[chains.ScriptType]string{0: "nonstandard", 1: "p2pk", 2: "p2pkh", 3: "p2sh", 4: "p2wpkh",
		5: "p2wsh", 6: "p2tr", 7: "multisig", 8: "op_return", 9: "witness_unknown", 10: "p2a"}
	for st, name := range want {
		if st.String() != name {
			t.Errorf("ScriptType(%d) = %s, want %s", st, st, name)
		}
	}
	if chains.ScriptOpReturn.Spendable() || !chains.ScriptP2TR.Spendable() {
		t.Errorf("Spendable is wrong for op_return or p2tr")
	}
}
