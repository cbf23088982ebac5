package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/fundtrace/fundtrace/chains"
)

// Cluster summarises the cluster of an address on a UTXO chain.
type Cluster struct {
	Chain         chains.ID     `json:"chain"`
	ID            int64         `json:"cluster_id"` // the smallest address id of the cluster
	Root          string        `json:"root_address"`
	Size          int64         `json:"no_addresses"`
	TotalReceived chains.Amount `json:"total_received"`
	TotalSpent    chains.Amount `json:"total_spent"`
	Balance       chains.Amount `json:"balance"`
	FirstTx       TxRef         `json:"first_tx"`
	LastTx        TxRef         `json:"last_tx"`
}

// clusterOf returns the cluster id of an address id (itself when alone).
func (db *DB) clusterOf(ctx context.Context, k int16, id int64) (int64, error) {
	var c int64
	err := db.x.GetContext(ctx, &c, `SELECT cluster_id FROM address_clusters WHERE chain = $1 AND address_id = $2`, k, id)
	if errors.Is(err, sql.ErrNoRows) {
		return id, nil
	}
	if err != nil {
		return 0, mapError(err)
	}
	return c, nil
}

// memberSQL selects the address ids of cluster $2 (the cluster id alone
// when it has no rows).
const memberSQL = `SELECT address_id FROM address_clusters WHERE chain = $1 AND cluster_id = $2
	UNION SELECT CAST($2 AS BIGINT) AS address_id`

// ClusterOfAddress returns the cluster of an address with its size,
// totals and first and last transactions, or ErrNotFound for an address
// the index never saw.
func (db *DB) ClusterOfAddress(ctx context.Context, chain chains.ID, address string) (Cluster, error) {
	k, id, err := db.addressID(ctx, chain, address)
	if err != nil {
		return Cluster{}, err
	}
	c, err := db.clusterOf(ctx, k, id)
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster of %s: %w", address, err)
	}
	out := Cluster{Chain: chain, ID: c}
	if err := db.x.GetContext(ctx, &out.Root, `SELECT address FROM addresses WHERE chain = $1 AND id = $2`, k, c); err != nil {
		return out, fmt.Errorf("cluster %d: %w", c, mapError(err))
	}
	if err := db.x.GetContext(ctx, &out.Size, `SELECT COUNT(*) FROM (`+memberSQL+`) m`, k, c); err != nil {
		return out, fmt.Errorf("cluster %d: %w", c, mapError(err))
	}
	type agg struct {
		Sum   string        `db:"s"`
		First sql.NullInt64 `db:"first"`
		Last  sql.NullInt64 `db:"last"`
	}
	const q = `SELECT CAST(COALESCE(SUM(value), 0) AS TEXT) AS s, MIN(tx_id) AS first, MAX(tx_id) AS last
		FROM %s WHERE chain = $1 AND address_id IN (` + memberSQL + `)`
	var in, sp agg
	if err := db.x.GetContext(ctx, &in, fmt.Sprintf(q, "outputs"), k, c); err != nil {
		return out, fmt.Errorf("cluster %d received: %w", c, mapError(err))
	}
	if err := db.x.GetContext(ctx, &sp, fmt.Sprintf(q, "inputs"), k, c); err != nil {
		return out, fmt.Errorf("cluster %d spent: %w", c, mapError(err))
	}
	if out.TotalReceived, err = chains.ParseAmount(in.Sum); err != nil {
		return out, err
	}
	if out.TotalSpent, err = chains.ParseAmount(sp.Sum); err != nil {
		return out, err
	}
	if out.Balance, err = out.TotalReceived.Sub(out.TotalSpent); err != nil {
		return out, fmt.Errorf("balance of cluster %d: %w", c, err)
	}
	first, last := in.First.Int64, in.Last.Int64
	if sp.First.Valid && (!in.First.Valid || sp.First.Int64 < first) {
		first = sp.First.Int64
	}
	if sp.Last.Valid && sp.Last.Int64 > last {
		last = sp.Last.Int64
	}
	refs, err := db.txRefs(ctx, k, []int64{first, last})
	if err != nil {
		return out, err
	}
	out.FirstTx, out.LastTx = refs[first], refs[last]
	return out, nil
}

// ClusterMemberPage is one page of a cluster's addresses, by address id.
type ClusterMemberPage struct {
	Addresses []string `json:"addresses"`
	NextPage  string   `json:"next_page,omitempty"`
}

