package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fundtrace/fundtrace/chains"
)

// RawCopyStats reports a raw bulk copy.
type RawCopyStats struct {
	Rows     int64
	Duration time.Duration // time spent in COPY and commit only
}

// RawCopy copies every data row of chain from src into the same, empty
// tables of dst with the bulk loader alone: no decoding, no id assignment,
// no input resolution. It is the baseline that `fundtrace bench ingest`
// compares indexing with; rows are read into memory one table at a time
// before the clock starts.
func RawCopy(ctx context.Context, src, dst *DB, chain chains.ID) (RawCopyStats, error) {
	var st RawCopyStats
	k, err := src.lookupChainKey(ctx, chain)
	if err != nil {
		return st, err
	}
	for _, t := range []struct{ table, order string }{
		{"addresses", "id"}, {"blocks", "height"}, {"txs", "id"}, {"outputs", "tx_id, idx"}, {"inputs", "tx_id, idx"},
	} {
		rows, err := src.x.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE chain = $1 ORDER BY %s", t.table, t.order), k)
		if err != nil {
			return st, fmt.Errorf("read %s: %w", t.table, mapError(err))
		}
		cols, _ := rows.Columns()
		types, _ := rows.ColumnTypes()
		var data [][]any
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return st, fmt.Errorf("read %s: %w", t.table, mapError(err))
			}
			for i, v := range vals {
				// Drivers hand text back as bytes; COPY must send it as text.
				if b, ok := v.([]byte); ok && !strings.EqualFold(types[i].DatabaseTypeName(), "BYTEA") &&
					!strings.EqualFold(types[i].DatabaseTypeName(), "BLOB") {
					vals[i] = string(b)
				}
			}
			data = append(data, vals)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return st, fmt.Errorf("read %s: %w", t.table, mapError(err))
		}
		rows.Close()

		start := time.Now()
		err = dst.InTx(ctx, func(tx *Tx) error {
			return tx.bulkInsert(ctx, t.table, cols, len(data), func(i int, v []any) { copy(v, data[i]) })
		})
		if err != nil {
			return st, err
		}
		st.Duration += time.Since(start)
		st.Rows += int64(len(data))
	}
	return st, nil
}
