package store

import (
	"context"
	"fmt"
	"strings"
)

// bulkInsert loads rows into table: COPY FROM STDIN on PostgreSQL, prepared
// multi-row INSERTs on SQLite. row(i, dst) fills dst with the values of row
// i, in the order of cols; dst is reused between rows.
func (tx *Tx) bulkInsert(ctx context.Context, table string, cols []string, n int, row func(i int, dst []any)) error {
	return tx.bulkLoad(ctx, table, cols, "", n, row)
}

// bulkUpsert loads rows into table, replacing the non-key columns of rows
// whose key (the first key columns of cols) exists: on PostgreSQL through
// COPY into a temporary table and one INSERT ... ON CONFLICT, on SQLite by
// multi-row INSERT ... ON CONFLICT.
func (tx *Tx) bulkUpsert(ctx context.Context, table string, cols []string, key, n int, row func(i int, dst []any)) error {
	if n == 0 {
		return nil
	}
	sets := make([]string, 0, len(cols)-key)
	for _, c := range cols[key:] {
		sets = append(sets, fmt.Sprintf("%s = excluded.%s", c, c))
	}
	conflict := fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(cols[:key], ", "), strings.Join(sets, ", "))
	if tx.db.dialect != Postgres {
		return tx.bulkLoad(ctx, table, cols, conflict, n, row)
	}
	list := strings.Join(cols, ", ")
	return tx.withTempRows(ctx, "upsert_"+table, "LIKE "+table, cols, n, row, func() error {
		_, err := tx.x.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM upsert_%s%s", table, list, list, table, conflict))
		if err != nil {
			return fmt.Errorf("upsert into %s: %w", table, mapError(err))
		}
		return nil
	})
}

// bulkLoad is bulkInsert with suffix appended to SQLite's INSERTs.
func (tx *Tx) bulkLoad(ctx context.Context, table string, cols []string, suffix string, n int, row func(i int, dst []any)) error {
	if n == 0 {
		return nil
	}
	vals := make([]any, len(cols))
	if tx.db.dialect == Postgres {
		stmt, err := tx.x.PrepareContext(ctx, fmt.Sprintf("COPY %s (%s) FROM STDIN", table, strings.Join(cols, ", ")))
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, mapError(err))
		}
		defer stmt.Close()
		for i := range n {
			row(i, vals)
			if _, err := stmt.ExecContext(ctx, vals...); err != nil {
				return fmt.Errorf("copy into %s: %w", table, mapError(err))
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("copy into %s: %w", table, mapError(err))
		}
		return nil
	}

	// SQLite: at most 32766 host parameters per statement. Positional "?"
	// placeholders: binding numbered ones costs a name lookup per parameter.
	per := min(32000/len(cols), 200)
	insert := func(rows int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := range cols {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('?')
			}
			b.WriteByte(')')
		}
		b.WriteString(suffix)
		return b.String()
	}
	full, err := tx.x.PrepareContext(ctx, insert(per))
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, mapError(err))
	}
	defer full.Close()
	args := make([]any, 0, per*len(cols))
	for i := 0; i < n; i += per {
		m := min(per, n-i)
		args = args[:0]
		for r := range m {
			row(i+r, vals)
			args = append(args, vals...)
		}
		if m == per {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.x.ExecContext(ctx, insert(m), args...)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, mapError(err))
		}
	}
	return nil
}

// withTempRows loads n rows into the temporary table name (created with
// the column definitions ddl on first use; per connection, emptied at
// commit on PostgreSQL), runs use, and empties the table again, so a
// statement can join a batch's keys instead of listing them.
func (tx *Tx) withTempRows(ctx context.Context, name, ddl string, cols []string, n int, row func(i int, dst []any), use func() error) error {
	create := fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (%s)", name, ddl)
	if tx.db.dialect == Postgres {
		create += " ON COMMIT DELETE ROWS"
	}
	if _, err := tx.x.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("temporary table %s: %w", name, mapError(err))
	}
	if err := tx.bulkInsert(ctx, name, cols, n, row); err != nil {
		return err
	}
	if err := use(); err != nil {
		return err
	}
	if _, err := tx.x.ExecContext(ctx, "DELETE FROM "+name); err != nil {
		return fmt.Errorf("temporary table %s: %w", name, mapError(err))
	}
	return nil
}
