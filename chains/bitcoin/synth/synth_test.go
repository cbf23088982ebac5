package synth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin/synth"
)

// testConfig is small enough to decode completely in well under a second,
// and large enough for the distributions to show.
func testConfig() synth.Config {
	c := synth.DefaultConfig()
	c.Blocks = 155 // past the first halving at 150
	c.TxsPerBlock = 150
	c.RampBlocks = 5
	c.Seed = 7
	c.MaxFileSize = synth.MinFileSize * 4 // several files
	return c
}

type rawBlock struct {
	file  int
	bytes []byte
	msg   *wire.MsgBlock
}

// readBlockDir decodes every record of every blk file in dir with btcd's
// wire package, checking the framing on the way.
func readBlockDir(t *testing.T, dir string, maxSize int64) []rawBlock {
	t.Helper()
	var blocks []rawBlock
	for n := 0; ; n++ {
		data, err := os.ReadFile(filepath.Join(dir, synth.BlockFileName(n)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) > maxSize {
			t.Errorf("%s: %d bytes, more than the maximum %d", synth.BlockFileName(n), len(data), maxSize)
		}
		for off := 0; off < len(data); {
			if len(data)-off < 8 {
				t.Fatalf("%s@%d: truncated record header", synth.BlockFileName(n), off)
			}
			if got := data[off : off+4]; !bytes.Equal(got, []byte{0xfa, 0xbf, 0xb5, 0xda}) {
				t.Fatalf("%s@%d: magic %x, want fabfb5da", synth.BlockFileName(n), off, got)
			}
			size := int(binary.LittleEndian.Uint32(data[off+4:]))
			raw := data[off+8 : off+8+size]
			var msg wire.MsgBlock
			r := bytes.NewReader(raw)
			if err := msg.Deserialize(r); err != nil {
				t.Fatalf("%s@%d: deserialize block %d: %v", synth.BlockFileName(n), off, len(blocks), err)
			}
			if r.Len() != 0 {
				t.Fatalf("block %d: %d trailing bytes", len(blocks), r.Len())
			}
			var again bytes.Buffer
			if err := msg.Serialize(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), raw) {
				t.Fatalf("block %d: re-serialization differs from the file", len(blocks))
			}
			blocks = append(blocks, rawBlock{file: n, bytes: raw, msg: &msg})
			off += 8 + size
		}
	}
	return blocks
}

// merkle is a recursive merkle root, independent of the generator's
// iterative one.
func merkle(ids []chainhash.Hash) chainhash.Hash {
	if len(ids) == 1 {
		return ids[0]
	}
	if len(ids)%2 == 1 {
		ids = append(ids, ids[len(ids)-1])
	}
	next := make([]chainhash.Hash, 0, len(ids)/2)
	for i := 0; i < len(ids); i += 2 {
		next = append(next, chainhash.DoubleHashH(append(ids[i][:], ids[i+1][:]...)))
	}
	return merkle(next)
}

var classType = map[txscript.ScriptClass]chains.ScriptType{
	txscript.PubKeyTy:              chains.ScriptP2PK,
	txscript.PubKeyHashTy:          chains.ScriptP2PKH,
	txscript.ScriptHashTy:          chains.ScriptP2SH,
	txscript.WitnessV0PubKeyHashTy: chains.ScriptP2WPKH,
	txscript.WitnessV0ScriptHashTy: chains.ScriptP2WSH,
	txscript.WitnessV1TaprootTy:    chains.ScriptP2TR,
	txscript.NullDataTy:            chains.ScriptOpReturn,
}

type coin struct {
	value    int64
	typ      chains.ScriptType
	height   int
	coinbase bool
}

// recount is what the test tallies from the decoded blocks.
type recount struct {
	sum          synth.Summary
	inputsPerTx  map[int]int64 // non-coinbase txs by input count
	newOutputs   map[chains.ScriptType]int64
	reusedOutput int64 // non-coinbase value outputs to an already paid script
	valueOutputs int64
	chained      int64 // inputs spending an output of the same block
	steadyInputs int64
	fees         []int64 // per non-coinbase tx
}

