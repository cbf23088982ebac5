package bitcoin_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	txFirstTaproot = "33e794d097969002ee05d336686fc03c9e15a597c1b9827669460fac98799036"
	txScriptPath   = "1ba232a8bf936cf24155292c9a4330298278f572bacc78455eb68e3552197c30"
	hash574200     = "0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2"
)

// readFixture returns the bytes of a file in testdata/decode: hex for
// *.hex, gunzipped for *.gz.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "decode", name))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasSuffix(name, ".hex"):
		raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return raw
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return raw
	}
	return b
}

var (
	block574200Once sync.Once
	block574200     []byte
)

// readBlock574200 returns the big segwit block, decompressed once.
func readBlock574200(t testing.TB) []byte {
	block574200Once.Do(func() { block574200 = readFixture(t, "mainnet-574200.blk.gz") })
	if block574200 == nil {
		t.Fatal("block 574200 not loaded")
	}
	return block574200
}

func mustParseHash(t testing.TB, s string) chains.Hash {
	t.Helper()
	h, err := chains.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDecodeBlockGenesis(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	raw := readFixture(t, "mainnet-000000.hex")
	got, err := n.DecodeBlock(raw, 0)
	if err != nil {
		t.Fatalf("DecodeBlock(genesis): %v", err)
	}
	merkle := mustParseHash(t, "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
	want := chains.Block{
		Height:     0,
		Hash:       n.GenesisHash(),
		MerkleRoot: merkle,
		Time:       1231006505,
		Version:    1,
		Bits:       0x1d00ffff,
		Nonce:      2083236893,
		Size:       285,
		Weight:     4 * 285,
		Txs: []chains.Tx{{
			Hash:     merkle, // the only transaction
			Version:  1,
			Size:     204,
			Weight:   4 * 204,
			Coinbase: true,
			Inputs:   []chains.Input{{Sequence: 0xffffffff}},
			Outputs: []chains.Output{{
				Value:      50 * 100_000_000,
				ScriptType: chains.ScriptP2PK,
				Address:    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
				Script:     mustHex(t, "41"+genesisKey+"ac"),
			}},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeBlock(genesis) mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeBlock170(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	raw := readFixture(t, "mainnet-000170.hex")
	got, err := n.DecodeBlock(raw, 170)
	if err != nil {
		t.Fatalf("DecodeBlock(170): %v", err)
	}
	type out struct {
		Value   uint64
		Type    chains.ScriptType
		Address string
	}
	type tx struct {
		Hash     string
		Coinbase bool
		Prev     []string
		Outputs  []out
	}
	type block struct {
		Height int64
		Hash   string
		Prev   string
		Size   int
		Weight int
		Txs    []tx
	}
	summary := block{Height: got.Height, Hash: got.Hash.String(), Prev: got.PrevHash.String(), Size: got.Size, Weight: got.Weight}
	for _, t := range got.Txs {
		s := tx{Hash: t.Hash.String(), Coinbase: t.Coinbase}
		for _, in := range t.Inputs {
			s.Prev = append(s.Prev, in.Prev.String())
		}
		for _, o := range t.Outputs {
			s.Outputs = append(s.Outputs, out{o.Value, o.ScriptType, o.Address})
		}
		summary.Txs = append(summary.Txs, s)
	}
	want := block{
		Height: 170,
		Hash:   "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
		Prev:   "000000002a22cfee1f2c846adbd12b3e183d4f97683f85dad08a79780a84bd55",
		Size:   490,
		Weight: 4 * 490,
		Txs: []tx{
			{
				Hash:     "b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082",
				Coinbase: true,
				Prev:     []string{chains.OutPoint{}.String()},
				Outputs:  []out{{50 * 100_000_000, chains.ScriptP2PK, "1PSSGeFHDnKNxiEyFrD1wcEaHr9hrQDDWc"}},
			},
			{
				Hash:    "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
				Prev:    []string{"0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0"},
				Outputs: []out{{10 * 100_000_000, chains.ScriptP2PK, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"}, {40 * 100_000_000, chains.ScriptP2PK, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"}},
			},
		},
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("DecodeBlock(170) mismatch (-want +got):\n%s", diff)
	}
}

// TestDecodeRealBlocks decodes every real block fixture and checks it
// field by field against btcd's wire decoder, its txids against the
// header's Merkle root, and its addresses against btcd's txscript.
func TestDecodeRealBlocks(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	tests := []struct {
		file   string
		height int64
		hash   string
		txs    int
	}{
		{"mainnet-000000.hex", 0, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", 1},
		{"mainnet-000170.hex", 170, "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee", 2},
		{"mainnet-000546.hex", 546, "000000005a4ded781e667e06ceefafb71410b511fe0d5adc3e5a27ecbec34ae6", 4},
		{"mainnet-574200.blk.gz", 574200, hash574200, 3315},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := readFixture(t, tc.file)
			got, err := n.DecodeBlock(raw, tc.height)
			if err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if got.Hash.String() != tc.hash || len(got.Txs) != tc.txs {
				t.Errorf("DecodeBlock: hash %s with %d txs, want %s with %d", got.Hash, len(got.Txs), tc.hash, tc.txs)
			}
			compareWithBtcd(t, n, raw, got)
			if root := merkleRoot(got.Txs); root != got.MerkleRoot {
				t.Errorf("Merkle root of the decoded txids = %s, header says %s", root, got.MerkleRoot)
			}
			checked := 0
			for i, tx := range got.Txs {
				for j, o := range tx.Outputs {
					if want, ok := btcdAddress(n, o.Script); ok {
						checked++
						if o.Address != want {
							t.Errorf("tx %d output %d: address %q, btcd says %q", i, j, o.Address, want)
						}
					}
				}
			}
			t.Logf("%d addresses agree with btcd txscript", checked)
		})
	}
}

func TestDecodeBlockSegwitContent(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	raw := readBlock574200(t)
	blk, err := n.DecodeBlock(raw, 574200)
	if err != nil {
		t.Fatal(err)
	}
	types := map[chains.ScriptType]int{}
	segwitTxs := 0
	for _, tx := range blk.Txs {
		if tx.Weight < 4*tx.Size {
			segwitTxs++
		}
		for _, o := range tx.Outputs {
			types[o.ScriptType]++
		}
	}
	t.Logf("output types: %v; %d segwit txs; size %d, weight %d", types, segwitTxs, blk.Size, blk.Weight)
	for _, typ := range []chains.ScriptType{chains.ScriptP2PKH, chains.ScriptP2SH, chains.ScriptP2WPKH, chains.ScriptP2WSH, chains.ScriptOpReturn} {
		if types[typ] == 0 {
			t.Errorf("no %v output in block 574200", typ)
		}
	}
	if segwitTxs == 0 || blk.Weight >= 4*blk.Size || blk.Weight > 4_000_000 {
		t.Errorf("block weight %d for size %d with %d segwit txs: witness discount not applied", blk.Weight, blk.Size, segwitTxs)
	}
}

func TestDecodeTx(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	raw := readFixture(t, "tx-"+txFirstTaproot+".hex")
	got, err := n.DecodeTx(raw)
	if err != nil {
		t.Fatalf("DecodeTx: %v", err)
	}
	// Witness: 1 item of 64 bytes = 66 bytes, plus marker and flag.
	base := len(raw) - 2 - 66
	want := chains.Tx{
		Hash:     mustParseHash(t, txFirstTaproot),
		Version:  1,
		LockTime: 709631,
		Size:     len(raw),
		Weight:   3*base + len(raw),
		Inputs: []chains.Input{{
			Prev:     chains.OutPoint{TxID: mustParseHash(t, "5849051cf3ce36257a1d844e28959f368a35adc9520fb9679175f6cdf8c1f1d1"), Index: 1},
			Sequence: 0xfffffffd,
		}},
		Outputs: []chains.Output{
			{Value: 0, ScriptType: chains.ScriptOpReturn, Script: mustHex(t, "6a2f49206c696b65205363686e6f7272207369677320616e6420492063616e6e6f74206c69652e20406269746275673432")},
			{Value: 67230, ScriptType: chains.ScriptP2TR, Address: "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", Script: mustHex(t, "5120a37c3903c8d0db6512e2b40b0dffa05e5a3ab73603ce8c9c4b7771e5412328f9")},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeTx(%s) mismatch (-want +got):\n%s", txFirstTaproot, diff)
	}
}

func TestDecodeTxRealAgainstBtcd(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	var raws [][]byte
	for _, id := range []string{txFirstTaproot, txScriptPath} {
		raws = append(raws, readFixture(t, "tx-"+id+".hex"))
	}
	// Every transaction of the segwit block, one at a time.
	var m wire.MsgBlock
	if err := m.Deserialize(bytes.NewReader(readBlock574200(t))); err != nil {
		t.Fatal(err)
	}
	for _, tx := range m.Transactions {
		var buf bytes.Buffer
		if err := tx.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, buf.Bytes())
	}
	for i, raw := range raws {
		got, err := n.DecodeTx(raw)
		if err != nil {
			t.Fatalf("raw tx %d: DecodeTx: %v", i, err)
		}
		compareTxWithBtcd(t, n, raw, got)
	}
	for _, id := range []string{txFirstTaproot, txScriptPath} {
		got, err := n.DecodeTx(readFixture(t, "tx-"+id+".hex"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash.String() != id {
			t.Errorf("DecodeTx: txid %s, want %s", got.Hash, id)
		}
		for j, o := range got.Outputs {
			if o.ScriptType == chains.ScriptP2TR && !strings.HasPrefix(o.Address, "bc1p") {
				t.Errorf("tx %s output %d: P2TR address %q", id, j, o.Address)
			}
		}
	}
}

// TestDecodeDoesNotAliasInput: callers (the blk-file reader) reuse their
// buffers, so nothing decoded may point into raw.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	raw := readFixture(t, "mainnet-000170.hex")
	blk, err := n.DecodeBlock(raw, 170)
	if err != nil {
		t.Fatal(err)
	}
	before := hex.EncodeToString(blk.Txs[1].Outputs[1].Script)
	for i := range raw {
		raw[i] = 0xee
	}
	if after := hex.EncodeToString(blk.Txs[1].Outputs[1].Script); after != before {
		t.Errorf("output script changed with the input buffer: %s, was %s", after, before)
	}
	// Appending to one transaction's slices must not overwrite the next.
	blk.Txs[0].Outputs = append(blk.Txs[0].Outputs, chains.Output{Value: 1})
	blk.Txs[0].Inputs = append(blk.Txs[0].Inputs, chains.Input{Sequence: 1})
	if blk.Txs[1].Outputs[0].Value != 10*100_000_000 || blk.Txs[1].Inputs[0].Sequence != 0xffffffff {
		t.Errorf("append to tx 0 overwrote tx 1")
	}
}

// blockParts splits a real block into header and raw transactions.
func blockParts(t testing.TB, raw []byte) (header []byte, txs [][]byte) {
	t.Helper()
	var m wire.MsgBlock
	if err := m.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	for _, tx := range m.Transactions {
		var buf bytes.Buffer
		if err := tx.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, buf.Bytes())
	}
	return raw[:80], txs
}

// joinBlock builds a block from a header and raw transactions.
func joinBlock(header []byte, txs ...[]byte) []byte {
	var buf bytes.Buffer
	buf.Write(header)
	if err := wire.WriteVarInt(&buf, 0, uint64(len(txs))); err != nil {
		panic(err) // bytes.Buffer does not fail
	}
	b := buf.Bytes()
	for _, tx := range txs {
		b = append(b, tx...)
	}
	return b
}

// patched returns a copy of b with the bytes at off replaced.
func patched(b []byte, off int, with ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], with)
	return c
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestDecodeBlockErrors(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	genesis := readFixture(t, "mainnet-000000.hex")
	b170 := readFixture(t, "mainnet-000170.hex")
	header, txs := blockParts(t, b170)
	coinbase, spend := txs[0], txs[1]
	taproot := readFixture(t, "tx-"+txFirstTaproot+".hex")

	// Offsets inside the genesis block: header 80, count 1, then the
	// coinbase: version 4, count 1, outpoint 36, script length 1 + 77,
	// sequence 4, output count 1, value.
	const genesisValue = 80 + 1 + 4 + 1 + 36 + 1 + 77 + 4 + 1
	// Offsets inside tx 1 of block 170: version 4, count 1, outpoint 36,
	// script 1 + 72, sequence 4, count 1, value of output 0 (8), script
	// 1 + 67, value of output 1.
	const spendValue0 = 4 + 1 + 36 + 1 + 72 + 4 + 1
	const spendValue1 = spendValue0 + 8 + 1 + 67
	nullPrev := append(bytes.Repeat([]byte{0}, 32), 0xff, 0xff, 0xff, 0xff)

	// A segwit tx whose only witness is emptied: the flag is then
	// superfluous. Its witness starts after the outputs.
	emptyWitness := append(bytes.Clone(taproot[:len(taproot)-4-66]), 0x00)
	emptyWitness = append(emptyWitness, taproot[len(taproot)-4:]...)

	tests := []struct {
		name string
		raw  []byte
		want string // substring of the error
	}{
		{"empty", nil, "header: unexpected end of data"},
		{"header only", genesis[:80], "transaction count: unexpected end of data"},
		{"truncated by one byte", genesis[:len(genesis)-1], "tx 0: lock time: unexpected end of data"},
		{"truncated in output script", genesis[:215], "tx 0: output 0: script: count 67 cannot fit in the 1 bytes left"},
		{"trailing byte", append(bytes.Clone(genesis), 0), "1 trailing bytes after the last transaction"},
		{"no transactions", joinBlock(header), "no transactions"},
		{"first tx not a coinbase", joinBlock(header, spend), "tx 0 (f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16) is not a coinbase"},
		{"two coinbases", joinBlock(header, coinbase, coinbase), "tx 1 (b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082) input 0: spends the null outpoint"},
		{"null prevout in a spend", joinBlock(header, coinbase, patched(spend, 5, nullPrev...)), "tx 1 ("},
		{"value above 21M BTC", patched(genesis, genesisValue, le64(2_100_000_000_000_001)...), "tx 0: output 0: value 2100000000000001 sat is more than 21,000,000 BTC"},
		{"negative value", patched(genesis, genesisValue, le64(^uint64(0))...), "tx 0: output 0: negative value -1 sat"},
		{"outputs sum above 21M BTC", joinBlock(header, coinbase, patched(patched(spend, spendValue0, le64(2_000_000_000_000_000)...), spendValue1, le64(200_000_000_000_000)...)), "tx 1: output 1: outputs add up to 2200000000000000 sat"},
		{"non-canonical tx count", append(append(bytes.Clone(header), 0xfd, 0x01, 0x00), coinbase...), "transaction count: non-canonical compact size"},
		{"huge tx count", append(bytes.Clone(header), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "transaction count: count 18446744073709551615 cannot fit"},
		{"huge input count", joinBlock(header, patched(coinbase, 4, 0xfe, 0xff, 0xff, 0xff, 0x7f)), "tx 0: input count: count 2147483647 cannot fit"},
		{"unknown segwit flag", joinBlock(header, coinbase, patched(taproot, 5, 0x02)), "tx 1: segwit marker followed by flag 0x02, want 0x01"},
		{"superfluous witness", joinBlock(header, coinbase, emptyWitness), "tx 1: segwit flag set but every witness is empty"},
		{"over 4 MB", append(bytes.Clone(genesis), make([]byte, 4_000_000)...), "4000285 bytes, more than the 4000000 a block can have"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blk, err := n.DecodeBlock(tc.raw, 170)
			if err == nil {
				t.Fatalf("DecodeBlock = %d txs, nil error; want an error containing %q", len(blk.Txs), tc.want)
			}
			if !errors.Is(err, bitcoin.ErrMalformed) {
				t.Errorf("DecodeBlock error %q does not wrap ErrMalformed", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "block at height 170") {
				t.Errorf("DecodeBlock error = %q; want it to contain %q and the height", msg, tc.want)
			}
		})
	}
}

func TestDecodeTxErrors(t *testing.T) {
	n := mustNetwork(t, chains.BTC)
	_, txs := blockParts(t, readFixture(t, "mainnet-000170.hex"))
	spend := txs[1]
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "transaction: unexpected end of data"},
		{"trailing byte", append(bytes.Clone(spend), 0), "1 trailing bytes after the transaction"},
		{"truncated", spend[:len(spend)-1], "lock time: unexpected end of data"},
		{"null prevout with two inputs", append(append(append([]byte{1, 0, 0, 0, 2}, make([]byte, 32)...), 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff), append(append(make([]byte, 36), 0, 1, 2, 3, 4), 0, 0, 0, 0, 0)...), "input 0: spends the null outpoint but is not a coinbase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := n.DecodeTx(tc.raw)
			if err == nil {
				t.Fatalf("DecodeTx = %s, nil error; want an error containing %q", tx.Hash, tc.want)
			}
			if !errors.Is(err, bitcoin.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeTx error = %q; want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

// merkleRoot computes a block's Merkle root from decoded txids.
func merkleRoot(txs []chains.Tx) chains.Hash {
	level := make([][32]byte, len(txs))
	for i, tx := range txs {
		level[i] = reversed(tx.Hash)
	}
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([][32]byte, len(level)/2)
		for i := range next {
			first := sha256.Sum256(append(level[2*i][:], level[2*i+1][:]...))
			next[i] = sha256.Sum256(first[:])
		}
		level = next
	}
	return chains.Hash(reversed(level[0]))
}

func reversed(h [32]byte) [32]byte {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return h
}

var cmpOpts = cmp.Options{cmpopts.EquateEmpty()}

// compareWithBtcd decodes raw with btcd's wire package and checks that our
// decoded block carries the same data.
func compareWithBtcd(t testing.TB, n *bitcoin.Network, raw []byte, got chains.Block) {
	t.Helper()
	var m wire.MsgBlock
	r := bytes.NewReader(raw)
	if err := m.Deserialize(r); err != nil {
		t.Fatalf("btcd cannot decode a block we decoded: %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("btcd leaves %d bytes of a block we decoded", r.Len())
	}
	want := chains.Block{
		Height:     got.Height,
		Hash:       chains.Hash(reversed(m.BlockHash())),
		PrevHash:   chains.Hash(reversed(m.Header.PrevBlock)),
		MerkleRoot: chains.Hash(reversed(m.Header.MerkleRoot)),
		Time:       m.Header.Timestamp.Unix(),
		Version:    m.Header.Version,
		Bits:       m.Header.Bits,
		Nonce:      m.Header.Nonce,
		Size:       m.SerializeSize(),
		Weight:     3*m.SerializeSizeStripped() + m.SerializeSize(),
	}
	for _, tx := range m.Transactions {
		want.Txs = append(want.Txs, txFromBtcd(n, tx))
	}
	if reflect.DeepEqual(want, got) {
		return // fast path; cmp.Diff is slow on big blocks
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Fatalf("decoded block differs from btcd's decoding (-btcd +ours):\n%s", diff)
	}
}

func compareTxWithBtcd(t testing.TB, n *bitcoin.Network, raw []byte, got chains.Tx) {
	t.Helper()
	var m wire.MsgTx
	r := bytes.NewReader(raw)
	if err := m.Deserialize(r); err != nil {
		t.Fatalf("btcd cannot decode a tx we decoded: %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("btcd leaves %d bytes of a tx we decoded", r.Len())
	}
	if want := txFromBtcd(n, &m); !reflect.DeepEqual(want, got) {
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Fatalf("decoded tx differs from btcd's decoding (-btcd +ours):\n%s", diff)
		}
	}
	var buf bytes.Buffer
	if err := m.Serialize(&buf); err != nil || !bytes.Equal(buf.Bytes(), raw) {
		t.Fatalf("btcd re-serializes a tx we decoded differently (err %v)", err)
	}
}

func txFromBtcd(n *bitcoin.Network, tx *wire.MsgTx) chains.Tx {
	out := chains.Tx{
		Hash:     chains.Hash(reversed(tx.TxHash())),
		Version:  tx.Version,
		LockTime: tx.LockTime,
		Size:     tx.SerializeSize(),
		Weight:   3*tx.SerializeSizeStripped() + tx.SerializeSize(),
		Coinbase: btcdIsCoinbase(tx),
	}
	for _, in := range tx.TxIn {
		prev := chains.OutPoint{TxID: chains.Hash(reversed(in.PreviousOutPoint.Hash)), Index: in.PreviousOutPoint.Index}
		if out.Coinbase {
			prev = chains.OutPoint{}
		}
		out.Inputs = append(out.Inputs, chains.Input{Prev: prev, Sequence: in.Sequence})
	}
	for _, o := range tx.TxOut {
		typ, addr := n.ClassifyScript(o.PkScript)
		out.Outputs = append(out.Outputs, chains.Output{Value: uint64(o.Value), ScriptType: typ, Address: addr, Script: o.PkScript})
	}
	return out
}

func btcdIsNull(op wire.OutPoint) bool {
	return op.Index == 0xffffffff && op.Hash == [32]byte{}
}

func btcdIsCoinbase(tx *wire.MsgTx) bool {
	return len(tx.TxIn) == 1 && btcdIsNull(tx.TxIn[0].PreviousOutPoint)
}

// btcdTxBreaksRules reports whether a transaction btcd decoded breaks one of
// the rules DecodeBlock and DecodeTx add to parsing.
func btcdTxBreaksRules(tx *wire.MsgTx) bool {
	var total int64
	for _, o := range tx.TxOut {
		if o.Value < 0 || o.Value > 2_100_000_000_000_000 {
			return true
		}
		total += o.Value
		if total > 2_100_000_000_000_000 {
			return true
		}
	}
	if !btcdIsCoinbase(tx) {
		for _, in := range tx.TxIn {
			if btcdIsNull(in.PreviousOutPoint) {
				return true
			}
		}
	}
	return false
}

func btcdBlockBreaksRules(m *wire.MsgBlock, size int) bool {
	if size > 4_000_000 || len(m.Transactions) == 0 || !btcdIsCoinbase(m.Transactions[0]) {
		return true
	}
	for i, tx := range m.Transactions {
		if btcdTxBreaksRules(tx) || (i > 0 && btcdIsCoinbase(tx)) {
			return true
		}
	}
	return false
}

// btcdMayDecode reports whether btcd could decode what we rejected with
// err. A count that cannot fit in the bytes left can never decode, and
// asking btcd would only make it allocate up to ~100 MB for the count
// (its own bounds are per message, not per input) and slow fuzzing down.
//
// Likewise for the rules DecodeBlock adds to parsing (coinbase, values,
// sizes): those errors stop our decoder early, so btcd would read counts
// we never checked. TestDecodeBlockErrors covers them.
func btcdMayDecode(err error) bool {
	msg := err.Error()
	for _, rule := range []string{"cannot fit in the", "is not a coinbase", "null outpoint", "21,000,000 BTC", "negative value", "no transactions", "a block can have"} {
		if strings.Contains(msg, rule) {
			return false
		}
	}
	return true
}

func FuzzDecodeBlock(f *testing.F) {
	for _, name := range []string{"mainnet-000000.hex", "mainnet-000170.hex", "mainnet-000546.hex"} {
		f.Add(readFixture(f, name))
	}
	// A small block with segwit transactions: block 170's header and
	// coinbase, then real segwit transactions.
	header, txs := blockParts(f, readFixture(f, "mainnet-000170.hex"))
	_, big := blockParts(f, readBlock574200(f))
	f.Add(joinBlock(header, txs[0], readFixture(f, "tx-"+txFirstTaproot+".hex"), readFixture(f, "tx-"+txScriptPath+".hex")))
	f.Add(joinBlock(header, append([][]byte{big[0]}, big[1:6]...)...))
	n := mustNetwork(f, chains.BTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		blk, err := n.DecodeBlock(raw, 1)
		if err == nil {
			compareWithBtcd(t, n, raw, blk)
			return
		}
		if !errors.Is(err, bitcoin.ErrMalformed) {
			t.Fatalf("error %q does not wrap ErrMalformed", err)
		}
		if !btcdMayDecode(err) {
			return
		}
		var m wire.MsgBlock
		r := bytes.NewReader(raw)
		if m.Deserialize(r) == nil && r.Len() == 0 && !btcdBlockBreaksRules(&m, len(raw)) {
			t.Fatalf("btcd decodes a block we reject: %v", err)
		}
	})
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(readFixture(f, "tx-"+txFirstTaproot+".hex"))
	f.Add(readFixture(f, "tx-"+txScriptPath+".hex"))
	for _, name := range []string{"mainnet-000170.hex", "mainnet-000546.hex"} {
		_, txs := blockParts(f, readFixture(f, name))
		for _, tx := range txs {
			f.Add(tx)
		}
	}
	_, big := blockParts(f, readBlock574200(f))
	for _, tx := range big[:40] {
		f.Add(tx)
	}
	n := mustNetwork(f, chains.BTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := n.DecodeTx(raw)
		if err == nil {
			compareTxWithBtcd(t, n, raw, tx)
			return
		}
		if !errors.Is(err, bitcoin.ErrMalformed) {
			t.Fatalf("error %q does not wrap ErrMalformed", err)
		}
		if !btcdMayDecode(err) {
			return
		}
		var m wire.MsgTx
		r := bytes.NewReader(raw)
		if m.Deserialize(r) == nil && r.Len() == 0 && len(raw) <= 4_000_000 && !btcdTxBreaksRules(&m) {
			t.Fatalf("btcd decodes a tx we reject: %v", err)
		}
	})
}

func BenchmarkDecodeBlock(b *testing.B) {
	n := mustNetwork(b, chains.BTC)
	raw := readBlock574200(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.DecodeBlock(raw, 574200); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBlockBtcdWire is the alternative DecodeBlock replaced:
// btcd's wire decoder, then txids, sizes and the conversion to chains
// types with the same script classification.
func BenchmarkDecodeBlockBtcdWire(b *testing.B) {
	n := mustNetwork(b, chains.BTC)
	raw := readBlock574200(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var m wire.MsgBlock
		if err := m.Deserialize(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		txs := make([]chains.Tx, len(m.Transactions))
		for i, tx := range m.Transactions {
			txs[i] = txFromBtcd(n, tx)
		}
	}
}
