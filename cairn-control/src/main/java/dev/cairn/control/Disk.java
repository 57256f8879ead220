package dev.cairn.control;

import java.time.Instant;

/**
 * A cloud disk as the catalog has it. {@code instanceId} is set while the disk is attached (or
 * attaching, detaching, or expanding while attached); a system disk is always on its instance.
 */
public record Disk(
        String diskId,
        long accountId,
        String name,
        String zone,
        long projectId,
        DiskType diskType,
        DiskUsage diskUsage,
        String chargeType,
        long sizeGib,
        DiskState state,
        String instanceId,
        boolean portable,
        boolean deleteWithInstance,
        long deleteSnapshot,
        Instant createdAt) {

    public boolean attached() {
        return instanceId != null && state != DiskState.ATTACHING;
    }
}
