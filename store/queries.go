package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
)

// ChainStatus summarises one indexed chain. Counts come from counters kept
// in the same transactions as the rows they count.
type ChainStatus struct {
	Chain       chains.ID        `json:"chain"`
	TipHeight   *int64           `json:"tip_height"`
	TipHash     *chains.Hash     `json:"tip_hash"`
	StartHeight *int64           `json:"start_height"`
	Blocks      int64            `json:"blocks"`
	Txs         int64            `json:"txs"`
	Inputs      int64            `json:"inputs"`
	Outputs     int64            `json:"outputs"`
	Transfers   int64            `json:"transfers,omitempty"` // account-model chains
	Addresses   int64            `json:"addresses"`
	Stages      map[string]int64 `json:"stages"`
}

// Status returns the state of an indexed chain, or ErrNotFound.
func (db *DB) Status(ctx context.Context, chain chains.ID) (ChainStatus, error) {
	st := ChainStatus{Chain: chain, Stages: map[string]int64{}}
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return st, err
	}
	var c struct {
		Blocks    int64         `db:"blocks"`
		Txs       int64         `db:"txs"`
		Inputs    int64         `db:"inputs"`
		Outputs   int64         `db:"outputs"`
		Addresses int64         `db:"addresses"`
		Transfers int64         `db:"transfers"`
		Start     sql.NullInt64 `db:"start_height"`
	}
	if err := db.x.GetContext(ctx, &c, `SELECT s.blocks, s.txs, s.inputs, s.outputs, s.addresses, s.transfers, c.start_height
		FROM chain_stats s JOIN chains c ON c.id = s.chain WHERE s.chain = $1`, k); err != nil {
		return st, fmt.Errorf("status of %s: %w", chain, mapError(err))
	}
	st.Blocks, st.Txs, st.Inputs, st.Outputs, st.Addresses, st.Transfers = c.Blocks, c.Txs, c.Inputs, c.Outputs, c.Addresses, c.Transfers
	if c.Start.Valid {
		st.StartHeight = &c.Start.Int64
	}
	height, hash, err := storedTip(ctx, db.x, k)
	if err != nil {
		return st, fmt.Errorf("tip of %s: %w", chain, err)
	}
	if height >= 0 {
		st.TipHeight, st.TipHash = &height, &hash
	}
	var stages []struct {
		Stage  string `db:"stage"`
		Height int64  `db:"height"`
	}
	if err := db.x.SelectContext(ctx, &stages, `SELECT stage, height FROM stage_progress WHERE chain = $1`, k); err != nil {
		return st, fmt.Errorf("stages of %s: %w", chain, mapError(err))
	}
	for _, s := range stages {
		st.Stages[s.Stage] = s.Height
	}
	return st, nil
}

// Block is an indexed block, with Esplora's field names.
type Block struct {
	Chain      chains.ID      `json:"chain"`
	Hash       chains.Hash    `json:"id"`
	Height     int64          `json:"height"`
	Version    int32          `json:"version"`
	Timestamp  int64          `json:"timestamp"`
	Bits       uint32         `json:"bits"`
	Nonce      uint32         `json:"nonce"`
	MerkleRoot chains.Hash    `json:"merkle_root"`
	TxCount    int            `json:"tx_count"`
	Size       int            `json:"size"`
	Weight     int            `json:"weight"`
	PrevHash   chains.Hash    `json:"previousblockhash"`
	TotalFees  *chains.Amount `json:"total_fees"` // nil when an input is unresolved
	TxIDs      []chains.Hash  `json:"txids"`
}

type blockRow struct {
	Height     int64  `db:"height"`
	Hash       []byte `db:"hash"`
	PrevHash   []byte `db:"prev_hash"`
	MerkleRoot []byte `db:"merkle_root"`
	Time       int64  `db:"time"`
	Version    int32  `db:"version"`
	Bits       int64  `db:"bits"`
	Nonce      int64  `db:"nonce"`
	Size       int    `db:"size"`
	Weight     int    `db:"weight"`
	TxCount    int    `db:"tx_count"`
	FirstTx    int64  `db:"first_tx_id"`
}

const blockCols = `height, hash, prev_hash, merkle_root, time, version, bits, nonce, size, weight, tx_count, first_tx_id`