// ClusterMembers returns a page of the addresses of cluster id.
func (db *DB) ClusterMembers(ctx context.Context, chain chains.ID, id int64, page string, size int) (ClusterMemberPage, error) {
	res := ClusterMemberPage{Addresses: []string{}}
	after, err := pageCursor(page, size, 0)
	if err != nil {
		return res, err
	}
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return res, err
	}
	var rows []struct {
		ID      int64  `db:"id"`
		Address string `db:"address"`
	}
	if err := db.x.SelectContext(ctx, &rows, `SELECT a.id, a.address FROM addresses a
		WHERE a.chain = $1 AND a.id IN (`+memberSQL+`) AND a.id > $3 ORDER BY a.id LIMIT $4`, k, id, after, size+1); err != nil {
		return res, fmt.Errorf("members of cluster %d: %w", id, mapError(err))
	}
	if len(rows) > size {
		rows = rows[:size]
		res.NextPage = strconv.FormatInt(rows[size-1].ID, 36)
	}
	for _, r := range rows {
		res.Addresses = append(res.Addresses, r.Address)
	}
	return res, nil
}

// ClusterStats describes the clustering of a chain.
type ClusterStats struct {
	Chain chains.ID `json:"chain"`
	// Addresses counts every address; Clusters counts clusters of any
	// size (an address alone is a cluster of one).
	Addresses            int64 `json:"no_addresses"`
	Clusters             int64 `json:"no_clusters"`
	MultiAddressClusters int64 `json:"no_multi_address_clusters"`
	Largest              int64 `json:"largest_cluster_size"`
	LargestID            int64 `json:"largest_cluster_id,omitempty"`
	// Sizes counts clusters by size bucket: "1", "2", "3-9", "10-99",
	// "100-999", "1000-9999", "10000+".
	Sizes     map[string]int64 `json:"size_distribution"`
	Edges     int64            `json:"no_merges"`
	Held      int64            `json:"no_held_merges"` // kept as evidence, not merged
	CoinJoins int64            `json:"no_coinjoins"`
}

var sizeBuckets = []struct {
	name     string
	from, to int64
}{{"2", 2, 2}, {"3-9", 3, 9}, {"10-99", 10, 99}, {"100-999", 100, 999}, {"1000-9999", 1000, 9999}, {"10000+", 10000, 1 << 62}}

// ClusterStatistics returns the statistics of a chain's clustering.
func (db *DB) ClusterStatistics(ctx context.Context, chain chains.ID) (ClusterStats, error) {
	st := ClusterStats{Chain: chain, Sizes: map[string]int64{}}
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return st, err
	}
	if err := db.x.GetContext(ctx, &st.Addresses, `SELECT addresses FROM chain_stats WHERE chain = $1`, k); err != nil {
		return st, fmt.Errorf("clusters of %s: %w", chain, mapError(err))
	}
	var sizes []struct {
		ID   int64 `db:"cluster_id"`
		Size int64 `db:"n"`
	}
	if err := db.x.SelectContext(ctx, &sizes, `SELECT cluster_id, COUNT(*) AS n FROM address_clusters
		WHERE chain = $1 GROUP BY cluster_id`, k); err != nil {
		return st, fmt.Errorf("clusters of %s: %w", chain, mapError(err))
	}
	var inMulti int64
	for _, s := range sizes {
		inMulti += s.Size
		if s.Size > st.Largest || s.Size == st.Largest && s.ID < st.LargestID {
			st.Largest, st.LargestID = s.Size, s.ID
		}
		for _, b := range sizeBuckets {
			if s.Size >= b.from && s.Size <= b.to {
				st.Sizes[b.name]++
			}
		}
	}
	st.MultiAddressClusters = int64(len(sizes))
	st.Sizes["1"] = st.Addresses - inMulti
	st.Clusters = st.MultiAddressClusters + st.Sizes["1"]
	if st.Largest == 0 && st.Addresses > 0 {
		st.Largest = 1
	}
	if err := db.x.GetContext(ctx, &st.Edges, `SELECT COUNT(*) FROM cluster_edges WHERE chain = $1 AND merged`, k); err != nil {
		return st, fmt.Errorf("clusters of %s: %w", chain, mapError(err))
	}
	if err := db.x.GetContext(ctx, &st.Held, `SELECT COUNT(*) FROM cluster_edges WHERE chain = $1 AND NOT merged`, k); err != nil {
		return st, fmt.Errorf("clusters of %s: %w", chain, mapError(err))
	}
	if err := db.x.GetContext(ctx, &st.CoinJoins, `SELECT COUNT(*) FROM coinjoins WHERE chain = $1`, k); err != nil {
		return st, fmt.Errorf("clusters of %s: %w", chain, mapError(err))
	}
	return st, nil
}

// PathStep is one merge on the way from one address to another.
type PathStep struct {
	From       string      `json:"from"`
	To         string      `json:"to"`
	Tx         chains.Hash `json:"tx"`
	Height     int64       `json:"height"`
	Rule       uint8       `json:"-"`
	RuleName   string      `json:"rule"`
	Confidence uint8       `json:"confidence"`
}

