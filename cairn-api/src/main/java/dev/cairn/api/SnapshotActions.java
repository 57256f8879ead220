package dev.cairn.api;

import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.ListQuery;
import dev.cairn.control.Page;
import dev.cairn.control.Region;
import dev.cairn.control.RepositoryMaintenance;
import dev.cairn.control.Snapshot;
import dev.cairn.control.SnapshotGroup;
import dev.cairn.control.SnapshotQuery;
import dev.cairn.control.SnapshotService;
import dev.cairn.repository.VerifyReport;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The CBS snapshot actions (reference §2.2, §2.4) and Cairn's repository actions: each reads and checks
 * its parameters, calls {@link SnapshotService} and answers with Tencent's field names. Thread-safe.
 *
 * <p>Cairn adds fields Tencent's {@code Snapshot} lacks — {@code LogicalBytes} (what the disk held),
 * {@code IncrementalBytes} (what the snapshot added to the repository), {@code ExclusiveBytes} (what deleting
 * it alone would free, as of the last background refresh; null before the first) and {@code BytesRead}
 * (capture progress) — which Tencent's SDKs ignore.
 */
final class SnapshotActions {
    static final Pattern SNAPSHOT_ID = Pattern.compile("snap-[a-z0-9]{8}");
    static final Pattern GROUP_ID = Pattern.compile("csnap-[a-z0-9]{8}");
    private static final List<String> SNAPSHOT_FILTERS = List.of("snapshot-id", "snapshot-name", "snapshot-state", "disk-usage",
            "project-id", "disk-id", "zone", "encrypt", "snapshot-type");
    private static final List<String> GROUP_FILTERS = List.of("snapshot-group-id", "snapshot-group-state", "snapshot-group-name", "snapshot-id");
    private static final double GIB = 1L << 30;

    private final CloudControl control;
    private final SnapshotService snapshots;

    SnapshotActions(CloudControl control) {
        this.control = control;
        this.snapshots = control.snapshots();
    }

    // ---- wire shapes ----

    record Image(String imageId, String imageName) {}

    record SnapshotView(CbsActions.Placement placement, boolean copyFromRemote, String snapshotState, boolean isPermanent,
                        String snapshotName, String deadlineTime, long percent, List<Image> images, long shareReference,
                        String snapshotType, long diskSize, String diskId, List<String> copyingToRegions, boolean encrypt,
                        String createTime, long imageCount, String diskUsage, String snapshotId, String timeStartShare,
                        List<CbsActions.Tag> tags, boolean isLocked, String latestModifyTime, String autoSnapshotPolicyId,
                        String snapshotMode, long logicalBytes, long incrementalBytes, long bytesRead, String lockedUntil, Long exclusiveBytes) {}

    record CreateSnapshotResult(String snapshotId) {}

    record DescribeSnapshotsResult(long totalCount, List<SnapshotView> snapshotSet) {}

    record OverviewResult(double totalSize, double realTradeSize, double freeQuota, long totalNums) {}

    record GroupView(String snapshotGroupId, String snapshotGroupType, boolean containRootSnapshot, List<String> snapshotIdSet,
                     String snapshotGroupState, long percent, String createTime, String modifyTime, List<Image> images,
                     String snapshotGroupName, long imageCount, boolean isPermanent, String deadlineTime, String autoSnapshotPolicyId) {}

    record CreateGroupResult(String snapshotGroupId) {}

    record DescribeGroupsResult(long totalCount, List<GroupView> snapshotGroupSet) {}

    record SpaceView(String snapshotId, long logicalBytes, long incrementalBytes, long exclusiveBytes) {}

    record SpaceResult(List<SpaceView> snapshotSpaceSet) {}

    record ProblemView(String object, String kind, String detail) {}

    record VerifyResult(boolean ok, long manifests, long pages, long chunks, long chunksRead, long bytesRead, long unreferencedChunks,
                        long durationMillis, List<ProblemView> problems) {}

