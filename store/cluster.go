package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/lib/pq"
)

// ClusterInput is an input of a transaction as the clustering stage reads
// it: the spent output resolved, with its address id and text.
type ClusterInput struct {
	TxID       int64          `db:"tx_id"`
	Idx        int            `db:"idx"`
	AddressID  sql.NullInt64  `db:"address_id"`
	Address    sql.NullString `db:"address"`
	Value      sql.NullInt64  `db:"value"`
	ScriptType sql.NullInt16  `db:"script_type"`
	Sequence   int64          `db:"sequence"`
}

// ClusterInputs returns the first transaction id of blocks from..to and
// the inputs of their transactions in (tx id, index) order. The UTXO
// stage must have written the blocks in the same transaction.
func (tx *Tx) ClusterInputs(ctx context.Context, chain chains.ID, from, to int64) (int64, []ClusterInput, error) {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return 0, nil, err
	}
	var span struct {
		First sql.NullInt64 `db:"first"`
		Last  sql.NullInt64 `db:"last"`
	}
	if err := tx.x.GetContext(ctx, &span, `SELECT MIN(first_tx_id) AS first, MAX(first_tx_id + tx_count - 1) AS last
		FROM blocks WHERE chain = $1 AND height BETWEEN $2 AND $3`, k, from, to); err != nil {
		return 0, nil, fmt.Errorf("clustering %s %d..%d: %w", chain, from, to, mapError(err))
	}
	if !span.First.Valid {
		return 0, nil, fmt.Errorf("%w: clustering %s %d..%d: blocks not indexed", ErrGap, chain, from, to)
	}
	var ins []ClusterInput
	if err := tx.x.SelectContext(ctx, &ins, `SELECT i.tx_id, i.idx, i.address_id, a.address, i.value, i.script_type, i.sequence
		FROM inputs i LEFT JOIN addresses a ON a.chain = i.chain AND a.id = i.address_id
		WHERE i.chain = $1 AND i.tx_id BETWEEN $2 AND $3 ORDER BY i.tx_id, i.idx`, k, span.First.Int64, span.Last.Int64); err != nil {
		return 0, nil, fmt.Errorf("clustering %s %d..%d: inputs: %w", chain, from, to, mapError(err))
	}
	return span.First.Int64, ins, nil
}

// ClusterEdge is one stored merge with its evidence.
type ClusterEdge struct {
	A, B       int64 // address ids, A < B
	TxID       int64
	Height     int64
	Rule       uint8 // heuristics/cluster.Rule
	Confidence uint8 // percent
	// Held keeps the edge as evidence without merging (a transaction
	// with PayJoin signals).
	Held bool
}

// CoinJoinFlag records a transaction a detector flagged as a CoinJoin.
type CoinJoinFlag struct {
	TxID         int64
	Height       int64
	Detector     string
	Confidence   uint8
	Denomination int64
	Participants int
}

