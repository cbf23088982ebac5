// Package chains is fundtrace's chain-neutral vocabulary: chain identifiers,
// blocks, transactions, inputs, outputs, script types, hashes and exact
// amounts. It does no I/O and exposes no btcd or go-ethereum types; the
// adapters in chains/* convert to and from these types at their boundary.
package chains

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
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
	// ErrBeyondTip is returned by a block source for a height above its
	// best block.
	ErrBeyondTip = errors.New("chains: height beyond the source's tip")
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

	ETH        ID = "eth"
	ETHSepolia ID = "eth-sepolia"
	ETHHolesky ID = "eth-holesky"
	ETHHoodi   ID = "eth-hoodi"
	ETHDev     ID = "eth-dev" // geth --dev and other local development chains
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
	// EVMChainID is the EIP-155 chain id of an EVM chain, checked against
	// the node's eth_chainId; 0 for UTXO chains.
	EVMChainID uint64
}

var (
	mu    sync.RWMutex
	known = map[ID]Info{
		BTC:         {ID: BTC, Model: UTXO, Symbol: "BTC", Decimals: 8, Name: "Bitcoin mainnet"},
		BTCTestnet:  {ID: BTCTestnet, Model: UTXO, Symbol: "tBTC", Decimals: 8, Name: "Bitcoin testnet3"},
		BTCTestnet4: {ID: BTCTestnet4, Model: UTXO, Symbol: "tBTC", Decimals: 8, Name: "Bitcoin testnet4"},
		BTCSignet:   {ID: BTCSignet, Model: UTXO, Symbol: "sBTC", Decimals: 8, Name: "Bitcoin signet"},
		BTCRegtest:  {ID: BTCRegtest, Model: UTXO, Symbol: "rBTC", Decimals: 8, Name: "Bitcoin regtest"},

		ETH:        {ID: ETH, Model: Account, Symbol: "ETH", Decimals: 18, Name: "Ethereum mainnet", EVMChainID: 1},
		ETHSepolia: {ID: ETHSepolia, Model: Account, Symbol: "SepoliaETH", Decimals: 18, Name: "Ethereum Sepolia testnet", EVMChainID: 11155111},
		ETHHolesky: {ID: ETHHolesky, Model: Account, Symbol: "HoleskyETH", Decimals: 18, Name: "Ethereum Holesky testnet", EVMChainID: 17000},
		ETHHoodi:   {ID: ETHHoodi, Model: Account, Symbol: "HoodiETH", Decimals: 18, Name: "Ethereum Hoodi testnet", EVMChainID: 560048},
		ETHDev:     {ID: ETHDev, Model: Account, Symbol: "ETH", Decimals: 18, Name: "Ethereum development chain (geth --dev)", EVMChainID: 1337},
	}
)

// ErrInvalidChain is returned by Register for a chain description that
// cannot be used.
var ErrInvalidChain = errors.New("chains: invalid chain configuration")

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Register adds an EVM chain that fundtrace does not know by name, for
// example a layer 2 or a sidechain, from the operator's configuration. The
// id must be new and lowercase ("polygon", "arb-one"); the EVM chain id,
// native symbol and decimals are required. Registering the same
// description twice is not an error.
func Register(info Info) error {
	switch {
	case !idPattern.MatchString(string(info.ID)) || len(info.ID) > 32:
		return fmt.Errorf("%w: id %q: use lowercase letters, digits and dashes, at most 32 characters", ErrInvalidChain, string(info.ID))
	case info.Model != Account:
		return fmt.Errorf("%w: %s: only EVM (account-model) chains can be configured", ErrInvalidChain, info.ID)
	case info.EVMChainID == 0:
		return fmt.Errorf("%w: %s: chain_id is required", ErrInvalidChain, info.ID)
	case info.Symbol == "" || len(info.Symbol) > 16:
		return fmt.Errorf("%w: %s: native symbol %q must have 1 to 16 characters", ErrInvalidChain, info.ID, info.Symbol)
	case info.Decimals < 0 || info.Decimals > 77:
		return fmt.Errorf("%w: %s: decimals %d out of 0..77", ErrInvalidChain, info.ID, info.Decimals)
	}
	if info.Name == "" {
		info.Name = fmt.Sprintf("EVM chain %d", info.EVMChainID)
	}
	mu.Lock()
	defer mu.Unlock()
	if old, ok := known[info.ID]; ok {
		if old == info {
			return nil
		}
		return fmt.Errorf("%w: %s is already defined (%s, chain id %d)", ErrInvalidChain, info.ID, old.Name, old.EVMChainID)
	}
	known[info.ID] = info
	return nil
}

// Lookup returns the description of a chain id, or ErrUnknownChain.
func Lookup(id ID) (Info, error) {
	mu.RLock()
	info, ok := known[id]
	mu.RUnlock()
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
	mu.RLock()
	ids := make([]ID, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	mu.RUnlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