    record GcResult(long orphanManifestsDeleted, long chunksDeleted, long bytesDeleted, long keptYoung) {}

    record RepositoryResult(long manifests, long liveManifests, long snapshots, long storedBytes, long blockSize) {}

    /** {@code AccountSet}: accounts the catalog had lost, re-created with new keys (shown once, like CreateAccount's). */
    record RebuildResult(List<String> snapshotIdSet, List<CairnActions.CreateAccountResult> accountSet) {}

    // ---- actions ----

    Object createSnapshot(Caller caller, Params p) {
        p.unsupported("backup points are not supported", "DiskBackupId");
        String diskId = p.id("DiskId", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskId"));
        String name = p.string("SnapshotName").orElse(null);
        Instant deadline = p.string("Deadline").map(s -> time(p.path("Deadline"), s)).orElse(null);
        p.unsupported("tags are not stored by Cairn", "Tags");
        p.unsupported("a snapshot's usage is its disk's", "DiskUsage");
        p.end();
        return new CreateSnapshotResult(snapshots.createSnapshot(caller, diskId, name, deadline));
    }

    Object describeSnapshots(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElse(List.of());
        List<Listing.Filter> filters = Listing.filters(p, 10, 100);
        if (!ids.isEmpty() && !filters.isEmpty()) {
            throw new ApiError("InvalidParameter", "`SnapshotIds` and `Filters` cannot be used together.");
        }
        for (Listing.Filter f : filters) {
            if (f.name().equals("disk-id") && f.values().size() > 10) {
                throw new ApiError("InvalidParameterValue.LimitExceeded", "filter `disk-id` takes at most 10 values.");
            }
        }
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        p.oneOf("OrderField", List.of("CREATE_TIME"));
        boolean asc = p.oneOf("Order", List.of("ASC", "DESC")).orElse("DESC").equals("ASC");
        p.end();
        List<SnapshotQuery.Condition> conditions = new ArrayList<>();
        if (!ids.isEmpty()) conditions.add(new SnapshotQuery.Condition(SnapshotQuery.Field.SNAPSHOT_ID, ids));
        for (Listing.Filter f : filters) {
            SnapshotQuery.Condition c = snapshotCondition(f);
            if (c != null) conditions.add(c);
        }
        boolean askedForBin = filters.stream().anyMatch(f -> f.name().equals("snapshot-state") && f.values().contains("TORECYCLE"));
        if (!askedForBin && ids.isEmpty()) { // the bin shows only when asked for, by state or by id
            conditions.add(new SnapshotQuery.Condition(SnapshotQuery.Field.STATE, Arrays.stream(dev.cairn.control.SnapshotState.values())
                    .filter(st -> st != dev.cairn.control.SnapshotState.TORECYCLE).map(Enum::name).toList()));
        }
        Page<Snapshot> page = snapshots.describeSnapshots(caller, new SnapshotQuery(conditions, asc, offset, limit));
        Map<String, dev.cairn.control.SnapshotShares.Summary> shared = control.snapshotShares().summaries(caller);
        Map<String, Instant> locked = control.snapshotLocks().of(caller);
        Map<String, List<dev.cairn.control.Image>> images = control.images().bySnapshot(caller);
        Map<String, List<String>> copying = control.snapshotCopies().copyingTo(caller);
        Map<String, Long> exclusive = snapshots.exclusiveBytes(caller, page.items().stream().map(Snapshot::snapshotId).toList());
        return new DescribeSnapshotsResult(page.totalCount(), page.items().stream()
                .map(s -> view(s, control.region(), caller, shared.get(s.snapshotId()), locked.get(s.snapshotId()),
                        images.getOrDefault(s.snapshotId(), List.of()), copying.getOrDefault(s.snapshotId(), List.of()),
                        exclusive.get(s.snapshotId()))).toList());
    }

    private static String type(Snapshot s, Caller caller) {
        return s.accountId() == caller.accountId() ? SnapshotQuery.PRIVATE : SnapshotQuery.SHARED;
    }

    /** The condition a Tencent filter on snapshots sets, or null for none. */
    private static SnapshotQuery.Condition snapshotCondition(Listing.Filter f) {
        SnapshotQuery.Field field = switch (f.name()) {
            case "snapshot-id" -> SnapshotQuery.Field.SNAPSHOT_ID;
            case "snapshot-name" -> SnapshotQuery.Field.NAME;
            case "snapshot-state" -> SnapshotQuery.Field.STATE;
            case "disk-usage" -> SnapshotQuery.Field.DISK_USAGE;
            case "project-id" -> SnapshotQuery.Field.PROJECT_ID;
            case "disk-id" -> SnapshotQuery.Field.DISK_ID;
            case "zone" -> SnapshotQuery.Field.ZONE;
            case "snapshot-type" -> SnapshotQuery.Field.TYPE;
            case "encrypt" -> null;
            default -> throw Listing.invalidFilter(f, SNAPSHOT_FILTERS);
        };
        if (field != null) return new SnapshotQuery.Condition(field, f.values());
        // Cairn snapshots are not encrypted per disk: FALSE keeps every row, TRUE none
        return Listing.booleanValues(f).test(false) ? null : new SnapshotQuery.Condition(SnapshotQuery.Field.SNAPSHOT_ID, List.of());
    }

    /** {@code shared}: how the caller's own snapshot is shared, or null; {@code lockedUntil}: its lock, or null. */
    static SnapshotView view(Snapshot s, Region region, Caller caller, dev.cairn.control.SnapshotShares.Summary shared, Instant lockedUntil,
                             List<dev.cairn.control.Image> images, List<String> copyingTo, Long exclusiveBytes) {
        return new SnapshotView(new CbsActions.Placement(s.zone(), s.projectId(), null, null, null, ""), s.copyFromRemote(), s.state().name(),
                s.permanent(), s.name(), s.deadline() == null ? "" : Listing.cbsTime(s.deadline(), region.timeZone()), s.percent(),
                images.stream().map(i -> new Image(i.imageId(), i.imageName())).toList(), shared == null ? 0 : shared.accounts(), type(s, caller),
                s.diskSizeGib(), s.diskId(), copyingTo, false, Listing.cbsTime(s.createdAt(), region.timeZone()), images.size(),
                s.diskUsage().name(), s.snapshotId(),
                shared == null ? null : Listing.cbsTime(shared.since(), region.timeZone()), List.of(), lockedUntil != null,
                OffsetDateTime.ofInstant(s.modifiedAt(), region.timeZone()).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
                s.policyId(), "STANDARD_SNAPSHOT", s.logicalBytes(), s.incrementalBytes(), s.bytesRead(),
                lockedUntil == null ? null : iso(lockedUntil, region), exclusiveBytes);
    }

    Object modifySnapshotAttribute(Caller caller, Params p) {
        String id = p.id("SnapshotId", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        Boolean permanent = p.bool("IsPermanent").orElse(null);
        String name = p.string("SnapshotName").orElse(null);
        Instant deadline = p.string("Deadline").map(s -> time(p.path("Deadline"), s)).orElse(null);
        p.end();
        if (permanent == null && name == null && deadline == null) {
            throw new ApiError("MissingParameter", "Give at least one of `SnapshotName`, `IsPermanent`, `Deadline`.");
        }
        snapshots.modifySnapshotAttribute(caller, id, name, permanent, deadline);
        return new CbsActions.Empty();
    }

    Object deleteSnapshots(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotIds"));
        if (ids.isEmpty()) throw ApiError.missing("SnapshotIds");
        boolean withImages = p.bool("DeleteBindImages").orElse(false);
        p.end();
        snapshots.deleteSnapshots(caller, ids, withImages);
        return new CbsActions.Empty();
    }

    Object applySnapshot(Caller caller, Params p) {
        String id = p.id("SnapshotId", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        String diskId = p.id("DiskId", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskId"));
        boolean stop = p.bool("AutoStopInstance").orElse(false);
        boolean start = p.bool("AutoStartInstance").orElse(false);
        p.end();
        control.rollbacks().applySnapshot(caller, id, diskId, stop, start);
        return new CbsActions.Empty();
    }

    Object initializeDisks(Caller caller, Params p) {
        List<String> ids = p.ids("DiskIds", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskIds"));
        if (ids.isEmpty()) throw ApiError.missing("DiskIds");
        if (ids.size() > 20) throw new ApiError("InvalidParameterValue.LimitExceeded", "at most 20 `DiskIds`.");
        p.end();
        control.rollbacks().initializeDisks(caller, ids);
        return new CbsActions.Empty();
    }

    /**
     * GetSnapOverview and DescribeSnapshotOverview: the same figures. TotalSize is what the meter bills the
     * account now (GiB; see {@link dev.cairn.control.Billing}), RealTradeSize that minus the free quota.
     */
    Object overview(Caller caller, Params p) {
        p.end();
        SnapshotService.Overview o = snapshots.overview(caller);
        double gib = round(control.billing().billedBytesNow(caller) / GIB);
        double free = control.billing().prices().freeGib();
        return new OverviewResult(gib, round(Math.max(0, gib - free)), free, o.count());
    }

    private static double round(double gib) {
        return Math.round(gib * 1000) / 1000.0;
    }

    Object createSnapshotGroup(Caller caller, Params p) {
        List<String> ids = p.ids("DiskIds", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskIds"));
        if (ids.isEmpty()) throw ApiError.missing("DiskIds");
        String name = p.string("SnapshotGroupName").orElse(null);
        p.unsupported("tags are not stored by Cairn", "Tags");
        p.end();
        return new CreateGroupResult(snapshots.createSnapshotGroup(caller, ids, name));
    }

    Object describeSnapshotGroups(Caller caller, Params p) {
        List<Listing.Filter> filters = Listing.filters(p, 10, 100);
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        p.end();
        Predicate<SnapshotGroup> filter = Listing.all(filters, f -> switch (f.name()) {
            case "snapshot-group-id" -> Listing.anyOf(f, SnapshotGroup::groupId);
            case "snapshot-group-state" -> Listing.anyOf(f, g -> g.state().name());
            case "snapshot-group-name" -> Listing.anyOf(f, SnapshotGroup::name);
            case "snapshot-id" -> g -> g.snapshotIds().stream().anyMatch(f.values()::contains);
            default -> throw Listing.invalidFilter(f, GROUP_FILTERS);
        });
        Comparator<SnapshotGroup> order = Comparator.comparing(SnapshotGroup::createdAt).thenComparing(SnapshotGroup::groupId).reversed();
        Page<SnapshotGroup> page = snapshots.describeSnapshotGroups(caller, new ListQuery<>(List.of(), filter, order, offset, limit));
        Region region = control.region();
        return new DescribeGroupsResult(page.totalCount(), page.items().stream().map(g -> new GroupView(g.groupId(), "NORMAL",
                g.containsSystemDisk(), g.snapshotIds(), g.state().name(), g.percent(), iso(g.createdAt(), region), iso(g.modifiedAt(), region),
                List.of(), g.name(), 0, true, null, null)).toList());
    }

    Object applySnapshotGroup(Caller caller, Params p) {
        String group = p.id("SnapshotGroupId", GROUP_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("SnapshotGroupId"));
        Map<String, String> pairs = new LinkedHashMap<>();
        p.objects("ApplyDisks", d -> {
            String snap = d.id("SnapshotId", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing(d.path("SnapshotId")));
            String disk = d.id("DiskId", CbsActions.DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing(d.path("DiskId")));
            if (pairs.put(disk, snap) != null) throw ApiError.value(d.path("DiskId"), "disk `" + disk + "` is listed twice.");
            return null;
        }).orElseThrow(() -> ApiError.missing("ApplyDisks"));
        boolean stop = p.bool("AutoStopInstance").orElse(false);
        boolean start = p.bool("AutoStartInstance").orElse(false);
        p.end();
        control.rollbacks().applySnapshotGroup(caller, group, pairs, stop, start);
        return new CbsActions.Empty();
    }

    Object deleteSnapshotGroup(Caller caller, Params p) {
        List<String> ids = new java.util.ArrayList<>();
        p.id("SnapshotGroupId", GROUP_ID, "InvalidParameterValue").ifPresent(ids::add);
        p.ids("SnapshotGroupIds", GROUP_ID, "InvalidParameterValue").ifPresent(more -> more.stream().filter(x -> !ids.contains(x)).forEach(ids::add));
        p.bool("DeleteBindImages");
        p.end();
        if (ids.isEmpty()) throw ApiError.missing("SnapshotGroupId");
        snapshots.deleteSnapshotGroups(caller, ids);
        return new CbsActions.Empty();
    }

    // ---- deletion protection (Cairn's, in Tencent's style) ----

    /**
     * ModifySnapshotLock: {@code {"SnapshotIds": [...], "LockedUntil": ISO-8601}} or {@code "LockDuration":
     * "P30D"} (from the service's now): lock, or extend a lock.
     */
    Object modifyLock(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotIds"));
        if (ids.isEmpty()) throw ApiError.missing("SnapshotIds");
        Instant until = p.string("LockedUntil").map(s -> time("LockedUntil", s)).orElse(null);
        String duration = p.string("LockDuration").orElse(null);
        p.end();
        if ((until == null) == (duration == null)) throw new ApiError("MissingParameter", "Give `LockedUntil` or `LockDuration`.");
        if (duration != null) {
            try {
                until = control.now().plus(Duration.parse(duration));
            } catch (java.time.format.DateTimeParseException e) {
                throw new ApiError("InvalidParameterValue", "`LockDuration` must be ISO-8601 like P30D, got '" + Params.clip(duration) + "'.");
            }
        }
        control.snapshotLocks().lock(caller, ids, until);
        return new CbsActions.Empty();
    }

    // ---- the recycle bin (Cairn's, in Tencent's style) ----

    record RecycledView(SnapshotView snapshot, String recycledTime, String purgeTime) {}

    record RecycledResult(long totalCount, List<RecycledView> snapshotSet) {}

    /** DescribeRecycledSnapshots: the caller's deleted snapshots still recoverable, newest first. */
    Object describeRecycled(Caller caller, Params p) {
        p.end();
        Region region = control.region();
        List<SnapshotService.Recycled> all = snapshots.recycled(caller);
        return new RecycledResult(all.size(), all.stream().map(r -> new RecycledView(view(r.snapshot(), region, caller, null, null, List.of(), List.of(), null),
                Listing.cbsTime(r.recycledAt(), region.timeZone()), Listing.cbsTime(r.purgeAt(), region.timeZone()))).toList());
    }

    /** RecoverSnapshots: {@code {"SnapshotIds": [...]}} back from the recycle bin, all or nothing. */
    Object recover(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotIds"));
        if (ids.isEmpty()) throw ApiError.missing("SnapshotIds");
        p.end();
        snapshots.recoverSnapshots(caller, ids);
        return new CbsActions.Empty();
    }

    // ---- sharing ----

    record ShareView(String accountId, String createdTime) {}

    record SharesResult(List<ShareView> sharePermissionSet) {}

    /** ModifySnapshotsSharePermission: SnapshotIds, AccountIds (≤ 50 per snapshot), Permission SHARE or CANCEL. */
    Object modifySharePermission(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotIds"));
        if (ids.isEmpty()) throw ApiError.missing("SnapshotIds");
        List<String> accounts = p.requiredStrings("AccountIds");
        String permission = p.oneOf("Permission", List.of("SHARE", "CANCEL")).orElseThrow(() -> ApiError.missing("Permission"));
        p.end();
        List<Long> accountIds = new java.util.ArrayList<>();
        for (int i = 0; i < accounts.size(); i++) {
            try {
                accountIds.add(Long.parseLong(accounts.get(i)));
            } catch (NumberFormatException e) {
                throw ApiError.value("AccountIds." + i, "`AccountIds." + i + "` must be an account's numeric id, got '" + Params.clip(accounts.get(i)) + "'.");
            }
        }
        control.snapshotShares().modify(caller, ids, accountIds, permission.equals("SHARE"));
        return new CbsActions.Empty();
    }

    Object describeSharePermission(Caller caller, Params p) {
        String id = p.id("SnapshotId", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        p.end();
        Region region = control.region();
        return new SharesResult(control.snapshotShares().of(caller, id).stream()
                .map(s -> new ShareView(Long.toString(s.accountId()), Listing.cbsTime(s.since(), region.timeZone()))).toList());
    }

    // ---- Cairn's own: space and repository maintenance ----

    Object describeSnapshotSpace(Caller caller, Params p) {
        List<String> ids = p.ids("SnapshotIds", SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotIds"));
        p.end();
        return new SpaceResult(snapshots.space(caller, ids).stream()
                .map(s -> new SpaceView(s.snapshotId(), s.logicalBytes(), s.incrementalBytes(), s.exclusiveBytes())).toList());
    }

    Object verifyRepository(Caller caller, Params p) {
        long percent = p.integer("SamplePercent", 1, 100).orElse(100L);
        p.end();
        double sample = percent / 100.0;
        VerifyReport r = control.repository().verify(caller, sample);
        return new VerifyResult(r.ok(), r.manifests(), r.pages(), r.chunks(), r.chunksRead(), r.bytesRead(), r.unreferencedChunks(),
                r.duration().toMillis(), r.problems().stream().map(x -> new ProblemView(x.key().toString(), x.kind().name(), x.detail())).toList());
    }

    Object collectGarbage(Caller caller, Params p) {
        long grace = p.integer("GraceSeconds", 0, 365L * 86400).orElse(3600L);
        p.end();
        RepositoryMaintenance.GcReport r = control.repository().collectGarbage(caller, Duration.ofSeconds(grace));
        return new GcResult(r.orphanManifestsDeleted(), r.chunksDeleted(), r.bytesDeleted(), r.keptYoung());
    }

    Object describeRepository(Caller caller, Params p) {
        p.end();
        RepositoryMaintenance.RepoStats s = control.repository().stats(caller);
        return new RepositoryResult(s.manifests(), s.liveManifests(), s.snapshots(), s.storedBytes(), s.blockSize());
    }

    Object rebuildCatalog(Caller caller, Params p) {
        p.end();
        var r = control.repository().rebuildCatalog(caller);
        return new RebuildResult(r.snapshotIds(), r.accounts().stream()
                .map(c -> new CairnActions.CreateAccountResult(Long.toString(c.accountId()), c.secretId(), c.secretKey())).toList());
    }

    // ---- helpers ----

    /** Tencent's ISO-8601 ({@code 2022-01-08T09:47:55+00:00}) or {@code YYYY-MM-DD HH:MM:SS} in the region's zone. */
    private Instant time(String field, String s) {
        try {
            return OffsetDateTime.parse(s).toInstant();
        } catch (DateTimeParseException iso) {
            try {
                return LocalDateTime.parse(s, Listing.CBS_TIME).atZone(control.region().timeZone()).toInstant();
            } catch (DateTimeParseException e) {
                throw new ApiError("InvalidParameterValue", "`" + field + "` must be ISO-8601 like 2026-12-01T09:00:00+08:00, got '"
                        + Params.clip(s) + "'.");
            }
        }
    }

    private static String iso(Instant t, Region region) {
        return OffsetDateTime.ofInstant(t, region.timeZone()).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    }
}