// ClusterPath returns the shortest chain of merges joining address a to
// address b (empty when a is b), or ErrNotClustered when they are in
// different clusters. ruleName names rule numbers.
func (db *DB) ClusterPath(ctx context.Context, chain chains.ID, a, b string, ruleName func(uint8) string) ([]PathStep, error) {
	k, ia, err := db.addressID(ctx, chain, a)
	if err != nil {
		return nil, err
	}
	_, ib, err := db.addressID(ctx, chain, b)
	if err != nil {
		return nil, err
	}
	ca, err := db.clusterOf(ctx, k, ia)
	if err != nil {
		return nil, err
	}
	cb, err := db.clusterOf(ctx, k, ib)
	if err != nil {
		return nil, err
	}
	if ca != cb {
		return nil, fmt.Errorf("%w: %s is in cluster %d, %s in cluster %d", ErrNotClustered, a, ca, b, cb)
	}
	if ia == ib {
		return []PathStep{}, nil
	}
	type edge struct {
		TxID       int64 `db:"tx_id"`
		A          int64 `db:"a_id"`
		B          int64 `db:"b_id"`
		Rule       int16 `db:"rule"`
		Height     int64 `db:"height"`
		Confidence int16 `db:"confidence"`
	}
	// Breadth-first search from a, one query per frontier.
	prev := map[int64]edge{ia: {}}
	frontier := []int64{ia}
	for len(frontier) > 0 {
		if _, ok := prev[ib]; ok {
			break
		}
		sort.Slice(frontier, func(i, j int) bool { return frontier[i] < frontier[j] })
		var next []int64
		for chunk := range chunks(frontier, 500) {
			var es []edge
			if err := selectIn(ctx, db.x, db.dialect, &es, `SELECT tx_id, a_id, b_id, rule, height, confidence FROM cluster_edges
				WHERE chain = $1 AND a_id IN (?) AND merged ORDER BY tx_id`, k, chunk); err != nil {
				return nil, fmt.Errorf("merges of cluster %d: %w", ca, err)
			}
			var es2 []edge
			if err := selectIn(ctx, db.x, db.dialect, &es2, `SELECT tx_id, a_id, b_id, rule, height, confidence FROM cluster_edges
				WHERE chain = $1 AND b_id IN (?) AND merged ORDER BY tx_id`, k, chunk); err != nil {
				return nil, fmt.Errorf("merges of cluster %d: %w", ca, err)
			}
			for _, e := range append(es, es2...) {
				for _, pair := range [2][2]int64{{e.A, e.B}, {e.B, e.A}} {
					from, to := pair[0], pair[1]
					if _, seen := prev[from]; !seen {
						continue
					}
					if _, seen := prev[to]; seen {
						continue
					}
					prev[to] = edge{TxID: e.TxID, A: from, B: to, Rule: e.Rule, Height: e.Height, Confidence: e.Confidence}
					next = append(next, to)
				}
			}
		}
		frontier = next
	}
	if _, ok := prev[ib]; !ok {
		return nil, fmt.Errorf("%w: %s and %s share cluster %d but no chain of merges joins them (a merge was unwound?)", ErrNotClustered, a, b, ca)
	}
	var rev []edge
	for at := ib; at != ia; {
		e := prev[at]
		rev = append(rev, e)
		at = e.A
	}
	ids := make([]int64, 0, len(rev)*2)
	txIDs := make([]int64, 0, len(rev))
	for _, e := range rev {
		ids = append(ids, e.A, e.B)
		txIDs = append(txIDs, e.TxID)
	}
	names, err := db.addressNames(ctx, k, ids)
	if err != nil {
		return nil, err
	}
	refs, err := db.txRefs(ctx, k, txIDs)
	if err != nil {
		return nil, err
	}
	steps := make([]PathStep, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		e := rev[i]
		steps = append(steps, PathStep{From: names[e.A], To: names[e.B], Tx: refs[e.TxID].TxID, Height: e.Height,
			Rule: uint8(e.Rule), RuleName: ruleName(uint8(e.Rule)), Confidence: uint8(e.Confidence)})
	}
	return steps, nil
}

