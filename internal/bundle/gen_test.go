//go:build bundlegen

// The generator of the bundled files. Run once, from the module root:
//
//	go mod download github.com/btcsuite/btcd@v0.26.2
//	go test -tags bundlegen -run TestGenerate ./internal/bundle/
//
// It reads btcd's blockchain/testdata from the module cache and rewrites
// internal/bundle/mainnet/*.gz. The output is deterministic.

package bundle

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
)

const btcdVersion = "v0.26.2"

func btcdTestdata(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("BTCD_TESTDATA"); dir != "" {
		return dir
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "btcsuite", "btcd@"+btcdVersion, "blockchain", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("btcd test data: %v (run: go mod download github.com/btcsuite/btcd@%s)", err, btcdVersion)
	}
	return dir
}

func TestGenerate(t *testing.T) {
	src := btcdTestdata(t)
	if err := os.MkdirAll("mainnet", 0o755); err != nil {
		t.Fatal(err)
	}

	// (1) Blocks 0..14131: the framed records, zero padding stripped.
	raw, err := os.ReadFile(filepath.Join(src, "blk_0_to_14131.dat"))
	if err != nil {
		t.Fatal(err)
	}
	end, n := framedEnd(t, raw)
	if n != MainnetBlockCount {
		t.Fatalf("blk_0_to_14131.dat has %d records, want %d", n, MainnetBlockCount)
	}
	if !allZeroBytes(raw[end:]) {
		t.Fatalf("non-zero bytes after the last record at offset %d", end)
	}
	writeGzip(t, mainnetBlocksFile, raw[:end])

	// (2) Block 277647: btcd's file is one framed record.
	framed := readBzip2(t, filepath.Join(src, "277647.dat.bz2"))
	fend, fn := framedEnd(t, framed)
	if fn != 1 || fend != len(framed) {
		t.Fatalf("277647.dat.bz2: %d records, %d of %d bytes", fn, fend, len(framed))
	}
	block := framed[8:]
	writeGzip(t, block277647File, block)

	// (3) The outputs it spends, from btcd's utxostore.
	net, err := bitcoin.NetworkFor(chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := net.DecodeBlock(block, Height277647)
	if err != nil {
		t.Fatal(err)
	}
	store, err := decodeUtxoStore(readBzip2(t, filepath.Join(src, "277647.utxostore.bz2")))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, tx := range blk.Txs {
		if tx.Coinbase {
			continue
		}
		for _, in := range tx.Inputs {
			p, ok := store[in.Prev]
			if !ok {
				t.Fatalf("tx %s spends %s, not in the utxostore", tx.Hash, in.Prev)
			}
			lines = append(lines, fmt.Sprintf("%s %d %x\n", in.Prev, p.Value, p.Script))
		}
	}
	sort.Strings(lines)
	var text bytes.Buffer
	text.WriteString("# previous outputs spent by Bitcoin mainnet block 277647: txid:vout value_sat script_hex\n")
	for _, l := range lines {
		text.WriteString(l)
	}
	writeGzip(t, prevouts277647, text.Bytes())
	t.Logf("blocks %d bytes, block 277647 %d bytes (%d txs), %d prevouts of %d in the utxostore",
		end, len(block), len(blk.Txs), len(lines), len(store))
}

// framedEnd walks magic/length records and returns where they end and how
// many there are.
func framedEnd(t *testing.T, b []byte) (int, int) {
	t.Helper()
	off, n := 0, 0
	for off+8 <= len(b) {
		magic := binary.LittleEndian.Uint32(b[off:])
		if magic == 0 {
			break
		}
		if magic != 0xd9b4bef9 {
			t.Fatalf("offset %d: magic %08x", off, magic)
		}
		l := int(binary.LittleEndian.Uint32(b[off+4:]))
		if off+8+l > len(b) {
			t.Fatalf("offset %d: truncated record", off)
		}
		off += 8 + l
		n++
	}
	return off, n
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func readBzip2(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// writeGzip writes a deterministic gzip file (no name, no time stamp).
func writeGzip(t *testing.T, name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (%d uncompressed)", name, buf.Len(), len(data))
}

// decodeUtxoStore reads btcd's test utxostore: repeated
// <32-byte txid, wire order><uint32 LE output index><uint32 LE length><entry>,
// where entry is <VLQ header code><VLQ compressed amount><compressed script>.
func decodeUtxoStore(b []byte) (map[chains.OutPoint]Prevout, error) {
	out := make(map[chains.OutPoint]Prevout)
	for off := 0; off < len(b); {
		if len(b)-off < 40 {
			return nil, fmt.Errorf("utxostore offset %d: %d bytes left, want a 40-byte key", off, len(b)-off)
		}
		var op chains.OutPoint
		for i := range op.TxID {
			op.TxID[i] = b[off+31-i]
		}
		op.Index = binary.LittleEndian.Uint32(b[off+32:])
		n := int(binary.LittleEndian.Uint32(b[off+36:]))
		off += 40
		if n > len(b)-off {
			return nil, fmt.Errorf("utxostore %s: entry of %d bytes past the end", op, n)
		}
		p, err := decodeUtxoEntry(b[off : off+n])
		if err != nil {
			return nil, fmt.Errorf("utxostore %s: %w", op, err)
		}
		off += n
		out[op] = p
	}
	return out, nil
}

// readVLQ decodes btcd's (and Core's) MSB-first base-128 number in which
// each continuation adds one, so that every number has one encoding.
func readVLQ(b []byte) (uint64, int, error) {
	var n uint64
	for i, c := range b {
		if i == 10 {
			break
		}
		n = n<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return n, i + 1, nil
		}
		n++
	}
	return 0, 0, fmt.Errorf("bad variable-length number %x", b[:min(len(b), 10)])
}

func decodeUtxoEntry(b []byte) (Prevout, error) {
	_, n, err := readVLQ(b) // header code: height<<1 | coinbase
	if err != nil {
		return Prevout{}, err
	}
	b = b[n:]
	amount, n, err := readVLQ(b)
	if err != nil {
		return Prevout{}, err
	}
	b = b[n:]
	script, err := decompressScript(b)
	if err != nil {
		return Prevout{}, err
	}
	return Prevout{Value: decompressAmount(amount), Script: script}, nil
}

// decompressAmount inverts Core's amount compression: 0 is 0; otherwise
// x-1 = 10*(9*n + d-1) + e for exponent e < 9 and last digit d, or
// x-1 = 10*(n-1) + 9 for e = 9; the amount is (10*n+d)*10^e (or n*10^9).
func decompressAmount(x uint64) uint64 {
	if x == 0 {
		return 0
	}
	x--
	e := x % 10
	x /= 10
	var n uint64
	if e < 9 {
		d := x%9 + 1
		n = x/9*10 + d
	} else {
		n = x + 1
	}
	for ; e > 0; e-- {
		n *= 10
	}
	return n
}

// decompressScript inverts Core's script compression: type 0 is P2PKH and
// 1 is P2SH (20-byte hash follows), 2/3 a compressed P2PK key, 4/5 an
// uncompressed P2PK key stored as its x coordinate and y parity; any other
// value is the script length plus 6, followed by the script.
func decompressScript(b []byte) ([]byte, error) {
	kind, n, err := readVLQ(b)
	if err != nil {
		return nil, err
	}
	rest := b[n:]
	need := func(k int) error {
		if len(rest) != k {
			return fmt.Errorf("script type %d: %d bytes, want %d", kind, len(rest), k)
		}
		return nil
	}
	switch kind {
	case 0:
		if err := need(20); err != nil {
			return nil, err
		}
		return append(append([]byte{0x76, 0xa9, 0x14}, rest...), 0x88, 0xac), nil
	case 1:
		if err := need(20); err != nil {
			return nil, err
		}
		return append(append([]byte{0xa9, 0x14}, rest...), 0x87), nil
	case 2, 3:
		if err := need(32); err != nil {
			return nil, err
		}
		return append(append([]byte{0x21, byte(kind)}, rest...), 0xac), nil
	case 4, 5:
		if err := need(32); err != nil {
			return nil, err
		}
		y, err := secpY(rest, kind == 5)
		if err != nil {
			return nil, err
		}
		s := append([]byte{0x41, 0x04}, rest...)
		s = append(s, y...)
		return append(s, 0xac), nil
	}
	size := int(kind - 6)
	if err := need(size); err != nil {
		return nil, err
	}
	return append([]byte(nil), rest...), nil
}

// secpY returns the 32-byte y coordinate of the secp256k1 point with this x
// and y parity: y = sqrt(x^3 + 7) mod p, which is (x^3+7)^((p+1)/4) since
// p = 3 mod 4.
func secpY(xb []byte, odd bool) ([]byte, error) {
	p, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16)
	x := new(big.Int).SetBytes(xb)
	rhs := new(big.Int).Exp(x, big.NewInt(3), p)
	rhs.Add(rhs, big.NewInt(7)).Mod(rhs, p)
	exp := new(big.Int).Add(p, big.NewInt(1))
	exp.Rsh(exp, 2)
	y := new(big.Int).Exp(rhs, exp, p)
	if new(big.Int).Exp(y, big.NewInt(2), p).Cmp(rhs) != 0 {
		return nil, fmt.Errorf("x %s is not on secp256k1", hex.EncodeToString(xb))
	}
	if (y.Bit(0) == 1) != odd {
		y.Sub(p, y)
	}
	return y.FillBytes(make([]byte, 32)), nil
}
