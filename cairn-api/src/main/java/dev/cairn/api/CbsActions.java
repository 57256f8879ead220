package dev.cairn.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Disk;
import dev.cairn.control.DiskType;
import dev.cairn.control.DiskUsage;
import dev.cairn.control.Limits;
import dev.cairn.control.ListQuery;
import dev.cairn.control.Page;
import dev.cairn.control.Region;
import dev.cairn.control.SnapshotService;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The CBS disk actions (reference §2.1, §2.5): each handler reads and checks its parameters, calls one
 * {@link CloudControl} method and shapes the answer with Tencent's field names. Stateless apart from
 * the control plane it calls; thread-safe.
 */
final class CbsActions {
    static final Pattern DISK_ID = Pattern.compile("disk-[a-z0-9]{8}");
    static final Pattern INSTANCE_ID = Pattern.compile("ins-[a-z0-9]{8}");
    private static final List<String> DISK_TYPES = Arrays.stream(DiskType.values()).map(Enum::name).toList();
    private static final List<String> DISK_FILTERS = List.of("disk-id", "disk-name", "disk-usage", "disk-charge-type", "portable",
            "project-id", "disk-type", "disk-state", "instance-id", "zone", "instance-name", "instance-ip-address", "tag-key",
            "tag-value", "dedicated-cluster-id", "cluster-group-id", "tag:<key>");

    private final CloudControl control;

    CbsActions(CloudControl control) {
        this.control = control;
    }

    // ---- wire shapes (Tencent's names; see reference §3) ----

    record Placement(String zone, long projectId, String cageId, String cdcId, String cdcName, String dedicatedClusterId) {}

    record Tag(String key, String value) {}

    record DiskView(String diskId, String diskName, String diskType, String diskUsage, long diskSize, String diskState,
                    boolean attached, String instanceId, List<String> instanceIdList, boolean portable, String diskChargeType,
                    Placement placement, String createTime, String deadlineTime, boolean snapshotAbility, long snapshotCount,
                    long snapshotSize, boolean rollbacking, long rollbackPercent, boolean encrypt, boolean shareable,
                    boolean deleteWithInstance, long deleteSnapshot, String renewFlag, List<Tag> tags, boolean backupDisk,
                    boolean migrating, long migratePercent, boolean autoRenewFlagError, boolean deadlineError,
                    long returnFailCode, long throughputPerformance, long diskBackupCount, long diskBackupQuota,
                    String instanceType, String attachMode, List<String> autoSnapshotPolicyIds, Boolean isReturnable,
                    Long differDaysOfDeadline, String lastAttachInsId, String errorPrompt, boolean burstPerformance,
                    String encryptType, String kmsKeyId, Integer flattenPercent) {}

    record CreateDisksResult(List<String> diskIdSet) {}

    record DescribeDisksResult(long totalCount, List<DiskView> diskSet) {}

    record AttachDetail(String instanceId, long attachedDiskCount, long maxAttachCount) {}

    record InstancesDiskNumResult(List<AttachDetail> attachDetail) {}

    record DiskConfig(boolean available, String diskChargeType, String zone, String instanceFamily, String diskType,
                      long stepSize, List<Long> extraPerformanceRange, String deviceClass, String diskUsage,
                      long minDiskSize, long maxDiskSize, @JsonProperty("Price") Object price) {}

    record DiskConfigQuotaResult(List<DiskConfig> diskConfigSet) {}

    /** Actions that answer only a RequestId. */
    record Empty() {}

    // ---- actions ----

