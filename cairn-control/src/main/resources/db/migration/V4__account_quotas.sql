-- Cairn catalog, version 4: per-account quotas that an admin set (absent rows: the server's defaults).
CREATE TABLE account_quotas (
    account_id  BIGINT       NOT NULL REFERENCES accounts (account_id),
    name        VARCHAR(64)  NOT NULL,
    max_value   BIGINT       NOT NULL,          -- -1: no limit
    PRIMARY KEY (account_id, name)
);