func TestWriteBlockDir(t *testing.T) {
	cfg := testConfig()
	dir := t.TempDir()
	sum, err := synth.WriteBlockDir(t.Context(), dir, cfg)
	if err != nil {
		t.Fatalf("WriteBlockDir: %v", err)
	}
	blocks := readBlockDir(t, dir, cfg.MaxFileSize)
	got := verifyChain(t, cfg, blocks)
	got.sum.Files = blocks[len(blocks)-1].file + 1
	for n := range got.sum.Files {
		fi, err := os.Stat(filepath.Join(dir, synth.BlockFileName(n)))
		if err != nil {
			t.Fatal(err)
		}
		got.sum.FileBytes += fi.Size()
	}
	if got.sum.Files < 2 {
		t.Errorf("files = %d, want several with max file size %d", got.sum.Files, cfg.MaxFileSize)
	}
	if sum.Txs-sum.Coinbases != cfg.TotalTxs() {
		t.Errorf("non-coinbase txs = %d, want Config.TotalTxs() = %d", sum.Txs-sum.Coinbases, cfg.TotalTxs())
	}
	if sum.Chain != chains.BTCRegtest {
		t.Errorf("chain = %q, want %q", sum.Chain, chains.BTCRegtest)
	}
	got.sum.Chain = sum.Chain
	if diff := cmp.Diff(got.sum, sum); diff != "" {
		t.Errorf("Summary differs from the recount (-recount +summary):\n%s", diff)
	}
	if sum.UnspentValue != sum.TotalSubsidy {
		t.Errorf("unspent value = %d, want total subsidy %d (value conservation)", sum.UnspentValue, sum.TotalSubsidy)
	}
	checkDistributions(t, got)
}