// BlockByHeight returns the block at height, or ErrNotFound.
func (db *DB) BlockByHeight(ctx context.Context, chain chains.ID, height int64) (Block, error) {
	return db.block(ctx, chain, `SELECT `+blockCols+` FROM blocks WHERE chain = $1 AND height = $2`, height,
		fmt.Sprintf("block at height %d", height))
}

// BlockByHash returns the block with hash, or ErrNotFound.
func (db *DB) BlockByHash(ctx context.Context, chain chains.ID, hash chains.Hash) (Block, error) {
	return db.block(ctx, chain, `SELECT `+blockCols+` FROM blocks WHERE chain = $1 AND hash = $2`, hash[:],
		"block "+hash.String())
}

func (db *DB) block(ctx context.Context, chain chains.ID, q string, arg any, what string) (Block, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return Block{}, err
	}
	var r blockRow
	if err := db.x.GetContext(ctx, &r, q, k, arg); errors.Is(err, sql.ErrNoRows) {
		return Block{}, fmt.Errorf("%w: %s on %s", ErrNotFound, what, chain)
	} else if err != nil {
		return Block{}, fmt.Errorf("%s on %s: %w", what, chain, mapError(err))
	}
	b := Block{Chain: chain, Height: r.Height, Version: r.Version, Timestamp: r.Time, Bits: uint32(r.Bits),
		Nonce: uint32(r.Nonce), TxCount: r.TxCount, Size: r.Size, Weight: r.Weight}
	b.Hash, _ = chains.HashFromBytes(r.Hash)
	b.PrevHash, _ = chains.HashFromBytes(r.PrevHash)
	b.MerkleRoot, _ = chains.HashFromBytes(r.MerkleRoot)
	var txs []struct {
		Hash []byte        `db:"hash"`
		Fee  sql.NullInt64 `db:"fee"`
		Cb   bool          `db:"coinbase"`
	}
	if err := db.x.SelectContext(ctx, &txs, `SELECT hash, fee, coinbase FROM txs WHERE chain = $1 AND id >= $2 AND id < $3 ORDER BY id`,
		k, r.FirstTx, r.FirstTx+int64(r.TxCount)); err != nil {
		return Block{}, fmt.Errorf("txs of %s on %s: %w", what, chain, mapError(err))
	}
	fees, complete := chains.Amount{}, true
	for _, t := range txs {
		h, _ := chains.HashFromBytes(t.Hash)
		b.TxIDs = append(b.TxIDs, h)
		switch {
		case t.Cb:
		case t.Fee.Valid:
			fees, _ = fees.Add(chains.NewAmount(uint64(t.Fee.Int64)))
		default:
			complete = false
		}
	}
	if complete {
		b.TotalFees = &fees
	}
	return b, nil
}

// TxRef names a transaction with where and when it was mined.
type TxRef struct {
	TxID      chains.Hash `json:"txid"`
	Height    int64       `json:"height"`
	Timestamp int64       `json:"timestamp"`
}

// Spender names the input that spends an output.
type Spender struct {
	TxID  chains.Hash `json:"txid"`
	Input int         `json:"input"`
}

// TxInput is one input of a transaction, resolved to the output it spends.
// Every field but Sequence is nil for a coinbase input; Address, Value and
// ScriptType are nil when the spent output lies before the indexed range.
type TxInput struct {
	PrevTxID   *chains.Hash       `json:"prev_txid"`
	PrevIndex  *uint32            `json:"prev_index"`
	Address    *string            `json:"address"`
	Value      *chains.Amount     `json:"value"`
	ScriptType *chains.ScriptType `json:"script_type"`
	Sequence   uint32             `json:"sequence"`
}

// TxOutput is one output of a transaction with its spender, if any.
type TxOutput struct {
	Index      int               `json:"index"`
	Address    *string           `json:"address"`
	Value      chains.Amount     `json:"value"`
	ScriptType chains.ScriptType `json:"script_type"`
	SpentBy    *Spender          `json:"spent_by"`
}