// AddClusterEdges stores edges and flags and merges the clusters the edges
// join: every address of the absorbed clusters moves to the smallest
// cluster id of its component, and addresses that were alone get a row.
// Only the clusters the edges touch are read.
func (tx *Tx) AddClusterEdges(ctx context.Context, chain chains.ID, edges []ClusterEdge, flags []CoinJoinFlag) error {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return err
	}
	if err := tx.bulkInsert(ctx, "coinjoins", []string{"chain", "tx_id", "height", "detector", "confidence", "denomination", "participants"}, len(flags),
		func(i int, v []any) {
			f := &flags[i]
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = k, f.TxID, f.Height, f.Detector, int16(f.Confidence), f.Denomination, f.Participants
		}); err != nil {
		return err
	}
	if len(edges) == 0 {
		return nil
	}
	if err := tx.bulkInsert(ctx, "cluster_edges", []string{"chain", "tx_id", "a_id", "b_id", "rule", "height", "confidence", "merged"}, len(edges),
		func(i int, v []any) {
			e := &edges[i]
			v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = k, e.TxID, e.A, e.B, int16(e.Rule), e.Height, int16(e.Confidence), !e.Held
		}); err != nil {
		return err
	}
	edges = slices.DeleteFunc(slices.Clone(edges), func(e ClusterEdge) bool { return e.Held })
	if len(edges) == 0 {
		return nil
	}
	// The current cluster of every endpoint (itself when alone).
	ends := map[int64]int64{}
	for _, e := range edges {
		ends[e.A], ends[e.B] = e.A, e.B
	}
	ids := make([]int64, 0, len(ends))
	for id := range ends {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	clustered := map[int64]bool{}
	for chunk := range chunks(ids, 500) {
		var rows []struct {
			Addr    int64 `db:"address_id"`
			Cluster int64 `db:"cluster_id"`
		}
		if err := tx.selectIn(ctx, &rows, `SELECT address_id, cluster_id FROM address_clusters WHERE chain = $1 AND address_id IN (?)`, k, chunk); err != nil {
			return fmt.Errorf("clusters of %s: %w", chain, err)
		}
		for _, r := range rows {
			ends[r.Addr] = r.Cluster
			clustered[r.Addr] = true
		}
	}
	// Union the clusters; each component takes its smallest id.
	pairs := make([][2]int64, len(edges))
	for i, e := range edges {
		pairs[i] = [2]int64{ends[e.A], ends[e.B]}
	}
	root := smallestRoots(pairs)
	moved := map[int64][]int64{} // new cluster id → absorbed cluster ids
	for c, r := range root {
		if r != c {
			moved[r] = append(moved[r], c)
		}
	}
	if err := tx.moveClusters(ctx, k, moved); err != nil {
		return fmt.Errorf("merge clusters of %s: %w", chain, err)
	}
	var fresh [][2]int64
	for _, id := range ids {
		if !clustered[id] {
			fresh = append(fresh, [2]int64{id, root[ends[id]]})
		}
	}
	return tx.bulkInsert(ctx, "address_clusters", []string{"chain", "address_id", "cluster_id"}, len(fresh),
		func(i int, v []any) { v[0], v[1], v[2] = k, fresh[i][0], fresh[i][1] })
}

// moveClusters re-points every address of the absorbed clusters to their
// new cluster in one statement, through a temporary table of the moves.
func (tx *Tx) moveClusters(ctx context.Context, k int16, moved map[int64][]int64) error {
	var moves [][2]int64
	for to, from := range moved {
		for _, f := range from {
			moves = append(moves, [2]int64{f, to})
		}
	}
	if len(moves) == 0 {
		return nil
	}
	sort.Slice(moves, func(i, j int) bool { return moves[i][0] < moves[j][0] })
	return tx.withTempRows(ctx, "cluster_moves", "old_id BIGINT PRIMARY KEY, new_id BIGINT NOT NULL", []string{"old_id", "new_id"}, len(moves),
		func(i int, v []any) { v[0], v[1] = moves[i][0], moves[i][1] },
		func() error {
			_, err := tx.x.ExecContext(ctx, `UPDATE address_clusters SET cluster_id = m.new_id FROM cluster_moves m
				WHERE address_clusters.chain = $1 AND address_clusters.cluster_id = m.old_id`, k)
			return mapError(err)
		})
}

// execIn runs a statement whose $1 is the chain key, whose $2... are
// args, and whose one "IN (?)" takes list: an array parameter on
// PostgreSQL, expanded placeholders on SQLite.
func (tx *Tx) execIn(ctx context.Context, stmt string, key int16, list []int64, args ...any) error {
	all := append([]any{key}, args...)
	if tx.db.dialect == Postgres {
		q := strings.Replace(stmt, "IN (?)", fmt.Sprintf("= ANY($%d)", len(all)+1), 1)
		_, err := tx.x.ExecContext(ctx, q, append(all, pq.Array(list))...)
		return mapError(err)
	}
	marks := make([]string, len(list))
	for i, v := range list {
		marks[i] = fmt.Sprintf("$%d", len(all)+1)
		all = append(all, v)
	}
	_, err := tx.x.ExecContext(ctx, strings.Replace(stmt, "IN (?)", "IN ("+strings.Join(marks, ", ")+")", 1), all...)
	return mapError(err)
}

