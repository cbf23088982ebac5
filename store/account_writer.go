package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/fundtrace/fundtrace/chains"
)

// AccountWriterOptions configure an AccountWriter.
type AccountWriterOptions struct {
	// MaxCachedAddresses bounds the in-memory address-id cache; past it
	// the cache is dropped and ids are looked up again. Zero means 20
	// million.
	MaxCachedAddresses int
}

// AccountWriter writes blocks of one account-model chain (Ethereum and
// other EVM chains): blocks, transactions with their receipts, every
// transfer of value, token descriptions, and the per-address and
// per-counterparty totals that make balances and counterparties cheap to
// read. Totals are exact integers, added (and on an unwind subtracted) in
// Go, so PostgreSQL and SQLite hold the same numbers. Use one writer per
// chain and process, from one goroutine.
type AccountWriter struct {
	mu    sync.Mutex
	db    *DB
	chain chains.ID
	opts  AccountWriterOptions

	loaded       bool
	key          int16
	nextTx       int64
	nextTransfer int64
	nextAddr     int64
	tip          int64
	tipHash      chains.Hash
	startSet     bool
	addrs        *addrCache
	tokens       map[int64]bool // token address ids that have a tokens row
	indexReady   bool
}

// NewAccountWriter returns a writer for chain.
func (db *DB) NewAccountWriter(chain chains.ID, opts AccountWriterOptions) *AccountWriter {
	if opts.MaxCachedAddresses == 0 {
		opts.MaxCachedAddresses = 20_000_000
	}
	return &AccountWriter{db: db, chain: chain, opts: opts}
}

func (w *AccountWriter) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loaded = false
	w.addrs = nil
	w.tokens = nil
}

func (w *AccountWriter) load(ctx context.Context, tx *Tx) error {
	if w.loaded {
		return nil
	}
	key, err := w.db.chainKey(ctx, tx.x, w.chain)
	if err != nil {
		return err
	}
	w.key = key
	var st struct {
		NextTx       int64         `db:"next_tx"`
		NextTransfer int64         `db:"next_transfer"`
		NextAddr     int64         `db:"next_addr"`
		Start        sql.NullInt64 `db:"start_height"`
	}
	err = tx.x.GetContext(ctx, &st, `SELECT
		(SELECT COALESCE(MAX(id), -1) + 1 FROM account_txs WHERE chain = $1) AS next_tx,
		(SELECT COALESCE(MAX(id), -1) + 1 FROM transfers WHERE chain = $1) AS next_transfer,
		(SELECT COALESCE(MAX(id), 0) + 1 FROM addresses WHERE chain = $1) AS next_addr,
		(SELECT start_height FROM chains WHERE id = $1) AS start_height`, key)
	if err != nil {
		return fmt.Errorf("load %s writer state: %w", w.chain, mapError(err))
	}
	w.nextTx, w.nextTransfer, w.nextAddr, w.startSet = st.NextTx, st.NextTransfer, st.NextAddr, st.Start.Valid
	if w.tip, w.tipHash, err = storedTip(ctx, tx.x, key); err != nil {
		return fmt.Errorf("load %s tip: %w", w.chain, err)
	}
	if !w.indexReady && w.nextAddr > 1 {
		// Lookups by address and hash need the deferred indexes.
		if err := tx.ensureIndexes(ctx); err != nil {
			return err
		}
		w.indexReady = true
	}
	w.addrs = newAddrCache()
	w.tokens = make(map[int64]bool)
	w.loaded = true
	return nil
}

// AccountWriteStats counts the rows one Write added.
type AccountWriteStats struct {
	Blocks, Txs, Transfers, Addresses, Tokens int64
}

// totalKey names a row of account_totals; relKey one of account_relations.
type totalKey struct{ addr, asset int64 }
type relKey struct{ addr, party, asset int64 }

// flow is a change of received/sent value and counts. The writer applies
// only additions (Write) or only subtractions (Unwind) in one pass.
// Totals are Sums: what an address received over time may exceed 2^256
// even though no balance does.
type flow struct {
	received, sent chains.Sum
	nIn, nOut      int64
}

