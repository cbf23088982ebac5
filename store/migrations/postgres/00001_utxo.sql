-- Schema for UTXO chains. Conventions:
--   * every table carries `chain` (chains.id) so one database holds several chains;
--   * hashes are BYTEA in display order; addresses are dictionary-encoded to ids;
--   * UTXO amounts are satoshi in BIGINT (exact; MAX_MONEY 2.1e15 < 2^63);
--   * secondary indexes that slow bulk loading are NOT created here: store.EnsureIndexes
--     builds them after the initial load (see indexes.go).

-- +goose Up
CREATE TABLE chains (
    id           SMALLINT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    start_height BIGINT          -- first height indexed; NULL until the first block
);

CREATE TABLE chain_stats (
    chain     SMALLINT PRIMARY KEY REFERENCES chains (id),
    blocks    BIGINT NOT NULL DEFAULT 0,
    txs       BIGINT NOT NULL DEFAULT 0,
    inputs    BIGINT NOT NULL DEFAULT 0,
    outputs   BIGINT NOT NULL DEFAULT 0,
    addresses BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE stage_progress (
    chain  SMALLINT NOT NULL REFERENCES chains (id),
    stage  TEXT     NOT NULL,
    height BIGINT   NOT NULL,
    PRIMARY KEY (chain, stage)
);

CREATE TABLE blocks (
    chain       SMALLINT NOT NULL,
    height      BIGINT   NOT NULL,
    hash        BYTEA    NOT NULL,
    prev_hash   BYTEA    NOT NULL,
    merkle_root BYTEA    NOT NULL,
    time        BIGINT   NOT NULL,
    version     INTEGER  NOT NULL,
    bits        BIGINT   NOT NULL,
    nonce       BIGINT   NOT NULL,
    size        INTEGER  NOT NULL,
    weight      INTEGER  NOT NULL,
    tx_count    INTEGER  NOT NULL,
    first_tx_id BIGINT   NOT NULL,
    PRIMARY KEY (chain, height)
);
CREATE INDEX blocks_hash ON blocks (chain, hash);

CREATE TABLE txs (
    chain        SMALLINT NOT NULL,
    id           BIGINT   NOT NULL, -- dense per chain, in chain order
    hash         BYTEA    NOT NULL,
    height       BIGINT   NOT NULL,
    position     INTEGER  NOT NULL, -- index in its block
    version      INTEGER  NOT NULL,
    locktime     BIGINT   NOT NULL,
    size         INTEGER  NOT NULL,
    weight       INTEGER  NOT NULL,
    coinbase     BOOLEAN  NOT NULL,
    n_inputs     INTEGER  NOT NULL,
    n_outputs    INTEGER  NOT NULL,
    total_input  BIGINT,            -- NULL when an input's previous output is unknown
    total_output BIGINT   NOT NULL,
    fee          BIGINT,            -- NULL for coinbases and unresolved inputs
    PRIMARY KEY (chain, id)
);

CREATE TABLE addresses (
    chain        SMALLINT NOT NULL,
    id           BIGINT   NOT NULL,
    address      TEXT     NOT NULL,
    first_height BIGINT   NOT NULL,
    PRIMARY KEY (chain, id)
);

CREATE TABLE outputs (
    chain       SMALLINT NOT NULL,
    tx_id       BIGINT   NOT NULL,
    idx         INTEGER  NOT NULL,
    value       BIGINT   NOT NULL,
    script_type SMALLINT NOT NULL,
    address_id  BIGINT,             -- NULL: multisig, OP_RETURN, non-standard
    script      BYTEA,              -- kept only where the address does not say it all
    PRIMARY KEY (chain, tx_id, idx)
);

-- An input spends (prev_hash, prev_idx). prev_tx_id, value, address_id and
-- script_type are the spent output's, resolved at index time so fees and
-- per-address flows need no join; NULL only when the spent output lies
-- before the first indexed height. The spender of an output is the input
-- whose (prev_tx_id, prev_idx) names it.
CREATE TABLE inputs (
    chain       SMALLINT NOT NULL,
    tx_id       BIGINT   NOT NULL,
    idx         INTEGER  NOT NULL,
    prev_hash   BYTEA,              -- NULL for a coinbase input
    prev_idx    BIGINT,
    prev_tx_id  BIGINT,
    value       BIGINT,
    address_id  BIGINT,
    script_type SMALLINT,
    sequence    BIGINT   NOT NULL,
    PRIMARY KEY (chain, tx_id, idx)
);

-- +goose Down
DROP TABLE inputs;
DROP TABLE outputs;
DROP TABLE addresses;
DROP TABLE txs;
DROP TABLE blocks;
DROP TABLE stage_progress;
DROP TABLE chain_stats;
DROP TABLE chains;