// verifyChain checks consensus-like invariants block by block and recounts
// the summary.
func verifyChain(t *testing.T, cfg synth.Config, blocks []rawBlock) recount {
	t.Helper()
	params := chaincfg.RegressionNetParams
	rc := recount{inputsPerTx: map[int]int64{}, newOutputs: map[chains.ScriptType]int64{}}
	s := &rc.sum
	s.ScriptTypes = map[chains.ScriptType]int64{}
	utxos := map[wire.OutPoint]coin{}
	paid := map[string]bool{}
	if len(blocks) != cfg.Blocks+1 {
		t.Fatalf("decoded %d blocks, want %d", len(blocks), cfg.Blocks+1)
	}
	if h := blocks[0].msg.BlockHash(); h != *params.GenesisHash {
		t.Fatalf("block 0 hash %v, want the regtest genesis %v", h, params.GenesisHash)
	}
	var prev chainhash.Hash
	var prevTime time.Time
	for height, b := range blocks {
		hdr := b.msg.Header
		if hdr.PrevBlock != prev {
			t.Fatalf("block %d: prev %v, want %v", height, hdr.PrevBlock, prev)
		}
		if height > 0 {
			if !hdr.Timestamp.After(prevTime) {
				t.Errorf("block %d: time %v not after %v", height, hdr.Timestamp, prevTime)
			}
			if hdr.Bits != 0x207fffff {
				t.Errorf("block %d: bits %#x, want 0x207fffff", height, hdr.Bits)
			}
		}
		prev, prevTime = b.msg.BlockHash(), hdr.Timestamp
		txids := make([]chainhash.Hash, len(b.msg.Transactions))
		wtxids := make([]chainhash.Hash, len(b.msg.Transactions))
		for i, tx := range b.msg.Transactions {
			txids[i], wtxids[i] = tx.TxHash(), tx.WitnessHash()
		}
		if root := merkle(slices.Clone(txids)); root != hdr.MerkleRoot {
			t.Fatalf("block %d: merkle root %v, want %v", height, hdr.MerkleRoot, root)
		}
		if want := 1 + cfg.TxsAt(height); len(txids) != want {
			t.Errorf("block %d: %d txs, want %d", height, len(txids), want)
		}
		var fees int64
		inBlock := map[chainhash.Hash]bool{}
		// Distributions are measured after the ramp-up, whose thin pool
		// forces fan-outs and chained spends.
		steady := height > cfg.FundingBlocks+cfg.RampBlocks
		for i, tx := range b.msg.Transactions {
			s.Txs++
			if i == 0 {
				s.Coinbases++
			} else {
				var in int64
				if steady {
					rc.inputsPerTx[len(tx.TxIn)]++
					rc.steadyInputs += int64(len(tx.TxIn))
				}
				for _, txin := range tx.TxIn {
					c, ok := utxos[txin.PreviousOutPoint]
					if !ok {
						t.Fatalf("block %d tx %d: input %v is not an unspent output", height, i, txin.PreviousOutPoint)
					}
					delete(utxos, txin.PreviousOutPoint)
					if c.coinbase && height-c.height < synth.CoinbaseMaturity {
						t.Errorf("block %d tx %d: spends an immature coinbase of block %d", height, i, c.height)
					}
					if steady && inBlock[txin.PreviousOutPoint.Hash] {
						rc.chained++
					}
					checkUnlock(t, c.typ, txin)
					in += c.value
					s.Inputs++
				}
				var out int64
				for _, o := range tx.TxOut {
					out += o.Value
				}
				fee := in - out
				if fee <= 0 {
					t.Fatalf("block %d tx %d: inputs %d, outputs %d: fee %d", height, i, in, out, fee)
				}
				if vsize := (tx.SerializeSizeStripped()*3 + tx.SerializeSize() + 3) / 4; fee < int64(vsize) {
					t.Errorf("block %d tx %d: fee %d below 1 sat/vB for %d vB", height, i, fee, vsize)
				}
				fees += fee
				rc.fees = append(rc.fees, fee)
			}
			inBlock[txids[i]] = true
			for vout, o := range tx.TxOut {
				typ, ok := classType[txscript.GetScriptClass(o.PkScript)]
				if !ok {
					t.Fatalf("block %d tx %d out %d: unexpected script %x", height, i, vout, o.PkScript)
				}
				s.Outputs++
				s.ScriptTypes[typ]++
				if i > 0 && steady {
					rc.newOutputs[typ]++
				}
				if typ == chains.ScriptOpReturn {
					s.OpReturns++
					if o.Value != 0 {
						t.Errorf("block %d tx %d out %d: OP_RETURN with value %d", height, i, vout, o.Value)
					}
					continue
				}
				if o.Value < 546 {
					t.Errorf("block %d tx %d out %d: dust value %d", height, i, vout, o.Value)
				}
				if i > 0 && steady {
					rc.valueOutputs++
					if paid[string(o.PkScript)] {
						rc.reusedOutput++
					}
				}
				paid[string(o.PkScript)] = true
				utxos[wire.OutPoint{Hash: txids[i], Index: uint32(vout)}] = coin{o.Value, typ, height, i == 0}
			}
		}
		s.TotalFees += uint64(fees)
		cb := b.msg.Transactions[0]
		var cbOut int64
		for _, o := range cb.TxOut {
			cbOut += o.Value
		}
		subsidy := int64(50e8) >> (height / 150)
		s.TotalSubsidy += uint64(subsidy)
		if cbOut != subsidy+fees {
			t.Errorf("block %d: coinbase pays %d, want subsidy %d + fees %d", height, cbOut, subsidy, fees)
		}
		if height > 0 {
			checkCoinbase(t, height, cb, wtxids)
		}
		s.Bytes += int64(len(b.bytes))
		if w := b.msg.SerializeSizeStripped()*3 + len(b.bytes); w > 4_000_000 {
			t.Errorf("block %d: weight %d over the consensus limit", height, w)
		}
	}
	s.Blocks = int64(len(blocks))
	s.TipHeight = int64(len(blocks) - 1)
	s.TipHash = chains.Hash(prev) // chainhash.Hash is in wire order
	slices.Reverse(s.TipHash[:])
	s.Addresses = int64(len(paid))
	s.Unspent = int64(len(utxos))
	for _, c := range utxos {
		s.UnspentValue += uint64(c.value)
	}
	return rc
}

// checkCoinbase checks the BIP34 height and the BIP141 witness commitment.
func checkCoinbase(t *testing.T, height int, cb *wire.MsgTx, wtxids []chainhash.Hash) {
	t.Helper()
	ss := cb.TxIn[0].SignatureScript
	var gotHeight int
	switch {
	case ss[0] >= 0x51 && ss[0] <= 0x60:
		gotHeight = int(ss[0] - 0x50)
	default:
		for i := int(ss[0]); i >= 1; i-- {
			gotHeight = gotHeight<<8 | int(ss[i])
		}
	}
	if gotHeight != height {
		t.Errorf("block %d: BIP34 height %d in coinbase script %x", height, gotHeight, ss)
	}
	ids := slices.Clone(wtxids)
	ids[0] = chainhash.Hash{}
	root := merkle(ids)
	reserved := cb.TxIn[0].Witness
	if len(reserved) != 1 || len(reserved[0]) != 32 {
		t.Fatalf("block %d: coinbase witness %x, want one 32-byte item", height, reserved)
	}
	want := chainhash.DoubleHashB(append(root[:], reserved[0]...))
	last := cb.TxOut[len(cb.TxOut)-1].PkScript
	if !bytes.Equal(last, append([]byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}, want...)) {
		t.Errorf("block %d: witness commitment %x, want commitment to %x", height, last, want)
	}
}

