-- Cairn catalog, version 5: snapshots shared with other accounts (ModifySnapshotsSharePermission). A share
-- lets the other account see the snapshot and create disks from it; it goes with the snapshot.
CREATE TABLE snapshot_shares (
    snapshot_id  VARCHAR(32)  NOT NULL REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
    account_id   BIGINT       NOT NULL REFERENCES accounts (account_id),
    created_at   BIGINT       NOT NULL,
    PRIMARY KEY (snapshot_id, account_id)
);
CREATE INDEX snapshot_shares_by_account ON snapshot_shares (account_id);
