package dev.cairn.control;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.ControlException.ResourceKind;
import java.nio.charset.StandardCharsets;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Auto-snapshot policies (Tencent's CreateAutoSnapshotPolicy … DescribeDiskAssociatedAutoSnapshotPolicy):
 * what they are, which disks they cover, and each policy's history of runs. Firing them is
 * {@link Scheduler}'s job.
 *
 * <p><b>What it keeps true.</b> A policy row's {@code next_trigger_at} is its next firing strictly after
 * the time it was last planned or changed (NULL while deactivated), in the region's time zone; every
 * change that moves it is one transaction. A disk is bound to one policy at most; a binding goes with
 * its disk or its policy. Deleting a policy keeps the snapshots it made (their deadlines still apply)
 * and skips its runs that have not started.
 *
 * <p>Thread-safe; every action is one catalog transaction.
 */
public final class PolicyService {
    static final int DEFAULT_RETENTION_DAYS = 7;
    static final int MAX_RETENTION_DAYS = 65535;
    static final int DEFAULT_HOOK_TIMEOUT_SECONDS = 60;

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;
    private final ServerHooks hooks;

    PolicyService(CloudControl control, Catalog catalog, InstantSource clock, ServerHooks hooks) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
        this.hooks = hooks;
    }

    /** A create or modify request; null fields are "not given". */
    public record Spec(String name, List<Schedule.Rule> rules, Boolean activated, Boolean permanent, Integer retentionDays,
                       String preHook, String postHook, Integer hookTimeoutSeconds) {}

    /** What CreateAutoSnapshotPolicy answers (also for a DryRun, with a null id). */
    public record Created(String policyId, Instant nextTrigger) {}

    /** One firing of a policy for one disk: the scheduler's record of what it did. */
    public record Run(String runId, String policyId, String diskId, Instant dueAt, String state, int attempts, String snapshotId,
                      Instant startedAt, Instant finishedAt, Long storedBytes, String detail) {}

    // ------------------------------------------------------------------ create, modify, delete

    public Created create(Caller caller, Spec spec, boolean dryRun) {
        return control.recorded(caller, "CreateAutoSnapshotPolicy", () -> {
            if (spec.rules() == null) throw new InvalidValue("Policy", InvalidValue.Reason.VALUE, "`Policy` is required");
            Instant now = clock.instant();
            Schedule schedule = Schedule.of(spec.rules(), now.atZone(zone()).toLocalDate());
            checkCommon(spec);
            boolean permanent = Boolean.TRUE.equals(spec.permanent());
            int retention = spec.retentionDays() == null ? DEFAULT_RETENTION_DAYS : spec.retentionDays();
            boolean activated = spec.activated() == null || spec.activated();
            Instant next = activated ? schedule.next(now, zone()).orElse(null) : null;
            if (dryRun) return new Created(null, schedule.next(now, zone()).orElse(null));
            String id = Ids.autoSnapshotPolicy();
            catalog.write(tx -> {
                long mine = tx.count("SELECT COUNT(*) FROM auto_snapshot_policies WHERE account_id = ?", caller.accountId());
                control.quotas().require(tx, caller.accountId(), Quotas.Quota.AUTO_SNAPSHOT_POLICIES, mine, 1, "the account");
                tx.update("INSERT INTO auto_snapshot_policies (" + AutoSnapshotPolicy.COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        id, caller.accountId(), spec.name() == null ? CloudControl.UNNAMED : spec.name(), schedule.encode(), activated,
                        permanent, retention, spec.preHook(), spec.postHook(),
                        spec.hookTimeoutSeconds() == null ? DEFAULT_HOOK_TIMEOUT_SECONDS : spec.hookTimeoutSeconds(),
                        next == null ? null : next.toEpochMilli(), now.toEpochMilli(), now.toEpochMilli());
                Rows.recordOps(tx, caller, "CreateAutoSnapshotPolicy", List.of(id), "SUCCESS", now.toEpochMilli(), schedule.encode());
                return null;
            });
            return new Created(id, next);
        });
    }

    public void modify(Caller caller, String policyId, Spec spec) {
        control.recorded(caller, "ModifyAutoSnapshotPolicyAttribute", () -> {
            checkCommon(spec);
            Instant now = clock.instant();
            catalog.write(tx -> {
                AutoSnapshotPolicy p = own(tx, caller, policyId);
                Schedule schedule = spec.rules() == null ? p.schedule() : Schedule.of(spec.rules(), now.atZone(zone()).toLocalDate());
                boolean activated = spec.activated() == null ? p.activated() : spec.activated();
                boolean permanent = spec.permanent() == null ? p.permanent() : spec.permanent();
                if (permanent && spec.retentionDays() != null) {
                    throw new InvalidValue("RetentionDays", InvalidValue.Reason.CONFLICT, "`RetentionDays` cannot be set on a permanent policy");
                }
                boolean rescheduled = spec.rules() != null || activated != p.activated();
                Instant next = !activated ? null : rescheduled ? schedule.next(now, zone()).orElse(null) : p.nextTrigger();
                tx.update("""
                        UPDATE auto_snapshot_policies SET name = ?, schedule = ?, is_activated = ?, is_permanent = ?, retention_days = ?,
                        pre_hook = ?, post_hook = ?, hook_timeout_s = ?, next_trigger_at = ?, modified_at = ? WHERE policy_id = ?""",
                        spec.name() == null ? p.name() : spec.name(), schedule.encode(), activated, permanent,
                        spec.retentionDays() == null ? p.retentionDays() : spec.retentionDays(),
                        spec.preHook() == null ? p.preHook() : emptyToNull(spec.preHook()),
                        spec.postHook() == null ? p.postHook() : emptyToNull(spec.postHook()),
                        spec.hookTimeoutSeconds() == null ? p.hookTimeoutSeconds() : spec.hookTimeoutSeconds(),
                        next == null ? null : next.toEpochMilli(), now.toEpochMilli(), policyId);
                Rows.recordOps(tx, caller, "ModifyAutoSnapshotPolicyAttribute", List.of(policyId), "SUCCESS", now.toEpochMilli(),
                        schedule.encode() + (activated ? "" : " deactivated"));
                return null;
            });
            return null;
        });
    }

    /** DeleteAutoSnapshotPolicies: all or nothing. Snapshots made stay; runs not yet started are skipped. */
    public void delete(Caller caller, List<String> policyIds) {
        control.recorded(caller, "DeleteAutoSnapshotPolicies", () -> {
            CloudControl.requireIds(policyIds, "AutoSnapshotPolicyIds", control.limits().idsPerDescribe());
            long now = clock.millis();
            catalog.write(tx -> {
                for (String id : policyIds) own(tx, caller, id);
                for (String id : policyIds) {
                    tx.update("DELETE FROM auto_snapshot_policy_disks WHERE policy_id = ?", id);
                    tx.update("UPDATE auto_snapshot_runs SET state = ?, finished_at = ?, detail = ? WHERE policy_id = ? AND state = ? AND snapshot_id IS NULL",
                            Scheduler.SKIPPED, now, "policy deleted", id, Scheduler.PENDING);
                    tx.update("DELETE FROM auto_snapshot_policies WHERE policy_id = ?", id);
                }
                Rows.recordOps(tx, caller, "DeleteAutoSnapshotPolicies", policyIds, "SUCCESS", now, "");
                return null;
            });
            return null;
        });
    }

    private void checkCommon(Spec spec) {
        if (spec.name() != null && spec.name().getBytes(StandardCharsets.UTF_8).length > 60) {
            throw new InvalidValue("AutoSnapshotPolicyName", InvalidValue.Reason.VALUE, "`AutoSnapshotPolicyName` is longer than 60 bytes");
        }
        CloudControl.requireName(spec.name(), "AutoSnapshotPolicyName", 60, InvalidValue.Reason.VALUE);
        if (Boolean.TRUE.equals(spec.permanent()) && spec.retentionDays() != null) {
            throw new InvalidValue("RetentionDays", InvalidValue.Reason.CONFLICT, "`RetentionDays` conflicts with `IsPermanent` true");
        }
        if (spec.retentionDays() != null && (spec.retentionDays() < 1 || spec.retentionDays() > MAX_RETENTION_DAYS)) {
            throw new InvalidValue("RetentionDays", InvalidValue.Reason.VALUE, "`RetentionDays` must be 1-" + MAX_RETENTION_DAYS
                    + ", got " + spec.retentionDays());
        }
        if (spec.hookTimeoutSeconds() != null && (spec.hookTimeoutSeconds() < 1 || spec.hookTimeoutSeconds() > 3600)) {
            throw new InvalidValue("HookTimeoutSeconds", InvalidValue.Reason.VALUE, "`HookTimeoutSeconds` must be 1-3600");
        }
        if (spec.preHook() != null && !spec.preHook().isEmpty()) hooks.requireInstalled(spec.preHook(), "PreHook");
        if (spec.postHook() != null && !spec.postHook().isEmpty()) hooks.requireInstalled(spec.postHook(), "PostHook");
    }

    private static String emptyToNull(String s) {
        return s.isEmpty() ? null : s;
    }

    // ------------------------------------------------------------------ bind, unbind

    /** BindAutoSnapshotPolicy: all or nothing; a disk already bound to this policy stays bound. */
    public void bind(Caller caller, String policyId, List<String> diskIds) {
        control.recorded(caller, "BindAutoSnapshotPolicy", () -> {
            CloudControl.requireIds(diskIds, "DiskIds", control.limits().disksPerBind());
            long now = clock.millis();
            catalog.write(tx -> {
                own(tx, caller, policyId);
                List<String> added = new ArrayList<>();
                for (String diskId : diskIds) {
                    Rows.ownDisk(tx, caller.accountId(), diskId);
                    Optional<String> bound = tx.first("SELECT policy_id FROM auto_snapshot_policy_disks WHERE disk_id = ?", rs -> rs.getString(1), diskId);
                    if (bound.isPresent() && !bound.get().equals(policyId)) {
                        throw new DiskConflict(diskId, DiskConflict.Problem.ALREADY_BOUND, "disk `" + diskId
                                + "` is already bound to auto-snapshot policy `" + bound.get() + "`; unbind it first");
                    }
                    if (bound.isEmpty()) added.add(diskId);
                }
                long count = tx.count("SELECT COUNT(*) FROM auto_snapshot_policy_disks WHERE policy_id = ?", policyId);
                if (count + added.size() > control.limits().disksPerPolicy()) {
                    throw new QuotaExceeded(QuotaExceeded.Quota.DISKS_PER_POLICY, "a policy covers at most " + control.limits().disksPerPolicy()
                            + " disks; `" + policyId + "` has " + count + " and " + added.size() + " more were asked");
                }
                for (String diskId : added) {
                    tx.update("INSERT INTO auto_snapshot_policy_disks (disk_id, policy_id, bound_at) VALUES (?, ?, ?)", diskId, policyId, now);
                }
                Rows.recordOps(tx, caller, "BindAutoSnapshotPolicy", diskIds, "SUCCESS", now, policyId);
                return null;
            });
            return null;
        });
    }

    /** UnbindAutoSnapshotPolicy: the disks (and those attached to the instances) that are bound to the policy; others are skipped. */
    public void unbind(Caller caller, String policyId, List<String> diskIds, List<String> instanceIds) {
        control.recorded(caller, "UnbindAutoSnapshotPolicy", () -> {
            if (diskIds.isEmpty() && instanceIds.isEmpty()) {
                throw new InvalidValue("DiskIds", InvalidValue.Reason.VALUE, "give `DiskIds` or `InstanceIds`");
            }
            long now = clock.millis();
            catalog.write(tx -> {
                own(tx, caller, policyId);
                LinkedHashSet<String> disks = new LinkedHashSet<>();
                for (String diskId : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), diskId).diskId());
                for (String instanceId : instanceIds) {
                    Rows.ownInstance(tx, caller.accountId(), instanceId);
                    Rows.disksOfInstance(tx, instanceId).forEach(d -> disks.add(d.diskId()));
                }
                List<String> removed = new ArrayList<>();
                for (String diskId : disks) {
                    if (tx.update("DELETE FROM auto_snapshot_policy_disks WHERE disk_id = ? AND policy_id = ?", diskId, policyId) > 0) {
                        removed.add(diskId);
                    }
                }
                Rows.recordOps(tx, caller, "UnbindAutoSnapshotPolicy", removed, "SUCCESS", now, policyId);
                return null;
            });
            return null;
        });
    }

    // ------------------------------------------------------------------ describe

    public Page<AutoSnapshotPolicy> describe(Caller caller, ListQuery<AutoSnapshotPolicy> query) {
        List<AutoSnapshotPolicy> all = catalog.read(tx -> {
            Map<String, List<String>> disks = new LinkedHashMap<>();
            tx.query("""
                    SELECT b.policy_id, b.disk_id FROM auto_snapshot_policy_disks b JOIN auto_snapshot_policies p ON p.policy_id = b.policy_id
                    WHERE p.account_id = ? ORDER BY b.bound_at, b.disk_id""", rs -> {
                disks.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2));
                return null;
            }, caller.accountId());
            return tx.query("SELECT " + AutoSnapshotPolicy.COLUMNS + " FROM auto_snapshot_policies WHERE account_id = ?",
                    rs -> policy(rs).withDisks(disks.getOrDefault(rs.getString(1), List.of())), caller.accountId());
        });
        return query.apply(CloudControl.restrictIds(all, query.ids(), AutoSnapshotPolicy::policyId));
    }

    /** DescribeDiskAssociatedAutoSnapshotPolicy: the policy bound to the caller's disk (zero or one; disk ids left out). */
    public List<AutoSnapshotPolicy> ofDisk(Caller caller, String diskId) {
        return catalog.read(tx -> {
            Rows.ownDisk(tx, caller.accountId(), diskId);
            return tx.query("SELECT " + columns("p") + " FROM auto_snapshot_policies p JOIN auto_snapshot_policy_disks b "
                    + "ON b.policy_id = p.policy_id WHERE b.disk_id = ?", PolicyService::policy, diskId);
        });
    }

    /** The policy each of the caller's bound disks is bound to (DescribeDisks' AutoSnapshotPolicyIds). */
    public Map<String, String> bindings(Caller caller) {
        return catalog.read(tx -> {
            Map<String, String> out = new LinkedHashMap<>();
            tx.query("SELECT b.disk_id, b.policy_id FROM auto_snapshot_policy_disks b JOIN auto_snapshot_policies p ON p.policy_id = b.policy_id "
                    + "WHERE p.account_id = ?", rs -> out.put(rs.getString(1), rs.getString(2)), caller.accountId());
            return out;
        });
    }

    /** A policy's runs (optionally of one disk), newest first, at most {@code limit}. */
    public List<Run> history(Caller caller, String policyId, String diskId, int limit) {
        return catalog.read(tx -> {
            boolean exists = tx.count("SELECT COUNT(*) FROM auto_snapshot_policies WHERE policy_id = ? AND account_id = ?", policyId, caller.accountId()) > 0;
            boolean made = tx.count("SELECT COUNT(*) FROM auto_snapshot_runs WHERE policy_id = ? AND account_id = ?", policyId, caller.accountId()) > 0;
            if (!exists && !made) throw new NotFound(ResourceKind.AUTO_SNAPSHOT_POLICY, policyId);
            String sql = "SELECT run_id, policy_id, disk_id, due_at, state, attempts, snapshot_id, started_at, finished_at, stored_bytes, detail "
                    + "FROM auto_snapshot_runs WHERE policy_id = ? AND account_id = ?" + (diskId == null ? "" : " AND disk_id = ?")
                    + " ORDER BY due_at DESC, disk_id";
            List<Run> runs = diskId == null ? tx.query(sql, PolicyService::run, policyId, caller.accountId())
                    : tx.query(sql, PolicyService::run, policyId, caller.accountId(), diskId);
            return runs.subList(0, Math.min(limit, runs.size()));
        });
    }

    // ------------------------------------------------------------------ rows

    private java.time.ZoneId zone() {
        return control.region().timeZone();
    }

    static AutoSnapshotPolicy own(Catalog.Tx tx, Caller caller, String policyId) throws SQLException {
        return tx.first("SELECT " + AutoSnapshotPolicy.COLUMNS + " FROM auto_snapshot_policies WHERE policy_id = ? AND account_id = ?",
                PolicyService::policy, policyId, caller.accountId()).orElseThrow(() -> new NotFound(ResourceKind.AUTO_SNAPSHOT_POLICY, policyId));
    }

    static String columns(String alias) {
        return alias + "." + AutoSnapshotPolicy.COLUMNS.replace(", ", ", " + alias + ".");
    }

    static AutoSnapshotPolicy policy(ResultSet rs) throws SQLException {
        long next = rs.getLong(11);
        boolean none = rs.wasNull();
        return new AutoSnapshotPolicy(rs.getString(1), rs.getLong(2), rs.getString(3), Schedule.decode(rs.getString(4)), rs.getBoolean(5),
                rs.getBoolean(6), rs.getInt(7), rs.getString(8), rs.getString(9), rs.getInt(10), none ? null : Instant.ofEpochMilli(next),
                Instant.ofEpochMilli(rs.getLong(12)), Instant.ofEpochMilli(rs.getLong(13)), List.of());
    }

    private static Run run(ResultSet rs) throws SQLException {
        return new Run(rs.getString(1), rs.getString(2), rs.getString(3), Instant.ofEpochMilli(rs.getLong(4)), rs.getString(5), rs.getInt(6),
                rs.getString(7), instantOrNull(rs, 8), instantOrNull(rs, 9), longOrNull(rs, 10), rs.getString(11));
    }

    private static Instant instantOrNull(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    private static Long longOrNull(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }
}
