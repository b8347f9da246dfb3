-- +goose Up
-- Refunds, portable SQL like the schema. refunded_fen is the sum of the
-- order's refunds that are not known to have failed: a refund is allowed
-- only by an UPDATE that keeps it at most total_fen, so two refunds racing
-- cannot both pass (SQLite's single writer and PostgreSQL's row lock both
-- re-check the condition).
ALTER TABLE orders ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;

-- One row per out_refund_no, written before WeChat is asked: a retry after
-- an unclear answer sends the same out_refund_no, which WeChat refunds once.
-- idem_key is the admin's Idempotency-Key; request_hash the body it came with.
CREATE TABLE refunds (
    out_refund_no TEXT   PRIMARY KEY,
    order_id      BIGINT NOT NULL REFERENCES orders (id),
    idem_key      TEXT   NOT NULL UNIQUE,
    request_hash  TEXT   NOT NULL,
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    reason        TEXT   NOT NULL,
    status        TEXT   NOT NULL CHECK (status IN ('pending', 'processing', 'success', 'closed', 'change', 'refused')),
    refund_id     TEXT   UNIQUE,
    failure       TEXT,
    created_at    BIGINT NOT NULL,
    settled_at    BIGINT
);
CREATE INDEX refunds_order_id ON refunds (order_id, created_at);

-- +goose Down
DROP TABLE refunds;
ALTER TABLE orders DROP COLUMN refunded_fen;