// UnwindClusters removes the edges and CoinJoin flags above height and
// rebuilds the clusters they touched from the edges that remain, so the
// clusters equal a clustering of the chain up to height from scratch.
func (tx *Tx) UnwindClusters(ctx context.Context, chain chains.ID, height int64) error {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return err
	}
	var ends []int64
	if err := tx.x.SelectContext(ctx, &ends, `SELECT a_id FROM cluster_edges WHERE chain = $1 AND height > $2
		UNION SELECT b_id FROM cluster_edges WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind clusters of %s: %w", chain, mapError(err))
	}
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM coinjoins WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind coinjoins of %s: %w", chain, mapError(err))
	}
	if len(ends) == 0 {
		return nil
	}
	affected := map[int64]bool{}
	for chunk := range chunks(ends, 500) {
		var cs []int64
		if err := tx.selectIn(ctx, &cs, `SELECT DISTINCT cluster_id FROM address_clusters WHERE chain = $1 AND address_id IN (?)`, k, chunk); err != nil {
			return fmt.Errorf("unwind clusters of %s: %w", chain, err)
		}
		for _, c := range cs {
			affected[c] = true
		}
	}
	cids := make([]int64, 0, len(affected))
	for c := range affected {
		cids = append(cids, c)
	}
	var members []int64
	for chunk := range chunks(cids, 500) {
		var ms []int64
		if err := tx.selectIn(ctx, &ms, `SELECT address_id FROM address_clusters WHERE chain = $1 AND cluster_id IN (?)`, k, chunk); err != nil {
			return fmt.Errorf("unwind clusters of %s: %w", chain, err)
		}
		members = append(members, ms...)
		if err := tx.execIn(ctx, `DELETE FROM address_clusters WHERE chain = $1 AND cluster_id IN (?)`, k, chunk); err != nil {
			return fmt.Errorf("unwind clusters of %s: %w", chain, err)
		}
	}
	if _, err := tx.x.ExecContext(ctx, `DELETE FROM cluster_edges WHERE chain = $1 AND height > $2`, k, height); err != nil {
		return fmt.Errorf("unwind clusters of %s: %w", chain, mapError(err))
	}
	// Rebuild the touched clusters from their remaining edges. Every edge
	// of a member lies inside the member's old cluster, so A alone finds
	// them.
	var edges []ClusterEdge
	for chunk := range chunks(members, 500) {
		var rows []struct {
			A int64 `db:"a_id"`
			B int64 `db:"b_id"`
		}
		if err := tx.selectIn(ctx, &rows, `SELECT a_id, b_id FROM cluster_edges WHERE chain = $1 AND a_id IN (?) AND merged`, k, chunk); err != nil {
			return fmt.Errorf("unwind clusters of %s: %w", chain, err)
		}
		for _, r := range rows {
			edges = append(edges, ClusterEdge{A: r.A, B: r.B})
		}
	}
	return tx.mergeWithoutStoring(ctx, chain, edges)
}

// mergeWithoutStoring applies edges to address_clusters without storing
// them again (for rebuilding after an unwind; the touched addresses have
// no rows).
func (tx *Tx) mergeWithoutStoring(ctx context.Context, chain chains.ID, edges []ClusterEdge) error {
	k, err := tx.db.chainKey(ctx, tx.x, chain)
	if err != nil {
		return err
	}
	pairs := make([][2]int64, len(edges))
	for i, e := range edges {
		pairs[i] = [2]int64{e.A, e.B}
	}
	root := smallestRoots(pairs)
	rows := make([][2]int64, 0, len(root))
	for id, r := range root {
		rows = append(rows, [2]int64{id, r})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	return tx.bulkInsert(ctx, "address_clusters", []string{"chain", "address_id", "cluster_id"}, len(rows),
		func(i int, v []any) { v[0], v[1], v[2] = k, rows[i][0], rows[i][1] })
}

// smallestRoots returns, for every id in pairs, the smallest id of its
// connected component: a cluster's canonical id.
func smallestRoots(pairs [][2]int64) map[int64]int64 {
	parent := make(map[int64]int64, 2*len(pairs))
	find := func(x int64) int64 {
		if _, ok := parent[x]; !ok {
			parent[x] = x
		}
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, p := range pairs {
		ra, rb := find(p[0]), find(p[1])
		if rb < ra {
			ra, rb = rb, ra
		}
		parent[rb] = ra // the smaller root stays canonical
	}
	root := make(map[int64]int64, len(parent))
	for x := range parent {
		root[x] = find(x)
	}
	return root
}

// ErrNotClustered is returned when two addresses are in different
// clusters.
var ErrNotClustered = errors.New("store: the addresses are not in one cluster")
