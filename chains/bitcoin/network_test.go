package bitcoin_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

// mustNetwork returns the network of id or stops the test.
func mustNetwork(t testing.TB, id chains.ID) *bitcoin.Network {
	t.Helper()
	n, err := bitcoin.NetworkFor(id)
	if err != nil {
		t.Fatalf("NetworkFor(%q): %v", id, err)
	}
	return n
}

// allNetworks lists every Bitcoin chain id.
var allNetworks = []chains.ID{chains.BTC, chains.BTCTestnet, chains.BTCTestnet4, chains.BTCSignet, chains.BTCRegtest}

func TestNetworkFor(t *testing.T) {
	tests := []struct {
		id         chains.ID
		magicBytes [4]byte
		genesis    string
	}{
		{chains.BTC, [4]byte{0xf9, 0xbe, 0xb4, 0xd9}, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"},
		{chains.BTCTestnet, [4]byte{0x0b, 0x11, 0x09, 0x07}, "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"},
		{chains.BTCTestnet4, [4]byte{0x1c, 0x16, 0x3f, 0x28}, "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"},
		{chains.BTCSignet, [4]byte{0x0a, 0x03, 0xcf, 0x40}, "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"},
		{chains.BTCRegtest, [4]byte{0xfa, 0xbf, 0xb5, 0xda}, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"},
	}
	if len(tests) != len(allNetworks) {
		t.Fatalf("test covers %d networks, want %d", len(tests), len(allNetworks))
	}
	for _, tc := range tests {
		t.Run(string(tc.id), func(t *testing.T) {
			n := mustNetwork(t, tc.id)
			if got := n.ID(); got != tc.id {
				t.Errorf("ID() = %q, want %q", got, tc.id)
			}
			if got, want := n.Magic(), binary.LittleEndian.Uint32(tc.magicBytes[:]); got != want {
				t.Errorf("Magic() = %#08x, want %#08x (bytes % x)", got, want, tc.magicBytes)
			}
			if got, want := n.GenesisHash().String(), tc.genesis; got != want {
				t.Errorf("GenesisHash() = %s, want %s", got, want)
			}
			// The hand-written values must agree with btcd's parameters.
			p := n.Params()
			if got, want := n.Magic(), uint32(p.Net); got != want {
				t.Errorf("Magic() = %#08x, chaincfg Net = %#08x", got, want)
			}
			if got, want := n.GenesisHash().String(), p.GenesisHash.String(); got != want {
				t.Errorf("GenesisHash() = %s, chaincfg GenesisHash = %s", got, want)
			}
			if _, err := chains.Lookup(tc.id); err != nil {
				t.Errorf("chains.Lookup(%q): %v", tc.id, err)
			}
		})
	}
}

func TestNetworkForUnknown(t *testing.T) {
	for _, id := range []chains.ID{"", "eth", "btc-simnet", "BTC"} {
		n, err := bitcoin.NetworkFor(id)
		if !errors.Is(err, chains.ErrUnknownChain) || n != nil {
			t.Errorf("NetworkFor(%q) = %v, %v; want nil, ErrUnknownChain", id, n, err)
		}
	}
}
