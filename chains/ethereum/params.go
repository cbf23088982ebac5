package ethereum

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/holiman/uint256"
)

// RewardEra is a span of pre-Merge heights with one base block reward.
type RewardEra struct {
	From   int64  // first height of the era
	Reward uint64 // wei per block, before uncle inclusion bonuses
}

// Params are what extraction must know of an EVM chain beyond its blocks.
type Params struct {
	Chain   chains.ID
	ChainID uint64 // EIP-155 chain id, compared with eth_chainId
	// Rewards lists proof-of-work block reward eras in height order; empty
	// for chains that never paid them (proof of stake from genesis, dev
	// chains, configured chains).
	Rewards []RewardEra
	// MergeHeight is the first proof-of-stake height: no block or uncle
	// rewards from there on. Ignored when Rewards is empty.
	MergeHeight int64
	// Genesis lists the genesis block's allocations, in address order;
	// they become TransferGenesis transfers of block 0. fundtrace knows
	// those of eth-dev; for other chains the operator may give a genesis
	// file (ReadGenesis).
	Genesis []GenesisAlloc
}

const ether = 1_000_000_000_000_000_000

// ParamsFor returns the parameters of a known or registered EVM chain.
func ParamsFor(id chains.ID) (*Params, error) {
	info, err := chains.Lookup(id)
	if err != nil {
		return nil, err
	}
	if info.Model != chains.Account || info.EVMChainID == 0 {
		return nil, fmt.Errorf("%w: %s is not an EVM chain", chains.ErrUnknownChain, id)
	}
	p := &Params{Chain: id, ChainID: info.EVMChainID}
	switch id {
	case chains.ETH:
		// Frontier 5 ETH, Byzantium (EIP-649) 3 ETH, Constantinople
		// (EIP-1234) 2 ETH, none from the Merge (Paris).
		p.Rewards = []RewardEra{{0, 5 * ether}, {4_370_000, 3 * ether}, {7_280_000, 2 * ether}}
		p.MergeHeight = 15_537_394
	case chains.ETHSepolia:
		// Sepolia ran proof of work with Constantinople rules from
		// genesis until its Merge.
		p.Rewards = []RewardEra{{0, 2 * ether}}
		p.MergeHeight = 1_735_371
	case chains.ETHDev:
		p.Genesis = devGenesis()
	}
	return p, nil
}

// GenesisAlloc is a balance the genesis block gives an address. Genesis
// allocations move no value in any transaction, so without them the
// indexed balance of a pre-funded address would be short by its
// allocation.
type GenesisAlloc struct {
	Address string // lowercase 0x hex
	Balance chains.Amount
}

// devFaucet is geth --dev's pre-funded developer account (the key is
// fixed in geth; local-chains.md §4.3).
const devFaucet = "0x71562b71999873db5b286df957af199ec94617f7"

// devGenesis is the allocation of geth v1.17 --dev chains: 1 wei on each
// precompile address (0x01-0x11 and 0x100) and 2^256-9 wei on the faucet.
// geth --dev dumpgenesis prints all but the faucet, which geth adds when
// it starts; the live test checks every one against eth_getBalance at
// height 0.
func devGenesis() []GenesisAlloc {
	var out []GenesisAlloc
	one := chains.NewAmount(1)
	for i := 1; i <= 0x11; i++ {
		out = append(out, GenesisAlloc{fmt.Sprintf("0x%040x", i), one})
	}
	out = append(out, GenesisAlloc{fmt.Sprintf("0x%040x", 0x100), one})
	faucet, _ := chains.ParseAmount("115792089237316195423570985008687907853269984665640564039457584007913129639927")
	out = append(out, GenesisAlloc{devFaucet, faucet})
	sortAllocs(out)
	return out
}

func sortAllocs(a []GenesisAlloc) {
	sort.Slice(a, func(i, j int) bool { return a[i].Address < a[j].Address })
}

// ReadGenesis reads the allocations of a genesis file in geth's format
// (the "alloc" object of genesis.json: address → {"balance": hex or
// decimal}), for chains whose allocations fundtrace does not know. Entries
// without balance are skipped; a malformed one is an error naming it.
func ReadGenesis(r io.Reader) ([]GenesisAlloc, error) {
	var g struct {
		Alloc map[string]struct {
			Balance string `json:"balance"`
		} `json:"alloc"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("genesis file: %w", err)
	}
	if g.Alloc == nil {
		return nil, errors.New("genesis file: no \"alloc\" object")
	}
	var out []GenesisAlloc
	for addr, acc := range g.Alloc {
		a := strings.ToLower(addr)
		if !strings.HasPrefix(a, "0x") {
			a = "0x" + a
		}
		if !common.IsHexAddress(a) || len(a) != 42 {
			return nil, fmt.Errorf("%w: genesis alloc key %q", chains.ErrInvalidAddress, addr)
		}
		if acc.Balance == "" {
			continue
		}
		bal, err := parseQuantity(acc.Balance)
		if err != nil {
			return nil, fmt.Errorf("genesis alloc %s: balance %q: %w", addr, acc.Balance, err)
		}
		if !bal.IsZero() {
			out = append(out, GenesisAlloc{a, bal})
		}
	}
	sortAllocs(out)
	return out, nil
}

// parseQuantity parses a 0x hex or decimal quantity into an Amount.
func parseQuantity(s string) (chains.Amount, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err := uint256.FromHex(s)
		if err != nil {
			// uint256 rejects leading zeros; accept them.
			t := strings.TrimLeft(s[2:], "0")
			if t == "" {
				return chains.Amount{}, nil
			}
			if v, err = uint256.FromHex("0x" + t); err != nil {
				return chains.Amount{}, err
			}
		}
		return chains.AmountFromUint256(v), nil
	}
	return chains.ParseAmount(s)
}

// genesisTransfers returns the allocations of p as block-level transfers
// of the genesis block.
func genesisTransfers(p *Params) []chains.Transfer {
	out := make([]chains.Transfer, 0, len(p.Genesis))
	for i, g := range p.Genesis {
		out = append(out, chains.Transfer{TxIndex: -1, Position: i, Kind: chains.TransferGenesis,
			To: g.Address, Value: g.Balance, LogIndex: -1})
	}
	return out
}
