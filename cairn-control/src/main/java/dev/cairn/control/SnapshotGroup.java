package dev.cairn.control;

import java.time.Instant;
import java.util.List;

/** Snapshots of several disks taken at one barrier: together they are crash-consistent. */
public record SnapshotGroup(String groupId, long accountId, String name, SnapshotState state, int percent,
                            List<String> snapshotIds, boolean containsSystemDisk, Instant createdAt, Instant modifiedAt) {
    public SnapshotGroup {
        snapshotIds = List.copyOf(snapshotIds);
    }
}
