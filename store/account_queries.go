package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
)

// Asset names what a transfer moved: the chain's native coin (Token "")
// or an ERC-20 token, with the decimals to display its base units.
// Decimals is nil when the token never said.
type Asset struct {
	Token    string `json:"token,omitempty"`
	Symbol   string `json:"symbol"`
	Name     string `json:"name,omitempty"`
	Decimals *int   `json:"decimals"`
}

// AccountTransfer is one movement of value on an account-model chain.
type AccountTransfer struct {
	Height    int64               `json:"height"`
	Timestamp int64               `json:"timestamp"`
	TxHash    string              `json:"tx_hash,omitempty"` // "" for block-level transfers
	Position  int                 `json:"position"`
	Kind      chains.TransferKind `json:"kind"`
	Asset     Asset               `json:"asset"`
	From      string              `json:"from,omitempty"` // "" for new money
	To        string              `json:"to,omitempty"`   // "" for burned value
	Value     chains.Amount       `json:"value"`
	Trace     string              `json:"trace_address,omitempty"`
	LogIndex  *int                `json:"log_index,omitempty"`
	id        int64
}

// AccountTx is a transaction of an account-model chain with its receipt and
// every transfer it made.
type AccountTx struct {
	Chain     chains.ID         `json:"chain"`
	Hash      string            `json:"tx_hash"`
	Height    int64             `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Position  int               `json:"position"`
	From      string            `json:"from"`
	To        string            `json:"to,omitempty"`
	Created   string            `json:"contract_created,omitempty"`
	Value     chains.Amount     `json:"value"`
	Nonce     int64             `json:"nonce"`
	Type      int               `json:"type"`
	Status    string            `json:"status"` // success or failed
	GasUsed   int64             `json:"gas_used"`
	GasPrice  chains.Amount     `json:"gas_price"`
	Fee       chains.Amount     `json:"fee"`
	Native    Asset             `json:"native_asset"`
	NoTraces  bool              `json:"internal_transfers_unknown,omitempty"`
	Transfers []AccountTransfer `json:"transfers"`
}

// AssetTotal is what an address received and sent of one asset.
type AssetTotal struct {
	Asset    Asset      `json:"asset"`
	Received chains.Sum `json:"total_received"`
	Sent     chains.Sum `json:"total_spent"`
	// Balance is Received - Sent; nil when the address sent more than the
	// index saw it receive (a genesis allocation or history before the
	// indexed start).
	Balance *chains.Amount `json:"balance"`
	NIn     int64          `json:"no_incoming_transfers"`
	NOut    int64          `json:"no_outgoing_transfers"`
}

// AccountAddress summarises an address of an account-model chain.
type AccountAddress struct {
	Chain   chains.ID `json:"chain"`
	Address string    `json:"address"`
	// IndexedFrom is the chain's first indexed height. Above 0, balances
	// are net flows since that height, not what the address holds.
	IndexedFrom    int64            `json:"indexed_from"`
	Assets         []AssetTotal     `json:"assets"`
	Counterparties int64            `json:"no_counterparties"`
	FirstSeen      *AccountTransfer `json:"first_transfer"`
	LastSeen       *AccountTransfer `json:"last_transfer"`
}

// Counterparty is what an address exchanged with one other address in one
// asset.
type Counterparty struct {
	Address  string     `json:"address"`
	Asset    Asset      `json:"asset"`
	Received chains.Sum `json:"received"`
	Sent     chains.Sum `json:"sent"`
	NIn      int64      `json:"no_incoming_transfers"`
	NOut     int64      `json:"no_outgoing_transfers"`
}

// CounterpartyPage is one page of an address's counterparties.
type CounterpartyPage struct {
	Counterparties []Counterparty `json:"counterparties"`
	NextPage       string         `json:"next_page,omitempty"`
}

// TransferPage is one page of an address's transfers, newest first.
type TransferPage struct {
	Transfers []AccountTransfer `json:"transfers"`
	NextPage  string            `json:"next_page,omitempty"`
}

// accountReader resolves the ids of account-model rows into what users
// read, caching assets and addresses for one query.
type accountReader struct {
	db     *DB
	chain  chains.ID
	info   chains.Info
	k      int16
	assets map[int64]Asset
	addrs  map[int64]string
}

func (db *DB) accountReader(ctx context.Context, chain chains.ID) (*accountReader, error) {
	info, err := chains.Lookup(chain)
	if err != nil {
		return nil, err
	}
	if info.Model != chains.Account {
		return nil, fmt.Errorf("%w: %s is not an account-model chain", chains.ErrUnknownChain, chain)
	}
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return nil, err
	}
	return &accountReader{db: db, chain: chain, info: info, k: k, assets: map[int64]Asset{}, addrs: map[int64]string{0: ""}}, nil
}

func (r *accountReader) native() Asset {
	d := r.info.Decimals
	return Asset{Symbol: r.info.Symbol, Decimals: &d}
}

// resolve loads the addresses and assets that ids name.
func (r *accountReader) resolve(ctx context.Context, addrIDs, assetIDs []int64) error {
	var want []int64
	for _, id := range append(addrIDs, assetIDs...) {
		if _, ok := r.addrs[id]; !ok {
			want = append(want, id)
			r.addrs[id] = "" // placeholder, filled below
		}
	}
	for chunk := range chunks(want, 500) {
		var rows []struct {
			ID      int64  `db:"id"`
			Address string `db:"address"`
		}
		if err := selectIn(ctx, r.db.x, r.db.dialect, &rows, `SELECT id, address FROM addresses WHERE chain = $1 AND id IN (?)`, r.k, chunk); err != nil {
			return fmt.Errorf("addresses: %w", err)
		}
		for _, row := range rows {
			r.addrs[row.ID] = row.Address
		}
	}
	var toks []int64
	for _, id := range assetIDs {
		if _, ok := r.assets[id]; !ok && id != 0 {
			toks = append(toks, id)
		}
	}
	r.assets[0] = r.native()
	for chunk := range chunks(toks, 500) {
		var rows []struct {
			ID       int64         `db:"address_id"`
			Name     string        `db:"name"`
			Symbol   string        `db:"symbol"`
			Decimals sql.NullInt64 `db:"decimals"`
		}
		if err := selectIn(ctx, r.db.x, r.db.dialect, &rows, `SELECT address_id, name, symbol, decimals FROM tokens
			WHERE chain = $1 AND address_id IN (?)`, r.k, chunk); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		for _, row := range rows {
			a := Asset{Token: r.addrs[row.ID], Symbol: row.Symbol, Name: row.Name}
			if row.Decimals.Valid {
				d := int(row.Decimals.Int64)
				a.Decimals = &d
			}
			r.assets[row.ID] = a
		}
	}
	return nil
}

type transferDBRow struct {
	ID       int64          `db:"id"`
	Height   int64          `db:"height"`
	Time     int64          `db:"time"`
	TxHash   []byte         `db:"tx_hash"`
	Position int            `db:"position"`
	Kind     int16          `db:"kind"`
	Asset    int64          `db:"asset_id"`
	From     sql.NullInt64  `db:"from_id"`
	To       sql.NullInt64  `db:"to_id"`
	Value    string         `db:"value"`
	Trace    sql.NullString `db:"trace_address"`
	LogIndex sql.NullInt64  `db:"log_index"`
}

const transferSelect = `SELECT tr.id, tr.height, b.time, t.hash AS tx_hash, tr.position, tr.kind, tr.asset_id,
	tr.from_id, tr.to_id, tr.value, tr.trace_address, tr.log_index
	FROM transfers tr
	JOIN blocks b ON b.chain = tr.chain AND b.height = tr.height
	LEFT JOIN account_txs t ON t.chain = tr.chain AND t.id = tr.tx_id`

func (r *accountReader) transfers(ctx context.Context, rows []transferDBRow) ([]AccountTransfer, error) {
	var addrIDs, assetIDs []int64
	for _, row := range rows {
		addrIDs = append(addrIDs, row.From.Int64, row.To.Int64)
		assetIDs = append(assetIDs, row.Asset)
	}
	if err := r.resolve(ctx, addrIDs, assetIDs); err != nil {
		return nil, err
	}
	out := make([]AccountTransfer, 0, len(rows))
	for _, row := range rows {
		v, err := chains.ParseAmount(row.Value)
		if err != nil {
			return nil, fmt.Errorf("transfer %d: %w", row.ID, err)
		}
		t := AccountTransfer{Height: row.Height, Timestamp: row.Time, Position: row.Position,
			Kind: chains.TransferKind(row.Kind), Asset: r.assets[row.Asset], From: r.addrs[row.From.Int64],
			To: r.addrs[row.To.Int64], Value: v, Trace: row.Trace.String, id: row.ID}
		if row.TxHash != nil {
			h, _ := chains.HashFromBytes(row.TxHash)
			t.TxHash = h.Hex0x()
		}
		if row.LogIndex.Valid {
			li := int(row.LogIndex.Int64)
			t.LogIndex = &li
		}
		out = append(out, t)
	}
	return out, nil
}

// AccountTxByHash returns a transaction of an account-model chain with
// every transfer it made, or ErrNotFound.
func (db *DB) AccountTxByHash(ctx context.Context, chain chains.ID, hash chains.Hash) (AccountTx, error) {
	r, err := db.accountReader(ctx, chain)
	if err != nil {
		return AccountTx{}, err
	}
	var row struct {
		ID       int64         `db:"id"`
		Height   int64         `db:"height"`
		Time     int64         `db:"time"`
		Position int           `db:"position"`
		From     int64         `db:"from_id"`
		To       sql.NullInt64 `db:"to_id"`
		Created  sql.NullInt64 `db:"created_id"`
		Value    string        `db:"value"`
		Nonce    int64         `db:"nonce"`
		Type     int           `db:"type"`
		Success  bool          `db:"success"`
		GasUsed  int64         `db:"gas_used"`
		GasPrice string        `db:"gas_price"`
		Fee      string        `db:"fee"`
		NoTraces bool          `db:"no_traces"`
	}
	err = db.x.GetContext(ctx, &row, `SELECT t.id, t.height, b.time, t.position, t.from_id, t.to_id, t.created_id,
		t.value, t.nonce, t.type, t.success, t.gas_used, t.gas_price, t.fee, ab.no_traces
		FROM account_txs t
		JOIN blocks b ON b.chain = t.chain AND b.height = t.height
		JOIN account_blocks ab ON ab.chain = t.chain AND ab.height = t.height
		WHERE t.chain = $1 AND t.hash = $2 ORDER BY t.id DESC LIMIT 1`, r.k, hash[:])
	if errors.Is(err, sql.ErrNoRows) {
		return AccountTx{}, fmt.Errorf("%w: transaction %s is not indexed on %s", ErrNotFound, hash.Hex0x(), chain)
	}
	if err != nil {
		return AccountTx{}, fmt.Errorf("transaction %s: %w", hash.Hex0x(), mapError(err))
	}
	out := AccountTx{Chain: chain, Hash: hash.Hex0x(), Height: row.Height, Timestamp: row.Time, Position: row.Position,
		Nonce: row.Nonce, Type: row.Type, GasUsed: row.GasUsed, Native: r.native(), NoTraces: row.NoTraces, Status: "failed"}
	if row.Success {
		out.Status = "success"
	}
	for _, p := range []struct {
		dst *chains.Amount
		s   string
	}{{&out.Value, row.Value}, {&out.GasPrice, row.GasPrice}, {&out.Fee, row.Fee}} {
		if *p.dst, err = chains.ParseAmount(p.s); err != nil {
			return out, fmt.Errorf("transaction %s: %w", out.Hash, err)
		}
	}
	var rows []transferDBRow
	if err := db.x.SelectContext(ctx, &rows, transferSelect+` WHERE tr.chain = $1 AND tr.tx_id = $2 ORDER BY tr.id`, r.k, row.ID); err != nil {
		return out, fmt.Errorf("transfers of %s: %w", out.Hash, mapError(err))
	}
	if err := r.resolve(ctx, []int64{row.From, row.To.Int64, row.Created.Int64}, nil); err != nil {
		return out, err
	}
	out.From, out.To, out.Created = r.addrs[row.From], r.addrs[row.To.Int64], r.addrs[row.Created.Int64]
	if out.Transfers, err = r.transfers(ctx, rows); err != nil {
		return out, err
	}
	return out, nil
}

// AccountAddressSummary returns the totals per asset of an address (a
// lowercase 0x address), or ErrNotFound when no transfer names it.
func (db *DB) AccountAddressSummary(ctx context.Context, chain chains.ID, address string) (AccountAddress, error) {
	r, err := db.accountReader(ctx, chain)
	if err != nil {
		return AccountAddress{}, err
	}
	_, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return AccountAddress{}, err
	}
	out := AccountAddress{Chain: chain, Address: address, Assets: []AssetTotal{}}
	var start sql.NullInt64
	if err := db.x.GetContext(ctx, &start, `SELECT start_height FROM chains WHERE id = $1`, r.k); err != nil {
		return out, fmt.Errorf("start of %s: %w", chain, mapError(err))
	}
	out.IndexedFrom = start.Int64
	var totals []struct {
		Asset    int64  `db:"asset_id"`
		Received string `db:"received"`
		Sent     string `db:"sent"`
		NIn      int64  `db:"n_in"`
		NOut     int64  `db:"n_out"`
	}
	if err := db.x.SelectContext(ctx, &totals, `SELECT asset_id, received, sent, n_in, n_out FROM account_totals
		WHERE chain = $1 AND address_id = $2 ORDER BY asset_id`, r.k, id); err != nil {
		return out, fmt.Errorf("totals of %s: %w", address, mapError(err))
	}
	assetIDs := make([]int64, len(totals))
	for i, t := range totals {
		assetIDs[i] = t.Asset
	}
	if err := r.resolve(ctx, nil, assetIDs); err != nil {
		return out, err
	}
	for _, t := range totals {
		f, err := storedFlow(t.Received, t.Sent, t.NIn, t.NOut)
		if err != nil {
			return out, fmt.Errorf("totals of %s: %w", address, err)
		}
		at := AssetTotal{Asset: r.assets[t.Asset], Received: f.received, Sent: f.sent, NIn: t.NIn, NOut: t.NOut}
		if d, err := f.received.Sub(f.sent); err == nil {
			if b, ok := d.Amount(); ok {
				at.Balance = &b
			}
		}
		out.Assets = append(out.Assets, at)
	}
	if err := db.x.GetContext(ctx, &out.Counterparties, `SELECT COUNT(DISTINCT counterparty_id) FROM account_relations
		WHERE chain = $1 AND address_id = $2`, r.k, id); err != nil {
		return out, fmt.Errorf("counterparties of %s: %w", address, mapError(err))
	}
	for _, dir := range []string{"ASC", "DESC"} {
		var rows []transferDBRow
		q := fmt.Sprintf(`%s WHERE tr.chain = $1 AND tr.id = (SELECT %s(id) FROM (
			SELECT id FROM transfers WHERE chain = $1 AND from_id = $2
			UNION ALL SELECT id FROM transfers WHERE chain = $1 AND to_id = $2) u)`, transferSelect, map[string]string{"ASC": "MIN", "DESC": "MAX"}[dir])
		if err := db.x.SelectContext(ctx, &rows, q, r.k, id); err != nil {
			return out, fmt.Errorf("first and last transfer of %s: %w", address, mapError(err))
		}
		ts, err := r.transfers(ctx, rows)
		if err != nil {
			return out, err
		}
		if len(ts) == 1 {
			if dir == "ASC" {
				out.FirstSeen = &ts[0]
			} else {
				out.LastSeen = &ts[0]
			}
		}
	}
	return out, nil
}

// pageCursor checks a page size and returns the position a page token
// names, or start for the first page ("").
func pageCursor(page string, size int, start int64) (int64, error) {
	if size <= 0 || size > MaxPageSize {
		return 0, fmt.Errorf("page size %d: want 1 to %d", size, MaxPageSize)
	}
	if page == "" {
		return start, nil
	}
	v, err := strconv.ParseInt(page, 36, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("page token %q is not one this server issued", page)
	}
	return v, nil
}

// AccountTransfers returns a page of an address's transfers, newest first.
// page is the NextPage of the previous page, or "" for the first.
func (db *DB) AccountTransfers(ctx context.Context, chain chains.ID, address, page string, size int) (TransferPage, error) {
	res := TransferPage{Transfers: []AccountTransfer{}}
	before, err := pageCursor(page, size, 1<<62)
	if err != nil {
		return res, err
	}
	r, err := db.accountReader(ctx, chain)
	if err != nil {
		return res, err
	}
	_, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return res, err
	}
	var rows []transferDBRow
	// Each side is cut to a page by its own index before the union.
	if err := db.x.SelectContext(ctx, &rows, transferSelect+` WHERE tr.chain = $1 AND tr.id IN (
			SELECT id FROM (SELECT id FROM transfers WHERE chain = $1 AND from_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4) a
			UNION
			SELECT id FROM (SELECT id FROM transfers WHERE chain = $1 AND to_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4) b)
		ORDER BY tr.id DESC LIMIT $4`, r.k, id, before, size+1); err != nil {
		return res, fmt.Errorf("transfers of %s: %w", address, mapError(err))
	}
	if len(rows) > size {
		rows = rows[:size]
		res.NextPage = strconv.FormatInt(rows[size-1].ID, 36)
	}
	if res.Transfers, err = r.transfers(ctx, rows); err != nil {
		return res, err
	}
	return res, nil
}

// AccountCounterparties returns a page of the addresses an address
// exchanged value with, per asset, in the order of their ids.
func (db *DB) AccountCounterparties(ctx context.Context, chain chains.ID, address, page string, size int) (CounterpartyPage, error) {
	res := CounterpartyPage{Counterparties: []Counterparty{}}
	after, err := pageCursor(page, size, 0)
	if err != nil {
		return res, err
	}
	r, err := db.accountReader(ctx, chain)
	if err != nil {
		return res, err
	}
	_, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return res, err
	}
	// A page holds whole counterparties (all their assets), so the token
	// is the last counterparty id.
	var rows []struct {
		Party    int64  `db:"counterparty_id"`
		Asset    int64  `db:"asset_id"`
		Received string `db:"received"`
		Sent     string `db:"sent"`
		NIn      int64  `db:"n_in"`
		NOut     int64  `db:"n_out"`
	}
	if err := db.x.SelectContext(ctx, &rows, `SELECT counterparty_id, asset_id, received, sent, n_in, n_out
		FROM account_relations WHERE chain = $1 AND address_id = $2 AND counterparty_id IN (
			SELECT DISTINCT counterparty_id FROM account_relations
			WHERE chain = $1 AND address_id = $2 AND counterparty_id > $3 ORDER BY counterparty_id LIMIT $4)
		ORDER BY counterparty_id, asset_id`, r.k, id, after, size+1); err != nil {
		return res, fmt.Errorf("counterparties of %s: %w", address, mapError(err))
	}
	var parties, assets []int64
	for _, row := range rows {
		if len(parties) == 0 || parties[len(parties)-1] != row.Party {
			parties = append(parties, row.Party)
		}
		assets = append(assets, row.Asset)
	}
	if len(parties) > size {
		last := parties[size-1]
		res.NextPage = strconv.FormatInt(last, 36)
		for len(rows) > 0 && rows[len(rows)-1].Party > last {
			rows = rows[:len(rows)-1]
		}
	}
	if err := r.resolve(ctx, parties, assets); err != nil {
		return res, err
	}
	for _, row := range rows {
		f, err := storedFlow(row.Received, row.Sent, row.NIn, row.NOut)
		if err != nil {
			return res, err
		}
		res.Counterparties = append(res.Counterparties, Counterparty{Address: r.addrs[row.Party], Asset: r.assets[row.Asset],
			Received: f.received, Sent: f.sent, NIn: row.NIn, NOut: row.NOut})
	}
	return res, nil
}

// AccountBalances returns the indexed native and token balances of
// addresses (lowercase 0x), keyed by address then by asset ("" native,
// else the token contract). Addresses the index never saw are left out;
// a balance whose sends exceed its receipts is left out too.
func (db *DB) AccountBalances(ctx context.Context, chain chains.ID, addresses []string) (map[string]map[string]chains.Amount, error) {
	r, err := db.accountReader(ctx, chain)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]chains.Amount)
	for chunk := range chunks(addresses, 500) {
		var rows []struct {
			Address  string `db:"address"`
			Asset    int64  `db:"asset_id"`
			Received string `db:"received"`
			Sent     string `db:"sent"`
		}
		if err := selectIn(ctx, db.x, db.dialect, &rows, `SELECT a.address, t.asset_id, t.received, t.sent
			FROM addresses a JOIN account_totals t ON t.chain = a.chain AND t.address_id = a.id
			WHERE a.chain = $1 AND a.address IN (?)`, r.k, chunk); err != nil {
			return nil, fmt.Errorf("balances: %w", err)
		}
		var assetIDs []int64
		for _, row := range rows {
			assetIDs = append(assetIDs, row.Asset)
		}
		if err := r.resolve(ctx, nil, assetIDs); err != nil {
			return nil, err
		}
		for _, row := range rows {
			f, err := storedFlow(row.Received, row.Sent, 0, 0)
			if err != nil {
				return nil, err
			}
			d, err := f.received.Sub(f.sent)
			if err != nil {
				continue
			}
			b, ok := d.Amount()
			if !ok {
				continue
			}
			if out[row.Address] == nil {
				out[row.Address] = make(map[string]chains.Amount)
			}
			out[row.Address][r.assets[row.Asset].Token] = b
		}
	}
	return out, nil
}
