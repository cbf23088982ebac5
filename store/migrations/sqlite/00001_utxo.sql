-- SQLite dialect of ../postgres/00001_utxo.sql (keep the two in step). Conventions:
--   * every table carries `chain` (chains.id) so one database holds several chains;
--   * hashes are BLOB in display order; addresses are dictionary-encoded to ids;
--   * UTXO amounts are satoshi in INTEGER (64-bit, exact; MAX_MONEY 2.1e15 < 2^63);
--   * secondary indexes that slow bulk loading are NOT created here: store.EnsureIndexes
--     builds them after the initial load (see indexes.go).

-- +goose Up
CREATE TABLE chains (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    start_height INTEGER          -- first height indexed; NULL until the first block
);

CREATE TABLE chain_stats (
    chain     INTEGER PRIMARY KEY REFERENCES chains (id),
    blocks    INTEGER NOT NULL DEFAULT 0,
    txs       INTEGER NOT NULL DEFAULT 0,
    inputs    INTEGER NOT NULL DEFAULT 0,
    outputs   INTEGER NOT NULL DEFAULT 0,
    addresses INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE stage_progress (
    chain  INTEGER NOT NULL REFERENCES chains (id),
    stage  TEXT     NOT NULL,
    height INTEGER   NOT NULL,
    PRIMARY KEY (chain, stage)
) WITHOUT ROWID;

CREATE TABLE blocks (
    chain       INTEGER NOT NULL,
    height      INTEGER   NOT NULL,
    hash        BLOB    NOT NULL,
    prev_hash   BLOB    NOT NULL,
    merkle_root BLOB    NOT NULL,
    time        INTEGER   NOT NULL,
    version     INTEGER  NOT NULL,
    bits        INTEGER   NOT NULL,
    nonce       INTEGER   NOT NULL,
    size        INTEGER  NOT NULL,
    weight      INTEGER  NOT NULL,
    tx_count    INTEGER  NOT NULL,
    first_tx_id INTEGER   NOT NULL,
    PRIMARY KEY (chain, height)
) WITHOUT ROWID;
CREATE INDEX blocks_hash ON blocks (chain, hash);

CREATE TABLE txs (
    chain        INTEGER NOT NULL,
    id           INTEGER   NOT NULL, -- dense per chain, in chain order
    hash         BLOB    NOT NULL,
    height       INTEGER   NOT NULL,
    position     INTEGER  NOT NULL, -- index in its block
    version      INTEGER  NOT NULL,
    locktime     INTEGER   NOT NULL,
    size         INTEGER  NOT NULL,
    weight       INTEGER  NOT NULL,
    coinbase     INTEGER  NOT NULL,
    n_inputs     INTEGER  NOT NULL,
    n_outputs    INTEGER  NOT NULL,
    total_input  INTEGER,            -- NULL when an input's previous output is unknown
    total_output INTEGER   NOT NULL,
    fee          INTEGER,            -- NULL for coinbases and unresolved inputs
    PRIMARY KEY (chain, id)
) WITHOUT ROWID;

CREATE TABLE addresses (
    chain        INTEGER NOT NULL,
    id           INTEGER   NOT NULL,
    address      TEXT     NOT NULL,
    first_height INTEGER   NOT NULL,
    PRIMARY KEY (chain, id)
) WITHOUT ROWID;

CREATE TABLE outputs (
    chain       INTEGER NOT NULL,
    tx_id       INTEGER   NOT NULL,
    idx         INTEGER  NOT NULL,
    value       INTEGER   NOT NULL,
    script_type INTEGER NOT NULL,
    address_id  INTEGER,             -- NULL: multisig, OP_RETURN, non-standard
    script      BLOB,              -- kept only where the address does not say it all
    PRIMARY KEY (chain, tx_id, idx)
) WITHOUT ROWID;

-- An input spends (prev_hash, prev_idx). prev_tx_id, value, address_id and
-- script_type are the spent output's, resolved at index time so fees and
-- per-address flows need no join; NULL only when the spent output lies
-- before the first indexed height. The spender of an output is the input
-- whose (prev_tx_id, prev_idx) names it.
CREATE TABLE inputs (
    chain       INTEGER NOT NULL,
    tx_id       INTEGER   NOT NULL,
    idx         INTEGER  NOT NULL,
    prev_hash   BLOB,              -- NULL for a coinbase input
    prev_idx    INTEGER,
    prev_tx_id  INTEGER,
    value       INTEGER,
    address_id  INTEGER,
    script_type INTEGER,
    sequence    INTEGER   NOT NULL,
    PRIMARY KEY (chain, tx_id, idx)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE inputs;
DROP TABLE outputs;
DROP TABLE addresses;
DROP TABLE txs;
DROP TABLE blocks;
DROP TABLE stage_progress;
DROP TABLE chain_stats;
DROP TABLE chains;
