-- Schema for account-model chains (Ethereum and other EVM chains), beside the UTXO tables.
-- Blocks, addresses, chains, chain_stats and stage_progress are shared with 00001.
-- Conventions as in 00001, plus:
--   * amounts are exact base units (wei, token units) in NUMERIC(78,0): up to 2^256-1;
--   * an asset is 0 for the chain's native coin, else the address id of its token contract;
--   * from_id NULL is new money (genesis, withdrawal, reward), to_id NULL is burned value.

-- +goose Up
ALTER TABLE chain_stats ADD COLUMN transfers BIGINT NOT NULL DEFAULT 0;

CREATE TABLE account_blocks (
    chain            SMALLINT NOT NULL,
    height           BIGINT   NOT NULL,
    fee_recipient_id BIGINT,
    base_fee         NUMERIC(78,0),      -- NULL before London
    gas_used         BIGINT   NOT NULL,
    gas_limit        BIGINT   NOT NULL,
    no_traces        BOOLEAN  NOT NULL,  -- the node could not trace: internal transfers unknown
    first_transfer   BIGINT   NOT NULL,  -- id of the block's first transfer
    PRIMARY KEY (chain, height)
);

CREATE TABLE account_txs (
    chain      SMALLINT NOT NULL,
    id         BIGINT   NOT NULL,        -- dense per chain, in chain order
    hash       BYTEA    NOT NULL,
    height     BIGINT   NOT NULL,
    position   INTEGER  NOT NULL,
    from_id    BIGINT   NOT NULL,
    to_id      BIGINT,                   -- NULL: contract creation
    created_id BIGINT,                   -- the contract a creation made
    value      NUMERIC(78,0) NOT NULL,
    nonce      BIGINT   NOT NULL,
    type       SMALLINT NOT NULL,
    success    BOOLEAN  NOT NULL,
    gas_used   BIGINT   NOT NULL,
    gas_price  NUMERIC(78,0) NOT NULL,   -- effective price per gas
    fee        NUMERIC(78,0) NOT NULL,
    PRIMARY KEY (chain, id)
);

CREATE TABLE transfers (
    chain         SMALLINT NOT NULL,
    id            BIGINT   NOT NULL,     -- dense per chain, in event order
    height        BIGINT   NOT NULL,
    tx_id         BIGINT,                -- NULL: block-level (genesis, withdrawal, reward)
    position      INTEGER  NOT NULL,     -- order inside the tx (or among block-level ones)
    kind          SMALLINT NOT NULL,     -- chains.TransferKind
    asset_id      BIGINT   NOT NULL,
    from_id       BIGINT,
    to_id         BIGINT,
    value         NUMERIC(78,0) NOT NULL,
    trace_address TEXT,
    log_index     INTEGER,
    PRIMARY KEY (chain, id)
);

CREATE TABLE tokens (
    chain        SMALLINT NOT NULL,
    address_id   BIGINT   NOT NULL,
    name         TEXT     NOT NULL,
    symbol       TEXT     NOT NULL,
    decimals     SMALLINT,               -- NULL: the contract did not say
    first_height BIGINT   NOT NULL,
    PRIMARY KEY (chain, address_id)
);

-- Per (address, asset): what it received and sent, so balances answer without a scan.
CREATE TABLE account_totals (
    chain      SMALLINT NOT NULL,
    address_id BIGINT   NOT NULL,
    asset_id   BIGINT   NOT NULL,
    received   NUMERIC(78,0) NOT NULL,
    sent       NUMERIC(78,0) NOT NULL,
    n_in       BIGINT   NOT NULL,
    n_out      BIGINT   NOT NULL,
    PRIMARY KEY (chain, address_id, asset_id)
);

-- Per (address, counterparty, asset): value and transfers each way.
CREATE TABLE account_relations (
    chain           SMALLINT NOT NULL,
    address_id      BIGINT   NOT NULL,
    counterparty_id BIGINT   NOT NULL,
    asset_id        BIGINT   NOT NULL,
    received        NUMERIC(78,0) NOT NULL,
    sent            NUMERIC(78,0) NOT NULL,
    n_in            BIGINT   NOT NULL,
    n_out           BIGINT   NOT NULL,
    PRIMARY KEY (chain, address_id, counterparty_id, asset_id)
);

-- +goose Down
DROP TABLE account_relations;
DROP TABLE account_totals;
DROP TABLE tokens;
DROP TABLE transfers;
DROP TABLE account_txs;
DROP TABLE account_blocks;
ALTER TABLE chain_stats DROP COLUMN transfers;
