package dev.cairn.control;

import java.time.Instant;
import java.util.List;

/**
 * An auto-snapshot policy as the catalog has it: when it fires ({@link Schedule}, in the region's time
 * zone), how long its snapshots live ({@code retentionDays}, or forever when {@code permanent}), the
 * operator-installed hooks it runs around each snapshot, the disks bound to it, and its next firing
 * ({@code nextTrigger}, null while deactivated).
 */
public record AutoSnapshotPolicy(
        String policyId,
        long accountId,
        String name,
        Schedule schedule,
        boolean activated,
        boolean permanent,
        int retentionDays,
        String preHook,
        String postHook,
        int hookTimeoutSeconds,
        Instant nextTrigger,
        Instant createdAt,
        Instant modifiedAt,
        List<String> diskIds) {

    static final String COLUMNS = "policy_id, account_id, name, schedule, is_activated, is_permanent, retention_days, pre_hook, "
            + "post_hook, hook_timeout_s, next_trigger_at, created_at, modified_at";

    public AutoSnapshotPolicy {
        diskIds = List.copyOf(diskIds);
    }

    AutoSnapshotPolicy withDisks(List<String> disks) {
        return new AutoSnapshotPolicy(policyId, accountId, name, schedule, activated, permanent, retentionDays, preHook, postHook,
                hookTimeoutSeconds, nextTrigger, createdAt, modifiedAt, disks);
    }
}