func (f *flow) add(recv bool, v chains.Amount) error {
	var err error
	if recv {
		f.received, err = f.received.Add(chains.SumOf(v))
		f.nIn++
	} else {
		f.sent, err = f.sent.Add(chains.SumOf(v))
		f.nOut++
	}
	return err
}

// flows accumulates the totals and relations changes of a set of
// transfers.
type flows struct {
	totals map[totalKey]*flow
	rels   map[relKey]*flow
}

func newFlows() *flows {
	return &flows{totals: make(map[totalKey]*flow), rels: make(map[relKey]*flow)}
}

// add records one transfer; from or to is 0 for new or burned money.
func (f *flows) add(from, to, asset int64, v chains.Amount) error {
	get := func(m map[totalKey]*flow, k totalKey) *flow {
		if m[k] == nil {
			m[k] = &flow{}
		}
		return m[k]
	}
	getRel := func(k relKey) *flow {
		if f.rels[k] == nil {
			f.rels[k] = &flow{}
		}
		return f.rels[k]
	}
	if from != 0 {
		if err := get(f.totals, totalKey{from, asset}).add(false, v); err != nil {
			return err
		}
	}
	if to != 0 {
		if err := get(f.totals, totalKey{to, asset}).add(true, v); err != nil {
			return err
		}
	}
	if from != 0 && to != 0 {
		if err := getRel(relKey{from, to, asset}).add(false, v); err != nil {
			return err
		}
		if err := getRel(relKey{to, from, asset}).add(true, v); err != nil {
			return err
		}
	}
	return nil
}

