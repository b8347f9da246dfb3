-- +goose Up
-- Anomalies were unique on (kind, transaction_id): one anomaly with an
-- empty transaction_id kept every later one of its kind out. Each is now
-- keyed by what WeChat's answer names, the out_trade_no with the
-- transaction_id, so none is lost and a redelivery still records none.
-- Portable SQL: SQLite cannot change a constraint in place, so the table
-- is rebuilt.
CREATE TABLE anomalies_v2 (
    id             BIGINT PRIMARY KEY,
    kind           TEXT   NOT NULL,
    out_trade_no   TEXT   NOT NULL,
    transaction_id TEXT   NOT NULL,
    total_fen      BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (kind, out_trade_no, transaction_id)
);
INSERT INTO anomalies_v2 (id, kind, out_trade_no, transaction_id, total_fen, source, created_at)
    SELECT id, kind, out_trade_no, transaction_id, total_fen, source, created_at FROM anomalies;
DROP TABLE anomalies;
ALTER TABLE anomalies_v2 RENAME TO anomalies;

-- +goose Down
CREATE TABLE anomalies_v1 (
    id             BIGINT PRIMARY KEY,
    kind           TEXT   NOT NULL,
    out_trade_no   TEXT   NOT NULL,
    transaction_id TEXT   NOT NULL,
    total_fen      BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (kind, transaction_id)
);
INSERT INTO anomalies_v1 (id, kind, out_trade_no, transaction_id, total_fen, source, created_at)
    SELECT id, kind, out_trade_no, transaction_id, total_fen, source, created_at FROM anomalies
    WHERE true -- SQLite reads "FROM t ON" as a join without it
    ON CONFLICT (kind, transaction_id) DO NOTHING;
DROP TABLE anomalies;
ALTER TABLE anomalies_v1 RENAME TO anomalies;
