-- Cairn catalog, version 7: the snapshot recycle bin. With `--snapshot-recycle-days N` (> 0) a deleted
-- snapshot is kept in state TORECYCLE (its data stays in the repository, still counted and billed) until
-- purge_at, and RecoverSnapshots makes it NORMAL again. The row goes with its snapshot.
CREATE TABLE snapshot_recycle (
    snapshot_id   VARCHAR(32)  NOT NULL PRIMARY KEY REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
    recycled_at   BIGINT       NOT NULL,
    purge_at      BIGINT       NOT NULL
);
CREATE INDEX snapshot_recycle_due ON snapshot_recycle (purge_at);
