-- SQLite dialect of ../postgres/00002_account.sql (keep the two in step); amounts are
-- decimal TEXT (SQLite has no exact 256-bit type: never sum() them in SQL).
-- Schema for account-model chains (Ethereum and other EVM chains), beside the UTXO tables.
-- Blocks, addresses, chains, chain_stats and stage_progress are shared with 00001.
-- Conventions as in 00001, plus:
--   * amounts are exact base units (wei, token units) in TEXT: up to 2^256-1;
--   * an asset is 0 for the chain's native coin, else the address id of its token contract;
--   * from_id NULL is new money (genesis, withdrawal, reward), to_id NULL is burned value.

-- +goose Up
ALTER TABLE chain_stats ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_blocks (
    chain            INTEGER NOT NULL,
    height           INTEGER   NOT NULL,
    fee_recipient_id INTEGER,
    base_fee         TEXT,      -- NULL before London
    gas_used         INTEGER   NOT NULL,
    gas_limit        INTEGER   NOT NULL,
    no_traces        INTEGER  NOT NULL,  -- the node could not trace: internal transfers unknown
    first_transfer   INTEGER   NOT NULL,  -- id of the block's first transfer
    PRIMARY KEY (chain, height)
) WITHOUT ROWID;

CREATE TABLE account_txs (
    chain      INTEGER NOT NULL,
    id         INTEGER   NOT NULL,        -- dense per chain, in chain order
    hash       BLOB    NOT NULL,
    height     INTEGER   NOT NULL,
    position   INTEGER  NOT NULL,
    from_id    INTEGER   NOT NULL,
    to_id      INTEGER,                   -- NULL: contract creation
    created_id INTEGER,                   -- the contract a creation made
    value      TEXT NOT NULL,
    nonce      INTEGER   NOT NULL,
    type       INTEGER NOT NULL,
    success    INTEGER  NOT NULL,
    gas_used   INTEGER   NOT NULL,
    gas_price  TEXT NOT NULL,   -- effective price per gas
    fee        TEXT NOT NULL,
    PRIMARY KEY (chain, id)
) WITHOUT ROWID;

CREATE TABLE transfers (
    chain         INTEGER NOT NULL,
    id            INTEGER   NOT NULL,     -- dense per chain, in event order
    height        INTEGER   NOT NULL,
    tx_id         INTEGER,                -- NULL: block-level (genesis, withdrawal, reward)
    position      INTEGER  NOT NULL,     -- order inside the tx (or among block-level ones)
    kind          INTEGER NOT NULL,     -- chains.TransferKind
    asset_id      INTEGER   NOT NULL,
    from_id       INTEGER,
    to_id         INTEGER,
    value         TEXT NOT NULL,
    trace_address TEXT,
    log_index     INTEGER,
    PRIMARY KEY (chain, id)
) WITHOUT ROWID;

CREATE TABLE tokens (
    chain        INTEGER NOT NULL,
    address_id   INTEGER   NOT NULL,
    name         TEXT     NOT NULL,
    symbol       TEXT     NOT NULL,
    decimals     INTEGER,               -- NULL: the contract did not say
    first_height INTEGER   NOT NULL,
    PRIMARY KEY (chain, address_id)
) WITHOUT ROWID;

-- Per (address, asset): what it received and sent, so balances answer without a scan.
CREATE TABLE account_totals (
    chain      INTEGER NOT NULL,
    address_id INTEGER   NOT NULL,
    asset_id   INTEGER   NOT NULL,
    received   TEXT NOT NULL,
    sent       TEXT NOT NULL,
    n_in       INTEGER   NOT NULL,
    n_out      INTEGER   NOT NULL,
    PRIMARY KEY (chain, address_id, asset_id)
) WITHOUT ROWID;

-- Per (address, counterparty, asset): value and transfers each way.
CREATE TABLE account_relations (
    chain           INTEGER NOT NULL,
    address_id      INTEGER   NOT NULL,
    counterparty_id INTEGER   NOT NULL,
    asset_id        INTEGER   NOT NULL,
    received        TEXT NOT NULL,
    sent            TEXT NOT NULL,
    n_in            INTEGER   NOT NULL,
    n_out           INTEGER   NOT NULL,
    PRIMARY KEY (chain, address_id, counterparty_id, asset_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE account_relations;
DROP TABLE account_totals;
DROP TABLE tokens;
DROP TABLE transfers;
DROP TABLE account_txs;
DROP TABLE account_blocks;
ALTER TABLE chain_stats DROP COLUMN transfers;
