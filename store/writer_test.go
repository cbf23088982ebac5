package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

// chainBuilder makes small, value-conserving chains for writer tests.
type chainBuilder struct {
	blocks []chains.Block
	n      uint32
}

func (c *chainBuilder) hash() chains.Hash {
	c.n++
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], c.n)
	return sha256.Sum256(b[:])
}

type pay struct {
	addr  string
	value uint64
}

func (c *chainBuilder) tx(coinbase bool, spends []chains.OutPoint, pays ...pay) chains.Tx {
	t := chains.Tx{Hash: c.hash(), Version: 1, Coinbase: coinbase, Size: 200, Weight: 800}
	if coinbase {
		t.Inputs = []chains.Input{{Sequence: 0xffffffff}}
	}
	for _, s := range spends {
		t.Inputs = append(t.Inputs, chains.Input{Prev: s, Sequence: 0xfffffffe})
	}
	for _, p := range pays {
		st := chains.ScriptP2PKH
		if p.addr == "" {
			st = chains.ScriptOpReturn
		}
		t.Outputs = append(t.Outputs, chains.Output{Value: p.value, Address: p.addr, ScriptType: st, Script: []byte{0x6a}})
	}
	return t
}

func (c *chainBuilder) block(txs ...chains.Tx) chains.Block {
	b := chains.Block{Height: int64(len(c.blocks)), Hash: c.hash(), Time: 1231006505 + int64(len(c.blocks))*600, Txs: txs, Size: 1000, Weight: 4000}
	if len(c.blocks) > 0 {
		b.PrevHash = c.blocks[len(c.blocks)-1].Hash
	}
	c.blocks = append(c.blocks, b)
	return b
}

func op(t chains.Tx, i uint32) chains.OutPoint { return chains.OutPoint{TxID: t.Hash, Index: i} }

// sampleChain: A mines 50, pays 30 to C and 19.99 back (fee 0.01 to B's block),
// C pays everything to D with an OP_RETURN, then more blocks to page through.
func sampleChain() (*chainBuilder, map[string]chains.Tx) {
	c := &chainBuilder{}
	txs := map[string]chains.Tx{}
	txs["cb0"] = c.tx(true, nil, pay{"A", 50_0000_0000})
	c.block(txs["cb0"])
	txs["pay"] = c.tx(false, []chains.OutPoint{op(txs["cb0"], 0)}, pay{"C", 30_0000_0000}, pay{"A", 19_9900_0000})
	txs["cb1"] = c.tx(true, nil, pay{"B", 50_0100_0000})
	c.block(txs["cb1"], txs["pay"])
	txs["fwd"] = c.tx(false, []chains.OutPoint{op(txs["pay"], 0)}, pay{"D", 29_9999_0000}, pay{"", 0})
	txs["cb2"] = c.tx(true, nil, pay{"B", 50_0001_0000})
	c.block(txs["cb2"], txs["fwd"])
	for range 5 {
		c.block(c.tx(true, nil, pay{"A", 50_0000_0000}))
	}
	return c, txs
}

