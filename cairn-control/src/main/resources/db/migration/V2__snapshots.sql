-- Cairn catalog, version 2: snapshots, snapshot groups, and each disk's lineage in the repository.
-- Same portable SQL rules as V1 (epoch-millisecond BIGINT times, BOOLEAN flags).

-- A snapshot row exists from CreateSnapshot on. CREATING rows have no manifest yet; a capture that fails
-- (or that a crash interrupted) deletes its row. manifest_id names the snapshot's manifest in the
-- repository, which alone can rebuild the row (its metadata carries these fields).
CREATE TABLE snapshots (
    snapshot_id        VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id         BIGINT       NOT NULL REFERENCES accounts (account_id),
    name               VARCHAR(128) NOT NULL,
    zone               VARCHAR(64)  NOT NULL,
    project_id         BIGINT       NOT NULL,
    disk_id            VARCHAR(32)  NOT NULL,     -- the source disk (it may be gone since)
    disk_size_gib      BIGINT       NOT NULL,
    disk_usage         VARCHAR(16)  NOT NULL,
    state              VARCHAR(24)  NOT NULL,     -- CREATING, NORMAL, ROLLBACKING
    percent            BIGINT       NOT NULL,
    manifest_id        VARCHAR(64),
    group_id           VARCHAR(32),
    policy_id          VARCHAR(32),
    is_permanent       BOOLEAN      NOT NULL,
    deadline_at        BIGINT,
    created_at         BIGINT       NOT NULL,
    modified_at        BIGINT       NOT NULL,
    incremental        BOOLEAN      NOT NULL,     -- read only what changed since the disk's last capture
    logical_bytes      BIGINT       NOT NULL,     -- non-zero bytes of the disk at the barrier
    incremental_bytes  BIGINT       NOT NULL,     -- bytes this snapshot added to the repository
    bytes_read         BIGINT       NOT NULL      -- capture progress: bytes read from the disk so far
);
CREATE INDEX snapshots_by_account ON snapshots (account_id, created_at);
CREATE INDEX snapshots_by_disk ON snapshots (disk_id, created_at);
CREATE INDEX snapshots_by_manifest ON snapshots (manifest_id);
CREATE INDEX snapshots_by_group ON snapshots (group_id);

-- Disks snapshotted together at one barrier (crash-consistent).
CREATE TABLE snapshot_groups (
    group_id     VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id   BIGINT       NOT NULL REFERENCES accounts (account_id),
    name         VARCHAR(128) NOT NULL,
    state        VARCHAR(16)  NOT NULL,           -- CREATING, NORMAL, ROLLBACKING
    created_at   BIGINT       NOT NULL,
    modified_at  BIGINT       NOT NULL
);
CREATE INDEX snapshot_groups_by_account ON snapshot_groups (account_id, created_at);

-- last_manifest: what the disk was last captured as; its next snapshot is incremental against it (kept
-- alive in the repository even after its snapshot is deleted). base_manifest: the snapshot the disk is
-- layered over until flattened. source_snapshot_id: what InitializeDisks goes back to.
-- rollback_snapshot_id: set while ROLLBACKING. flatten_percent: progress while layered, else NULL.
ALTER TABLE disks ADD COLUMN last_manifest VARCHAR(64);
ALTER TABLE disks ADD COLUMN base_manifest VARCHAR(64);
ALTER TABLE disks ADD COLUMN source_snapshot_id VARCHAR(32);
ALTER TABLE disks ADD COLUMN rollback_snapshot_id VARCHAR(32);
ALTER TABLE disks ADD COLUMN flatten_percent BIGINT;
