// Package chains is fundtrace's chain-neutral vocabulary: chain identifiers,
// blocks, transactions, inputs, outputs, script types, hashes and exact
// amounts. It does no I/O and exposes no btcd or go-ethereum types; the
// adapters in chains/* convert to and from these types at their boundary.
package chains

import (
	"errors"
	"fmt"
	"sort"
)

// Sentinel errors shared by every chain adapter and by the store.
var (
	// ErrUnknownChain is returned for a chain id fundtrace does not know.
	ErrUnknownChain = errors.New("chains: unknown chain")
	// ErrInvalidAddress is returned for an address that is malformed or
	// belongs to another network.
	ErrInvalidAddress = errors.New("chains: invalid address")
	// ErrInvalidHash is returned for a malformed transaction or block hash.
	ErrInvalidHash = errors.New("chains: invalid hash")
)

// ID names a chain on the command line, in the API and in the store, for
// example "btc" or "btc-regtest".
type ID string

// Known chain ids.
const (
	BTC         ID = "btc"
	BTCTestnet  ID = "btc-testnet"
	BTCTestnet4 ID = "btc-testnet4"
	BTCSignet   ID = "btc-signet"
	BTCRegtest  ID = "btc-regtest"
)

// Model is how a chain keeps value: unspent outputs or account balances.
type Model int

// Ledger models.
const (
	UTXO Model = iota + 1
	Account
)

// Info describes a known chain.
type Info struct {
	ID       ID
	Model    Model
	Symbol   string // native asset, e.g. "BTC"
	Decimals int    // base units per whole coin, as a power of ten
	Name     string // human-readable
}

var known = map[ID]Info{
	BTC:         {BTC, UTXO, "BTC", 8, "Bitcoin mainnet"},
	BTCTestnet:  {BTCTestnet, UTXO, "tBTC", 8, "Bitcoin testnet3"},
	BTCTestnet4: {BTCTestnet4, UTXO, "tBTC", 8, "Bitcoin testnet4"},
	BTCSignet:   {BTCSignet, UTXO, "sBTC", 8, "Bitcoin signet"},
	BTCRegtest:  {BTCRegtest, UTXO, "rBTC", 8, "Bitcoin regtest"},
}

// Lookup returns the description of a chain id, or ErrUnknownChain.
func Lookup(id ID) (Info, error) {
	info, ok := known[id]
	if !ok {
		return Info{}, fmt.Errorf("%w %q (known: %v)", ErrUnknownChain, string(id), Known())
	}
	return info, nil
}

// Parse validates a chain id given by a user.
func Parse(s string) (ID, error) {
	info, err := Lookup(ID(s))
	if err != nil {
		return "", err
	}
	return info.ID, nil
}

// Known lists the known chain ids in lexical order.
func Known() []ID {
	ids := make([]ID, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
