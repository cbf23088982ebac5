package indexer_test

import (
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/chains/bitcoin"
	"github.com/fundtrace/fundtrace/indexer"
	"github.com/fundtrace/fundtrace/internal/bundle"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

func mainnetDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := bundle.MainnetBlockDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openDir(t testing.TB, dir string) *bitcoin.BlockDir {
	t.Helper()
	return openChainDir(t, dir, chains.BTC)
}

// openChainDir opens a block directory of chain.
func openChainDir(t testing.TB, dir string, chain chains.ID) *bitcoin.BlockDir {
	t.Helper()
	net, err := bitcoin.NetworkFor(chain)
	if err != nil {
		t.Fatal(err)
	}
	src, err := bitcoin.OpenBlockDir(context.Background(), dir, net, bitcoin.BlockDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

type runOpts struct {
	from, to int64
	resolver store.PrevoutResolver
	batch    int
	progress func(indexer.Progress)
}

func index(ctx context.Context, t testing.TB, db *store.DB, src indexer.Source, chain chains.ID, o runOpts) (indexer.Summary, error) {
	t.Helper()
	cfg := indexer.DefaultConfig(chain)
	cfg.From, cfg.To = o.from, o.to
	if o.batch > 0 {
		cfg.BatchTxs, cfg.BatchBlocks = o.batch, o.batch
	}
	cfg.OnProgress = o.progress
	w := db.NewUTXOWriter(chain, store.UTXOWriterOptions{Resolver: o.resolver})
	p, err := indexer.New(db, src, []indexer.Stage{indexer.NewUTXOStage(w)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p.Run(ctx)
}

func mustHash(t testing.TB, s string) chains.Hash {
	t.Helper()
	h, err := chains.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// replay is an independent model of the chain: balances and counts computed
// in memory from the decoded blocks, to compare the store's answers with.
type replay struct {
	txs, inputs, outputs int64
	received, spent      map[string]uint64
	addrs                map[string]bool
}

func replayChain(t testing.TB, src indexer.Source) replay {
	t.Helper()
	ctx := context.Background()
	tip, _, err := src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := replay{received: map[string]uint64{}, spent: map[string]uint64{}, addrs: map[string]bool{}}
	type out struct {
		addr  string
		value uint64
	}
	utxo := map[chains.OutPoint]out{}
	for h := int64(0); h <= tip; h++ {
		b, err := src.Block(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Txs {
			r.txs++
			r.inputs += int64(len(tx.Inputs))
			if !tx.Coinbase {
				for _, in := range tx.Inputs {
					o, ok := utxo[in.Prev]
					if !ok {
						t.Fatalf("replay: block %d spends unknown %s", h, in.Prev)
					}
					delete(utxo, in.Prev)
					r.spent[o.addr] += o.value
				}
			}
			for i, o := range tx.Outputs {
				r.outputs++
				utxo[chains.OutPoint{TxID: tx.Hash, Index: uint32(i)}] = out{o.Address, o.Value}
				r.received[o.Address] += o.Value
				if o.Address != "" {
					r.addrs[o.Address] = true
				}
			}
		}
	}
	return r
}

// TestMainnet indexes the bundled real blocks 0..14131 on every store and
// checks what can be checked independently of the indexer.
func TestMainnet(t *testing.T) {
	dir := mainnetDir(t)
	want := replayChain(t, openDir(t, dir))
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		sum, err := index(ctx, t, db, openDir(t, dir), chains.BTC, runOpts{to: -1})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Height != bundle.MainnetTip || sum.Blocks != bundle.MainnetTip+1 {
			t.Errorf("indexed up to %d (%d blocks), want %d", sum.Height, sum.Blocks, bundle.MainnetTip)
		}
		st, err := db.Status(ctx, chains.BTC)
		if err != nil {
			t.Fatal(err)
		}
		// Hashes of well-known blocks (any block explorer shows them).
		for h, hash := range map[int64]string{
			0:     "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
			170:   "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
			14131: "00000000b3e750f37fdb42e1018799a9f44b546d393b130b369590a072430a1c",
		} {
			b, err := db.BlockByHeight(ctx, chains.BTC, h)
			if err != nil {
				t.Fatal(err)
			}
			if b.Hash != mustHash(t, hash) {
				t.Errorf("block %d hash %s, want %s", h, b.Hash, hash)
			}
		}
		if st.Txs != want.txs || st.Inputs != want.inputs || st.Outputs != want.outputs || st.Addresses != int64(len(want.addrs)) {
			t.Errorf("counts txs %d inputs %d outputs %d addresses %d, replay says %d %d %d %d",
				st.Txs, st.Inputs, st.Outputs, st.Addresses, want.txs, want.inputs, want.outputs, len(want.addrs))
		}
		// The counters agree with counting the rows.
		sumLines, err := db.Checksum(ctx, chains.BTC)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("checksum:\n%s", sumLines)

		// Genesis: 50 BTC to 1A1zP1..., a P2PK output.
		g, err := db.TxByHash(ctx, chains.BTC, mustHash(t, "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"))
		if err != nil {
			t.Fatal(err)
		}
		if !g.Coinbase || g.Height != 0 || g.Outputs[0].Value.String() != "5000000000" ||
			*g.Outputs[0].Address != "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa" || g.Outputs[0].ScriptType != chains.ScriptP2PK {
			t.Errorf("genesis coinbase = %+v", g)
		}
		// Block 170: the first transaction between two people.
		tx, err := db.TxByHash(ctx, chains.BTC, mustHash(t, "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"))
		if err != nil {
			t.Fatal(err)
		}
		if tx.Height != 170 || tx.Fee == nil || !tx.Fee.IsZero() || len(tx.Inputs) != 1 || len(tx.Outputs) != 2 {
			t.Fatalf("block 170 tx = height %d fee %v inputs %d outputs %d", tx.Height, tx.Fee, len(tx.Inputs), len(tx.Outputs))
		}
		if in := tx.Inputs[0]; *in.PrevTxID != mustHash(t, "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9") ||
			*in.PrevIndex != 0 || *in.Address != "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S" || in.Value.String() != "5000000000" {
			t.Errorf("block 170 input = %+v", in)
		}
		if o := tx.Outputs[0]; *o.Address != "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3" || o.Value.String() != "1000000000" {
			t.Errorf("block 170 output 0 = %s %s, want 1Q2TWHE3... 10 BTC", *o.Address, o.Value)
		}
		if o := tx.Outputs[1]; *o.Address != "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S" || o.Value.String() != "4000000000" {
			t.Errorf("block 170 output 1 = %s %s, want change 40 BTC", *o.Address, o.Value)
		}
		// Hal's 10 BTC were spent later in the bundled range: the spender
		// must name a transaction whose input points back here.
		if sb := tx.Outputs[0].SpentBy; sb != nil {
			spender, err := db.TxByHash(ctx, chains.BTC, sb.TxID)
			if err != nil {
				t.Fatal(err)
			}
			if in := spender.Inputs[sb.Input]; *in.PrevTxID != tx.TxID || *in.PrevIndex != 0 {
				t.Errorf("spender input %d points at %s:%d", sb.Input, in.PrevTxID, *in.PrevIndex)
			}
		}

		// Address totals equal the replay's, for every address in a random
		// sample and for the well-known ones.
		rng := rand.New(rand.NewPCG(1, 2))
		sample := []string{"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"}
		for a := range want.addrs {
			if rng.IntN(100) < 2 {
				sample = append(sample, a)
			}
		}
		for _, a := range sample {
			s, err := db.AddressSummary(ctx, chains.BTC, a)
			if err != nil {
				t.Fatal(err)
			}
			bal := want.received[a] - want.spent[a]
			if s.TotalReceived.String() != u64(want.received[a]) || s.TotalSpent.String() != u64(want.spent[a]) || s.Balance.String() != u64(bal) {
				t.Errorf("%s: received %s spent %s balance %s; replay %d %d %d", a, s.TotalReceived, s.TotalSpent, s.Balance,
					want.received[a], want.spent[a], bal)
			}
		}
		t.Logf("checked %d addresses against the replay", len(sample))
	})
}

func st(t testing.TB, db *store.DB) store.ChainStatus {
	t.Helper()
	s, err := db.Status(context.Background(), chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func u64(v uint64) string { return chains.NewAmount(v).String() }

// TestResume stops a run part-way (as Ctrl-C does) and at a --to height, then
// resumes; the result must equal one uninterrupted run.
func TestResume(t *testing.T) {
	dir := mainnetDir(t)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// Cancel after the third batch commits.
		batches, stoppedAt := 0, int64(-1)
		_, err := index(ctx, t, db, openDir(t, dir), chains.BTC, runOpts{to: 9000, batch: 700, progress: func(p indexer.Progress) {
			if batches++; batches == 3 {
				stoppedAt = p.Height
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("first run: %v, want context.Canceled", err)
		}
		if h, _, _ := db.Progress(t.Context(), chains.BTC, "utxo"); h != stoppedAt || st(t, db).Blocks != stoppedAt+1 {
			t.Errorf("after cancel: progress %d, %d blocks; want the third batch's end %d", h, st(t, db).Blocks, stoppedAt)
		}
		if _, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: 9000, batch: 700}); err != nil {
			t.Fatal(err)
		}
		if _, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: -1, batch: 1500}); err != nil {
			t.Fatal(err)
		}
		sum, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: -1})
		if err != nil || !sum.UpToDate {
			t.Errorf("run at the tip: up to date %v, err %v", sum.UpToDate, err)
		}
		equalsFreshIndex(t, db, dir, -1, "resumed index")
	})
}

// forkDirs builds two block directories from btcd's fork fixtures: the
// chain genesis..4, and genesis..2 then 3A, 4A, 5A.
func forkDirs(t *testing.T) (mainDir, sideDir string) {
	t.Helper()
	read := func(name string) []byte {
		f, err := os.Open(filepath.Join("..", "chains", "bitcoin", "testdata", "blkfile", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(bzip2.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	main := read("blk_0_to_4.dat.bz2")
	// The first three records of main are genesis, 1 and 2.
	var side []byte
	for _, r := range records(main)[:3] {
		side = append(side, r...)
	}
	side = append(append(append(side, read("blk_3A.dat.bz2")...), read("blk_4A.dat.bz2")...), read("blk_5A.dat.bz2")...)
	mainDir, sideDir = t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(mainDir, "blk00000.dat"), main, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sideDir, "blk00000.dat"), side, 0o644); err != nil {
		t.Fatal(err)
	}
	return mainDir, sideDir
}

// TestReorg indexes one branch, then a source whose best chain forks below
// the stored tip: the index must end equal to a fresh index of the new chain.
func TestReorg(t *testing.T) {
	mainDir, sideDir := forkDirs(t)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		if _, err := index(t.Context(), t, db, openDir(t, mainDir), chains.BTC, runOpts{to: -1}); err != nil {
			t.Fatal(err)
		}
		sum, err := index(t.Context(), t, db, openDir(t, sideDir), chains.BTC, runOpts{to: -1})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Unwound != 2 || sum.Height != 5 {
			t.Errorf("reorg unwound %d blocks and reached %d, want 2 and 5", sum.Unwound, sum.Height)
		}
		equalsFreshIndex(t, db, sideDir, -1, "after reorg")
	})
}

// oneBlock is a Source holding one real block at its real height.
type oneBlock struct{ b chains.Block }

func (s oneBlock) Tip(context.Context) (int64, chains.Hash, error) { return s.b.Height, s.b.Hash, nil }
func (s oneBlock) BlockHash(_ context.Context, h int64) (chains.Hash, error) {
	if h != s.b.Height {
		return chains.Hash{}, errors.New("no such block")
	}
	return s.b.Hash, nil
}
func (s oneBlock) Block(ctx context.Context, h int64) (chains.Block, error) {
	if _, err := s.BlockHash(ctx, h); err != nil {
		return chains.Block{}, err
	}
	return s.b, nil
}

type prevouts struct {
	net *bitcoin.Network
	m   map[chains.OutPoint]bundle.Prevout
}

func (p prevouts) Prevouts(_ context.Context, ops []chains.OutPoint) (map[chains.OutPoint]store.Prevout, error) {
	out := make(map[chains.OutPoint]store.Prevout, len(ops))
	for _, op := range ops {
		if v, ok := p.m[op]; ok {
			st, addr := p.net.ClassifyScript(v.Script)
			out[op] = store.Prevout{Value: v.Value, ScriptType: st, Address: addr}
		}
	}
	return out, nil
}

// TestBlock277647 indexes a busy real block on its own, its inputs resolved
// from the bundled previous outputs: every fee is exact, and the coinbase
// claims exactly the 25 BTC subsidy plus the fees.
func TestBlock277647(t *testing.T) {
	raw, err := bundle.Block277647()
	if err != nil {
		t.Fatal(err)
	}
	net, _ := bitcoin.NetworkFor(chains.BTC)
	blk, err := net.DecodeBlock(raw, bundle.Height277647)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := bundle.Prevouts277647()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		if _, err := index(ctx, t, db, oneBlock{blk}, chains.BTC, runOpts{from: bundle.Height277647, to: -1, resolver: prevouts{net, pm}}); err != nil {
			t.Fatal(err)
		}
		b, err := db.BlockByHeight(ctx, chains.BTC, bundle.Height277647)
		if err != nil {
			t.Fatal(err)
		}
		if b.TotalFees == nil || b.TotalFees.String() != "4737355" {
			t.Errorf("total fees %v, want 4737355", b.TotalFees)
		}
		cb, err := db.TxByHash(ctx, chains.BTC, b.TxIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		if cb.TotalOutput.String() != "2504737355" {
			t.Errorf("coinbase claims %s, want 25 BTC + fees = 2504737355", cb.TotalOutput)
		}
		// Without the resolver the same block indexes with unknown fees.
		other := storetest.SQLite(t)
		if _, err := index(ctx, t, other, oneBlock{blk}, chains.BTC, runOpts{from: bundle.Height277647, to: -1}); err != nil {
			t.Fatal(err)
		}
		b2, _ := other.BlockByHeight(ctx, chains.BTC, bundle.Height277647)
		if b2.TotalFees != nil {
			t.Errorf("unresolved block has total fees %v, want unknown", b2.TotalFees)
		}
	})
}

// records splits Core blk-file bytes into framed records (magic, length,
// block), stopping at zero padding.
func records(b []byte) [][]byte {
	var out [][]byte
	for off := 0; off+8 <= len(b); {
		n := int(b[off+4]) | int(b[off+5])<<8 | int(b[off+6])<<16 | int(b[off+7])<<24
		if n == 0 || off+8+n > len(b) {
			break
		}
		out = append(out, b[off:off+8+n])
		off += 8 + n
	}
	return out
}

// equalsFreshIndex checks that db holds what a fresh, uninterrupted index of
// dir up to height to (-1: the tip) holds.
func equalsFreshIndex(t *testing.T, db *store.DB, dir string, to int64, what string) {
	t.Helper()
	sameAsFreshIndex(t, db, openDir(t, dir), to, what)
}

// sameAsFreshIndex checks that db holds what a fresh, uninterrupted index
// of src up to height to (-1: the tip) holds, by row counts and a checksum
// of every table.
func sameAsFreshIndex(t *testing.T, db *store.DB, src indexer.Source, to int64, what string) {
	t.Helper()
	fresh := storetest.SQLite(t)
	if _, err := index(t.Context(), t, fresh, src, chains.BTC, runOpts{to: to}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Checksum(t.Context(), chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Checksum(t.Context(), chains.BTC)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%s:\n%s\nfresh index:\n%s", what, got, want)
	}
}

// withoutBlock copies the bundled blocks (stored in height order) into a new
// directory, leaving out the block at height gap.
func withoutBlock(t *testing.T, gap int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mainnetDir(t), "blk00000.dat"))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for h, r := range records(b) {
		if h != gap {
			out = append(out, r...)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrokenChain: a block directory missing block 5000 is refused with the
// height of the break unless --to stops before it; nothing is written.
func TestBrokenChain(t *testing.T) {
	dir := withoutBlock(t, 5000)
	db := storetest.SQLite(t)
	_, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: -1})
	if !errors.Is(err, indexer.ErrBrokenChain) || !strings.Contains(err.Error(), "after height 4999") {
		t.Fatalf("index to the tip of a broken chain: %v, want ErrBrokenChain after height 4999", err)
	}
	if _, ok, _ := db.Progress(t.Context(), chains.BTC, "utxo"); ok {
		t.Errorf("the refused run wrote progress")
	}
	if _, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: 4999}); err != nil {
		t.Errorf("index up to the break: %v", err)
	}
}