func write(t *testing.T, db *store.DB, w *store.UTXOWriter, blocks []chains.Block) {
	t.Helper()
	err := db.InTx(t.Context(), func(tx *store.Tx) error {
		if _, err := w.Write(t.Context(), tx, blocks); err != nil {
			return err
		}
		return tx.SetProgress(t.Context(), chains.BTCRegtest, "utxo", blocks[len(blocks)-1].Height)
	})
	if err != nil {
		t.Fatalf("write blocks %d..%d: %v", blocks[0].Height, blocks[len(blocks)-1].Height, err)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		c, txs := sampleChain()
		w := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, db, w, c.blocks[:2])
		// A second writer (a restarted process) must resolve from the database.
		w2 := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, db, w2, c.blocks[2:])

		st, err := db.Status(ctx, chains.BTCRegtest)
		if err != nil {
			t.Fatal(err)
		}
		if *st.TipHeight != 7 || st.Blocks != 8 || st.Txs != 10 || st.Outputs != 12 || st.Inputs != 10 || st.Addresses != 4 {
			t.Errorf("status = tip %d blocks %d txs %d outputs %d inputs %d addresses %d, want 7 8 10 12 10 4",
				*st.TipHeight, st.Blocks, st.Txs, st.Outputs, st.Inputs, st.Addresses)
		}
		if st.Stages["utxo"] != 7 {
			t.Errorf("utxo stage at %d, want 7", st.Stages["utxo"])
		}

		pay, err := db.TxByHash(ctx, chains.BTCRegtest, txs["pay"].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if pay.Fee == nil || pay.Fee.String() != "1000000" {
			t.Errorf("fee = %v, want 1000000", pay.Fee)
		}
		if *pay.Inputs[0].Address != "A" || pay.Inputs[0].Value.String() != "5000000000" {
			t.Errorf("input 0 = %v %v, want A 5000000000", *pay.Inputs[0].Address, pay.Inputs[0].Value)
		}
		if sb := pay.Outputs[0].SpentBy; sb == nil || sb.TxID != txs["fwd"].Hash || sb.Input != 0 {
			t.Errorf("output 0 spent by %+v, want fwd:0", sb)
		}
		if pay.Outputs[1].SpentBy != nil {
			t.Errorf("output 1 spent by %+v, want unspent", pay.Outputs[1].SpentBy)
		}
		fwd, err := db.TxByHash(ctx, chains.BTCRegtest, txs["fwd"].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if fwd.Outputs[1].Address != nil || fwd.Outputs[1].ScriptType != chains.ScriptOpReturn {
			t.Errorf("OP_RETURN output = %v %v", fwd.Outputs[1].Address, fwd.Outputs[1].ScriptType)
		}
		cb, err := db.TxByHash(ctx, chains.BTCRegtest, txs["cb1"].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !cb.Coinbase || cb.Fee != nil || cb.Inputs[0].PrevTxID != nil {
			t.Errorf("coinbase: coinbase=%v fee=%v prev=%v", cb.Coinbase, cb.Fee, cb.Inputs[0].PrevTxID)
		}

		a, err := db.AddressSummary(ctx, chains.BTCRegtest, "A")
		if err != nil {
			t.Fatal(err)
		}
		// A: received 50 + 19.99 + 5*50, spent 50.
		if a.TotalReceived.String() != "31999000000" || a.TotalSpent.String() != "5000000000" || a.Balance.String() != "26999000000" {
			t.Errorf("A = received %s spent %s balance %s", a.TotalReceived, a.TotalSpent, a.Balance)
		}
		if a.NoIncomingTxs != 7 || a.NoOutgoingTxs != 1 || a.FirstTx.TxID != txs["cb0"].Hash || a.LastTx.Height != 7 {
			t.Errorf("A counts in %d out %d first %v last %v", a.NoIncomingTxs, a.NoOutgoingTxs, a.FirstTx, a.LastTx)
		}
		// Page through A's 7 transactions 3 at a time, newest first.
		var seen []int64
		page := ""
		for {
			p, err := db.AddressTxs(ctx, chains.BTCRegtest, "A", page, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range p.Txs {
				seen = append(seen, tx.Height)
			}
			if p.NextPage == "" {
				break
			}
			page = p.NextPage
		}
		want := []int64{7, 6, 5, 4, 3, 1, 0}
		if len(seen) != len(want) {
			t.Fatalf("pages gave heights %v, want %v", seen, want)
		}
		for i := range want {
			if seen[i] != want[i] {
				t.Fatalf("pages gave heights %v, want %v", seen, want)
			}
		}
		if _, err := db.AddressSummary(ctx, chains.BTCRegtest, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown address: %v, want ErrNotFound", err)
		}
		blk, err := db.BlockByHeight(ctx, chains.BTCRegtest, 1)
		if err != nil {
			t.Fatal(err)
		}
		if blk.TxCount != 2 || blk.TotalFees == nil || blk.TotalFees.String() != "1000000" || blk.TxIDs[1] != txs["pay"].Hash {
			t.Errorf("block 1 = %+v", blk)
		}
		if b2, err := db.BlockByHash(ctx, chains.BTCRegtest, blk.Hash); err != nil || b2.Height != 1 {
			t.Errorf("block by hash = %d, %v", b2.Height, err)
		}
	})
}

// snapshot is every row the writer produced, for comparing databases.
func snapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	s, err := db.Checksum(t.Context(), chains.BTCRegtest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriterUnwindEqualsFreshIndex(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, _ := sampleChain()
		w := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, db, w, c.blocks[:3])
		before := snapshot(t, db)
		write(t, db, w, c.blocks[3:])
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			if err := w.Unwind(t.Context(), tx, 2); err != nil {
				return err
			}
			return tx.SetProgress(t.Context(), chains.BTCRegtest, "utxo", 2)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := snapshot(t, db); got != before {
			t.Errorf("after unwind to 2:\n%s\nwant as indexed to 2:\n%s", got, before)
		}
		// Unwind below a spend: the spent output becomes unspent again and the
		// same writer can re-apply the blocks.
		err = db.InTx(t.Context(), func(tx *store.Tx) error { return w.Unwind(t.Context(), tx, 0) })
		if err != nil {
			t.Fatal(err)
		}
		write(t, db, w, c.blocks[1:3])
		if got := snapshot(t, db); got != before {
			t.Errorf("after unwind to 0 and re-apply:\n%s\nwant:\n%s", got, before)
		}
	})
}

func TestWriterRollbackLeavesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, _ := sampleChain()
		w := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, db, w, c.blocks[:1])
		before := snapshot(t, db)
		boom := errors.New("boom")
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			if _, err := w.Write(t.Context(), tx, c.blocks[1:3]); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		if got := snapshot(t, db); got != before {
			t.Errorf("after rollback:\n%s\nwant:\n%s", got, before)
		}
		// The writer forgot what it learned in the rolled-back batch.
		write(t, db, w, c.blocks[1:])
		fresh := storetest.SQLite(t)
		fw := fresh.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, fresh, fw, c.blocks)
		if got, want := snapshot(t, db), snapshot(t, fresh); got != want {
			t.Errorf("after retry:\n%s\nwant as a single run:\n%s", got, want)
		}
	})
}

func TestWriterRejects(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, txs := sampleChain()
		w := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, db, w, c.blocks[:2])
		try := func(blocks ...chains.Block) error {
			return db.InTx(t.Context(), func(tx *store.Tx) error {
				_, err := w.Write(t.Context(), tx, blocks)
				return err
			})
		}
		if err := try(c.blocks[3]); !errors.Is(err, store.ErrGap) {
			t.Errorf("skipping a height: %v, want ErrGap", err)
		}
		bad := c.blocks[2]
		bad.PrevHash = txs["pay"].Hash
		if err := try(bad); !errors.Is(err, store.ErrGap) {
			t.Errorf("wrong parent: %v, want ErrGap", err)
		}
		ghost := c.blocks[2]
		ghost.Txs = []chains.Tx{ghost.Txs[0], c.tx(false, []chains.OutPoint{{TxID: c.hash()}}, pay{"Z", 1})}
		if err := try(ghost); !errors.Is(err, store.ErrUnknownPrevout) {
			t.Errorf("spending an unknown output: %v, want ErrUnknownPrevout", err)
		}
		greedy := c.blocks[2]
		greedy.Txs = []chains.Tx{greedy.Txs[0], c.tx(false, []chains.OutPoint{op(txs["pay"], 1)}, pay{"Z", 20_0000_0000})}
		if err := try(greedy); err == nil {
			t.Errorf("spending more than the inputs: no error")
		}
		// None of that changed the database: the real block still applies.
		write(t, db, w, c.blocks[2:3])
	})
}

type mapResolver map[chains.OutPoint]store.Prevout

func (m mapResolver) Prevouts(_ context.Context, ops []chains.OutPoint) (map[chains.OutPoint]store.Prevout, error) {
	out := map[chains.OutPoint]store.Prevout{}
	for _, o := range ops {
		if p, ok := m[o]; ok {
			out[o] = p
		}
	}
	return out, nil
}

func TestWriterPartialChain(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		c, txs := sampleChain()
		// Index from height 2 only: the spend of pay:0 resolves through the
		// resolver; without it the input stays unresolved and the fee unknown.
		res := mapResolver{op(txs["pay"], 0): {Value: 30_0000_0000, ScriptType: chains.ScriptP2PKH, Address: "C"}}
		w := db.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{Resolver: res})
		write(t, db, w, c.blocks[2:])
		fwd, err := db.TxByHash(t.Context(), chains.BTCRegtest, txs["fwd"].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if fwd.Fee == nil || fwd.Fee.String() != "10000" || *fwd.Inputs[0].Address != "C" {
			t.Errorf("fee %v input %v, want 10000 from C", fwd.Fee, fwd.Inputs[0].Address)
		}
		st, _ := db.Status(t.Context(), chains.BTCRegtest)
		if st.StartHeight == nil || *st.StartHeight != 2 {
			t.Errorf("start height %v, want 2", st.StartHeight)
		}

		other := storetest.SQLite(t)
		w2 := other.NewUTXOWriter(chains.BTCRegtest, store.UTXOWriterOptions{})
		write(t, other, w2, c.blocks[2:])
		fwd2, err := other.TxByHash(t.Context(), chains.BTCRegtest, txs["fwd"].Hash)
		if err != nil {
			t.Fatal(err)
		}
		if fwd2.Fee != nil || fwd2.Inputs[0].Value != nil || fwd2.TotalInput != nil {
			t.Errorf("unresolved input: fee %v value %v total %v, want nil", fwd2.Fee, fwd2.Inputs[0].Value, fwd2.TotalInput)
		}
	})
}
