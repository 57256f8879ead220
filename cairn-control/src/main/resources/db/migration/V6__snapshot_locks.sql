-- Cairn catalog, version 6: snapshot locks (deletion protection). While locked_until is in the future
-- nobody, not even the admin, can delete the snapshot or shorten the lock, and retention skips it.
-- No ON DELETE CASCADE on purpose: a snapshot row with a lock row cannot be deleted at all, so a code path
-- that forgot to check fails loudly instead of deleting. Expired lock rows are removed before a delete.
CREATE TABLE snapshot_locks (
    snapshot_id   VARCHAR(32)  NOT NULL PRIMARY KEY REFERENCES snapshots (snapshot_id),
    locked_until  BIGINT       NOT NULL,
    locked_at     BIGINT       NOT NULL
);
