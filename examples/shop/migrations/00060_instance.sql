-- +goose Up
-- What this database belongs to, recorded at the first start and checked
-- at every start (see shop.DB.Claim): fake mode (whose WeChat pays for
-- free) and real mode never share a database, and a real-mode database
-- serves one merchant (mch_id and appid). One row at most.
CREATE TABLE instance (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    mode       TEXT    NOT NULL CHECK (mode IN ('fake', 'real')),
    appid      TEXT    NOT NULL,
    mch_id     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE instance;
