package dev.cairn.api;

import dev.cairn.control.AutoSnapshotPolicy;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.ListQuery;
import dev.cairn.control.OperationRecord;
import dev.cairn.control.Page;
import dev.cairn.control.PolicyService;
import dev.cairn.control.Region;
import dev.cairn.control.Schedule;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The CBS auto-snapshot policy actions (reference §2.3) and the operation logs of snapshots and disks
 * (§2.2, present in the SDK Cairn is tested with). Thread-safe.
 *
 * <p>Cairn adds to CreateAutoSnapshotPolicy/ModifyAutoSnapshotPolicyAttribute the optional
 * {@code PreHook}, {@code PostHook} (names of hook programs the operator installed on the server; an
 * empty string removes one) and {@code HookTimeoutSeconds}, returns them in {@code AutoSnapshotPolicy},
 * and serves {@code DescribeAutoSnapshotPolicyRuns}: a policy's history, one entry per firing and disk.
 */
final class PolicyActions {
    static final Pattern POLICY_ID = Pattern.compile("asp-[a-z0-9]{8}");
    private static final List<Long> EVERY_DAY = List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L);
    private static final List<String> FILTERS = List.of("auto-snapshot-policy-id", "auto-snapshot-policy-state", "auto-snapshot-policy-name");

    private final CloudControl control;
    private final PolicyService policies;

    PolicyActions(CloudControl control) {
        this.control = control;
        this.policies = control.policies();
    }

    // ---- wire shapes ----

    record PolicyView(List<Long> hour, List<Long> dayOfWeek, List<Long> dayOfMonth, Long intervalDays) {}

    record AutoSnapshotPolicyView(List<String> diskIdSet, boolean isActivated, String autoSnapshotPolicyState, long isCopyToRemote,
                                  boolean isPermanent, String nextTriggerTime, String autoSnapshotPolicyName, String autoSnapshotPolicyId,
                                  List<PolicyView> policy, String createTime, long retentionDays, String copyToAccountUin,
                                  List<String> instanceIdSet, String preHook, String postHook, long hookTimeoutSeconds) {}

    record CreateResult(String autoSnapshotPolicyId, String nextTriggerTime) {}

    record DescribeResult(long totalCount, List<AutoSnapshotPolicyView> autoSnapshotPolicySet) {}

    /** Tencent's fields, plus Cairn's {@code Detail}: why a FAILED operation failed (null otherwise). */
    record SnapshotLog(String operator, String operation, String snapshotId, String operationState, String startTime, String endTime, String detail) {}

    record SnapshotLogsResult(List<SnapshotLog> snapshotOperationLogSet) {}

    record DiskLog(String operator, String operation, String diskId, String operationState, String startTime, String endTime, String detail) {}

    record DiskLogsResult(List<DiskLog> diskOperationLogSet) {}

    record RunView(String autoSnapshotPolicyId, String diskId, String dueTime, String runState, long attempts, String snapshotId,
                   String startTime, String endTime, Long storedBytes, String detail) {}

    record RunsResult(List<RunView> runSet) {}

    // ---- actions ----

    Object create(Caller caller, Params p) {
        PolicyService.Spec spec = spec(p, true);
        boolean dryRun = p.bool("DryRun").orElse(false);
        p.end();
        PolicyService.Created c = policies.create(caller, spec, dryRun);
        return new CreateResult(c.policyId(), time(c.nextTrigger()));
    }

    Object modify(Caller caller, Params p) {
        String id = policyId(p);
        PolicyService.Spec spec = spec(p, false);
        p.end();
        policies.modify(caller, id, spec);
        return new CbsActions.Empty();
    }

    Object describe(Caller caller, Params p) {
        List<String> ids = p.ids("AutoSnapshotPolicyIds", POLICY_ID, "InvalidParameterValue").orElse(List.of());
        List<Listing.Filter> filters = Listing.filters(p, 10, 100);
        if (!ids.isEmpty() && !filters.isEmpty()) {
            throw new ApiError("InvalidParameter", "`AutoSnapshotPolicyIds` and `Filters` cannot be used together.");
        }
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        p.oneOf("OrderField", List.of("CREATE_TIME"));
        boolean asc = p.oneOf("Order", List.of("ASC", "DESC")).orElse("DESC").equals("ASC");
        p.end();
        Predicate<AutoSnapshotPolicy> filter = Listing.all(filters, f -> switch (f.name()) {
            case "auto-snapshot-policy-id" -> Listing.anyOf(f, AutoSnapshotPolicy::policyId);
            case "auto-snapshot-policy-state" -> Listing.anyOf(f, x -> "NORMAL");
            case "auto-snapshot-policy-name" -> Listing.anyOf(f, AutoSnapshotPolicy::name);
            default -> throw Listing.invalidFilter(f, FILTERS);
        });
        Comparator<AutoSnapshotPolicy> order = Comparator.comparing(AutoSnapshotPolicy::createdAt).thenComparing(AutoSnapshotPolicy::policyId);
        if (!asc) order = order.reversed();
        Page<AutoSnapshotPolicy> page = policies.describe(caller, new ListQuery<>(ids, filter, order, offset, limit));
        return new DescribeResult(page.totalCount(), page.items().stream().map(x -> view(x, true)).toList());
    }

    Object delete(Caller caller, Params p) {
        List<String> ids = p.ids("AutoSnapshotPolicyIds", POLICY_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("AutoSnapshotPolicyIds"));
        if (ids.isEmpty()) throw ApiError.missing("AutoSnapshotPolicyIds");
        p.end();
        policies.delete(caller, ids);
        return new CbsActions.Empty();
    }

    Object bind(Caller caller, Params p) {
        String id = policyId(p);
        List<String> disks = p.ids("DiskIds", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskIds"));
        if (disks.isEmpty()) throw ApiError.missing("DiskIds");
        p.end();
        policies.bind(caller, id, disks);
        return new CbsActions.Empty();
    }

    Object unbind(Caller caller, Params p) {
        String id = policyId(p);
        List<String> disks = p.ids("DiskIds", CbsActions.DISK_ID, "InvalidParameterValue").orElse(List.of());
        List<String> instances = p.ids("InstanceIds", CbsActions.INSTANCE_ID, "InvalidParameterValue").orElse(List.of());
        p.end();
        if (disks.isEmpty() && instances.isEmpty()) throw ApiError.missing("DiskIds");
        policies.unbind(caller, id, disks, instances);
        return new CbsActions.Empty();
    }

    Object ofDisk(Caller caller, Params p) {
        String disk = p.id("DiskId", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskId"));
        p.end();
        List<AutoSnapshotPolicy> bound = policies.ofDisk(caller, disk);
        return new DescribeResult(bound.size(), bound.stream().map(x -> view(x, false)).toList());
    }

    Object runs(Caller caller, Params p) {
        String id = policyId(p);
        String disk = p.id("DiskId", CbsActions.DISK_ID, "InvalidParameterValue").orElse(null);
        int limit = (int) (long) p.integer("Limit", 1, 1000).orElse(100L);
        p.end();
        Region region = control.region();
        return new RunsResult(policies.history(caller, id, disk, limit).stream().map(r -> new RunView(r.policyId(), r.diskId(),
                Listing.cbsTime(r.dueAt(), region.timeZone()), r.state(), r.attempts(), r.snapshotId(), time(r.startedAt()), time(r.finishedAt()),
                r.storedBytes(), r.detail())).toList());
    }

    /** DescribeSnapshotOperationLogs: filter {@code snapshot-id} (required, ≤ 10 ids), optional window. */
    Object snapshotLogs(Caller caller, Params p) {
        return new SnapshotLogsResult(logs(caller, p, "snapshot-id", SnapshotActions.SNAPSHOT_ID, PolicyActions::snapshotOperation,
                (id, r, op) -> new SnapshotLog(Long.toString(r.accountId()), op, id, r.state(), time(r.startedAt()), time(r.finishedAt()), failure(r))));
    }

    /** DescribeDiskOperationLogs: filter {@code disk-id} (required, ≤ 10 ids), optional window. */
    Object diskLogs(Caller caller, Params p) {
        return new DiskLogsResult(logs(caller, p, "disk-id", CbsActions.DISK_ID, r -> diskOperation(r.action()),
                (id, r, op) -> new DiskLog(Long.toString(r.accountId()), op, id, r.state(), time(r.startedAt()), time(r.finishedAt()), failure(r))));
    }

    private static String failure(OperationRecord r) {
        return r.state().equals("FAILED") ? r.detail() : null;
    }

    @FunctionalInterface
    private interface LogEntry<T> {
        T of(String resourceId, OperationRecord record, String operation);
    }

    /** The operation log entries of the filtered resources that have a Tencent operation name, oldest first per resource. */
    private <T> List<T> logs(Caller caller, Params p, String filterName, Pattern idPattern,
                             java.util.function.Function<OperationRecord, String> operation, LogEntry<T> entry) {
        List<String> ids = logIds(p, filterName, idPattern);
        Instant[] window = window(p);
        p.end();
        List<T> out = new ArrayList<>();
        for (String id : ids) {
            for (OperationRecord r : inWindow(control.operationLog(caller, id), window)) {
                String op = operation.apply(r);
                if (op != null) out.add(entry.of(id, r, op));
            }
        }
        return out;
    }

    // ---- helpers ----

    /** Operations that were a policy's own (a scheduled snapshot, a retention delete) carry its id as the request id. */
    private static String snapshotOperation(OperationRecord r) {
        boolean byPolicy = POLICY_ID.matcher(r.requestId()).matches();
        return switch (r.action()) {
            case "CreateSnapshot", "CreateSnapshotGroup" -> byPolicy ? "ASP_OPERATION_CREATE_SNAP" : "SNAP_OPERATION_CREATE";
            case "DeleteSnapshots", "DeleteSnapshotGroup" -> byPolicy ? "ASP_OPERATION_DELETE_SNAP" : "SNAP_OPERATION_DELETE";
            case "ApplySnapshot", "ApplySnapshotGroup", "InitializeDisks" -> "SNAP_OPERATION_ROLLBACK";
            case "ModifySnapshotAttribute" -> "SNAP_OPERATION_MODIFY";
            case "CopySnapshotCrossRegions" -> "SNAP_OPERATION_COPY";
            default -> null;
        };
    }

    private static String diskOperation(String action) {
        return switch (action) {
            case "AttachDisks" -> "CBS_OPERATION_ATTACH";
            case "DetachDisks" -> "CBS_OPERATION_DETACH";
            case "ResizeDisk" -> "CBS_OPERATION_EXPAND";
            case "CreateDisks", "RunInstances" -> "CBS_OPERATION_CREATE";
            case "TerminateDisks", "TerminateInstances" -> "CBS_OPERATION_ISOLATE";
            case "ModifyDiskAttributes" -> "CBS_OPERATION_MODIFY";
            case "BindAutoSnapshotPolicy" -> "ASP_OPERATION_BIND";
            case "UnbindAutoSnapshotPolicy" -> "ASP_OPERATION_UNBIND";
            default -> null;
        };
    }

    private static List<String> logIds(Params p, String filterName, Pattern idPattern) {
        List<Listing.Filter> filters = Listing.filters(p, 1, 10);
        if (filters.isEmpty()) throw ApiError.missing("Filters");
        Listing.Filter f = filters.getFirst();
        if (!f.name().equals(filterName)) throw Listing.invalidFilter(f, List.of(filterName));
        for (int i = 0; i < f.values().size(); i++) {
            Params.checkId("Filters.0.Values." + i, f.values().get(i), idPattern, "InvalidParameterValue");
        }
        return f.values();
    }

    private Instant[] window(Params p) {
        return new Instant[] {p.string("BeginTime").map(s -> cbsTime("BeginTime", s)).orElse(null),
                p.string("EndTime").map(s -> cbsTime("EndTime", s)).orElse(null)};
    }

    private static List<OperationRecord> inWindow(List<OperationRecord> log, Instant[] window) {
        return log.stream().filter(r -> (window[0] == null || !r.startedAt().isBefore(window[0]))
                && (window[1] == null || !r.startedAt().isAfter(window[1]))).toList();
    }

    private Instant cbsTime(String field, String s) {
        try {
            return LocalDateTime.parse(s, Listing.CBS_TIME).atZone(control.region().timeZone()).toInstant();
        } catch (DateTimeParseException e) {
            throw new ApiError("InvalidParameterValue", "`" + field + "` must look like 2026-11-26 09:00:00, got '" + Params.clip(s) + "'.");
        }
    }

    private static String policyId(Params p) {
        return p.id("AutoSnapshotPolicyId", POLICY_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("AutoSnapshotPolicyId"));
    }

    private static PolicyService.Spec spec(Params p, boolean policyRequired) {
        List<Schedule.Rule> rules = p.objects("Policy", r -> new Schedule.Rule(
                ints(r, "Hour", true), ints(r, "DayOfWeek", false), ints(r, "DayOfMonth", false),
                (int) (long) r.integer("IntervalDays", 1, 365).orElse(0L))).orElse(null);
        if (policyRequired && rules == null) throw ApiError.missing("Policy");
        return new PolicyService.Spec(p.string("AutoSnapshotPolicyName").orElse(null), rules, p.bool("IsActivated").orElse(null),
                p.bool("IsPermanent").orElse(null), p.integer("RetentionDays").map(Math::toIntExact).orElse(null),
                p.string("PreHook").orElse(null), p.string("PostHook").orElse(null),
                p.integer("HookTimeoutSeconds").map(Math::toIntExact).orElse(null));
    }

    private static List<Integer> ints(Params p, String name, boolean required) {
        if (!p.has(name)) {
            if (required) throw ApiError.missing(p.path(name));
            return List.of();
        }
        List<Integer> out = new ArrayList<>();
        com.fasterxml.jackson.databind.JsonNode array = p.rawArray(name);
        for (int i = 0; i < array.size(); i++) {
            if (!array.get(i).canConvertToInt()) throw ApiError.type(p.path(name) + "." + i, "an integer");
            out.add(array.get(i).intValue());
        }
        return out;
    }

    private AutoSnapshotPolicyView view(AutoSnapshotPolicy x, boolean withDisks) {
        // a rule without a day selector fires every day: shown as all seven days of the week
        List<PolicyView> rules = x.schedule().rules().stream().map(r -> new PolicyView(longs(r.hours()),
                r.daysOfWeek().isEmpty() && r.daysOfMonth().isEmpty() && r.intervalDays() == 0 ? EVERY_DAY : longs(r.daysOfWeek()),
                r.daysOfMonth().isEmpty() ? null : longs(r.daysOfMonth()), r.intervalDays() == 0 ? null : (long) r.intervalDays())).toList();
        return new AutoSnapshotPolicyView(withDisks ? x.diskIds() : List.of(), x.activated(), "NORMAL", 0, x.permanent(),
                time(x.nextTrigger()), x.name(), x.policyId(), rules, time(x.createdAt()), x.retentionDays(), null, List.of(),
                x.preHook(), x.postHook(), x.hookTimeoutSeconds());
    }

    private static List<Long> longs(List<Integer> values) {
        return values.stream().map(Integer::longValue).toList();
    }

    private String time(Instant t) {
        return t == null ? null : Listing.cbsTime(t, control.region().timeZone());
    }
}