    Object createDisks(Caller caller, Params p) {
        Params placement = p.requiredObject("Placement");
        String zone = placement.requiredString("Zone");
        long projectId = placement.integer("ProjectId", 0, Long.MAX_VALUE).orElse(0L);
        placement.unsupported("dedicated clusters are not modelled", "CageId", "CdcId", "DedicatedClusterId");
        placement.end();
        chargeType(p, true);
        DiskType type = diskType(p, "DiskType", true);
        String name = p.string("DiskName").orElse(null);
        String snapshotId = p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElse(null);
        p.unsupported("tags are not stored by Cairn", "Tags");
        p.unsupported("Cairn does not throttle disks", "ThroughputPerformance", "BurstPerformance");
        p.unsupported("shared (multi-attach) disks are not supported", "Shareable");
        p.unsupported("disk encryption is not supported", "Encrypt", "KmsKeyId", "EncryptType");
        p.unsupported("backup points are not supported", "DiskBackupQuota");
        p.accept("DiskChargePrepaid"); // only meaningful with PREPAID, which chargeType() refuses
        long count = p.integer("DiskCount").orElse(1L);
        long size = p.integer("DiskSize").orElseGet(() -> {
            if (snapshotId == null) throw ApiError.missing("DiskSize");
            return 0L; // the snapshot's size
        });
        String token = clientToken(p);
        long deleteSnapshot = p.integer("DeleteSnapshot", 0, 1).orElse(0L);
        String attachTo = p.object("AutoMountConfiguration").map(a -> {
            List<String> ids = a.ids("InstanceId", INSTANCE_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing(a.path("InstanceId")));
            if (ids.size() != 1) throw ApiError.value(a.path("InstanceId"), "give exactly one instance.");
            a.unsupported("Cairn attaches the disk but cannot format or mount it inside an instance", "MountPoint", "FileSystemType");
            a.end();
            return ids.getFirst();
        }).orElse(null);
        p.end();
        if (count < 1 || count > Integer.MAX_VALUE) throw ApiError.value("DiskCount", "must be >= 1, got " + count + ".");
        List<String> ids = control.createDisks(caller, new CloudControl.NewDisks(zone, projectId, type, size, name, (int) count,
                attachTo, false, deleteSnapshot, token, snapshotId));
        return new CreateDisksResult(ids);
    }

    Object describeDisks(Caller caller, Params p) {
        List<String> ids = p.ids("DiskIds", DISK_ID, "InvalidParameterValue").orElse(List.of());
        List<Listing.Filter> filters = Listing.filters(p, 10, 100);
        if (!ids.isEmpty() && !filters.isEmpty()) {
            throw new ApiError("InvalidParameter", "`DiskIds` and `Filters` cannot be used together.");
        }
        if (ids.size() > Listing.MAX_LIMIT) throw new ApiError("InvalidParameterValue.LimitExceeded", "at most 100 `DiskIds`.");
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        String orderField = p.oneOf("OrderField", List.of("CREATE_TIME", "DEADLINE")).orElse("CREATE_TIME");
        boolean asc = p.oneOf("Order", List.of("ASC", "DESC")).orElse("DESC").equals("ASC");
        boolean withPolicies = p.bool("ReturnBindAutoSnapshotPolicy").orElse(false);
        p.end();
        Predicate<Disk> filter = Listing.all(filters, f -> diskFilter(caller, f));
        // DEADLINE: postpaid disks have none, so both orders fall back to creation time.
        Comparator<Disk> order = Comparator.comparing(Disk::createdAt).thenComparing(Disk::diskId);
        if (!asc) order = order.reversed();
        Page<Disk> page = control.describeDisks(caller, new ListQuery<>(ids, filter, order, offset, limit));
        Region region = control.region();
        Map<String, Integer> flattening = control.rollbacks().flattenProgress(caller);
        Map<String, SnapshotService.DiskSnapshots> snapshots = control.snapshots().snapshotsPerDisk(caller);
        Map<String, String> bound = withPolicies ? control.policies().bindings(caller) : Map.of();
        List<DiskView> views = page.items().stream().map(d -> view(d, region, withPolicies ? policyIds(bound, d) : null, flattening.get(d.diskId()),
                snapshots.getOrDefault(d.diskId(), new SnapshotService.DiskSnapshots(0, 0)))).toList();
        return new DescribeDisksResult(page.totalCount(), views);
    }

