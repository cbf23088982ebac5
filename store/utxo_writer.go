package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Prevout is a previous output supplied by a PrevoutResolver.
type Prevout struct {
	Value      uint64
	ScriptType chains.ScriptType
	Address    string // "" when the script has no address
}

// PrevoutResolver supplies previous outputs that lie before the first
// indexed block, for example from a node or a bundled UTXO snapshot. The
// returned map may omit outpoints it does not know.
type PrevoutResolver interface {
	Prevouts(ctx context.Context, outpoints []chains.OutPoint) (map[chains.OutPoint]Prevout, error)
}

// UTXOWriterOptions configure a UTXOWriter.
type UTXOWriterOptions struct {
	// Resolver supplies outputs spent from before the first indexed block.
	Resolver PrevoutResolver
	// MaxCachedOutputs bounds the in-memory cache of unspent outputs (and,
	// separately, of address ids). Past it the caches are dropped and
	// misses are looked up in the database. Zero means 50 million.
	MaxCachedOutputs int
}

// utxoEntry is a cached unspent output, 32 bytes.
type utxoEntry struct {
	txID   int64
	value  uint64
	addrID int64 // 0: no address (ids start at 1)
	stype  chains.ScriptType
}

// UTXOWriter writes decoded blocks of one UTXO chain. It keeps the ids it
// assigns and the unspent outputs it has seen in memory, so a bulk load does
// not query the database for them; after a restart, a rollback or an unwind
// it falls back to batched lookups. Use one writer per chain and process,
// from one goroutine.
type UTXOWriter struct {
	mu    sync.Mutex // guards the state below: Prepare may run beside a Flush
	db    *DB
	chain chains.ID
	opts  UTXOWriterOptions

	loaded     bool
	key        int16
	nextTx     int64
	nextAddr   int64
	tip        int64 // -1: no blocks
	tipHash    chains.Hash
	startSet   bool
	partial    bool // the chain starts above height 0: unknown prevouts are allowed
	complete   bool // caches hold every unspent output and address of the chain
	utxo       map[chains.OutPoint]utxoEntry
	addrs      *addrCache
	indexReady bool
}

// NewUTXOWriter returns a writer for chain.
func (db *DB) NewUTXOWriter(chain chains.ID, opts UTXOWriterOptions) *UTXOWriter {
	if opts.MaxCachedOutputs == 0 {
		opts.MaxCachedOutputs = 50_000_000
	}
	return &UTXOWriter{db: db, chain: chain, opts: opts}
}

// reset forgets everything learned in memory; the next Write reloads.
func (w *UTXOWriter) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resetLocked()
}

func (w *UTXOWriter) resetLocked() {
	w.loaded = false
	w.complete = false
	w.utxo = nil
	w.addrs = nil
}

func (w *UTXOWriter) load(ctx context.Context, tx *Tx) error {
	if w.loaded {
		return nil
	}
	key, err := w.db.chainKey(ctx, tx.x, w.chain)
	if err != nil {
		return err
	}
	w.key = key
	var st struct {
		NextTx   int64         `db:"next_tx"`
		NextAddr int64         `db:"next_addr"`
		Start    sql.NullInt64 `db:"start_height"`
	}
	err = tx.x.GetContext(ctx, &st, `SELECT
		(SELECT COALESCE(MAX(id), -1) + 1 FROM txs WHERE chain = $1) AS next_tx,
		(SELECT COALESCE(MAX(id), 0) + 1 FROM addresses WHERE chain = $1) AS next_addr,
		(SELECT start_height FROM chains WHERE id = $1) AS start_height`, key)
	if err != nil {
		return fmt.Errorf("load %s writer state: %w", w.chain, mapError(err))
	}
	w.nextTx, w.nextAddr = st.NextTx, st.NextAddr
	w.startSet, w.partial = st.Start.Valid, st.Start.Valid && st.Start.Int64 > 0
	if w.tip, w.tipHash, err = storedTip(ctx, tx.x, key); err != nil {
		return fmt.Errorf("load %s tip: %w", w.chain, err)
	}
	w.utxo = make(map[chains.OutPoint]utxoEntry, 1<<14)
	w.addrs = newAddrCache()
	// An empty chain has nothing to look up: the caches are complete. A
	// chain with data needs its lookup indexes.
	w.complete = w.nextTx == 0 && w.nextAddr == 1
	if !w.complete && !w.indexReady {
		if err := tx.ensureIndexes(ctx); err != nil {
			return err
		}
		w.indexReady = true
	}
	w.loaded = true
	return nil
}

