-- Cairn catalog, version 1: accounts, API keys, instances, disks, operation records, client tokens.
-- Portable SQL: the same file runs on SQLite (3.35+) and PostgreSQL (13+). Times are epoch milliseconds
-- (BIGINT) so both engines compare and sort them the same way; booleans are BOOLEAN (SQLite stores 0/1).

CREATE TABLE accounts (
    account_id  BIGINT       NOT NULL PRIMARY KEY,   -- Tencent UIN, 100000000001 upwards
    name        VARCHAR(64)  NOT NULL UNIQUE,
    is_admin    BOOLEAN      NOT NULL,
    created_at  BIGINT       NOT NULL
);

CREATE TABLE credentials (
    secret_id   VARCHAR(64)  NOT NULL PRIMARY KEY,   -- AKID + 32 characters
    account_id  BIGINT       NOT NULL REFERENCES accounts (account_id),
    secret_key  VARCHAR(64)  NOT NULL,               -- needed in clear to verify HMAC signatures
    enabled     BOOLEAN      NOT NULL,
    created_at  BIGINT       NOT NULL
);
CREATE INDEX credentials_by_account ON credentials (account_id);

CREATE TABLE instances (
    instance_id                 VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id                  BIGINT       NOT NULL REFERENCES accounts (account_id),
    name                        VARCHAR(128) NOT NULL,
    zone                        VARCHAR(64)  NOT NULL,
    project_id                  BIGINT       NOT NULL,
    instance_type               VARCHAR(64)  NOT NULL,
    image_id                    VARCHAR(32)  NOT NULL,
    state                       VARCHAR(32)  NOT NULL,
    uuid                        VARCHAR(36)  NOT NULL,
    created_at                  BIGINT       NOT NULL,
    latest_operation            VARCHAR(64),
    latest_operation_state      VARCHAR(16),
    latest_operation_request_id VARCHAR(64)
);
CREATE INDEX instances_by_account ON instances (account_id, created_at);

CREATE TABLE disks (
    disk_id              VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id           BIGINT       NOT NULL REFERENCES accounts (account_id),
    name                 VARCHAR(128) NOT NULL,
    zone                 VARCHAR(64)  NOT NULL,
    project_id           BIGINT       NOT NULL,
    disk_type            VARCHAR(32)  NOT NULL,
    disk_usage           VARCHAR(16)  NOT NULL,
    charge_type          VARCHAR(32)  NOT NULL,
    size_gib             BIGINT       NOT NULL,
    target_size_gib      BIGINT,                     -- set while EXPANDING
    state                VARCHAR(16)  NOT NULL,
    instance_id          VARCHAR(32)  REFERENCES instances (instance_id),
    portable             BOOLEAN      NOT NULL,
    delete_with_instance BOOLEAN      NOT NULL,
    delete_snapshot      BIGINT       NOT NULL,
    created_at           BIGINT       NOT NULL
);
CREATE INDEX disks_by_account ON disks (account_id, created_at);
CREATE INDEX disks_by_instance ON disks (instance_id);

-- Who did what, when, with which result. One row per resource touched (resource_id '' when a request
-- failed before naming one). PROCESSING rows become SUCCESS or FAILED when background work ends.
CREATE TABLE operations (
    operation_id  VARCHAR(36)  NOT NULL PRIMARY KEY,
    account_id    BIGINT       NOT NULL,
    action        VARCHAR(64)  NOT NULL,
    resource_id   VARCHAR(32)  NOT NULL,
    request_id    VARCHAR(64)  NOT NULL,
    state         VARCHAR(16)  NOT NULL,
    started_at    BIGINT       NOT NULL,
    finished_at   BIGINT,
    detail        VARCHAR(512) NOT NULL
);
CREATE INDEX operations_by_resource ON operations (resource_id, started_at);
CREATE INDEX operations_by_account ON operations (account_id, started_at);

-- Idempotency: a repeated create with the same ClientToken returns the first call's ids.
CREATE TABLE client_tokens (
    account_id    BIGINT       NOT NULL,
    action        VARCHAR(64)  NOT NULL,
    client_token  VARCHAR(64)  NOT NULL,
    resource_ids  TEXT         NOT NULL,             -- comma-separated, in creation order
    created_at    BIGINT       NOT NULL,
    PRIMARY KEY (account_id, action, client_token)
);
