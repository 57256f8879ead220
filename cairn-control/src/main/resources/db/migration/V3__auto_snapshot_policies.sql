-- Cairn catalog, version 3: auto-snapshot policies, their disks, and the scheduler's runs.
-- Same portable SQL rules as V1 (epoch-millisecond BIGINT times, BOOLEAN flags).

-- schedule: Schedule.encode() text (rules and the anchor date of IntervalDays). next_trigger_at: the next
-- firing by the service clock, NULL while deactivated; the scheduler moves it forward when it plans a firing.
-- pre_hook/post_hook: names of operator-installed hook programs (the server's hooks directory).
CREATE TABLE auto_snapshot_policies (
    policy_id        VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id       BIGINT       NOT NULL REFERENCES accounts (account_id),
    name             VARCHAR(128) NOT NULL,
    schedule         VARCHAR(2000) NOT NULL,
    is_activated     BOOLEAN      NOT NULL,
    is_permanent     BOOLEAN      NOT NULL,
    retention_days   BIGINT       NOT NULL,
    pre_hook         VARCHAR(128),
    post_hook        VARCHAR(128),
    hook_timeout_s   BIGINT       NOT NULL,
    next_trigger_at  BIGINT,
    created_at       BIGINT       NOT NULL,
    modified_at      BIGINT       NOT NULL
);
CREATE INDEX auto_snapshot_policies_by_account ON auto_snapshot_policies (account_id, created_at);
CREATE INDEX auto_snapshot_policies_due ON auto_snapshot_policies (next_trigger_at);

-- A disk is bound to at most one policy (Tencent: InvalidDisk.AlreadyBound). The binding goes with the disk.
CREATE TABLE auto_snapshot_policy_disks (
    disk_id     VARCHAR(32)  NOT NULL PRIMARY KEY REFERENCES disks (disk_id) ON DELETE CASCADE,
    policy_id   VARCHAR(32)  NOT NULL REFERENCES auto_snapshot_policies (policy_id) ON DELETE CASCADE,
    bound_at    BIGINT       NOT NULL
);
CREATE INDEX auto_snapshot_policy_disks_by_policy ON auto_snapshot_policy_disks (policy_id);

-- One row per firing per disk: the scheduler's durable work list and the policy's history.
-- state: PENDING (waiting for not_before), RUNNING (leased by lease_token until lease_until, real time),
-- SUCCESS, FAILED (attempts used up), SKIPPED (nothing to do: disk gone, unused, policy deleted).
-- The unique key makes a firing's run exist once however many nodes plan it. snapshot_id is set in the
-- transaction that creates the snapshot, by the lease holder only, so a run makes one snapshot at most
-- per attempt even when a worker dies and another takes its lease over.
CREATE TABLE auto_snapshot_runs (
    run_id        VARCHAR(36)  NOT NULL PRIMARY KEY,
    policy_id     VARCHAR(32)  NOT NULL,
    account_id    BIGINT       NOT NULL,
    disk_id       VARCHAR(32)  NOT NULL,
    due_at        BIGINT       NOT NULL,
    state         VARCHAR(16)  NOT NULL,
    attempts      BIGINT       NOT NULL,
    not_before    BIGINT       NOT NULL,
    lease_token   VARCHAR(36),
    lease_until   BIGINT,
    snapshot_id   VARCHAR(32),
    started_at    BIGINT,
    finished_at   BIGINT,
    stored_bytes  BIGINT,
    detail        VARCHAR(512) NOT NULL,
    UNIQUE (policy_id, disk_id, due_at)
);
CREATE INDEX auto_snapshot_runs_work ON auto_snapshot_runs (state, not_before);
CREATE INDEX auto_snapshot_runs_by_policy ON auto_snapshot_runs (policy_id, due_at);
CREATE INDEX auto_snapshot_runs_by_disk ON auto_snapshot_runs (disk_id, due_at);

-- The test clock's time (cairn serve --test-clock), so a restart resumes it instead of jumping back.
CREATE TABLE test_clock (
    id      BIGINT NOT NULL PRIMARY KEY,
    now_ms  BIGINT NOT NULL
);