// Tip returns the height and hash of the last written block, or -1.
func (w *UTXOWriter) Tip(ctx context.Context, tx *Tx) (int64, chains.Hash, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.load(ctx, tx); err != nil {
		return 0, chains.Hash{}, err
	}
	return w.tip, w.tipHash, nil
}

// WriteStats counts the rows one Write added.
type WriteStats struct {
	Blocks, Txs, Inputs, Outputs, Addresses int64
}

type txRow struct {
	id                int64
	hash              chains.Hash
	height            int64
	pos               int
	tx                *chains.Tx
	totalIn, totalOut uint64
	resolved          bool
}

type outRow struct {
	txID   int64
	idx    int
	value  uint64
	stype  chains.ScriptType
	addrID int64
	script []byte
}

type inRow struct {
	txID     int64
	idx      int
	prev     *chains.OutPoint // nil: coinbase
	prevTx   int64            // -1: unknown
	value    uint64
	addrID   int64
	stype    chains.ScriptType
	resolved bool
	sequence uint32
}

type addrRow struct {
	id     int64
	addr   string
	height int64
}

// keepScript reports whether an output's script is stored: where the
// address does not say everything (the key of a P2PK, the keys of a
// multisig, data and non-standard scripts).
func keepScript(t chains.ScriptType) bool {
	switch t {
	case chains.ScriptP2PK, chains.ScriptMultisig, chains.ScriptOpReturn, chains.ScriptNonStandard:
		return true
	}
	return false
}

// UTXOBatch is a batch of blocks turned into rows by Prepare, ready to be
// flushed in a transaction.
type UTXOBatch struct {
	w        *UTXOWriter
	blocks   []chains.Block
	firstTx  []int64
	txRows   []txRow
	outRows  []outRow
	inRows   []inRow
	newAddrs []addrRow
	start    bool // the first batch of the chain: record its start height
}

// Write adds blocks, which must continue the stored chain in height order.
// It assigns transaction and address ids, resolves every input to the
// output it spends and bulk-loads the rows. Nothing is written if it fails,
// provided the caller rolls tx back (InTx does). Write is Prepare followed
// by Flush.
func (w *UTXOWriter) Write(ctx context.Context, tx *Tx, blocks []chains.Block) (WriteStats, error) {
	if len(blocks) == 0 {
		return WriteStats{}, nil
	}
	tx.OnRollback(w.reset)
	b, err := w.prepare(ctx, tx, blocks)
	if err != nil {
		return WriteStats{}, err
	}
	return b.flushIn(ctx, tx)
}

// CanPrepareAhead reports whether the next batch can be prepared without
// the database: the writer has loaded its state and its caches hold every
// unspent output and address of the chain (a bulk load from empty).
func (w *UTXOWriter) CanPrepareAhead() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loaded && w.complete
}

// PrepareAhead turns blocks into rows in memory, without a transaction, so
// it can run while the previous batch is being flushed. It fails unless
// CanPrepareAhead. The batch must be flushed next, or Discarded.
func (w *UTXOWriter) PrepareAhead(ctx context.Context, blocks []chains.Block) (*UTXOBatch, error) {
	b, err := w.prepare(ctx, nil, blocks)
	if err != nil {
		w.reset() // the caches may hold part of the failed batch
	}
	return b, err
}

