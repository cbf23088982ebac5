package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
)

// checksumTables lists a chain's tables with their key order.
var checksumTables = []struct{ table, order string }{
	{"blocks", "height"},
	{"txs", "id"},
	{"outputs", "tx_id, idx"},
	{"inputs", "tx_id, idx"},
	{"addresses", "id"},
	{"chain_stats", "chain"},
	{"account_blocks", "height"},
	{"account_txs", "id"},
	{"transfers", "id"},
	{"tokens", "address_id"},
	{"account_totals", "address_id, asset_id"},
	{"account_relations", "address_id, counterparty_id, asset_id"},
	{"cluster_edges", "tx_id, a_id, b_id, rule"},
	{"address_clusters", "address_id"},
	{"coinjoins", "tx_id"},
}

var binaryColumns = map[string]bool{"hash": true, "prev_hash": true, "merkle_root": true, "script": true}

// Checksum returns, for every table of chain, its row count and a SHA-256
// over its rows in key order, one line per table. Values are canonicalised,
// so a PostgreSQL and a SQLite database with the same content agree. Tests
// and operators use it to check that two databases hold the same chain (for
// example after a crash and resume, or an unwind and re-apply).
func (db *DB) Checksum(ctx context.Context, chain chains.ID) (string, error) {
	k, err := db.lookupChainKey(ctx, chain)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, t := range checksumTables {
		rows, err := db.x.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE chain = $1 ORDER BY %s", t.table, t.order), k)
		if err != nil {
			return "", fmt.Errorf("checksum %s: %w", t.table, mapError(err))
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		h := sha256.New()
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", fmt.Errorf("checksum %s: %w", t.table, mapError(err))
			}
			for i, v := range vals {
				if cols[i] == "chain" {
					continue // the key differs between databases
				}
				fmt.Fprintf(h, "%s=%s;", cols[i], canonical(cols[i], v))
			}
			h.Write([]byte{'\n'})
			n++
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return "", fmt.Errorf("checksum %s: %w", t.table, mapError(err))
		}
		rows.Close()
		fmt.Fprintf(&out, "%s rows=%d sha256=%s\n", t.table, n, hex.EncodeToString(h.Sum(nil))[:16])
	}
	return out.String(), nil
}

func canonical(col string, v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case []byte:
		if binaryColumns[col] {
			return hex.EncodeToString(x)
		}
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}
