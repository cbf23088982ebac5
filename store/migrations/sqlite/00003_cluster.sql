-- SQLite dialect of ../postgres/00003_cluster.sql (keep the two in step).
-- Clustering of UTXO chains: every merge with its evidence, the resulting
-- address → cluster assignment, and the CoinJoins excluded from merging.
--   * a cluster's id is its smallest address id; an address in no row is a
--     cluster of its own (singletons have no rows);
--   * cluster_edges keep every merge: rule (heuristics/cluster.Rule), the
--     transaction, its height and a confidence in percent; a <  b.

-- +goose Up
CREATE TABLE cluster_edges (
    chain      INTEGER NOT NULL,
    tx_id      INTEGER   NOT NULL,
    a_id       INTEGER   NOT NULL,
    b_id       INTEGER   NOT NULL,
    rule       INTEGER NOT NULL,
    height     INTEGER   NOT NULL,
    confidence INTEGER NOT NULL,
    merged     INTEGER  NOT NULL, -- false: kept as evidence but held back (PayJoin signals, weak signal between large clusters)
    PRIMARY KEY (chain, tx_id, a_id, b_id, rule)
) WITHOUT ROWID;
CREATE INDEX cluster_edges_a ON cluster_edges (chain, a_id);
CREATE INDEX cluster_edges_b ON cluster_edges (chain, b_id);
CREATE INDEX cluster_edges_height ON cluster_edges (chain, height);

CREATE TABLE address_clusters (
    chain      INTEGER NOT NULL,
    address_id INTEGER   NOT NULL,
    cluster_id INTEGER   NOT NULL,
    PRIMARY KEY (chain, address_id)
) WITHOUT ROWID;
CREATE INDEX address_clusters_cluster ON address_clusters (chain, cluster_id);

CREATE TABLE coinjoins (
    chain        INTEGER NOT NULL,
    tx_id        INTEGER   NOT NULL,
    height       INTEGER   NOT NULL,
    detector     TEXT     NOT NULL,
    confidence   INTEGER NOT NULL,
    denomination INTEGER   NOT NULL, -- satoshi; 0 when the detector has none
    participants INTEGER  NOT NULL, -- 0 when unknown
    PRIMARY KEY (chain, tx_id)
) WITHOUT ROWID;
CREATE INDEX coinjoins_height ON coinjoins (chain, height);

-- +goose Down
DROP TABLE coinjoins;
DROP TABLE address_clusters;
DROP TABLE cluster_edges;