// TxDetail is an indexed transaction with its inputs and outputs.
type TxDetail struct {
	Chain       chains.ID      `json:"chain"`
	TxID        chains.Hash    `json:"txid"`
	Height      int64          `json:"height"`
	BlockHash   chains.Hash    `json:"block_hash"`
	Timestamp   int64          `json:"timestamp"`
	Position    int            `json:"position"`
	Coinbase    bool           `json:"coinbase"`
	Version     int32          `json:"version"`
	LockTime    uint32         `json:"locktime"`
	Size        int            `json:"size"`
	Weight      int            `json:"weight"`
	Fee         *chains.Amount `json:"fee"`
	TotalInput  *chains.Amount `json:"total_input"`
	TotalOutput chains.Amount  `json:"total_output"`
	Inputs      []TxInput      `json:"inputs"`
	Outputs     []TxOutput     `json:"outputs"`
}

// TxByHash returns a transaction with its inputs and outputs, or
// ErrNotFound.
func (db *DB) TxByHash(ctx context.Context, chain chains.ID, hash chains.Hash) (TxDetail, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return TxDetail{}, err
	}
	var r struct {
		ID        int64         `db:"id"`
		Height    int64         `db:"height"`
		Position  int           `db:"position"`
		Version   int32         `db:"version"`
		LockTime  int64         `db:"locktime"`
		Size      int           `db:"size"`
		Weight    int           `db:"weight"`
		Coinbase  bool          `db:"coinbase"`
		TotalIn   sql.NullInt64 `db:"total_input"`
		TotalOut  int64         `db:"total_output"`
		Fee       sql.NullInt64 `db:"fee"`
		BlockHash []byte        `db:"block_hash"`
		Time      int64         `db:"time"`
	}
	// A txid can repeat (BIP30); the later transaction is the live one.
	err = db.x.GetContext(ctx, &r, `SELECT t.id, t.height, t.position, t.version, t.locktime, t.size, t.weight,
		t.coinbase, t.total_input, t.total_output, t.fee, b.hash AS block_hash, b.time
		FROM txs t JOIN blocks b ON b.chain = t.chain AND b.height = t.height
		WHERE t.chain = $1 AND t.hash = $2 ORDER BY t.id DESC LIMIT 1`, k, hash[:])
	if errors.Is(err, sql.ErrNoRows) {
		return TxDetail{}, fmt.Errorf("%w: transaction %s on %s", ErrNotFound, hash, chain)
	} else if err != nil {
		return TxDetail{}, fmt.Errorf("transaction %s on %s: %w", hash, chain, mapError(err))
	}
	t := TxDetail{Chain: chain, TxID: hash, Height: r.Height, Timestamp: r.Time, Position: r.Position, Coinbase: r.Coinbase,
		Version: r.Version, LockTime: uint32(r.LockTime), Size: r.Size, Weight: r.Weight,
		TotalOutput: chains.NewAmount(uint64(r.TotalOut)), Inputs: []TxInput{}, Outputs: []TxOutput{}}
	t.BlockHash, _ = chains.HashFromBytes(r.BlockHash)
	if r.Fee.Valid {
		f := chains.NewAmount(uint64(r.Fee.Int64))
		t.Fee = &f
	}
	if r.TotalIn.Valid {
		a := chains.NewAmount(uint64(r.TotalIn.Int64))
		t.TotalInput = &a
	}

	var ins []struct {
		PrevHash []byte         `db:"prev_hash"`
		PrevIdx  sql.NullInt64  `db:"prev_idx"`
		Value    sql.NullInt64  `db:"value"`
		SType    sql.NullInt16  `db:"script_type"`
		Address  sql.NullString `db:"address"`
		Sequence int64          `db:"sequence"`
	}
	if err := db.x.SelectContext(ctx, &ins, `SELECT i.prev_hash, i.prev_idx, i.value, i.script_type, a.address, i.sequence
		FROM inputs i LEFT JOIN addresses a ON a.chain = i.chain AND a.id = i.address_id
		WHERE i.chain = $1 AND i.tx_id = $2 ORDER BY i.idx`, k, r.ID); err != nil {
		return TxDetail{}, fmt.Errorf("inputs of %s: %w", hash, mapError(err))
	}
	for _, in := range ins {
		ti := TxInput{Sequence: uint32(in.Sequence)}
		if in.PrevHash != nil {
			h, _ := chains.HashFromBytes(in.PrevHash)
			idx := uint32(in.PrevIdx.Int64)
			ti.PrevTxID, ti.PrevIndex = &h, &idx
		}
		if in.Value.Valid {
			v := chains.NewAmount(uint64(in.Value.Int64))
			st := chains.ScriptType(in.SType.Int16)
			ti.Value, ti.ScriptType = &v, &st
		}
		if in.Address.Valid {
			ti.Address = &in.Address.String
		}
		t.Inputs = append(t.Inputs, ti)
	}

	var outs []struct {
		Idx     int            `db:"idx"`
		Value   int64          `db:"value"`
		SType   int16          `db:"script_type"`
		Address sql.NullString `db:"address"`
	}
	if err := db.x.SelectContext(ctx, &outs, `SELECT o.idx, o.value, o.script_type, a.address
		FROM outputs o LEFT JOIN addresses a ON a.chain = o.chain AND a.id = o.address_id
		WHERE o.chain = $1 AND o.tx_id = $2 ORDER BY o.idx`, k, r.ID); err != nil {
		return TxDetail{}, fmt.Errorf("outputs of %s: %w", hash, mapError(err))
	}
	var spends []struct {
		PrevIdx int64  `db:"prev_idx"`
		Hash    []byte `db:"hash"`
		Input   int    `db:"idx"`
	}
	if err := db.x.SelectContext(ctx, &spends, `SELECT i.prev_idx, t.hash, i.idx FROM inputs i
		JOIN txs t ON t.chain = i.chain AND t.id = i.tx_id
		WHERE i.chain = $1 AND i.prev_tx_id = $2`, k, r.ID); err != nil {
		return TxDetail{}, fmt.Errorf("spenders of %s: %w", hash, mapError(err))
	}
	spentBy := make(map[int64]*Spender, len(spends))
	for _, s := range spends {
		h, _ := chains.HashFromBytes(s.Hash)
		spentBy[s.PrevIdx] = &Spender{TxID: h, Input: s.Input}
	}
	for _, o := range outs {
		to := TxOutput{Index: o.Idx, Value: chains.NewAmount(uint64(o.Value)), ScriptType: chains.ScriptType(o.SType),
			SpentBy: spentBy[int64(o.Idx)]}
		if o.Address.Valid {
			to.Address = &o.Address.String
		}
		t.Outputs = append(t.Outputs, to)
	}
	return t, nil
}

