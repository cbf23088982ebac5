package contracts

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// TestCompiledUpToDate fails when a .sol file was edited without
// re-running scripts/compile-contracts.mjs (or a source was added or
// removed).
func TestCompiledUpToDate(t *testing.T) {
	f, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.sol")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(f.Sources) {
		t.Errorf("%d .sol files here, compiled.json lists %d sources: recompile (see README.md)", len(files), len(f.Sources))
	}
	for _, name := range files {
		text, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(text)
		if got, want := hex.EncodeToString(sum[:]), f.Sources[name]; got != want {
			t.Errorf("%s: sha256 %s, compiled.json has %q: recompile (see README.md)", name, got, want)
		}
	}
}

func TestContracts(t *testing.T) {
	tests := []struct {
		name    string
		methods []string
		events  []string
	}{
		{Token, []string{"name", "symbol", "decimals", "totalSupply", "balanceOf", "allowance", "mint", "burn", "transfer", "approve", "transferFrom"}, []string{"Transfer", "Approval"}},
		{OddToken, []string{"name", "symbol", "decimals", "totalSupply", "balanceOf", "transfer"}, []string{"Transfer"}},
		{Splitter, []string{"split", "forward", "tryForward", "spawn", "spawnAndDestroy", "helper"}, []string{"Spawned"}},
		{Child, []string{"forwardAndRevert", "destroy"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Get(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.methods {
				if _, ok := c.ABI.Methods[m]; !ok {
					t.Errorf("no method %s", m)
				}
			}
			for _, e := range tt.events {
				if _, ok := c.ABI.Events[e]; !ok {
					t.Errorf("no event %s", e)
				}
			}
		})
	}
	// The ERC-20 Transfer event must have the standard topic.
	tok, err := Get(Token)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.ABI.Events["Transfer"].ID.Hex(); got != "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef" {
		t.Errorf("Transfer topic %s", got)
	}
	odd, err := Get(OddToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := odd.ABI.Methods["name"].Outputs[0].Type.String(); got != "bytes32" {
		t.Errorf("OddToken.name returns %s, want bytes32", got)
	}
	if _, err := Get("Nope"); err == nil {
		t.Error("Get(Nope) did not fail")
	}
	if _, err := Parse([]byte(`{"contracts":{"X":{"abi":[],"bytecode":"0x"}}}`)); err == nil {
		t.Error("Parse accepted a contract without bytecode")
	}
}

func TestDeployAndCall(t *testing.T) {
	tok, err := Get(Token)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tok.Deploy("Test", "TST")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= len(tok.Bytecode) || string(data[:len(tok.Bytecode)]) != string(tok.Bytecode) {
		t.Error("Deploy does not start with the bytecode and add arguments")
	}
	if _, err := tok.Deploy(); err == nil {
		t.Error("Deploy without constructor arguments did not fail")
	}
	call, err := tok.Call("burn", bigOne())
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(call[:4]); got != "42966c68" { // burn(uint256)
		t.Errorf("burn selector %s", got)
	}
}

func bigOne() *big.Int { return big.NewInt(1) }
