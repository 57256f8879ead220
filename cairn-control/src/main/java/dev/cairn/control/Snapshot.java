package dev.cairn.control;

import java.time.Instant;

/**
 * A snapshot as the catalog has it. {@code manifestId} is set once the capture is durable (NORMAL);
 * {@code logicalBytes} is what the disk held at the barrier, {@code incrementalBytes} what this
 * snapshot added to the repository when it was taken, {@code bytesRead} how much the capture has read
 * from the disk (its progress; all it read once NORMAL). {@code copyFromRemote}: received from another region
 * ({@code CopySnapshotCrossRegions}); its {@code diskId} names the disk there.
 */
public record Snapshot(
        String snapshotId,
        long accountId,
        String name,
        String zone,
        long projectId,
        String diskId,
        long diskSizeGib,
        DiskUsage diskUsage,
        SnapshotState state,
        int percent,
        String manifestId,
        String groupId,
        String policyId,
        boolean permanent,
        Instant deadline,
        Instant createdAt,
        Instant modifiedAt,
        boolean incremental,
        long logicalBytes,
        long incrementalBytes,
        long bytesRead,
        boolean copyFromRemote) {

    static final String COLUMNS = "snapshot_id, account_id, name, zone, project_id, disk_id, disk_size_gib, disk_usage, state, "
            + "percent, manifest_id, group_id, policy_id, is_permanent, deadline_at, created_at, modified_at, incremental, "
            + "logical_bytes, incremental_bytes, bytes_read, copy_from_remote";
    /** How many columns {@link #COLUMNS} names: a query's own columns after them start at {@code COLUMN_COUNT + 1}. */
    static final int COLUMN_COUNT = 22;
    /** One placeholder per column of {@link #COLUMNS}, for inserts. */
    static final String PLACEHOLDERS = "?, ".repeat(COLUMN_COUNT - 1) + "?";
}