    private Predicate<Disk> diskFilter(Caller caller, Listing.Filter f) {
        return switch (f.name()) {
            case "disk-id" -> Listing.anyOf(f, Disk::diskId);
            case "disk-name" -> Listing.anyOf(f, Disk::name);
            case "disk-usage" -> Listing.anyOf(f, d -> d.diskUsage().name());
            case "disk-charge-type" -> Listing.anyOf(f, Disk::chargeType);
            case "portable" -> {
                Predicate<Boolean> b = Listing.booleanValues(f);
                yield d -> b.test(d.portable());
            }
            case "project-id" -> Listing.anyOf(f, d -> Long.toString(d.projectId()));
            case "disk-type" -> Listing.anyOf(f, d -> d.diskType().name());
            case "disk-state" -> Listing.anyOf(f, d -> d.state().name());
            case "instance-id" -> Listing.anyOf(f, d -> d.instanceId() == null ? "" : d.instanceId());
            case "zone" -> Listing.anyOf(f, Disk::zone);
            case "instance-name" -> {
                Set<String> instances = CvmActions.instanceIdsNamed(control, caller, f.values());
                yield d -> d.instanceId() != null && instances.contains(d.instanceId());
            }
            // Cairn's instances have no IP addresses, its disks no tags and no dedicated clusters: these
            // filters are understood and match nothing.
            case "instance-ip-address", "tag-key", "tag-value", "dedicated-cluster-id", "cluster-group-id" -> d -> false;
            default -> {
                if (f.name().startsWith("tag:")) yield d -> false;
                throw Listing.invalidFilter(f, DISK_FILTERS);
            }
        };
    }

    /**
     * Tencent's Disk, plus Cairn's {@code FlattenPercent}: how much of its snapshot a rolled-back or
     * cloned disk has copied in (null once it no longer depends on the snapshot).
     */
    private static List<String> policyIds(Map<String, String> bound, Disk d) {
        String policy = bound.get(d.diskId());
        return policy == null ? List.of() : List.of(policy);
    }

    /** {@code policyIds}: the disk's auto-snapshot policies, or null when the caller did not ask (ReturnBindAutoSnapshotPolicy). */
    static DiskView view(Disk d, Region region, List<String> policyIds, Integer flattenPercent, SnapshotService.DiskSnapshots snapshots) {
        return new DiskView(d.diskId(), d.name(), d.diskType().name(), d.diskUsage().name(), d.sizeGib(), d.state().name(),
                d.attached(), d.instanceId() == null ? "" : d.instanceId(), List.of(), d.portable(), d.chargeType(),
                new Placement(d.zone(), d.projectId(), null, null, null, ""), Listing.cbsTime(d.createdAt(), region.timeZone()),
                "", true, snapshots.count(), (snapshots.storedBytes() + (1 << 20) - 1) >> 20, d.state() == dev.cairn.control.DiskState.ROLLBACKING, d.state() == dev.cairn.control.DiskState.ROLLBACKING ? 0 : 100,
                false, false, d.deleteWithInstance(), d.deleteSnapshot(), "", List.of(), false,
                false, 0, false, false, 10, 0, 0, 0, "CVM", "", policyIds, false, null, null, "",
                false, "", "", flattenPercent);
    }

    Object attachDisks(Caller caller, Params p) {
        String instanceId = p.id("InstanceId", INSTANCE_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("InstanceId"));
        List<String> ids = requiredDiskIds(p);
        Boolean deleteWithInstance = p.bool("DeleteWithInstance").orElse(null);
        p.unsupported("PF/VF attach modes are for bare-metal instances", "AttachMode");
        p.end();
        control.attachDisks(caller, instanceId, ids, deleteWithInstance);
        return new Empty();
    }

    Object detachDisks(Caller caller, Params p) {
        List<String> ids = requiredDiskIds(p);
        String instanceId = p.id("InstanceId", INSTANCE_ID, "InvalidParameterValue").orElse(null);
        p.end();
        control.detachDisks(caller, ids, instanceId);
        return new Empty();
    }