// checkUnlock checks that an input carries unlocking data of the shape its
// previous output needs.
func checkUnlock(t *testing.T, typ chains.ScriptType, in *wire.TxIn) {
	t.Helper()
	ss, wit := in.SignatureScript, in.Witness
	ok := false
	switch typ {
	case chains.ScriptP2PKH:
		ok = len(ss) >= 106 && len(wit) == 0
	case chains.ScriptP2WPKH:
		ok = len(ss) == 0 && len(wit) == 2 && len(wit[1]) == 33
	case chains.ScriptP2SH:
		ok = len(ss) == 23 && len(wit) == 2 && len(wit[1]) == 33
	case chains.ScriptP2TR:
		ok = len(ss) == 0 && len(wit) == 1 && (len(wit[0]) == 64 || len(wit[0]) == 65)
	case chains.ScriptP2WSH:
		ok = len(ss) == 0 && len(wit) == 4 && len(wit[3]) == 105
	}
	if !ok {
		t.Errorf("input %v spending %v: scriptSig %d bytes, witness %d items", in.PreviousOutPoint, typ, len(ss), len(wit))
	}
}

func checkDistributions(t *testing.T, rc recount) {
	t.Helper()
	var outs, txs int64
	for _, n := range rc.newOutputs {
		outs += n
	}
	for _, n := range rc.inputsPerTx {
		txs += n
	}
	within := func(what string, n, total int64, lo, hi float64) {
		f := float64(n) / float64(total)
		t.Logf("%-28s %6.2f%% (%d of %d)", what, 100*f, n, total)
		if f < lo || f > hi {
			t.Errorf("%s: %.2f%%, want %.1f%% to %.1f%%", what, 100*f, 100*lo, 100*hi)
		}
	}
	within("outputs P2WPKH", rc.newOutputs[chains.ScriptP2WPKH], outs, 0.38, 0.52)
	within("outputs P2TR", rc.newOutputs[chains.ScriptP2TR], outs, 0.19, 0.31)
	within("outputs P2SH", rc.newOutputs[chains.ScriptP2SH], outs, 0.10, 0.20)
	within("outputs P2PKH", rc.newOutputs[chains.ScriptP2PKH], outs, 0.06, 0.14)
	within("outputs P2WSH", rc.newOutputs[chains.ScriptP2WSH], outs, 0.015, 0.05)
	within("outputs OP_RETURN", rc.newOutputs[chains.ScriptOpReturn], outs, 0.01, 0.035)
	within("txs with 1 input", rc.inputsPerTx[1], txs, 0.50, 0.72)
	within("txs with 2 inputs", rc.inputsPerTx[2], txs, 0.15, 0.32)
	var big int64
	for n, c := range rc.inputsPerTx {
		if n >= 10 {
			big += c
		}
	}
	within("txs with 10+ inputs", big, txs, 0.002, 0.03)
	within("outputs to a paid address", rc.reusedOutput, rc.valueOutputs, 0.08, 0.35)
	within("inputs spending same block", rc.chained, rc.steadyInputs, 0.005, 0.08)
	slices.Sort(rc.fees)
	p10, p50, p90 := rc.fees[len(rc.fees)/10], rc.fees[len(rc.fees)/2], rc.fees[len(rc.fees)*9/10]
	t.Logf("fees: p10 %d, median %d, p90 %d sat", p10, p50, p90)
	if p10 < 100 || p50 < 300 || p50 > 5000 || p90 > 50_000 {
		t.Errorf("fees p10 %d, median %d, p90 %d sat: want a few hundred to a few thousand", p10, p50, p90)
	}
	t.Logf("outputs per tx %.2f, inputs per tx %.2f", float64(outs)/float64(txs), float64(rc.steadyInputs)/float64(txs))
}

