// Package contracts embeds the exercise contracts of package devnet:
// their Solidity sources live next to this file and compiled.json holds
// the ABI and creation bytecode of each, written by
// scripts/compile-contracts.mjs (solc 0.8.37). See README.md.
package contracts

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Names of the compiled contracts.
const (
	Token    = "Token"    // minimal ERC-20, owner mints
	OddToken = "OddToken" // ERC-20 with bytes32 name/symbol and a reverting decimals()
	Splitter = "Splitter" // moves ether in internal calls, CREATE2s Child
	Child    = "Child"    // holds ether, can selfdestruct
)

//go:embed compiled.json
var compiledJSON []byte

// Contract is one compiled contract.
type Contract struct {
	Name     string
	Source   string // file name of its Solidity source
	ABI      abi.ABI
	Bytecode []byte // creation code, without constructor arguments
}

// Deploy returns the creation transaction's data: the bytecode followed by
// the ABI-encoded constructor arguments.
func (c *Contract) Deploy(args ...any) ([]byte, error) {
	enc, err := c.ABI.Pack("", args...)
	if err != nil {
		return nil, fmt.Errorf("contracts: %s constructor arguments: %w", c.Name, err)
	}
	return append(slices.Clip(c.Bytecode), enc...), nil
}

// Call returns the calldata of method with args.
func (c *Contract) Call(method string, args ...any) ([]byte, error) {
	data, err := c.ABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("contracts: %s.%s arguments: %w", c.Name, method, err)
	}
	return data, nil
}

// File is the decoded compiled.json.
type File struct {
	Compiler string
	// Sources maps each source file name to the hex sha256 of the text
	// that was compiled.
	Sources   map[string]string
	Contracts map[string]*Contract
}

type fileJSON struct {
	Compiler  string            `json:"compiler"`
	Sources   map[string]string `json:"sources"`
	Contracts map[string]struct {
		Source   string          `json:"source"`
		ABI      json.RawMessage `json:"abi"`
		Bytecode hexutil.Bytes   `json:"bytecode"`
	} `json:"contracts"`
}

// Parse decodes a compiled.json document.
func Parse(data []byte) (*File, error) {
	var raw fileJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("contracts: compiled.json: %w", err)
	}
	f := &File{Compiler: raw.Compiler, Sources: raw.Sources, Contracts: map[string]*Contract{}}
	for name, c := range raw.Contracts {
		a, err := abi.JSON(strings.NewReader(string(c.ABI)))
		if err != nil {
			return nil, fmt.Errorf("contracts: compiled.json: abi of %s: %w", name, err)
		}
		if len(c.Bytecode) == 0 {
			return nil, fmt.Errorf("contracts: compiled.json: %s has no bytecode", name)
		}
		f.Contracts[name] = &Contract{Name: name, Source: c.Source, ABI: a, Bytecode: c.Bytecode}
	}
	return f, nil
}

var (
	loadOnce sync.Once
	loaded   *File
	loadErr  error
)

// Embedded returns the embedded compiled.json, decoded once.
func Embedded() (*File, error) {
	loadOnce.Do(func() { loaded, loadErr = Parse(compiledJSON) })
	return loaded, loadErr
}

// Get returns the embedded contract called name (Token, OddToken,
// Splitter, Child). The result is shared: do not modify it.
func Get(name string) (*Contract, error) {
	f, err := Embedded()
	if err != nil {
		return nil, err
	}
	c, ok := f.Contracts[name]
	if !ok {
		return nil, fmt.Errorf("contracts: no contract %q in compiled.json", name)
	}
	return c, nil
}