// addressNames returns the text of address ids.
func (db *DB) addressNames(ctx context.Context, k int16, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	for chunk := range chunks(ids, 500) {
		var rows []struct {
			ID      int64  `db:"id"`
			Address string `db:"address"`
		}
		if err := selectIn(ctx, db.x, db.dialect, &rows, `SELECT id, address FROM addresses WHERE chain = $1 AND id IN (?)`, k, chunk); err != nil {
			return nil, fmt.Errorf("addresses: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.Address
		}
	}
	return out, nil
}

// TxCoinJoin returns the CoinJoin flag of a transaction, or nil when no
// detector flagged it.
func (db *DB) TxCoinJoin(ctx context.Context, chain chains.ID, hash chains.Hash) (*CoinJoinFlag, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return nil, err
	}
	var row struct {
		TxID         int64  `db:"tx_id"`
		Height       int64  `db:"height"`
		Detector     string `db:"detector"`
		Confidence   int16  `db:"confidence"`
		Denomination int64  `db:"denomination"`
		Participants int    `db:"participants"`
	}
	err = db.x.GetContext(ctx, &row, `SELECT c.tx_id, c.height, c.detector, c.confidence, c.denomination, c.participants
		FROM coinjoins c JOIN txs t ON t.chain = c.chain AND t.id = c.tx_id WHERE c.chain = $1 AND t.hash = $2`, k, hash[:])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("coinjoin flag of %s: %w", hash, mapError(err))
	}
	return &CoinJoinFlag{TxID: row.TxID, Height: row.Height, Detector: row.Detector, Confidence: uint8(row.Confidence),
		Denomination: row.Denomination, Participants: row.Participants}, nil
}

// TxMerge is a merge a transaction made, or would have made if it was not
// held back.
type TxMerge struct {
	A          string `json:"address_a"`
	B          string `json:"address_b"`
	Rule       uint8  `json:"-"`
	RuleName   string `json:"rule"`
	Confidence uint8  `json:"confidence"`
	Merged     bool   `json:"merged"`
}

// TxMerges returns the merges transaction hash made, in address order.
func (db *DB) TxMerges(ctx context.Context, chain chains.ID, hash chains.Hash, ruleName func(uint8) string) ([]TxMerge, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		A          int64 `db:"a_id"`
		B          int64 `db:"b_id"`
		Rule       int16 `db:"rule"`
		Confidence int16 `db:"confidence"`
		Merged     bool  `db:"merged"`
	}
	if err := db.x.SelectContext(ctx, &rows, `SELECT e.a_id, e.b_id, e.rule, e.confidence, e.merged
		FROM cluster_edges e JOIN txs t ON t.chain = e.chain AND t.id = e.tx_id
		WHERE e.chain = $1 AND t.hash = $2 ORDER BY e.a_id, e.b_id, e.rule`, k, hash[:]); err != nil {
		return nil, fmt.Errorf("merges of %s: %w", hash, mapError(err))
	}
	ids := make([]int64, 0, 2*len(rows))
	for _, r := range rows {
		ids = append(ids, r.A, r.B)
	}
	names, err := db.addressNames(ctx, k, ids)
	if err != nil {
		return nil, err
	}
	out := make([]TxMerge, 0, len(rows))
	for _, r := range rows {
		out = append(out, TxMerge{A: names[r.A], B: names[r.B], Rule: uint8(r.Rule), RuleName: ruleName(uint8(r.Rule)),
			Confidence: uint8(r.Confidence), Merged: r.Merged})
	}
	return out, nil
}

// ClusterEdgePairs returns the address pairs of every merge applied on
// chain, in (tx, a, b) order: what a clustering from scratch unions.
func (db *DB) ClusterEdgePairs(ctx context.Context, chain chains.ID) ([][2]int64, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return nil, err
	}
	rows, err := db.x.QueryContext(ctx, `SELECT a_id, b_id FROM cluster_edges WHERE chain = $1 AND merged ORDER BY tx_id, a_id, b_id`, k)
	if err != nil {
		return nil, fmt.Errorf("merges of %s: %w", chain, mapError(err))
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, fmt.Errorf("merges of %s: %w", chain, mapError(err))
		}
		out = append(out, p)
	}
	return out, mapError(rows.Err())
}

// AddressFirstTx returns the first transaction that paid address, or
// false when the index never saw it receive.
func (db *DB) AddressFirstTx(ctx context.Context, chain chains.ID, address string) (chains.Hash, bool, error) {
	k, id, err := db.addressID(ctx, chain, address)
	if errors.Is(err, ErrNotFound) {
		return chains.Hash{}, false, nil
	}
	if err != nil {
		return chains.Hash{}, false, err
	}
	var first sql.NullInt64
	if err := db.x.GetContext(ctx, &first, `SELECT MIN(tx_id) FROM outputs WHERE chain = $1 AND address_id = $2`, k, id); err != nil {
		return chains.Hash{}, false, fmt.Errorf("first tx of %s: %w", address, mapError(err))
	}
	if !first.Valid {
		return chains.Hash{}, false, nil
	}
	refs, err := db.txRefs(ctx, k, []int64{first.Int64})
	if err != nil {
		return chains.Hash{}, false, err
	}
	return refs[first.Int64].TxID, true, nil
}
