-- +goose Up
-- Portable SQL: the same statements run on SQLite and PostgreSQL. Ids are
-- chosen by the application (random, below 2^53 so JavaScript keeps them
-- exact), times are Unix milliseconds and money is integer fen (1/100 yuan).

CREATE TABLE shops (
    id      BIGINT PRIMARY KEY,
    name    TEXT   NOT NULL,
    address TEXT   NOT NULL
);

CREATE TABLE goods (
    id        BIGINT PRIMARY KEY,
    shop_id   BIGINT NOT NULL REFERENCES shops (id),
    name      TEXT   NOT NULL,
    price_fen BIGINT NOT NULL CHECK (price_fen > 0)
);
CREATE INDEX goods_shop_id ON goods (shop_id, id);

-- One row per WeChat user of the mini-program. The session key is never
-- stored: the server needs only the openid.
CREATE TABLE users (
    id         BIGINT PRIMARY KEY,
    openid     TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE orders (
    id             BIGINT PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    shop_id        BIGINT NOT NULL REFERENCES shops (id),
    total_fen      BIGINT NOT NULL CHECK (total_fen > 0),
    status         TEXT   NOT NULL CHECK (status IN ('unpaid', 'paid', 'closed')),
    created_at     BIGINT NOT NULL,
    paid_at        BIGINT,
    closed_at      BIGINT,
    transaction_id TEXT UNIQUE
);
CREATE INDEX orders_user_id ON orders (user_id, id);

-- The price snapshot of each line: later price changes never alter an order.
CREATE TABLE order_lines (
    order_id  BIGINT NOT NULL REFERENCES orders (id),
    goods_id  BIGINT NOT NULL REFERENCES goods (id),
    name      TEXT   NOT NULL,
    price_fen BIGINT NOT NULL CHECK (price_fen > 0),
    count     BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (order_id, goods_id)
);

-- Idempotency-Key of POST /orders: the same key and body return the order
-- created the first time.
CREATE TABLE idempotency_keys (
    user_id      BIGINT NOT NULL REFERENCES users (id),
    key          TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    order_id     BIGINT NOT NULL REFERENCES orders (id),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- One row per out_trade_no sent to WeChat. The unifiedorder parameters are
-- kept so that a repeated request is byte-for-byte the same one and WeChat
-- answers with the same prepay_id.
CREATE TABLE pay_attempts (
    out_trade_no TEXT   PRIMARY KEY,
    order_id     BIGINT NOT NULL REFERENCES orders (id),
    total_fen    BIGINT NOT NULL CHECK (total_fen > 0),
    body         TEXT   NOT NULL,
    client_ip    TEXT   NOT NULL,
    openid       TEXT   NOT NULL,
    time_start   BIGINT NOT NULL,
    time_expire  BIGINT NOT NULL,
    prepay_id    TEXT,
    state        TEXT   NOT NULL CHECK (state IN ('open', 'paid', 'closed')),
    created_at   BIGINT NOT NULL
);
CREATE INDEX pay_attempts_order_id ON pay_attempts (order_id);
-- At most one payable out_trade_no per order: a user can never pay twice.
CREATE UNIQUE INDEX pay_attempts_one_open ON pay_attempts (order_id) WHERE state = 'open';

-- A payment WeChat confirmed, by notification or by query. transaction_id
-- and order_id are both unique: one payment per order, recorded once.
CREATE TABLE payments (
    transaction_id TEXT   PRIMARY KEY,
    order_id       BIGINT NOT NULL UNIQUE REFERENCES orders (id),
    out_trade_no   TEXT   NOT NULL REFERENCES pay_attempts (out_trade_no),
    total_fen      BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    time_end       BIGINT NOT NULL,
    received_at    BIGINT NOT NULL
);

-- Genuine (signature-checked) payment results that could not be applied:
-- an unknown order, a wrong amount, money for an order that is closed or
-- already paid. Each needs a person (and maybe a refund).
CREATE TABLE anomalies (
    id             BIGINT PRIMARY KEY,
    kind           TEXT   NOT NULL,
    out_trade_no   TEXT   NOT NULL,
    transaction_id TEXT   NOT NULL,
    total_fen      BIGINT NOT NULL,
    source         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (kind, transaction_id)
);

-- +goose Down
DROP TABLE anomalies;
DROP TABLE payments;
DROP TABLE pay_attempts;
DROP TABLE idempotency_keys;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE users;
DROP TABLE goods;
DROP TABLE shops;
