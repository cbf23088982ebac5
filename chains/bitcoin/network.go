package bitcoin

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/fundtrace/fundtrace/chains"
)

// Network holds the parameters of one Bitcoin network that decoding, script
// classification and address handling need. Get one from NetworkFor. A
// Network is immutable and safe for concurrent use.
type Network struct {
	id      chains.ID
	params  *chaincfg.Params
	magic   [4]byte     // blk-file and p2p message start, in file order
	genesis chains.Hash // display order

	hrp      string // bech32 human-readable part of segwit addresses
	p2pkhVer byte   // base58check version byte of P2PKH addresses
	p2shVer  byte   // base58check version byte of P2SH addresses
}

// Every Bitcoin network fundtrace knows. The values are written out here
// (not read from chaincfg) so that a change in btcd cannot silently change
// what fundtrace stores; network_test.go checks them against chaincfg.
var networks = map[chains.ID]*Network{
	chains.BTC: {
		id:       chains.BTC,
		params:   &chaincfg.MainNetParams,
		magic:    [4]byte{0xf9, 0xbe, 0xb4, 0xd9},
		genesis:  mustHash("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"),
		hrp:      "bc",
		p2pkhVer: 0x00,
		p2shVer:  0x05,
	},
	chains.BTCTestnet: {
		id:       chains.BTCTestnet,
		params:   &chaincfg.TestNet3Params,
		magic:    [4]byte{0x0b, 0x11, 0x09, 0x07},
		genesis:  mustHash("000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"),
		hrp:      "tb",
		p2pkhVer: 0x6f,
		p2shVer:  0xc4,
	},
	chains.BTCTestnet4: {
		id:       chains.BTCTestnet4,
		params:   &chaincfg.TestNet4Params,
		magic:    [4]byte{0x1c, 0x16, 0x3f, 0x28},
		genesis:  mustHash("00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"),
		hrp:      "tb",
		p2pkhVer: 0x6f,
		p2shVer:  0xc4,
	},
	chains.BTCSignet: {
		id:       chains.BTCSignet,
		params:   &chaincfg.SigNetParams,
		magic:    [4]byte{0x0a, 0x03, 0xcf, 0x40},
		genesis:  mustHash("00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"),
		hrp:      "tb",
		p2pkhVer: 0x6f,
		p2shVer:  0xc4,
	},
	chains.BTCRegtest: {
		id:       chains.BTCRegtest,
		params:   &chaincfg.RegressionNetParams,
		magic:    [4]byte{0xfa, 0xbf, 0xb5, 0xda},
		genesis:  mustHash("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"),
		hrp:      "bcrt",
		p2pkhVer: 0x6f,
		p2shVer:  0xc4,
	},
}

// NetworkFor returns the parameters of a Bitcoin network, or an error
// wrapping chains.ErrUnknownChain for an id that is not a Bitcoin network.
func NetworkFor(id chains.ID) (*Network, error) {
	n, ok := networks[id]
	if !ok {
		return nil, fmt.Errorf("bitcoin: %q is not a Bitcoin network: %w", string(id), chains.ErrUnknownChain)
	}
	return n, nil
}

// ID returns the chain id, e.g. chains.BTC.
func (n *Network) ID() chains.ID { return n.id }

// Magic returns the network magic (message start) as the little-endian
// uint32 of the first four bytes of every blk*.dat record and p2p message:
// 0xd9b4bef9 for mainnet (bytes f9 be b4 d9).
func (n *Network) Magic() uint32 { return binary.LittleEndian.Uint32(n.magic[:]) }

// GenesisHash returns the hash of the network's genesis block, in display
// order.
func (n *Network) GenesisHash() chains.Hash { return n.genesis }

// Params returns btcd's parameters of the network, for code that talks to
// btcd packages directly (e.g. the test devnet). The result is shared: do
// not modify it.
func (n *Network) Params() *chaincfg.Params { return n.params }

// String returns the chain id.
func (n *Network) String() string { return string(n.id) }

func mustHash(s string) chains.Hash {
	h, err := chains.ParseHash(s)
	if err != nil {
		panic(err) // only called on the constants above
	}
	return h
}