// Address summarises the history of one address, with GraphSense's field
// names.
type Address struct {
	Chain         chains.ID     `json:"chain"`
	Address       string        `json:"address"`
	Balance       chains.Amount `json:"balance"`
	TotalReceived chains.Amount `json:"total_received"`
	TotalSpent    chains.Amount `json:"total_spent"`
	NoIncomingTxs int64         `json:"no_incoming_txs"`
	NoOutgoingTxs int64         `json:"no_outgoing_txs"`
	FirstTx       TxRef         `json:"first_tx"`
	LastTx        TxRef         `json:"last_tx"`
}

// AddressSummary returns the totals of a canonical address, or ErrNotFound
// when it appears in no indexed transaction.
func (db *DB) AddressSummary(ctx context.Context, chain chains.ID, address string) (Address, error) {
	k, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return Address{}, err
	}
	a := Address{Chain: chain, Address: address}
	type agg struct {
		Sum   string        `db:"s"`
		N     int64         `db:"n"`
		First sql.NullInt64 `db:"first"`
		Last  sql.NullInt64 `db:"last"`
	}
	var in, out agg
	const q = `SELECT CAST(COALESCE(SUM(value), 0) AS TEXT) AS s, COUNT(DISTINCT tx_id) AS n, MIN(tx_id) AS first, MAX(tx_id) AS last
		FROM %s WHERE chain = $1 AND address_id = $2`
	if err := db.x.GetContext(ctx, &in, fmt.Sprintf(q, "outputs"), k, id); err != nil {
		return a, fmt.Errorf("received by %s: %w", address, mapError(err))
	}
	if err := db.x.GetContext(ctx, &out, fmt.Sprintf(q, "inputs"), k, id); err != nil {
		return a, fmt.Errorf("spent by %s: %w", address, mapError(err))
	}
	if a.TotalReceived, err = chains.ParseAmount(in.Sum); err != nil {
		return a, err
	}
	if a.TotalSpent, err = chains.ParseAmount(out.Sum); err != nil {
		return a, err
	}
	if a.Balance, err = a.TotalReceived.Sub(a.TotalSpent); err != nil {
		return a, fmt.Errorf("balance of %s: %w", address, err)
	}
	a.NoIncomingTxs, a.NoOutgoingTxs = in.N, out.N
	first, last := in.First.Int64, in.Last.Int64
	if out.First.Valid && (!in.First.Valid || out.First.Int64 < first) {
		first = out.First.Int64
	}
	if out.Last.Valid && out.Last.Int64 > last {
		last = out.Last.Int64
	}
	refs, err := db.txRefs(ctx, k, []int64{first, last})
	if err != nil {
		return a, err
	}
	a.FirstTx, a.LastTx = refs[first], refs[last]
	return a, nil
}

