-- Clustering of UTXO chains: every merge with its evidence, the resulting
-- address → cluster assignment, and the CoinJoins excluded from merging.
--   * a cluster's id is its smallest address id; an address in no row is a
--     cluster of its own (singletons have no rows);
--   * cluster_edges keep every merge: rule (heuristics/cluster.Rule), the
--     transaction, its height and a confidence in percent; a <  b.

-- +goose Up
CREATE TABLE cluster_edges (
    chain      SMALLINT NOT NULL,
    tx_id      BIGINT   NOT NULL,
    a_id       BIGINT   NOT NULL,
    b_id       BIGINT   NOT NULL,
    rule       SMALLINT NOT NULL,
    height     BIGINT   NOT NULL,
    confidence SMALLINT NOT NULL,
    merged     BOOLEAN  NOT NULL, -- false: kept as evidence but held back (PayJoin signals, weak signal between large clusters)
    PRIMARY KEY (chain, tx_id, a_id, b_id, rule)
);
CREATE INDEX cluster_edges_a ON cluster_edges (chain, a_id);
CREATE INDEX cluster_edges_b ON cluster_edges (chain, b_id);
CREATE INDEX cluster_edges_height ON cluster_edges (chain, height);

CREATE TABLE address_clusters (
    chain      SMALLINT NOT NULL,
    address_id BIGINT   NOT NULL,
    cluster_id BIGINT   NOT NULL,
    PRIMARY KEY (chain, address_id)
);
CREATE INDEX address_clusters_cluster ON address_clusters (chain, cluster_id);

CREATE TABLE coinjoins (
    chain        SMALLINT NOT NULL,
    tx_id        BIGINT   NOT NULL,
    height       BIGINT   NOT NULL,
    detector     TEXT     NOT NULL,
    confidence   SMALLINT NOT NULL,
    denomination BIGINT   NOT NULL, -- satoshi; 0 when the detector has none
    participants INTEGER  NOT NULL, -- 0 when unknown
    PRIMARY KEY (chain, tx_id)
);
CREATE INDEX coinjoins_height ON coinjoins (chain, height);

-- +goose Down
DROP TABLE coinjoins;
DROP TABLE address_clusters;
DROP TABLE cluster_edges;
