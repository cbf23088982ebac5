package bitcoin_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/google/go-cmp/cmp"
)

// Network families for the script vectors: testnet3, testnet4 and signet
// share all address encodings; regtest shares base58 with them but has its
// own bech32 prefix.
var (
	familyMain    = []chains.ID{chains.BTC}
	familyTest    = []chains.ID{chains.BTCTestnet, chains.BTCTestnet4, chains.BTCSignet}
	familyRegtest = []chains.ID{chains.BTCRegtest}
	familyBase58T = []chains.ID{chains.BTCTestnet, chains.BTCTestnet4, chains.BTCSignet, chains.BTCRegtest}
)

const (
	// Public key of the genesis coinbase output (uncompressed).
	genesisKey = "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
	// The generator point G (private key 1), compressed; HASH160 is
	// 751e76e8199196d454941c45d1b3a323f1433bd6.
	keyG = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	// Another compressed key (private key 2 is 02c6047f...; any valid
	// prefix and length works for classification).
	key2 = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5"
	key3 = "03" + "e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13"
)

// Script vectors with the address each network family must produce. Sources:
// BIP173 and BIP350 test vectors; BIP341 wallet-test-vectors.json
// (scriptPubKey section); Bitcoin Core src/test/data/key_io_valid.json
// (chains main, testnet4, signet, regtest); the genesis output; the P2A
// addresses documented by Bitcoin Core 28 and btcd.
var scriptVectors = []struct {
	name    string
	nets    []chains.ID
	script  string
	typ     chains.ScriptType
	address string
}{
	// Mainnet.
	{"p2pkh core", familyMain, "76a914a31c06bd463e3923bc1aadbde48b16976c08071788ac", chains.ScriptP2PKH, "1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo"},
	{"p2pkh key G", familyMain, "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac", chains.ScriptP2PKH, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
	{"p2sh core", familyMain, "a914373b819a068f32b7a6b38b6b38729647cfde01c287", chains.ScriptP2SH, "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm"},
	{"p2wpkh bip173", familyMain, "0014751e76e8199196d454941c45d1b3a323f1433bd6", chains.ScriptP2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
	{"p2wpkh core", familyMain, "00146100fc6343edc8c874496cb2f5bbfec88ea9b77c", chains.ScriptP2WPKH, "bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv"},
	{"p2wsh core", familyMain, "002027304b37f70e94bc8a0fbf500e0c957a80ebda87280ef58214d92f119811acdc", chains.ScriptP2WSH, "bc1qyucykdlhp62tezs0hagqury402qwhk589q80tqs5myh3rxq34nwqhkdhv7"},
	{"p2tr bip350", familyMain, "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", chains.ScriptP2TR, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"},
	{"p2tr bip341", familyMain, "512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343", chains.ScriptP2TR, "bc1p2wsldez5mud2yam29q22wgfh9439spgduvct83k3pm50fcxa5dps59h4z5"},
	{"p2tr core", familyMain, "51203c671ef1e3913f94980a9e146ba895908550ef4234abb7503d436521aba54c75", chains.ScriptP2TR, "bc1p83n3au0rjylefxq2nc2xh2y4jzz4pm6zxj4mw5pagdjjr2a9f36s6jjnnu"},
	{"p2a", familyMain, "51024e73", chains.ScriptP2A, "bc1pfeessrawgf"},
	{"witness v1 40 bytes bip350", familyMain, "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6", chains.ScriptWitnessUnknown, "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"},
	{"witness v16 2 bytes bip350", familyMain, "6002751e", chains.ScriptWitnessUnknown, "bc1sw50qgdz25j"},
	{"witness v2 16 bytes bip350", familyMain, "5210751e76e8199196d454941c45d1b3a323", chains.ScriptWitnessUnknown, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"},
	{"witness v2 2 bytes core", familyMain, "520250ed", chains.ScriptWitnessUnknown, "bc1z2rksukkjr8"},
	// The genesis address is 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa; the garbled
	// 1A1zP1eP5QGefi2DMPTfTL5SmLxtDNa1 sometimes quoted fails its checksum
	// (see TestParseAddressInvalid).
	{"p2pk genesis", familyMain, "41" + genesisKey + "ac", chains.ScriptP2PK, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
	{"p2pk compressed G", familyMain, "21" + keyG + "ac", chains.ScriptP2PK, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},

	// testnet3, testnet4, signet.
	{"p2pkh core testnet4", familyTest, "76a914ce28b26c57472737f5c3561a1761185bd8589a4388ac", chains.ScriptP2PKH, "mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ"},
	{"p2pkh core signet", familyTest, "76a914b4110ba93ac54afc14da3bdd19614774a2d55d2988ac", chains.ScriptP2PKH, "mww4LvqtTMKvmeQvizPz2EQv26xTneWrbg"},
	{"p2sh core testnet4", familyTest, "a914ce0bba75891ff9ec60148d4bd4a09ee2dc5c933187", chains.ScriptP2SH, "2NC2hEhe28ULKAJkW5MjZ3jtTMJdvXmByvK"},
	{"p2sh core signet", familyTest, "a9145e5a35ab44b3efaea5129ba22b88ba3e2976614587", chains.ScriptP2SH, "2N1r7aC69VHeE7yQJPDLi9T1PYq4wnwvjuT"},
	{"p2wpkh core testnet4", familyTest, "0014c0ef1202759fff90ff19128936814321ee59e111", chains.ScriptP2WPKH, "tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54"},
	{"p2wsh bip173", familyTest, "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", chains.ScriptP2WSH, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"},
	{"p2wsh bip350", familyTest, "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", chains.ScriptP2WSH, "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy"},
	{"p2wsh core testnet4", familyTest, "0020e13e5e482870d58bb44d9cfbfccea78702aad18d4ceea91af0e022431de31bbe", chains.ScriptP2WSH, "tb1quyl9ujpgwr2chdzdnnalen48sup245vdfnh2jxhsuq3yx80rrwlq5hqfe4"},
	{"p2tr bip350", familyTest, "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", chains.ScriptP2TR, "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"},
	{"p2tr core testnet4", familyTest, "51208d2745489a35b75734afa2da43817d40e7e8d80d17a26cd4460b0055c521a3fa", chains.ScriptP2TR, "tb1p35n52jy6xkm4wd905tdy8qtagrn73kqdz73xe4zxpvq9t3fp50aqk3s6gz"},
	{"p2tr core signet", familyTest, "5120ee69cdabddbccf3f4428c9b31b61df09db783833d1eb75594ed2cbdf3a3906a8", chains.ScriptP2TR, "tb1pae5um27ahn8n73pgexe3kcwlp8dhswpn684h2k2w6t9a7w3eq65qephd5y"},
	{"p2a", familyTest, "51024e73", chains.ScriptP2A, "tb1pfees9rn5nz"},
	{"witness v3 16 bytes core testnet4", familyTest, "53104329bd718db46d8f021c13f1e2b0e726", chains.ScriptWitnessUnknown, "tb1rgv5m6uvdk3kc7qsuz0c79v88ycr5w4wa"},
	{"witness v3 32 bytes core signet", familyTest, "532031665447dd11f7c54759a48266adfbd78954f0071de0f8422d94f6fb43091b98", chains.ScriptWitnessUnknown, "tb1rx9n9g37az8mu236e5jpxdt0m67y4fuq8rhs0ss3djnm0kscfrwvq0ntlyg"},

	// Base58 is the same on the test networks and regtest.
	{"p2pkh core regtest", familyBase58T, "76a914fdeca3b08e38af53d7c4c60e3ad208ce5066441088ac", chains.ScriptP2PKH, "n4fajahJrAuKbN7uNsKjLjQkz9Qn5ewJXQ"},
	{"p2sh core regtest", familyBase58T, "a91436e9f191e0b75036a77f65e2eaa4752443233fbe87", chains.ScriptP2SH, "2MxFajLApXpYk4VodBSZSt7rw8y4ryABkfA"},
	{"p2pkh key G", familyBase58T, "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac", chains.ScriptP2PKH, "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"},
	{"p2pk compressed G", familyBase58T, "21" + keyG + "ac", chains.ScriptP2PK, "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"},

	// Regtest.
	{"p2wpkh core regtest", familyRegtest, "00146f58bac9506f9bfb821d62e69330410bb56f0085", chains.ScriptP2WPKH, "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9"},
	{"p2wsh core regtest", familyRegtest, "0020ecce89afb8f0bdbcab325d6e11f2aaeb549f50a9d91fb8e64c814faa685367b2", chains.ScriptP2WSH, "bcrt1qan8gntac7z7me2ejt4hpru42ad2f759fmy0m3ejvs98656znv7eqga4uhv"},
	{"p2tr core regtest", familyRegtest, "51204b8d20316baaf061adbfe72c9d914d678cd5004d49356ec9949ba752777171ac", chains.ScriptP2TR, "bcrt1pfwxjqvtt4tcxrtdluukfmy2dv7xd2qzdfy6kajv5nwn4yam3wxkq3553uh"},
	{"p2a", familyRegtest, "51024e73", chains.ScriptP2A, "bcrt1pfeesnyr2tx"},
	{"witness v16 40 bytes core regtest", familyRegtest, "6028368279cbe6f5cbbc2ba8154883a9a29e5517d1f3c03cac4f39ce3225060b3efb799cd9c412746ae2", chains.ScriptWitnessUnknown, "bcrt1sx6p8njlx7h9mc2agz4yg82dzne23050ncq72cneeecez2pst8mahn8xecsf8g6hzx94420"},

	// No address, on every network.
	{"op_return alone", allNetworks, "6a", chains.ScriptOpReturn, ""},
	{"op_return data", allNetworks, "6a0568656c6c6f", chains.ScriptOpReturn, ""},
	{"op_return truncated push", allNetworks, "6a4c", chains.ScriptOpReturn, ""},
	{"multisig 1-of-1", allNetworks, "5121" + keyG + "51ae", chains.ScriptMultisig, ""},
	{"multisig 2-of-3", allNetworks, "5221" + keyG + "21" + key2 + "21" + key3 + "53ae", chains.ScriptMultisig, ""},
	{"multisig 1-of-2 uncompressed and compressed", allNetworks, "5141" + genesisKey + "21" + keyG + "52ae", chains.ScriptMultisig, ""},
	{"multisig key via pushdata1", allNetworks, "514c21" + keyG + "51ae", chains.ScriptMultisig, ""},
	{"multisig 17 keys pushed as number", allNetworks, "0111" + strings.Repeat("21"+keyG, 17) + "0111ae", chains.ScriptMultisig, ""},
	{"empty", allNetworks, "", chains.ScriptNonStandard, ""},
	{"op_true", allNetworks, "51", chains.ScriptNonStandard, ""},
	{"p2pkh with trailing byte", allNetworks, "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac00", chains.ScriptNonStandard, ""},
	{"p2pkh with short hash", allNetworks, "76a913751e76e8199196d454941c45d1b3a323f1433b88ac", chains.ScriptNonStandard, ""},
	{"p2sh with op_equalverify", allNetworks, "a914373b819a068f32b7a6b38b6b38729647cfde01c288", chains.ScriptNonStandard, ""},
	{"witness v0 of 21 bytes", allNetworks, "0015751e76e8199196d454941c45d1b3a323f1433bd600", chains.ScriptNonStandard, ""},
	{"witness v0 of 2 bytes", allNetworks, "0002751e", chains.ScriptNonStandard, ""},
	{"witness program of 1 byte", allNetworks, "510100", chains.ScriptNonStandard, ""},
	{"witness program of 41 bytes", allNetworks, "5129" + strings.Repeat("ab", 41), chains.ScriptNonStandard, ""},
	{"witness program via pushdata1", allNetworks, "514c20" + strings.Repeat("ab", 32), chains.ScriptNonStandard, ""},
	{"witness program length mismatch", allNetworks, "5121" + strings.Repeat("ab", 32), chains.ScriptNonStandard, ""},
	{"p2pk compressed key with 04 prefix", allNetworks, "21" + "04" + keyG[2:] + "ac", chains.ScriptNonStandard, ""},
	{"p2pk uncompressed key with 02 prefix", allNetworks, "41" + "02" + genesisKey[2:] + "ac", chains.ScriptNonStandard, ""},
	{"p2pk key with 05 prefix", allNetworks, "21" + "05" + keyG[2:] + "ac", chains.ScriptNonStandard, ""},
	{"p2pk with op_checksigverify", allNetworks, "21" + keyG + "ad", chains.ScriptNonStandard, ""},
	{"p2pk 34-byte push", allNetworks, "22" + keyG + "00ac", chains.ScriptNonStandard, ""},
	{"multisig m greater than n", allNetworks, "5221" + keyG + "51ae", chains.ScriptNonStandard, ""},
	{"multisig n does not match keys", allNetworks, "5121" + keyG + "52ae", chains.ScriptNonStandard, ""},
	{"multisig m zero", allNetworks, "0021" + keyG + "51ae", chains.ScriptNonStandard, ""},
	{"multisig bad key prefix", allNetworks, "5121" + "05" + keyG[2:] + "51ae", chains.ScriptNonStandard, ""},
	{"multisig non-minimal m", allNetworks, "010121" + keyG + "51ae", chains.ScriptNonStandard, ""},
	{"multisig 21 keys", allNetworks, "51" + strings.Repeat("21"+keyG, 21) + "0115ae", chains.ScriptNonStandard, ""},
	{"multisig truncated key", allNetworks, "5121" + keyG[:40] + "ae", chains.ScriptNonStandard, ""},
	{"multisig extra opcode", allNetworks, "5121" + keyG + "5175ae", chains.ScriptNonStandard, ""},
	{"op_checkmultisig alone", allNetworks, "ae", chains.ScriptNonStandard, ""},
}

func TestClassifyScript(t *testing.T) {
	for _, tc := range scriptVectors {
		for _, id := range tc.nets {
			t.Run(string(id)+"/"+tc.name, func(t *testing.T) {
				n := mustNetwork(t, id)
				script := mustHex(t, tc.script)
				typ, addr := n.ClassifyScript(script)
				if typ != tc.typ || addr != tc.address {
					t.Fatalf("ClassifyScript(%s) = %v, %q; want %v, %q", tc.script, typ, addr, tc.typ, tc.address)
				}
				if addr == "" {
					return
				}
				// Every address we produce must parse back unchanged.
				got, err := n.ParseAddress(addr)
				if err != nil || got != addr {
					t.Errorf("ParseAddress(%q) = %q, %v; want it unchanged", addr, got, err)
				}
				// And agree with btcd's independent encoder where btcd
				// knows the type.
				if want, ok := btcdAddress(n, script); ok && want != addr {
					t.Errorf("address %q, btcd txscript says %q", addr, want)
				}
			})
		}
	}
}

// btcdAddress returns the address btcd's txscript extracts from a script,
// for the types whose address is defined the same way (P2PK as the P2PKH
// of the key).
func btcdAddress(n *bitcoin.Network, script []byte) (string, bool) {
	class, addrs, _, err := txscript.ExtractPkScriptAddrs(script, n.Params())
	if err != nil || len(addrs) != 1 {
		return "", false
	}
	switch class {
	case txscript.PubKeyTy:
		pk, ok := addrs[0].(*address.AddressPubKey)
		if !ok {
			return "", false
		}
		return pk.AddressPubKeyHash().EncodeAddress(), true
	case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy,
		txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy, txscript.PayToAnchorTy:
		return addrs[0].EncodeAddress(), true
	}
	return "", false
}

// TestClassifyScriptP2PKAllNetworks checks P2PK addresses on every network,
// including the hybrid key forms (06/07) Core accepts as P2PK, against the
// P2PKH address btcd builds from HASH160 of the key bytes.
func TestClassifyScriptP2PKAllNetworks(t *testing.T) {
	keys := map[string]string{
		"uncompressed": genesisKey,
		"compressed":   keyG,
		"odd y":        key3,
		"hybrid 06":    "06" + genesisKey[2:],
		"hybrid 07":    "07" + genesisKey[2:],
		"off curve":    "02" + strings.Repeat("ff", 32), // shape only, like Core
	}
	for _, id := range allNetworks {
		for name, key := range keys {
			t.Run(string(id)+"/"+name, func(t *testing.T) {
				n := mustNetwork(t, id)
				k := mustHex(t, key)
				script := append(append([]byte{byte(len(k))}, k...), 0xac)
				pkh, err := address.NewAddressPubKeyHash(address.Hash160(k), n.Params())
				if err != nil {
					t.Fatal(err)
				}
				typ, addr := n.ClassifyScript(script)
				if typ != chains.ScriptP2PK || addr != pkh.EncodeAddress() {
					t.Errorf("ClassifyScript(%x) = %v, %q; want p2pk, %q", script, typ, addr, pkh.EncodeAddress())
				}
			})
		}
	}
}

func TestMultisigKeys(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	tests := []struct {
		name   string
		script string
		m      int
		keys   []string
		ok     bool
	}{
		{"2-of-3", "5221" + keyG + "21" + key2 + "21" + key3 + "53ae", 2, []string{keyG, key2, key3}, true},
		{"1-of-2 mixed", "5141" + genesisKey + "21" + keyG + "52ae", 1, []string{genesisKey, keyG}, true},
		{"pushdata1 key", "514c21" + keyG + "51ae", 1, []string{keyG}, true},
		{"17-of-17", "0111" + strings.Repeat("21"+keyG, 17) + "0111ae", 17, slicesRepeat(keyG, 17), true},
		{"p2pkh", "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac", 0, nil, false},
		{"m greater than n", "5221" + keyG + "51ae", 0, nil, false},
		{"empty", "", 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := mustHex(t, tc.script)
			m, keys, ok := n.MultisigKeys(script)
			var gotKeys []string
			for _, k := range keys {
				gotKeys = append(gotKeys, hex.EncodeToString(k))
			}
			if m != tc.m || ok != tc.ok {
				t.Errorf("MultisigKeys() m, ok = %d, %v; want %d, %v", m, ok, tc.m, tc.ok)
			}
			if diff := cmp.Diff(tc.keys, gotKeys); diff != "" {
				t.Errorf("MultisigKeys() keys (-want +got):\n%s", diff)
			}
			if ok {
				// The keys are copies: clobbering the script leaves them.
				before := gotKeys[0]
				for i := range script {
					script[i] = 0
				}
				if got := hex.EncodeToString(keys[0]); got != before {
					t.Errorf("key changed with the script: %s, was %s", got, before)
				}
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func FuzzClassifyScript(f *testing.F) {
	for _, tc := range scriptVectors {
		b, err := hex.DecodeString(tc.script)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	nets := make([]*bitcoin.Network, len(allNetworks))
	for i, id := range allNetworks {
		nets[i] = mustNetwork(f, id)
	}
	hasAddress := map[chains.ScriptType]bool{
		chains.ScriptP2PK: true, chains.ScriptP2PKH: true, chains.ScriptP2SH: true,
		chains.ScriptP2WPKH: true, chains.ScriptP2WSH: true, chains.ScriptP2TR: true,
		chains.ScriptP2A: true, chains.ScriptWitnessUnknown: true,
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		orig := bytes.Clone(script)
		for _, n := range nets {
			typ, addr := n.ClassifyScript(script)
			if hasAddress[typ] != (addr != "") {
				t.Fatalf("%s: ClassifyScript(%x) = %v, %q: address presence does not match the type", n, script, typ, addr)
			}
			if addr != "" {
				if got, err := n.ParseAddress(addr); err != nil || got != addr {
					t.Fatalf("%s: ParseAddress(%q) from script %x = %q, %v", n, addr, script, got, err)
				}
			}
			m, keys, ok := n.MultisigKeys(script)
			if ok != (typ == chains.ScriptMultisig) {
				t.Fatalf("%s: script %x: type %v but MultisigKeys ok = %v", n, script, typ, ok)
			}
			if ok && (m < 1 || m > len(keys) || len(keys) > 20) {
				t.Fatalf("%s: script %x: m = %d with %d keys", n, script, m, len(keys))
			}
		}
		if !bytes.Equal(script, orig) {
			t.Fatalf("ClassifyScript modified its input")
		}
	})
}