// AddressTx is one transaction of an address with what it received and
// spent there.
type AddressTx struct {
	TxRef
	Received chains.Amount `json:"received"`
	Spent    chains.Amount `json:"spent"`
}

// AddressTxPage is one page of an address's transactions, newest first.
type AddressTxPage struct {
	Txs      []AddressTx `json:"txs"`
	NextPage string      `json:"next_page,omitempty"`
}

// MaxPageSize bounds page sizes of paginated queries.
const MaxPageSize = 1000

// AddressTxs returns a page of an address's transactions, newest first.
// page is the NextPage of the previous page, or "" for the first.
func (db *DB) AddressTxs(ctx context.Context, chain chains.ID, address, page string, size int) (AddressTxPage, error) {
	res := AddressTxPage{Txs: []AddressTx{}}
	before, err := pageCursor(page, size, 1<<62)
	if err != nil {
		return res, err
	}
	k, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return res, err
	}
	var rows []struct {
		TxID     int64  `db:"tx_id"`
		Received string `db:"received"`
		Spent    string `db:"spent"`
	}
	if err := db.x.SelectContext(ctx, &rows, `SELECT tx_id, CAST(SUM(r) AS TEXT) AS received, CAST(SUM(s) AS TEXT) AS spent FROM (
			SELECT tx_id, value AS r, 0 AS s FROM outputs WHERE chain = $1 AND address_id = $2 AND tx_id < $3
			UNION ALL
			SELECT tx_id, 0 AS r, value AS s FROM inputs WHERE chain = $1 AND address_id = $2 AND tx_id < $3
		) u GROUP BY tx_id ORDER BY tx_id DESC LIMIT $4`, k, id, before, size+1); err != nil {
		return res, fmt.Errorf("transactions of %s: %w", address, mapError(err))
	}
	if len(rows) > size {
		rows = rows[:size]
		res.NextPage = strconv.FormatInt(rows[size-1].TxID, 36)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.TxID
	}
	refs, err := db.txRefs(ctx, k, ids)
	if err != nil {
		return res, err
	}
	for _, r := range rows {
		t := AddressTx{TxRef: refs[r.TxID]}
		if t.Received, err = chains.ParseAmount(r.Received); err != nil {
			return res, err
		}
		if t.Spent, err = chains.ParseAmount(r.Spent); err != nil {
			return res, err
		}
		res.Txs = append(res.Txs, t)
	}
	return res, nil
}

func (db *DB) addressID(ctx context.Context, chain chains.ID, address string) (int16, int64, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return 0, 0, err
	}
	var id int64
	err = db.x.GetContext(ctx, &id, `SELECT id FROM addresses WHERE chain = $1 AND address = $2`, k, address)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("%w: address %s has no indexed transactions on %s", ErrNotFound, address, chain)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("address %s: %w", address, mapError(err))
	}
	return k, id, nil
}

// txRefs returns hash, height and block time of transactions by id.
func (db *DB) txRefs(ctx context.Context, k int16, ids []int64) (map[int64]TxRef, error) {
	out := make(map[int64]TxRef, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     int64  `db:"id"`
		Hash   []byte `db:"hash"`
		Height int64  `db:"height"`
		Time   int64  `db:"time"`
	}
	if err := selectIn(ctx, db.x, db.dialect, &rows, `SELECT t.id, t.hash, t.height, b.time FROM txs t
		JOIN blocks b ON b.chain = t.chain AND b.height = t.height WHERE t.chain = $1 AND t.id IN (?)`, k, ids); err != nil {
		return nil, fmt.Errorf("transaction refs: %w", err)
	}
	for _, r := range rows {
		h, _ := chains.HashFromBytes(r.Hash)
		out[r.ID] = TxRef{TxID: h, Height: r.Height, Timestamp: r.Time}
	}
	return out, nil
}
