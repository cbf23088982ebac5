// Package store is the only package of fundtrace that speaks SQL. It keeps
// indexed chains in PostgreSQL (the system of record, through sqlx and
// lib/pq) or in an embedded SQLite file (modernc.org/sqlite, the zero-setup
// default) behind one API, with one logical schema whose migrations are
// embedded and applied on Open.
//
// # Layout
//
// Every table carries a small integer chain key, so one database holds
// several chains side by side. Hashes are bytes in display order, addresses
// are dictionary-encoded to integer ids, UTXO amounts are exact satoshi
// integers. Inputs are stored resolved: each input row carries the value,
// address and script type of the output it spends, so fees and per-address
// flows are exact without joins. The spender of an output is found through
// the inputs' (prev_tx_id, prev_idx).
//
// # Writing
//
// Writes run in [DB.InTx]. [UTXOWriter] turns decoded blocks into rows,
// assigning transaction and address ids and resolving previous outputs from
// an in-memory cache, the database, or an optional [PrevoutResolver], and
// bulk-loads them (COPY on PostgreSQL). Secondary indexes that slow loading
// are created by [DB.EnsureIndexes] after the initial load.
//
// # Errors
//
// Driver errors are translated here, once: callers see [ErrNotFound],
// [ErrUnavailable], [ErrConflict] and plain wrapped errors, never lib/pq or
// sqlite types.
package store