// Write adds blocks, which must continue the stored chain in height order
// and carry an AccountBlock. Nothing is written if it fails, provided the
// caller rolls tx back (InTx does).
func (w *AccountWriter) Write(ctx context.Context, tx *Tx, blocks []chains.Block) (AccountWriteStats, error) {
	if len(blocks) == 0 {
		return AccountWriteStats{}, nil
	}
	tx.OnRollback(w.reset)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.load(ctx, tx); err != nil {
		return AccountWriteStats{}, err
	}
	if err := checkContiguous(w.chain, w.tip, w.tipHash, blocks); err != nil {
		return AccountWriteStats{}, err
	}
	for i := range blocks {
		if blocks[i].Account == nil {
			return AccountWriteStats{}, fmt.Errorf("store: %s block %d has no account-model data", w.chain, blocks[i].Height)
		}
	}
	if err := w.lookupAddresses(ctx, tx, blocks); err != nil {
		return AccountWriteStats{}, err
	}
	if err := w.lookupTokens(ctx, tx, blocks); err != nil {
		return AccountWriteStats{}, err
	}
	start := !w.startSet

	var (
		newAddrs  []addrRow
		blockRows = make([]accountBlockRow, 0, len(blocks))
		txRows    []accountTxRow
		trRows    []transferRow
		tokenRows []tokenRow
		fl        = newFlows()
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
		ab := blk.Account
		br := accountBlockRow{block: blk, firstTx: w.nextTx, firstTransfer: w.nextTransfer,
			feeRecipient: addrID(ab.FeeRecipient, blk.Height)}
		if ab.GasUsed > math.MaxInt64 || ab.GasLimit > math.MaxInt64 {
			return AccountWriteStats{}, fmt.Errorf("store: %s block %d: gas %d/%d out of range", w.chain, blk.Height, ab.GasUsed, ab.GasLimit)
		}
		blockRows = append(blockRows, br)
		txIDs := make(map[int]int64, len(ab.Txs))
		for t := range ab.Txs {
			at := &ab.Txs[t]
			if at.Nonce > math.MaxInt64 || at.GasUsed > math.MaxInt64 {
				return AccountWriteStats{}, fmt.Errorf("store: %s block %d tx %s: nonce %d or gas used %d out of range",
					w.chain, blk.Height, at.Hash.Hex0x(), at.Nonce, at.GasUsed)
			}
			id := w.nextTx
			w.nextTx++
			txIDs[at.Index] = id
			txRows = append(txRows, accountTxRow{id: id, height: blk.Height, tx: at,
				from: addrID(at.From, blk.Height), to: addrID(at.To, blk.Height), created: addrID(at.Created, blk.Height)})
		}
		for _, tok := range ab.Tokens {
			id := addrID(tok.Address, blk.Height)
			if !w.tokens[id] {
				w.tokens[id] = true
				tokenRows = append(tokenRows, tokenRow{id: id, tok: tok, height: blk.Height})
			}
		}
		for i := range ab.Transfers {
			tr := &ab.Transfers[i]
			row := transferRow{id: w.nextTransfer, height: blk.Height, tr: tr, txID: -1,
				from: addrID(tr.From, blk.Height), to: addrID(tr.To, blk.Height)}
			w.nextTransfer++
			if tr.TxIndex >= 0 {
				id, ok := txIDs[tr.TxIndex]
				if !ok {
					return AccountWriteStats{}, fmt.Errorf("store: %s block %d: transfer %d names tx index %d, which the block lacks",
						w.chain, blk.Height, i, tr.TxIndex)
				}
				row.txID = id
			}
			if tr.Token != "" {
				row.asset = addrID(tr.Token, blk.Height)
				if !w.tokens[row.asset] {
					return AccountWriteStats{}, fmt.Errorf("store: %s block %d: token %s has no description in the block",
						w.chain, blk.Height, tr.Token)
				}
			}
			if err := fl.add(row.from, row.to, row.asset, tr.Value); err != nil {
				return AccountWriteStats{}, fmt.Errorf("store: %s block %d: totals: %w", w.chain, blk.Height, err)
			}
			trRows = append(trRows, row)
		}
	}
	stats := AccountWriteStats{int64(len(blocks)), int64(len(txRows)), int64(len(trRows)), int64(len(newAddrs)), int64(len(tokenRows))}
	if err := w.flush(ctx, tx, newAddrs, blockRows, txRows, trRows, tokenRows); err != nil {
		return stats, err
	}
	if err := w.applyFlows(ctx, tx, fl, false); err != nil {
		return stats, err
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chain_stats SET blocks = blocks + $2, txs = txs + $3,
		transfers = transfers + $4, addresses = addresses + $5 WHERE chain = $1`,
		w.key, stats.Blocks, stats.Txs, stats.Transfers, stats.Addresses); err != nil {
		return stats, fmt.Errorf("update %s counters: %w", w.chain, mapError(err))
	}
	if start {
		if _, err := tx.x.ExecContext(ctx, `UPDATE chains SET start_height = $2 WHERE id = $1`, w.key, blocks[0].Height); err != nil {
			return stats, fmt.Errorf("record %s start height: %w", w.chain, mapError(err))
		}
		w.startSet = true
	}
	if !w.indexReady {
		if err := tx.ensureIndexes(ctx); err != nil {
			return stats, err
		}
		w.indexReady = true
	}
	last := &blocks[len(blocks)-1]
	w.tip, w.tipHash = last.Height, last.Hash
	if w.addrs.len() > w.opts.MaxCachedAddresses {
		w.addrs = newAddrCache()
	}
	return stats, nil
}

type accountBlockRow struct {
	block                  *chains.Block
	firstTx, firstTransfer int64
	feeRecipient           int64
}

type accountTxRow struct {
	id, height        int64
	tx                *chains.AccountTx
	from, to, created int64
}

type transferRow struct {
	id, height, txID int64 // txID -1: block-level
	tr               *chains.Transfer
	from, to, asset  int64
}

type tokenRow struct {
	id, height int64
	tok        chains.Token
}

// lookupAddresses loads the ids of already known addresses of blocks.
func (w *AccountWriter) lookupAddresses(ctx context.Context, tx *Tx, blocks []chains.Block) error {
	want := make(map[string]struct{})
	note := func(a string) {
		if a == "" {
			return
		}
		if _, ok := w.addrs.get(a); !ok {
			want[a] = struct{}{}
		}
	}
	for b := range blocks {
		ab := blocks[b].Account
		note(ab.FeeRecipient)
		for t := range ab.Txs {
			note(ab.Txs[t].From)
			note(ab.Txs[t].To)
			note(ab.Txs[t].Created)
		}
		for i := range ab.Transfers {
			note(ab.Transfers[i].From)
			note(ab.Transfers[i].To)
			note(ab.Transfers[i].Token)
		}
		for _, tok := range ab.Tokens {
			note(tok.Address)
		}
	}
	if w.nextAddr == 1 {
		return nil // no address is stored yet
	}
	return tx.lookupAddressIDs(ctx, w.key, want, w.addrs)
}

// lookupTokens learns which of the blocks' tokens already have a row.
func (w *AccountWriter) lookupTokens(ctx context.Context, tx *Tx, blocks []chains.Block) error {
	var ids []int64
	for b := range blocks {
		for _, tok := range blocks[b].Account.Tokens {
			id, ok := w.addrs.get(tok.Address)
			if ok && !w.tokens[id] {
				ids = append(ids, id)
			}
		}
	}
	for chunk := range chunks(ids, 500) {
		var have []int64
		if err := tx.selectIn(ctx, &have, `SELECT address_id FROM tokens WHERE chain = $1 AND address_id IN (?)`, w.key, chunk); err != nil {
			return fmt.Errorf("look up tokens: %w", err)
		}
		for _, id := range have {
			w.tokens[id] = true
		}
	}
	return nil
}

func (w *AccountWriter) flush(ctx context.Context, tx *Tx, addrs []addrRow, blocks []accountBlockRow,
	txs []accountTxRow, trs []transferRow, toks []tokenRow) error {
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
			b := blocks[i].block
			v[0], v[1], v[2], v[3], v[4], v[5] = k, b.Height, b.Hash[:], b.PrevHash[:], b.MerkleRoot[:], b.Time
			v[6], v[7], v[8], v[9], v[10], v[11], v[12] = 0, 0, 0, b.Size, 0, len(b.Account.Txs), blocks[i].firstTx
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "account_blocks", []string{"chain", "height", "fee_recipient_id", "base_fee",
		"gas_used", "gas_limit", "no_traces", "first_transfer"}, len(blocks),
		func(i int, v []any) {
			r := &blocks[i]
			ab := r.block.Account
			var baseFee any
			if ab.BaseFee != nil {
				baseFee = ab.BaseFee.String()
			}
			v[0], v[1], v[2], v[3] = k, r.block.Height, nullID(r.feeRecipient), baseFee
			v[4], v[5], v[6], v[7] = int64(ab.GasUsed), int64(ab.GasLimit), ab.NoTraces, r.firstTransfer
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "account_txs", []string{"chain", "id", "hash", "height", "position", "from_id", "to_id",
		"created_id", "value", "nonce", "type", "success", "gas_used", "gas_price", "fee"}, len(txs),
		func(i int, v []any) {
			r := &txs[i]
			t := r.tx
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = k, r.id, t.Hash[:], r.height, t.Index, r.from, nullID(r.to)
			v[7], v[8], v[9], v[10], v[11] = nullID(r.created), t.Value.String(), int64(t.Nonce), int16(t.Type), t.Success
			v[12], v[13], v[14] = int64(t.GasUsed), t.GasPrice.String(), t.Fee.String()
		}); err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "tokens", []string{"chain", "address_id", "name", "symbol", "decimals", "first_height"}, len(toks),
		func(i int, v []any) {
			r := &toks[i]
			var dec any
			if r.tok.Decimals >= 0 {
				dec = int16(r.tok.Decimals)
			}
			v[0], v[1], v[2], v[3], v[4], v[5] = k, r.id, r.tok.Name, r.tok.Symbol, dec, r.height
		}); err != nil {
		return err
	}
	return tx.bulkInsert(ctx, "transfers", []string{"chain", "id", "height", "tx_id", "position", "kind", "asset_id",
		"from_id", "to_id", "value", "trace_address", "log_index"}, len(trs),
		func(i int, v []any) {
			r := &trs[i]
			t := r.tr
			var txID, trace, logIndex any
			if r.txID >= 0 {
				txID = r.txID
			}
			if t.TraceAddress != "" {
				trace = t.TraceAddress
			}
			if t.LogIndex >= 0 {
				logIndex = t.LogIndex
			}
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = k, r.id, r.height, txID, t.Position, int16(t.Kind), r.asset
			v[7], v[8], v[9], v[10], v[11] = nullID(r.from), nullID(r.to), t.Value.String(), trace, logIndex
		})
}

// applyFlows adds (or, with subtract, removes) fl to the totals and
// relations tables. Rows whose counts fall to zero are deleted, so an
// unwind leaves the tables as if the blocks had never been written.
func (w *AccountWriter) applyFlows(ctx context.Context, tx *Tx, fl *flows, subtract bool) error {
	tkeys := make([]relKey, 0, len(fl.totals))
	for key := range fl.totals {
		tkeys = append(tkeys, relKey{key.addr, 0, key.asset})
	}
	old, err := w.readFlows(ctx, tx, "account_totals", tkeys)
	if err != nil {
		return err
	}
	if err := w.upsertFlows(ctx, tx, "account_totals", tkeys, func(k relKey) *flow { return fl.totals[totalKey{k.addr, k.asset}] }, old, subtract); err != nil {
		return err
	}
	rkeys := make([]relKey, 0, len(fl.rels))
	for key := range fl.rels {
		rkeys = append(rkeys, key)
	}
	if old, err = w.readFlows(ctx, tx, "account_relations", rkeys); err != nil {
		return err
	}
	return w.upsertFlows(ctx, tx, "account_relations", rkeys, func(k relKey) *flow { return fl.rels[k] }, old, subtract)
}

// readFlows returns the stored rows of table (account_totals, whose keys
// have party 0, or account_relations) for exactly keys, and sorts keys. The keys go into a temporary table joined with table,
// so an exchange with millions of counterparties costs only the pairs a
// batch touched.
func (w *AccountWriter) readFlows(ctx context.Context, tx *Tx, table string, keys []relKey) (map[relKey]flow, error) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		if a.party != b.party {
			return a.party < b.party
		}
		return a.asset < b.asset
	})
	old := make(map[relKey]flow, len(keys))
	if len(keys) == 0 {
		return old, nil
	}
	q := `SELECT t.address_id, 0 AS counterparty_id, t.asset_id, t.received, t.sent, t.n_in, t.n_out
		FROM flow_keys k JOIN account_totals t
		ON t.chain = $1 AND t.address_id = k.address_id AND t.asset_id = k.asset_id`
	if table == "account_relations" {
		q = `SELECT t.address_id, t.counterparty_id, t.asset_id, t.received, t.sent, t.n_in, t.n_out
		FROM flow_keys k JOIN account_relations t
		ON t.chain = $1 AND t.address_id = k.address_id AND t.counterparty_id = k.counterparty_id AND t.asset_id = k.asset_id`
	}
	var rows []struct {
		Addr     int64  `db:"address_id"`
		Party    int64  `db:"counterparty_id"`
		Asset    int64  `db:"asset_id"`
		Received string `db:"received"`
		Sent     string `db:"sent"`
		NIn      int64  `db:"n_in"`
		NOut     int64  `db:"n_out"`
	}
	err := tx.withTempRows(ctx, "flow_keys", "address_id BIGINT, counterparty_id BIGINT, asset_id BIGINT",
		[]string{"address_id", "counterparty_id", "asset_id"}, len(keys),
		func(i int, v []any) { v[0], v[1], v[2] = keys[i].addr, keys[i].party, keys[i].asset },
		func() error { return mapError(tx.x.SelectContext(ctx, &rows, q, w.key)) })
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", w.chain, table, err)
	}
	for _, r := range rows {
		f, err := storedFlow(r.Received, r.Sent, r.NIn, r.NOut)
		if err != nil {
			return nil, fmt.Errorf("read %s %s of address %d: %w", w.chain, table, r.Addr, err)
		}
		old[relKey{r.Addr, r.Party, r.Asset}] = f
	}
	return old, nil
}

func storedFlow(received, sent string, nIn, nOut int64) (flow, error) {
	r, err := chains.ParseSum(received)
	if err != nil {
		return flow{}, err
	}
	s, err := chains.ParseSum(sent)
	if err != nil {
		return flow{}, err
	}
	return flow{received: r, sent: s, nIn: nIn, nOut: nOut}, nil
}

// upsertFlows writes old ± delta for keys of table (account_totals, whose
// keys have party 0, or account_relations).
func (w *AccountWriter) upsertFlows(ctx context.Context, tx *Tx, table string, keys []relKey,
	delta func(relKey) *flow, old map[relKey]flow, subtract bool) error {
	type out struct {
		key relKey
		f   flow
	}
	var (
		rows []out
		gone []relKey
	)
	for _, key := range keys {
		d := delta(key)
		cur := old[key]
		var err1, err2 error
		if subtract {
			cur.received, err1 = cur.received.Sub(d.received)
			cur.sent, err2 = cur.sent.Sub(d.sent)
			cur.nIn -= d.nIn
			cur.nOut -= d.nOut
		} else {
			cur.received, err1 = cur.received.Add(d.received)
			cur.sent, err2 = cur.sent.Add(d.sent)
			cur.nIn += d.nIn
			cur.nOut += d.nOut
		}
		if err := errors.Join(err1, err2); err != nil || cur.nIn < 0 || cur.nOut < 0 {
			return fmt.Errorf("store: %s %s of address %d asset %d do not add up (stored %+v, change %+v): %v",
				w.chain, table, key.addr, key.asset, old[key], *d, err)
		}
		if cur.nIn == 0 && cur.nOut == 0 {
			gone = append(gone, key)
			continue
		}
		rows = append(rows, out{key, cur})
	}
	k := w.key
	var err error
	if table == "account_totals" {
		err = tx.bulkUpsert(ctx, table, []string{"chain", "address_id", "asset_id", "received", "sent", "n_in", "n_out"}, 3, len(rows),
			func(i int, v []any) {
				r := &rows[i]
				v[0], v[1], v[2], v[3], v[4], v[5], v[6] = k, r.key.addr, r.key.asset, r.f.received.String(), r.f.sent.String(), r.f.nIn, r.f.nOut
			})
	} else {
		err = tx.bulkUpsert(ctx, table, []string{"chain", "address_id", "counterparty_id", "asset_id", "received", "sent", "n_in", "n_out"}, 4, len(rows),
			func(i int, v []any) {
				r := &rows[i]
				v[0], v[1], v[2], v[3] = k, r.key.addr, r.key.party, r.key.asset
				v[4], v[5], v[6], v[7] = r.f.received.String(), r.f.sent.String(), r.f.nIn, r.f.nOut
			})
	}
	if err != nil {
		return err
	}
	for _, key := range gone {
		q := `DELETE FROM account_totals WHERE chain = $1 AND address_id = $2 AND asset_id = $3`
		args := []any{k, key.addr, key.asset}
		if table == "account_relations" {
			q = `DELETE FROM account_relations WHERE chain = $1 AND address_id = $2 AND counterparty_id = $3 AND asset_id = $4`
			args = []any{k, key.addr, key.party, key.asset}
		}
		if _, err := tx.x.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("delete emptied %s row: %w", table, mapError(err))
		}
	}
	return nil
}

// Unwind removes every block above height with its transactions,
// transfers, tokens and addresses first seen there, and takes the removed
// transfers out of the totals and relations, so the chain is as if it had
// been indexed only up to height.
func (w *AccountWriter) Unwind(ctx context.Context, tx *Tx, height int64) error {
	tx.OnRollback(w.reset)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loaded = false
	if err := w.load(ctx, tx); err != nil {
		return err
	}
	defer func() { w.loaded = false }() // reload ids and tip on the next Write
	k := w.key
	var first struct {
		Tx       sql.NullInt64 `db:"first_tx"`
		Transfer sql.NullInt64 `db:"first_transfer"`
	}
	if err := tx.x.GetContext(ctx, &first, `SELECT
		(SELECT MIN(first_tx_id) FROM blocks WHERE chain = $1 AND height > $2) AS first_tx,
		(SELECT MIN(first_transfer) FROM account_blocks WHERE chain = $1 AND height > $2) AS first_transfer`, k, height); err != nil {
		return fmt.Errorf("unwind %s above %d: %w", w.chain, height, mapError(err))
	}
	var n struct{ blocks, txs, transfers, addrs int64 }
	if first.Transfer.Valid {
		type trow struct {
			From  sql.NullInt64 `db:"from_id"`
			To    sql.NullInt64 `db:"to_id"`
			Asset int64         `db:"asset_id"`
			Value string        `db:"value"`
		}
		var rows []trow
		if err := tx.x.SelectContext(ctx, &rows, `SELECT from_id, to_id, asset_id, value FROM transfers
			WHERE chain = $1 AND id >= $2`, k, first.Transfer.Int64); err != nil {
			return fmt.Errorf("unwind %s: read transfers: %w", w.chain, mapError(err))
		}
		fl := newFlows()
		for _, r := range rows {
			v, err := chains.ParseAmount(r.Value)
			if err != nil {
				return fmt.Errorf("unwind %s: %w", w.chain, err)
			}
			if err := fl.add(r.From.Int64, r.To.Int64, r.Asset, v); err != nil {
				return fmt.Errorf("unwind %s: %w", w.chain, err)
			}
		}
		if err := w.applyFlows(ctx, tx, fl, true); err != nil {
			return err
		}
		res, err := tx.x.ExecContext(ctx, `DELETE FROM transfers WHERE chain = $1 AND id >= $2`, k, first.Transfer.Int64)
		if err != nil {
			return fmt.Errorf("unwind %s transfers: %w", w.chain, mapError(err))
		}
		n.transfers, _ = res.RowsAffected()
	}
	del := func(dst *int64, q string, args ...any) error {
		res, err := tx.x.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("unwind %s above %d: %w", w.chain, height, mapError(err))
		}
		if dst != nil {
			*dst, _ = res.RowsAffected()
		}
		return nil
	}
	if first.Tx.Valid {
		if err := del(&n.txs, `DELETE FROM account_txs WHERE chain = $1 AND id >= $2`, k, first.Tx.Int64); err != nil {
			return err
		}
	}
	if err := del(nil, `DELETE FROM account_blocks WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return err
	}
	if err := del(&n.blocks, `DELETE FROM blocks WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return err
	}
	if err := del(nil, `DELETE FROM tokens WHERE chain = $1 AND first_height > $2`, k, height); err != nil {
		return err
	}
	if err := del(&n.addrs, `DELETE FROM addresses WHERE chain = $1 AND first_height > $2`, k, height); err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chain_stats SET blocks = blocks - $2, txs = txs - $3,
		transfers = transfers - $4, addresses = addresses - $5 WHERE chain = $1`,
		k, n.blocks, n.txs, n.transfers, n.addrs); err != nil {
		return fmt.Errorf("unwind %s counters: %w", w.chain, mapError(err))
	}
	if _, err := tx.x.ExecContext(ctx, `UPDATE chains SET start_height = NULL WHERE id = $1 AND start_height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind %s start: %w", w.chain, mapError(err))
	}
	return nil
}
