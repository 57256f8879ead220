package dev.cairn.control;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * An instance: a named attachment target with a system disk and data disks (not a VM). {@code disks}
 * holds every disk whose {@code instanceId} is this instance, system disk first.
 */
public record Instance(
        String instanceId,
        long accountId,
        String name,
        String zone,
        long projectId,
        String instanceType,
        String imageId,
        InstanceState state,
        String uuid,
        Instant createdAt,
        String latestOperation,
        String latestOperationState,
        String latestOperationRequestId,
        List<Disk> disks) {

    public Instance {
        disks = disks == null ? List.of() : List.copyOf(disks);
    }

    public Optional<Disk> systemDisk() {
        return disks.stream().filter(d -> d.diskUsage() == DiskUsage.SYSTEM_DISK).findFirst();
    }

    public List<Disk> dataDisks() {
        return disks.stream().filter(d -> d.diskUsage() == DiskUsage.DATA_DISK).toList();
    }

    Instance withDisks(List<Disk> d) {
        return new Instance(instanceId, accountId, name, zone, projectId, instanceType, imageId, state, uuid,
                createdAt, latestOperation, latestOperationState, latestOperationRequestId, d);
    }
}