// TestBadSource: a --to beyond the tip is refused, and so is a gap between
// runs; neither writes anything.
func TestBadSource(t *testing.T) {
	dir := mainnetDir(t)
	db := storetest.SQLite(t)
	_, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: 20000})
	if !errors.Is(err, indexer.ErrBeyondTip) {
		t.Errorf("--to beyond tip: %v, want ErrBeyondTip", err)
	}
	if _, err := index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{to: 100}); err != nil {
		t.Fatal(err)
	}
	_, err = index(t.Context(), t, db, openDir(t, dir), chains.BTC, runOpts{from: 500, to: 600})
	if err == nil {
		t.Errorf("--from 500 after indexing to 100: no error, want a gap error")
	}
	if h, _, _ := db.Progress(t.Context(), chains.BTC, "utxo"); h != 100 {
		t.Errorf("progress %d after refused runs, want 100", h)
	}
}

// slowStage delays Forward, so the pipeline's batcher runs ahead of the
// commit while a batch that was not prepared ahead waits to be written.
type slowStage struct{ *indexer.UTXOStage }

func (s slowStage) Forward(ctx context.Context, tx *store.Tx, blocks []chains.Block) error {
	time.Sleep(150 * time.Millisecond)
	return s.UTXOStage.Forward(ctx, tx, blocks)
}

// TestPrepareAheadWaitsForForward: a batch written by Forward in its commit
// must be committed before the next batch is prepared ahead, or the next
// one is built on state that lacks it (a regression seen in TestResume).
func TestPrepareAheadWaitsForForward(t *testing.T) {
	dir := mainnetDir(t)
	db := storetest.SQLite(t)
	cfg := indexer.DefaultConfig(chains.BTC)
	cfg.To, cfg.BatchTxs, cfg.BatchBlocks = 3000, 300, 300
	w := db.NewUTXOWriter(chains.BTC, store.UTXOWriterOptions{})
	p, err := indexer.New(db, openDir(t, dir), []indexer.Stage{slowStage{indexer.NewUTXOStage(w)}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	equalsFreshIndex(t, db, dir, 3000, "pipelined")
}