func sha256Dir(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	names, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\n", filepath.Base(name))
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return [32]byte(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	cfg := testConfig()
	cfg.Blocks = 115
	var sums [2][32]byte
	var tips [2]chains.Hash
	for i := range sums {
		dir := t.TempDir()
		s, err := synth.WriteBlockDir(t.Context(), dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sums[i], tips[i] = sha256Dir(t, dir), s.TipHash
	}
	if sums[0] != sums[1] {
		t.Errorf("two runs of the same config differ: %x and %x", sums[0], sums[1])
	}

	// Generate yields the same blocks as the files hold.
	var mem bytes.Buffer
	s, err := synth.Generate(t.Context(), cfg, func(_ int, b []byte) error {
		mem.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.TipHash != tips[0] || int64(mem.Len()) != s.Bytes {
		t.Errorf("Generate: tip %v, %d bytes; files: tip %v, summary bytes %d", s.TipHash, mem.Len(), tips[0], s.Bytes)
	}

	cfg.Seed++
	other, err := synth.Generate(t.Context(), cfg, func(int, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if other.TipHash == tips[0] {
		t.Errorf("seeds %d and %d give the same tip %v", cfg.Seed-1, cfg.Seed, tips[0])
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*synth.Config)
		ok     bool
	}{
		{"default", func(*synth.Config) {}, true},
		{"no blocks", func(c *synth.Config) { c.Blocks = 0 }, false},
		{"zero txs", func(c *synth.Config) { c.TxsPerBlock = 0 }, false},
		{"too many txs", func(c *synth.Config) { c.TxsPerBlock = synth.MaxTxsPerBlock + 1 }, false},
		{"funding below maturity", func(c *synth.Config) { c.FundingBlocks = 99 }, false},
		{"negative ramp", func(c *synth.Config) { c.RampBlocks = -1 }, false},
		{"no ramp", func(c *synth.Config) { c.RampBlocks = 0 }, true},
		{"start before genesis", func(c *synth.Config) { c.StartTime = 1296688602 }, false},
		{"timestamps overflow", func(c *synth.Config) { c.StartTime = 1<<32 - 1000 }, false},
		{"tiny files", func(c *synth.Config) { c.MaxFileSize = 1000 }, false},
		{"huge files", func(c *synth.Config) { c.MaxFileSize = 4 << 30 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := synth.DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, synth.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if got := synth.DefaultConfig().TotalTxs(); got < 1_000_000 {
		t.Errorf("DefaultConfig().TotalTxs() = %d, want at least 1,000,000", got)
	}
}

func TestWriteBlockDirErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Blocks = 101
	dir := t.TempDir()
	if _, err := synth.WriteBlockDir(t.Context(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.WriteBlockDir(t.Context(), dir, cfg); !errors.Is(err, synth.ErrDirNotEmpty) {
		t.Errorf("second WriteBlockDir into %s = %v, want ErrDirNotEmpty", dir, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := synth.WriteBlockDir(ctx, t.TempDir(), cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteBlockDir with a cancelled context = %v, want context.Canceled", err)
	}

	boom := errors.New("boom")
	_, err := synth.Generate(t.Context(), cfg, func(h int, _ []byte) error {
		if h == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("Generate with a failing emit = %v, want the emit error", err)
	}
}

// speedConfig has about 110,000 transactions.
func speedConfig() synth.Config {
	c := synth.DefaultConfig()
	c.Blocks = 160
	return c
}

func TestGenerationSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	start := time.Now()
	s, err := synth.Generate(t.Context(), speedConfig(), func(int, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("%d txs, %d inputs, %d outputs, %.1f MB in %v: %.0f txs/s, %.0f MB/s",
		s.Txs, s.Inputs, s.Outputs, float64(s.Bytes)/1e6, d.Round(time.Millisecond),
		float64(s.Txs)/d.Seconds(), float64(s.Bytes)/1e6/d.Seconds())
}

func BenchmarkGenerate(b *testing.B) {
	cfg := speedConfig()
	var s synth.Summary
	for b.Loop() {
		var err error
		s, err = synth.Generate(b.Context(), cfg, func(int, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(s.Bytes)
	b.ReportMetric(float64(s.Txs)*float64(b.N)/b.Elapsed().Seconds(), "txs/s")
}