    Object resizeDisk(Caller caller, Params p) {
        String diskId = p.id("DiskId", DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskId"));
        long size = p.requiredInteger("DiskSize");
        p.end();
        control.resizeDisk(caller, diskId, size);
        return new Empty();
    }

    Object modifyDiskAttributes(Caller caller, Params p) {
        List<String> ids = requiredDiskIds(p);
        String name = p.string("DiskName").orElse(null);
        Boolean portable = p.bool("Portable").orElse(null);
        Long projectId = p.integer("ProjectId").orElse(null);
        Boolean deleteWithInstance = p.bool("DeleteWithInstance").orElse(null);
        DiskType type = diskType(p, "DiskType", false);
        p.unsupported("Cairn does not throttle disks", "BurstPerformanceOperation");
        p.end();
        if (name == null && portable == null && projectId == null && deleteWithInstance == null && type == null) {
            throw new ApiError("MissingParameter",
                    "Give at least one of `DiskName`, `Portable`, `ProjectId`, `DeleteWithInstance`, `DiskType`.");
        }
        control.modifyDiskAttributes(caller, ids, new CloudControl.DiskChanges(name, portable, deleteWithInstance, projectId, type));
        return new Empty();
    }

    Object terminateDisks(Caller caller, Params p) {
        List<String> ids = requiredDiskIds(p);
        boolean deleteSnapshots = p.integer("DeleteSnapshot", 0, 1).orElse(0L) == 1;
        p.end();
        control.terminateDisks(caller, ids, deleteSnapshots);
        return new Empty();
    }

    Object describeInstancesDiskNum(Caller caller, Params p) {
        List<String> ids = p.ids("InstanceIds", INSTANCE_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("InstanceIds"));
        if (ids.isEmpty()) throw ApiError.missing("InstanceIds");
        p.end();
        return new InstancesDiskNumResult(control.instancesDiskNum(caller, ids).stream()
                .map(c -> new AttachDetail(c.instanceId(), c.attached(), c.max())).toList());
    }

    Object describeDiskConfigQuota(Caller caller, Params p) {
        String inquiry = p.oneOf("InquiryType", List.of("INQUIRY_CBS_CONFIG", "INQUIRY_CVM_CONFIG"))
                .orElseThrow(() -> ApiError.missing("InquiryType"));
        List<String> charge = p.oneOf("DiskChargeType", List.of("PREPAID", "POSTPAID_BY_HOUR", "CDCPAID")).map(List::of).orElse(null);
        List<String> families = p.strings("InstanceFamilies").orElse(List.of());
        List<String> types = p.strings("DiskTypes").orElse(null);
        List<String> zones = p.strings("Zones").orElse(null);
        String usage = p.oneOf("DiskUsage", List.of("SYSTEM_DISK", "DATA_DISK")).orElse(null);
        p.integer("CPU");
        p.integer("Memory");
        p.unsupported("dedicated clusters are not modelled", "DedicatedClusterId");
        p.end();
        if (types != null) {
            for (String t : types) if (!DISK_TYPES.contains(t)) throw ApiError.value("DiskTypes", "'" + Params.clip(t) + "' is not one of " + DISK_TYPES + ".");
        }
        boolean cvm = inquiry.equals("INQUIRY_CVM_CONFIG");
        List<String> familyList = cvm ? (families.isEmpty() ? List.of("S5") : families) : java.util.Collections.singletonList(null);
        Limits limits = control.limits();
        List<DiskConfig> out = new ArrayList<>();
        boolean postpaidWanted = charge == null || charge.contains("POSTPAID_BY_HOUR");
        for (Region.Zone z : control.region().zones()) {
            if (zones != null && !zones.contains(z.zone())) continue;
            for (String family : familyList) {
                for (DiskUsage u : DiskUsage.values()) {
                    if (usage != null && !usage.equals(u.name())) continue;
                    if (!cvm && usage == null && u == DiskUsage.SYSTEM_DISK) continue; // CBS inquiries list data disks
                    for (DiskType t : DiskType.values()) {
                        if (types != null && !types.contains(t.name())) continue;
                        Limits.SizeRule rule = u == DiskUsage.SYSTEM_DISK ? limits.systemDiskSize() : limits.dataDiskSize(t);
                        out.add(new DiskConfig(postpaidWanted && z.available(), "POSTPAID_BY_HOUR", z.zone(), family, t.name(),
                                rule.step(), null, null, u.name(), rule.min(), rule.max(), null));
                    }
                }
            }
        }
        return new DiskConfigQuotaResult(out);
    }

    record Price(String chargeUnit, double unitPrice, String unitPriceHigh, double unitPriceDiscount, String unitPriceDiscountHigh) {}

    record PriceResult(Price diskPrice) {}

    /**
     * InquiryPriceCreateDisks: Cairn bills stored snapshot data, not disks (they are POSTPAID_BY_HOUR and
     * free), so a valid request is answered with an hourly price of 0; the request is checked as
     * CreateDisks checks it (type, size range and step, count).
     */
    Object inquiryPriceCreateDisks(Caller caller, Params p) {
        chargeType(p, true);
        DiskType type = diskType(p, "DiskType", true);
        long size = p.integer("DiskSize").orElseThrow(() -> ApiError.missing("DiskSize"));
        long count = p.integer("DiskCount").orElse(1L);
        p.integer("ProjectId", 0, Long.MAX_VALUE);
        p.unsupported("Cairn does not throttle disks", "ThroughputPerformance");
        p.unsupported("backup points are not supported", "DiskBackupQuota");
        p.accept("DiskChargePrepaid"); // only meaningful with PREPAID, which chargeType() refuses
        p.end();
        Limits.SizeRule rule = control.limits().dataDiskSize(type);
        if (size < rule.min() || size > rule.max() || size % rule.step() != 0) {
            throw ApiError.value("DiskSize", type + " disks are " + rule.min() + ".." + rule.max() + " GiB in steps of " + rule.step()
                    + "; got " + size + ".");
        }
        if (count < 1 || count > control.limits().disksPerCreate()) {
            throw ApiError.value("DiskCount", "must be 1.." + control.limits().disksPerCreate() + ", got " + count + ".");
        }
        return new PriceResult(new Price("HOUR", 0.0, "0", 0.0, "0"));
    }

    // ---- shared parameter rules ----

    private static List<String> requiredDiskIds(Params p) {
        List<String> ids = p.ids("DiskIds", DISK_ID, "InvalidParameterValue").orElseThrow(() -> ApiError.missing("DiskIds"));
        if (ids.isEmpty()) throw ApiError.missing("DiskIds");
        return ids;
    }

    static DiskType diskType(Params p, String field, boolean required) {
        var s = p.string(field);
        if (s.isEmpty()) {
            if (required) throw ApiError.missing(p.path(field));
            return null;
        }
        return DiskType.parse(s.get()).orElseThrow(() -> ApiError.value(p.path(field), "'" + Params.clip(s.get())
                + "' is not one of " + DISK_TYPES + "."));
    }

    /** Cairn bills snapshot storage only; disks and instances are POSTPAID_BY_HOUR. */
    static void chargeType(Params p, boolean required) {
        String field = p.path("DiskChargeType");
        var s = p.string("DiskChargeType");
        if (s.isEmpty()) {
            if (required) throw ApiError.missing(field);
            return;
        }
        if (s.get().equals("POSTPAID_BY_HOUR")) return;
        if (s.get().equals("PREPAID") || s.get().equals("CDCPAID")) {
            throw ApiError.value(field, "Cairn disks are POSTPAID_BY_HOUR only; " + s.get() + " is not offered.");
        }
        throw ApiError.value(field, "'" + Params.clip(s.get()) + "' is not one of [PREPAID, POSTPAID_BY_HOUR, CDCPAID].");
    }

    static String clientToken(Params p) {
        String t = p.string("ClientToken").orElse(null);
        if (t != null && (t.length() > 64 || !t.chars().allMatch(c -> c >= 0x21 && c < 0x7f))) {
            throw new ApiError("InvalidParameter.InvalidClientToken", "`ClientToken` must be at most 64 printable ASCII characters.");
        }
        return t;
    }
}
