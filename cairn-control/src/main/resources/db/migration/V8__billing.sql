-- Cairn catalog, version 8: billing. Every service-clock hour [hour_start, hour_start + 1 h) is metered once,
-- at its end: each snapshot's billed bytes (a stored object is charged to the oldest snapshot that uses it;
-- see Billing). metered_hours makes an hour's meter exist once however many nodes run it.
CREATE TABLE metered_hours (
    hour_start  BIGINT NOT NULL PRIMARY KEY,
    metered_at  BIGINT NOT NULL
);
CREATE TABLE snapshot_usage (
    hour_start    BIGINT       NOT NULL,
    snapshot_id   VARCHAR(32)  NOT NULL,
    account_id    BIGINT       NOT NULL,
    disk_id       VARCHAR(32)  NOT NULL,
    billed_bytes  BIGINT       NOT NULL,
    PRIMARY KEY (hour_start, snapshot_id)
);
CREATE INDEX snapshot_usage_by_account ON snapshot_usage (account_id, hour_start);
