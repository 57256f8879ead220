-- Cairn catalog, version 12: cross-region snapshot copies (CopySnapshotCrossRegions).

-- A snapshot this region received from another region (COPYING_FROM_REMOTE → CHECKING_COPIED → NORMAL).
ALTER TABLE snapshots ADD COLUMN copy_from_remote BOOLEAN NOT NULL DEFAULT FALSE;

-- Source side: one row per copy of a snapshot to another region, the job that sends it. copy_snapshot_id
-- is the copy's id in the destination region. state: RUNNING, DONE, FAILED. A RUNNING row is resumed at
-- start; the destination already holds what earlier attempts sent, so a resume moves only the rest.
CREATE TABLE snapshot_copies (
    copy_snapshot_id  VARCHAR(32)   NOT NULL PRIMARY KEY,
    snapshot_id       VARCHAR(32)   NOT NULL,
    account_id        BIGINT        NOT NULL REFERENCES accounts (account_id),
    region            VARCHAR(64)   NOT NULL,
    state             VARCHAR(16)   NOT NULL,
    percent           BIGINT        NOT NULL,
    blocks_total      BIGINT        NOT NULL,
    blocks_done       BIGINT        NOT NULL,
    chunks_sent       BIGINT        NOT NULL,     -- chunks whose data went over the wire (all attempts)
    bytes_sent        BIGINT        NOT NULL,     -- their plaintext bytes
    attempts          BIGINT        NOT NULL,
    error             VARCHAR(1000),
    created_at        BIGINT        NOT NULL,
    finished_at       BIGINT
);
CREATE INDEX snapshot_copies_by_snapshot ON snapshot_copies (snapshot_id, state);

-- Destination side: what a source repository's chunk is called here. Written only for chunks of a copy
-- that was verified, so every row named a readable chunk once; GC may have removed it since, which the
-- receiver checks before it trusts a row.
CREATE TABLE copied_chunks (
    source_repository VARCHAR(64)   NOT NULL,
    source_chunk      VARCHAR(64)   NOT NULL,
    chunk_id          VARCHAR(64)   NOT NULL,
    PRIMARY KEY (source_repository, source_chunk)
);