// Discard forgets a prepared batch that will not be flushed: the writer's
// in-memory state is ahead of the database, so it reloads next time.
func (b *UTXOBatch) Discard() { b.w.reset() }

func (w *UTXOWriter) prepare(ctx context.Context, tx *Tx, blocks []chains.Block) (*UTXOBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tx != nil {
		if err := w.load(ctx, tx); err != nil {
			return nil, err
		}
	} else if !w.loaded || !w.complete {
		return nil, errors.New("store: writer cannot prepare ahead: caches incomplete")
	}
	if err := checkContiguous(w.chain, w.tip, w.tipHash, blocks); err != nil {
		return nil, err
	}
	batch := &UTXOBatch{w: w, blocks: blocks, start: !w.startSet}
	if !w.startSet {
		w.partial = blocks[0].Height > 0
		w.startSet = true
	}
	// Pass 1: outpoints neither cached nor created in this batch. With
	// complete caches (a bulk load) only a chain indexed from above height 0
	// can have them, so the common case skips this pass.
	var missing []chains.OutPoint
	if !w.complete || w.partial {
		inBatch := make(map[chains.Hash]struct{}, 1024)
		for b := range blocks {
			for t := range blocks[b].Txs {
				inBatch[blocks[b].Txs[t].Hash] = struct{}{}
			}
		}
		for b := range blocks {
			for t := range blocks[b].Txs {
				txn := &blocks[b].Txs[t]
				if txn.Coinbase {
					continue
				}
				for i := range txn.Inputs {
					op := txn.Inputs[i].Prev
					if _, ok := w.utxo[op]; ok {
						continue
					}
					if _, ok := inBatch[op.TxID]; ok {
						continue
					}
					missing = append(missing, op)
				}
			}
		}
	}
	external := map[chains.OutPoint]Prevout{}
	if len(missing) > 0 && !w.complete {
		if tx == nil {
			return nil, errors.New("store: prepare ahead needs complete caches")
		}
		var err error
		if missing, err = w.lookupPrevouts(ctx, tx, missing); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 && w.opts.Resolver != nil {
		got, err := w.opts.Resolver.Prevouts(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("resolve %d previous outputs: %w", len(missing), err)
		}
		external = got
	}
	if !w.complete {
		if tx == nil {
			return nil, errors.New("store: prepare ahead needs complete caches")
		}
		if err := w.lookupAddresses(ctx, tx, blocks, external); err != nil {
			return nil, err
		}
	}

	// Pass 2: assign ids and build rows.
	var (
		newAddrs []addrRow
		firstTx  = make([]int64, len(blocks))
		txRows   []txRow
		outRows  []outRow
		inRows   []inRow
	)
	addrID := func(a string, h int64) int64 {
		if a == "" {
			return 0
		}
		if id, ok := w.addrs.get(a); ok {
			return id
		}
		id := w.nextAddr
		w.nextAddr++
		w.addrs.put(a, id)
		newAddrs = append(newAddrs, addrRow{id, a, h})
		return id
	}
	for b := range blocks {
		blk := &blocks[b]
		firstTx[b] = w.nextTx
		for t := range blk.Txs {
			txn := &blk.Txs[t]
			id := w.nextTx
			w.nextTx++
			row := txRow{id: id, hash: txn.Hash, height: blk.Height, pos: t, tx: txn, resolved: true}
			for i := range txn.Inputs {
				in := &txn.Inputs[i]
				r := inRow{txID: id, idx: i, prevTx: -1, sequence: in.Sequence}
				if txn.Coinbase {
					inRows = append(inRows, r)
					continue
				}
				r.prev = &in.Prev
				if e, ok := w.utxo[in.Prev]; ok {
					r.prevTx, r.value, r.addrID, r.stype, r.resolved = e.txID, e.value, e.addrID, e.stype, true
					delete(w.utxo, in.Prev)
				} else if p, ok := external[in.Prev]; ok {
					r.value, r.addrID, r.stype, r.resolved = p.Value, addrID(p.Address, blk.Height), p.ScriptType, true
				} else if w.partial {
					row.resolved = false
				} else {
					return nil, fmt.Errorf("%w: block %d tx %s input %d spends %s",
						ErrUnknownPrevout, blk.Height, txn.Hash, i, in.Prev)
				}
				if r.resolved {
					row.totalIn += r.value
				}
				inRows = append(inRows, r)
			}
			for o := range txn.Outputs {
				out := &txn.Outputs[o]
				r := outRow{txID: id, idx: o, value: out.Value, stype: out.ScriptType, addrID: addrID(out.Address, blk.Height)}
				if keepScript(out.ScriptType) {
					r.script = out.Script
				}
				row.totalOut += out.Value
				outRows = append(outRows, r)
				if out.ScriptType.Spendable() {
					w.utxo[chains.OutPoint{TxID: txn.Hash, Index: uint32(o)}] = utxoEntry{id, out.Value, r.addrID, out.ScriptType}
				}
			}
			if !txn.Coinbase && row.resolved && row.totalIn < row.totalOut {
				return nil, fmt.Errorf("block %d tx %s: outputs %d sat exceed inputs %d sat", blk.Height, txn.Hash, row.totalOut, row.totalIn)
			}
			txRows = append(txRows, row)
		}
	}

	last := &blocks[len(blocks)-1]
	w.tip, w.tipHash = last.Height, last.Hash
	batch.firstTx, batch.txRows, batch.outRows, batch.inRows, batch.newAddrs = firstTx, txRows, outRows, inRows, newAddrs
	if len(w.utxo) > w.opts.MaxCachedOutputs || w.addrs.len() > w.opts.MaxCachedOutputs {
		// Bounded memory: forget, and look up from now on (the lookup
		// indexes are built at the next flush).
		w.utxo = make(map[chains.OutPoint]utxoEntry)
		w.addrs = newAddrCache()
		w.complete = false
	}
	return batch, nil
}

// Flush writes a prepared batch in tx and updates the chain's counters.
func (b *UTXOBatch) Flush(ctx context.Context, tx *Tx) (WriteStats, error) {
	tx.OnRollback(b.w.reset)
	return b.flushIn(ctx, tx)
}

func (b *UTXOBatch) flushIn(ctx context.Context, tx *Tx) (WriteStats, error) {
	w := b.w
	var stats WriteStats
	if err := w.flush(ctx, tx, b.blocks, b.firstTx, b.txRows, b.outRows, b.inRows, b.newAddrs); err != nil {
		return stats, err
	}
	stats = WriteStats{int64(len(b.blocks)), int64(len(b.txRows)), int64(len(b.inRows)), int64(len(b.outRows)), int64(len(b.newAddrs))}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chain_stats SET blocks = blocks + $2, txs = txs + $3,
		inputs = inputs + $4, outputs = outputs + $5, addresses = addresses + $6 WHERE chain = $1`,
		w.key, stats.Blocks, stats.Txs, stats.Inputs, stats.Outputs, stats.Addresses); err != nil {
		return stats, fmt.Errorf("update %s counters: %w", w.chain, mapError(err))
	}
	if b.start {
		if _, err := tx.x.ExecContext(ctx, `UPDATE chains SET start_height = $2 WHERE id = $1`, w.key, b.blocks[0].Height); err != nil {
			return stats, fmt.Errorf("record %s start height: %w", w.chain, mapError(err))
		}
	}
	w.mu.Lock()
	needIndexes := !w.complete && !w.indexReady
	w.mu.Unlock()
	if needIndexes {
		if err := tx.ensureIndexes(ctx); err != nil {
			return stats, err
		}
		w.mu.Lock()
		w.indexReady = true
		w.mu.Unlock()
	}
	return stats, nil
}

// checkContiguous reports blocks that do not continue a chain whose last
// written block is tip (-1: none) with hash tipHash.
func checkContiguous(chain chains.ID, tip int64, tipHash chains.Hash, blocks []chains.Block) error {
	want := tip + 1
	prev := tipHash
	for i := range blocks {
		b := &blocks[i]
		if tip < 0 && i == 0 {
			want, prev = b.Height, b.PrevHash
		}
		if b.Height != want {
			return fmt.Errorf("%w: %s expects height %d next, got block %d", ErrGap, chain, want, b.Height)
		}
		if b.PrevHash != prev {
			return fmt.Errorf("%w: %s block %d (%s) does not extend block %d (%s)", ErrGap, chain, b.Height, b.Hash, b.Height-1, prev)
		}
		want, prev = b.Height+1, b.Hash
	}
	return nil
}

// lookupPrevouts finds outputs in the database and puts them in the cache;
// it returns the outpoints it did not find.
func (w *UTXOWriter) lookupPrevouts(ctx context.Context, tx *Tx, ops []chains.OutPoint) ([]chains.OutPoint, error) {
	hashes := make(map[chains.Hash]struct{}, len(ops))
	for _, op := range ops {
		hashes[op.TxID] = struct{}{}
	}
	list := make([][]byte, 0, len(hashes))
	for h := range hashes {
		list = append(list, h[:])
	}
	type txid struct {
		ID   int64  `db:"id"`
		Hash []byte `db:"hash"`
	}
	ids := make(map[chains.Hash]int64, len(list))
	byID := make(map[int64]chains.Hash, len(list))
	for chunk := range chunks(list, 500) {
		var rows []txid
		if err := tx.selectIn(ctx, &rows, `SELECT id, hash FROM txs WHERE chain = $1 AND hash IN (?)`, w.key, chunk); err != nil {
			return nil, fmt.Errorf("look up previous transactions: %w", err)
		}
		for _, r := range rows {
			h, _ := chains.HashFromBytes(r.Hash)
			// A txid can repeat (BIP30): the later transaction's outputs win.
			if old, ok := ids[h]; !ok || r.ID > old {
				ids[h] = r.ID
				byID[r.ID] = h
			}
		}
	}
	idList := make([]int64, 0, len(ids))
	for _, id := range ids {
		idList = append(idList, id)
	}
	type out struct {
		TxID   int64         `db:"tx_id"`
		Idx    int64         `db:"idx"`
		Value  int64         `db:"value"`
		AddrID sql.NullInt64 `db:"address_id"`
		SType  int16         `db:"script_type"`
	}
	for chunk := range chunks(idList, 500) {
		var rows []out
		if err := tx.selectIn(ctx, &rows, `SELECT tx_id, idx, value, address_id, script_type FROM outputs
			WHERE chain = $1 AND tx_id IN (?)`, w.key, chunk); err != nil {
			return nil, fmt.Errorf("look up previous outputs: %w", err)
		}
		for _, r := range rows {
			op := chains.OutPoint{TxID: byID[r.TxID], Index: uint32(r.Idx)}
			w.utxo[op] = utxoEntry{r.TxID, uint64(r.Value), r.AddrID.Int64, chains.ScriptType(r.SType)}
		}
	}
	var still []chains.OutPoint
	for _, op := range ops {
		if _, ok := w.utxo[op]; !ok {
			still = append(still, op)
		}
	}
	return still, nil
}

// lookupAddresses loads the ids of already known addresses used in blocks.
func (w *UTXOWriter) lookupAddresses(ctx context.Context, tx *Tx, blocks []chains.Block, external map[chains.OutPoint]Prevout) error {
	want := make(map[string]struct{})
	for b := range blocks {
		for t := range blocks[b].Txs {
			for _, o := range blocks[b].Txs[t].Outputs {
				if o.Address != "" {
					if _, ok := w.addrs.get(o.Address); !ok {
						want[o.Address] = struct{}{}
					}
				}
			}
		}
	}
	for _, p := range external {
		if p.Address != "" {
			if _, ok := w.addrs.get(p.Address); !ok {
				want[p.Address] = struct{}{}
			}
		}
	}
	return tx.lookupAddressIDs(ctx, w.key, want, w.addrs)
}

// lookupAddressIDs puts the ids of the stored addresses among want into
// cache, in batched queries.
func (tx *Tx) lookupAddressIDs(ctx context.Context, key int16, want map[string]struct{}, cache *addrCache) error {
	list := make([]string, 0, len(want))
	for a := range want {
		list = append(list, a)
	}
	type row struct {
		ID      int64  `db:"id"`
		Address string `db:"address"`
	}
	for chunk := range chunks(list, 500) {
		var rows []row
		if err := tx.selectIn(ctx, &rows, `SELECT id, address FROM addresses WHERE chain = $1 AND address IN (?)`, key, chunk); err != nil {
			return fmt.Errorf("look up addresses: %w", err)
		}
		for _, r := range rows {
			cache.put(r.Address, r.ID)
		}
	}
	return nil
}

func (w *UTXOWriter) flush(ctx context.Context, tx *Tx, blocks []chains.Block, firstTx []int64,
	txRows []txRow, outRows []outRow, inRows []inRow, addrs []addrRow) error {
	k := w.key
	if err := tx.bulkInsert(ctx, "addresses", []string{"chain", "id", "address", "first_height"}, len(addrs),
		func(i int, v []any) {
			a := &addrs[i]
			v[0], v[1], v[2], v[3] = k, a.id, a.addr, a.height
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "blocks", []string{"chain", "height", "hash", "prev_hash", "merkle_root", "time",
		"version", "bits", "nonce", "size", "weight", "tx_count", "first_tx_id"}, len(blocks),
		func(i int, v []any) {
			b := &blocks[i]
			v[0], v[1], v[2], v[3], v[4], v[5] = k, b.Height, b.Hash[:], b.PrevHash[:], b.MerkleRoot[:], b.Time
			v[6], v[7], v[8], v[9], v[10], v[11], v[12] = b.Version, int64(b.Bits), int64(b.Nonce), b.Size, b.Weight, len(b.Txs), firstTx[i]
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "txs", []string{"chain", "id", "hash", "height", "position", "version", "locktime",
		"size", "weight", "coinbase", "n_inputs", "n_outputs", "total_input", "total_output", "fee"}, len(txRows),
		func(i int, v []any) {
			r := &txRows[i]
			var totalIn, fee any
			if r.resolved && !r.tx.Coinbase {
				totalIn, fee = int64(r.totalIn), int64(r.totalIn-r.totalOut)
			}
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = k, r.id, r.hash[:], r.height, r.pos, r.tx.Version, int64(r.tx.LockTime)
			v[7], v[8], v[9], v[10], v[11] = r.tx.Size, r.tx.Weight, r.tx.Coinbase, len(r.tx.Inputs), len(r.tx.Outputs)
			v[12], v[13], v[14] = totalIn, int64(r.totalOut), fee
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "outputs", []string{"chain", "tx_id", "idx", "value", "script_type", "address_id", "script"}, len(outRows),
		func(i int, v []any) {
			r := &outRows[i]
			v[0], v[1], v[2], v[3], v[4] = k, r.txID, r.idx, int64(r.value), int16(r.stype)
			v[5], v[6] = nullID(r.addrID), nullBytes(r.script)
		}); err != nil {
		return err
	}
	return tx.bulkInsert(ctx, "inputs", []string{"chain", "tx_id", "idx", "prev_hash", "prev_idx", "prev_tx_id",
		"value", "address_id", "script_type", "sequence"}, len(inRows),
		func(i int, v []any) {
			r := &inRows[i]
			v[0], v[1], v[2], v[9] = k, r.txID, r.idx, int64(r.sequence)
			v[3], v[4], v[5], v[6], v[7], v[8] = nil, nil, nil, nil, nil, nil
			if r.prev != nil {
				v[3], v[4] = r.prev.TxID[:], int64(r.prev.Index)
			}
			if r.prevTx >= 0 {
				v[5] = r.prevTx
			}
			if r.resolved {
				v[6], v[7], v[8] = int64(r.value), nullID(r.addrID), int16(r.stype)
			}
		})
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// Unwind removes every block above height, with its transactions, inputs,
// outputs and the addresses first seen in them, so the chain is as if it
// had been indexed only up to height. The caller updates stage progress in
// the same transaction.
func (w *UTXOWriter) Unwind(ctx context.Context, tx *Tx, height int64) error {
	w.mu.Lock()
	err := w.load(ctx, tx)
	k := w.key
	w.resetLocked()
	w.mu.Unlock()
	if err != nil {
		return err
	}
	tx.OnRollback(w.reset)
	var firstTx sql.NullInt64
	if err := tx.x.GetContext(ctx, &firstTx, `SELECT MIN(id) FROM txs WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind %s above %d: %w", w.chain, height, mapError(err))
	}
	var n [5]int64
	del := func(i int, q string, args ...any) error {
		res, err := tx.x.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("unwind %s above %d: %w", w.chain, height, mapError(err))
		}
		n[i], _ = res.RowsAffected()
		return nil
	}
	if firstTx.Valid {
		if err := del(1, `DELETE FROM inputs WHERE chain = $1 AND tx_id >= $2`, k, firstTx.Int64); err != nil {
			return err
		}
		if err := del(2, `DELETE FROM outputs WHERE chain = $1 AND tx_id >= $2`, k, firstTx.Int64); err != nil {
			return err
		}
		if err := del(3, `DELETE FROM txs WHERE chain = $1 AND id >= $2`, k, firstTx.Int64); err != nil {
			return err
		}
	}
	if err := del(0, `DELETE FROM blocks WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return err
	}
	if err := del(4, `DELETE FROM addresses WHERE chain = $1 AND first_height > $2`, k, height); err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chain_stats SET blocks = blocks - $2, inputs = inputs - $3,
		outputs = outputs - $4, txs = txs - $5, addresses = addresses - $6 WHERE chain = $1`,
		k, n[0], n[1], n[2], n[3], n[4]); err != nil {
		return fmt.Errorf("unwind %s counters: %w", w.chain, mapError(err))
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chains SET start_height = NULL WHERE id = $1 AND start_height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind %s start: %w", w.chain, mapError(err))
	}
	return nil
}

// selectIn runs a query with one "IN (?)" list, portable across dialects.
func (tx *Tx) selectIn(ctx context.Context, dst any, query string, key int16, list any) error {
	return selectIn(ctx, tx.x, tx.db.dialect, dst, query, key, list)
}

// selectIn runs query, whose $1 is the chain key and whose one "IN (?)"
// takes list: an array parameter on PostgreSQL, expanded placeholders on
// SQLite.
func selectIn(ctx context.Context, q sqlx.QueryerContext, d Dialect, dst any, query string, key int16, list any) error {
	if d == Postgres {
		// One array parameter instead of hundreds of placeholders.
		pq1 := strings.Replace(query, "IN (?)", "= ANY($2)", 1)
		return mapError(sqlx.SelectContext(ctx, q, dst, pq1, key, pq.Array(list)))
	}
	expanded, args, err := sqlx.In(strings.Replace(query, "$1", "?", 1), key, list)
	if err != nil {
		return err
	}
	return mapError(sqlx.SelectContext(ctx, q, dst, sqlx.Rebind(sqlx.DOLLAR, expanded), args...))
}

// chunks yields successive slices of at most n elements.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			m := min(n, len(s))
			if !yield(s[:m]) {
				return
			}
			s = s[m:]
		}
	}
}
