package dev.cairn.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Disk;
import dev.cairn.control.DiskType;
import dev.cairn.control.Image;
import dev.cairn.control.Instance;
import dev.cairn.control.InstanceTypes;
import dev.cairn.control.ListQuery;
import dev.cairn.control.Page;
import dev.cairn.control.Region;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The CVM subset (reference §5): regions and zones, images, and instances as attachment targets. Each
 * handler reads and checks its parameters, calls one {@link CloudControl} method and shapes the answer
 * with Tencent's field names. Thread-safe.
 */
final class CvmActions {
    static final Pattern IMAGE_ID = Pattern.compile("img-[a-z0-9]{8}");
    private static final String INSTANCE_MALFORMED = "InvalidInstanceId.Malformed";
    private static final List<String> INSTANCE_FILTERS = List.of("zone", "project-id", "instance-id", "instance-name",
            "instance-charge-type", "instance-state", "uuid", "image-id", "creation-start-time", "creation-end-time", "host-id",
            "dedicated-cluster-id", "vpc-id", "subnet-id", "security-group-id", "private-ip-address", "public-ip-address",
            "ipv6-address", "tag-key", "tag-value", "tag:<key>");
    private static final List<String> IMAGE_FILTERS = List.of("image-id", "image-type", "image-name", "platform", "tag-key",
            "tag-value", "tag:<key>", "dedicated-cluster-id", "cdc-cache-status");
    private static final String NOT_A_VM = "Cairn instances are attachment targets for disks, not virtual machines";

    private final CloudControl control;

    CvmActions(CloudControl control) {
        this.control = control;
    }

    // ---- wire shapes ----

    record ZoneInfo(String zone, String zoneName, String zoneId, String zoneState) {}

    record DescribeZonesResult(long totalCount, List<ZoneInfo> zoneSet) {}

    record RegionInfo(String region, String regionName, String regionState) {}

    record DescribeRegionsResult(long totalCount, List<RegionInfo> regionSet) {}

    record Placement(String zone, long projectId, List<String> hostIds, String hostId) {}

    record SystemDisk(String diskType, String diskId, long diskSize, String cdcId, String diskName) {}

    record DataDisk(long diskSize, String diskType, String diskId, boolean deleteWithInstance, String snapshotId,
                    boolean encrypt, String kmsKeyId, Long throughputPerformance, String cdcId, boolean burstPerformance,
                    String diskName) {}

    record InstanceView(Placement placement, String instanceId, String instanceType, @JsonProperty("CPU") long cpu, long memory,
                        String restrictState, String instanceName, String instanceChargeType, SystemDisk systemDisk,
                        List<DataDisk> dataDisks, List<String> privateIpAddresses, List<String> publicIpAddresses,
                        Object internetAccessible, Object virtualPrivateCloud, String imageId, String renewFlag,
                        String createdTime, String expiredTime, String osName, List<String> securityGroupIds,
                        Object loginSettings, String instanceState, List<CbsActions.Tag> tags, String stopChargingMode,
                        String uuid, String latestOperation, String latestOperationState, String latestOperationRequestId,
                        String disasterRecoverGroupId, @JsonProperty("IPv6Addresses") List<String> ipv6Addresses,
                        String camRoleName, String hpcClusterId, List<String> rdmaIpAddresses, String dedicatedClusterId,
                        String isolatedSource, @JsonProperty("GPUInfo") Object gpuInfo, String licenseType,
                        boolean disableApiTermination, String defaultLoginUser, long defaultLoginPort,
                        String latestOperationErrorMsg, @JsonProperty("PublicIPv6Addresses") List<String> publicIpv6Addresses) {}

    record DescribeInstancesResult(long totalCount, List<InstanceView> instanceSet) {}

    record RunInstancesResult(List<String> instanceIdSet) {}

    record ImageView(String imageId, String osName, String imageType, String createdTime, String imageName,
                     String imageDescription, long imageSize, String architecture, String imageState, String platform,
                     String imageCreator, String imageSource, Long syncPercent, boolean isSupportCloudinit,
                     List<Object> snapshotSet, List<CbsActions.Tag> tags, String licenseType, String imageFamily,
                     boolean imageDeprecated, String cdcCacheStatus) {}

    record DescribeImagesResult(List<ImageView> imageSet, long totalCount) {}

    // ---- regions, zones, images ----

    Object describeRegions(Caller caller, Params p) {
        p.end();
        Region r = control.region();
        return new DescribeRegionsResult(1, List.of(new RegionInfo(r.name(), r.displayName(), "AVAILABLE")));
    }

    Object describeZones(Caller caller, Params p) {
        p.end();
        List<ZoneInfo> zones = control.region().zones().stream()
                .map(z -> new ZoneInfo(z.zone(), z.zoneName(), z.zoneId(), z.available() ? "AVAILABLE" : "UNAVAILABLE")).toList();
        return new DescribeZonesResult(zones.size(), zones);
    }

    Object describeImages(Caller caller, Params p) {
        List<String> ids = p.ids("ImageIds", IMAGE_ID, "InvalidImageId.Malformed").orElse(List.of());
        List<Listing.Filter> filters = Listing.filters(p, 10, 5);
        if (!ids.isEmpty() && !filters.isEmpty()) {
            throw new ApiError("InvalidParameter.InvalidParameterCoexistImageIdsFilters", "`ImageIds` and `Filters` cannot be used together.");
        }
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        p.string("InstanceType").ifPresent(t -> {
            if (InstanceTypes.shape(t).isEmpty()) throw new ApiError("InvalidInstanceType.Malformed", "`InstanceType` '" + Params.clip(t) + "' is malformed.");
        });
        p.end();
        Predicate<Image> filter = Listing.all(filters, f -> switch (f.name()) {
            case "image-id" -> Listing.anyOf(f, Image::imageId);
            case "image-type" -> Listing.anyOf(f, Image::imageType);
            case "image-name" -> i -> f.values().stream().anyMatch(v -> i.imageName().contains(v));
            case "platform" -> i -> f.values().stream().anyMatch(v -> i.platform().toLowerCase().contains(v.toLowerCase()));
            case "tag-key", "tag-value", "dedicated-cluster-id", "cdc-cache-status" -> i -> false;
            default -> {
                if (f.name().startsWith("tag:")) yield i -> false;
                throw Listing.invalidFilter(f, IMAGE_FILTERS);
            }
        });
        Page<Image> page = control.describeImages(caller, new ListQuery<>(ids, filter,
                Comparator.comparing(Image::createdAt).thenComparing(Image::imageId), offset, limit));
        return new DescribeImagesResult(page.items().stream().map(CvmActions::view).toList(), page.totalCount());
    }

    static ImageView view(Image i) {
        return new ImageView(i.imageId(), i.osName(), i.imageType(), Listing.cvmTime(i.createdAt()), i.imageName(),
                i.description(), i.imageSizeGib(), i.architecture(), i.imageState(), i.platform(), i.imageCreator(),
                i.imageSource(), null, false, List.of(), List.of(), "TencentCloud", "", false, "");
    }

    record CreateImageResult(String imageId) {}

    /** CreateImage: from an instance (its system disk and DataDiskIds) or from SnapshotIds (one of a system disk). */
    Object createImage(Caller caller, Params p) {
        String name = p.requiredString("ImageName");
        String instance = p.id("InstanceId", CbsActions.INSTANCE_ID, INSTANCE_MALFORMED).orElse(null);
        String description = p.string("ImageDescription").orElse(null);
        List<String> dataDisks = p.ids("DataDiskIds", CbsActions.DISK_ID, "InvalidParameterValue").orElse(List.of());
        List<String> snapshots = p.ids("SnapshotIds", SnapshotActions.SNAPSHOT_ID, "InvalidParameterValue.SnapshotIdMalformed").orElse(List.of());
        boolean dryRun = p.bool("DryRun").orElse(false);
        p.accept("ForcePoweroff", "Sysprep", "ImageFamily"); // Cairn snapshots a running instance's disks at one barrier: no power-off needed
        p.unsupported("tags are not stored by Cairn", "TagSpecification");
        p.end();
        return new CreateImageResult(control.images().create(caller, name, description, instance, dataDisks, snapshots, dryRun));
    }

    /** DeleteImages: the caller's images; DeleteBindedSnap deletes their snapshots too. */
    Object deleteImages(Caller caller, Params p) {
        List<String> ids = p.ids("ImageIds", IMAGE_ID, "InvalidImageId.Malformed").orElseThrow(() -> ApiError.missing("ImageIds"));
        if (ids.isEmpty()) throw ApiError.missing("ImageIds");
        boolean withSnapshots = p.bool("DeleteBindedSnap").orElse(false);
        boolean dryRun = p.bool("DryRun").orElse(false);
        p.end();
        if (ids.contains(Image.BLANK.imageId())) throw new ApiError("InvalidImageId.NotFound", "public images cannot be deleted");
        if (dryRun) throw new ApiError("DryRunOperation", "DeleteImages would have been tried (DryRun)");
        control.images().delete(caller, ids, withSnapshots);
        return new CbsActions.Empty();
    }

    record ImageShareView(String createdTime, String accountId) {}

    record ImageSharesResult(List<ImageShareView> sharePermissionSet) {}

    /** ModifyImageSharePermission: ImageId, AccountIds (≤ 500 per image), Permission SHARE or CANCEL. */
    Object modifyImageSharePermission(Caller caller, Params p) {
        String id = p.id("ImageId", IMAGE_ID, "InvalidImageId.Malformed").orElseThrow(() -> ApiError.missing("ImageId"));
        List<String> accounts = p.requiredStrings("AccountIds");
        String permission = p.oneOf("Permission", List.of("SHARE", "CANCEL")).orElseThrow(() -> ApiError.missing("Permission"));
        p.end();
        List<Long> ids = new java.util.ArrayList<>();
        for (int i = 0; i < accounts.size(); i++) {
            try {
                ids.add(Long.parseLong(accounts.get(i)));
            } catch (NumberFormatException e) {
                throw new ApiError("InvalidParameterValue.InvalidAppIdFormat", "`AccountIds." + i + "` must be an account's numeric id.");
            }
        }
        control.images().share(caller, id, ids, permission.equals("SHARE"));
        return new CbsActions.Empty();
    }

    Object describeImageSharePermission(Caller caller, Params p) {
        String id = p.id("ImageId", IMAGE_ID, "InvalidImageId.Malformed").orElseThrow(() -> ApiError.missing("ImageId"));
        p.end();
        return new ImageSharesResult(control.images().sharesOf(caller, id).stream()
                .map(s -> new ImageShareView(Listing.cvmTime(s.since()), Long.toString(s.accountId()))).toList());
    }

    // ---- instances ----

    Object runInstances(Caller caller, Params p) {
        String charge = p.oneOf("InstanceChargeType", List.of("PREPAID", "POSTPAID_BY_HOUR", "CDHPAID", "SPOTPAID", "CDCPAID"))
                .orElse("POSTPAID_BY_HOUR");
        if (!charge.equals("POSTPAID_BY_HOUR")) {
            throw ApiError.value("InstanceChargeType", "Cairn instances are POSTPAID_BY_HOUR only; " + charge + " is not offered.");
        }
        p.accept("InstanceChargePrepaid");
        Params placement = p.requiredObject("Placement");
        String zone = placement.requiredString("Zone");
        long projectId = placement.integer("ProjectId", 0, Long.MAX_VALUE).orElse(0L);
        placement.unsupported("dedicated hosts are not modelled", "HostIds", "HostId", "DedicatedResourcePackTenancy",
                "DedicatedResourcePackIds");
        placement.end();
        String type = p.string("InstanceType").orElse(InstanceTypes.DEFAULT);
        String imageId = p.id("ImageId", IMAGE_ID, "InvalidImageId.Malformed").orElseThrow(() -> ApiError.missing("ImageId"));
        CloudControl.DiskSpec system = p.object("SystemDisk").map(s -> {
            DiskType t = cloudDiskType(s, "DiskType");
            long size = s.integer("DiskSize").orElse(50L);
            String name = s.string("DiskName").orElse(null);
            s.accept("DiskId");
            s.unsupported("dedicated clusters are not modelled", "CdcId");
            s.unsupported("disk encryption is not supported", "Encrypt", "KmsKeyId");
            s.end();
            return new CloudControl.DiskSpec(t == null ? DiskType.CLOUD_PREMIUM : t, size, name, true);
        }).orElse(new CloudControl.DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true));
        List<CloudControl.DiskSpec> data = new ArrayList<>();
        p.objects("DataDisks", d -> {
            long size = d.requiredInteger("DiskSize");
            DiskType t = cloudDiskType(d, "DiskType");
            boolean deleteWith = d.bool("DeleteWithInstance").orElse(true);
            String name = d.string("DiskName").orElse(null);
            d.accept("DiskId");
            d.unsupported("snapshots are not served by this Cairn build yet", "SnapshotId");
            d.unsupported("disk encryption is not supported", "Encrypt", "KmsKeyId");
            d.unsupported("Cairn does not throttle disks", "ThroughputPerformance", "BurstPerformance");
            d.unsupported("dedicated clusters are not modelled", "CdcId");
            if (size != 0) data.add(new CloudControl.DiskSpec(t == null ? DiskType.CLOUD_PREMIUM : t, size, name, deleteWith));
            return null;
        });
        long count = p.integer("InstanceCount").orElse(1L);
        p.integer("MinCount").ifPresent(min -> {
            if (min < 1 || min > count) throw ApiError.value("MinCount", "must be 1.." + count + ".");
        });
        String name = p.string("InstanceName").orElse(null);
        String token = p.string("ClientToken").orElse(null);
        if (token != null && token.length() > 64) throw new ApiError("InvalidClientToken.TooLong", "`ClientToken` is longer than 64 characters.");
        boolean dryRun = p.bool("DryRun").orElse(false);
        p.accept("VirtualPrivateCloud", "InternetAccessible", "LoginSettings", "SecurityGroupIds", "EnhancedService", "HostName",
                "DisasterRecoverGroupIds", "UserData", "Metadata", "CpuTopology", "CamRoleName", "EnableJumboFrame");
        p.unsupported(NOT_A_VM, "ActionTimer", "InstanceMarketOptions", "LaunchTemplate", "DedicatedClusterId", "ChcIds",
                "HpcClusterId", "DisableApiTermination", "PartitionNumber", "NetworkInterfaces");
        p.unsupported("tags are not stored by Cairn", "TagSpecification");
        p.end();
        if (count > Integer.MAX_VALUE || count < Integer.MIN_VALUE) throw new ApiError("InvalidParameterValue.Range", "`InstanceCount` is out of range.");
        List<String> ids = control.runInstances(caller, new CloudControl.NewInstances(zone, projectId, imageId, type, name,
                (int) count, system, data, token, dryRun));
        return new RunInstancesResult(ids);
    }

    Object describeInstances(Caller caller, Params p) {
        List<String> ids = p.ids("InstanceIds", CbsActions.INSTANCE_ID, INSTANCE_MALFORMED).orElse(List.of());
        List<Listing.Filter> filters = Listing.filters(p, 10, 5);
        if (!ids.isEmpty() && !filters.isEmpty()) {
            throw new ApiError("InvalidParameter", "`InstanceIds` and `Filters` cannot be used together.");
        }
        if (ids.size() > 100) throw new ApiError("InvalidParameterValue.LimitExceeded", "at most 100 `InstanceIds`.");
        int offset = Listing.offset(p);
        int limit = Listing.limit(p);
        p.end();
        Predicate<Instance> filter = Listing.all(filters, this::instanceFilter);
        Comparator<Instance> newestFirst = Comparator.comparing(Instance::createdAt).thenComparing(Instance::instanceId).reversed();
        Page<Instance> page = control.describeInstances(caller, new ListQuery<>(ids, filter, newestFirst, offset, limit));
        return new DescribeInstancesResult(page.totalCount(), page.items().stream().map(CvmActions::view).toList());
    }

    private Predicate<Instance> instanceFilter(Listing.Filter f) {
        return switch (f.name()) {
            case "zone" -> Listing.anyOf(f, Instance::zone);
            case "project-id" -> Listing.anyOf(f, i -> Long.toString(i.projectId()));
            case "instance-id" -> Listing.anyOf(f, Instance::instanceId);
            case "instance-name" -> Listing.anyOf(f, Instance::name);
            case "instance-charge-type" -> Listing.anyOf(f, i -> "POSTPAID_BY_HOUR");
            case "instance-state" -> Listing.anyOf(f, i -> i.state().name());
            case "uuid" -> Listing.anyOf(f, Instance::uuid);
            case "image-id" -> Listing.anyOf(f, Instance::imageId);
            case "creation-start-time" -> {
                Instant t = Listing.cvmFilterTime(f, f.values().getFirst());
                yield i -> !i.createdAt().isBefore(t);
            }
            case "creation-end-time" -> {
                Instant t = Listing.cvmFilterTime(f, f.values().getFirst());
                yield i -> !i.createdAt().isAfter(t);
            }
            // Not modelled by Cairn (no hosts, networks, addresses or tags): understood, match nothing.
            case "host-id", "dedicated-cluster-id", "vpc-id", "subnet-id", "security-group-id", "private-ip-address",
                 "public-ip-address", "ipv6-address", "tag-key", "tag-value" -> i -> false;
            default -> {
                if (f.name().startsWith("tag:")) yield i -> false;
                throw Listing.invalidFilter(f, INSTANCE_FILTERS);
            }
        };
    }

    static InstanceView view(Instance i) {
        var shape = InstanceTypes.shape(i.instanceType()).orElse(new InstanceTypes.Shape(0, 0));
        SystemDisk sys = i.systemDisk().map(d -> new SystemDisk(d.diskType().name(), d.diskId(), d.sizeGib(), null, d.name()))
                .orElse(null);
        List<DataDisk> data = i.dataDisks().stream().map(CvmActions::dataDisk).toList();
        return new InstanceView(new Placement(i.zone(), i.projectId(), null, null), i.instanceId(), i.instanceType(), shape.cpu(),
                shape.memoryGib(), "NORMAL", i.name(), "POSTPAID_BY_HOUR", sys, data, List.of(), List.of(), null, null,
                i.imageId(), null, Listing.cvmTime(i.createdAt()), null, Image.BLANK.imageId().equals(i.imageId())
                        ? Image.BLANK.osName() : "", List.of(), null, i.state().name(), List.of(), "NOT_APPLICABLE", i.uuid(),
                i.latestOperation(), i.latestOperationState(), i.latestOperationRequestId(), "", null, "", "", null, "",
                "NOTISOLATED", null, "TencentCloud", false, "root", 22, "", null);
    }

    private static DataDisk dataDisk(Disk d) {
        return new DataDisk(d.sizeGib(), d.diskType().name(), d.diskId(), d.deleteWithInstance(), null, false, null, 0L, null,
                false, d.name());
    }

    Object startInstances(Caller caller, Params p) {
        List<String> ids = instanceIds(p);
        p.end();
        control.startInstances(caller, ids);
        return new CbsActions.Empty();
    }

    Object stopInstances(Caller caller, Params p) {
        List<String> ids = instanceIds(p);
        boolean force = p.bool("ForceStop").orElse(false);
        p.oneOf("StopType", List.of("SOFT", "HARD", "SOFT_FIRST")).ifPresent(t -> {
            if (force) throw new ApiError("InvalidParameterCombination", "`ForceStop` and `StopType` cannot be used together.");
        });
        p.oneOf("StoppedMode", List.of("KEEP_CHARGING", "STOP_CHARGING"));
        p.end();
        control.stopInstances(caller, ids);
        return new CbsActions.Empty();
    }

    Object rebootInstances(Caller caller, Params p) {
        List<String> ids = instanceIds(p);
        boolean force = p.bool("ForceReboot").orElse(false);
        p.oneOf("StopType", List.of("SOFT", "HARD", "SOFT_FIRST")).ifPresent(t -> {
            if (force) throw new ApiError("InvalidParameterCombination", "`ForceReboot` and `StopType` cannot be used together.");
        });
        p.end();
        control.rebootInstances(caller, ids);
        return new CbsActions.Empty();
    }

    Object terminateInstances(Caller caller, Params p) {
        List<String> ids = instanceIds(p);
        p.bool("ReleaseAddress"); // no addresses and no prepaid disks in Cairn: either value has the same effect

        p.bool("ReleasePrepaidDataDisks");
        p.end();
        control.terminateInstances(caller, ids);
        return new CbsActions.Empty();
    }

    private static List<String> instanceIds(Params p) {
        List<String> ids = p.ids("InstanceIds", CbsActions.INSTANCE_ID, INSTANCE_MALFORMED).orElseThrow(() -> ApiError.missing("InstanceIds"));
        if (ids.isEmpty()) throw ApiError.missing("InstanceIds");
        return ids;
    }

    /** A cloud disk type for RunInstances; Tencent's LOCAL_* types exist there but Cairn has no local disks. */
    private static DiskType cloudDiskType(Params p, String field) {
        var s = p.string(field);
        if (s.isEmpty()) return null;
        if (s.get().startsWith("LOCAL_")) {
            throw ApiError.value(p.path(field), "Cairn has no local disks; use a CLOUD_* type (default CLOUD_PREMIUM).");
        }
        return CbsActions.diskType(p, field, false);
    }

    /** Ids of the caller's instances named one of {@code names} (for DescribeDisks' instance-name filter). */
    static Set<String> instanceIdsNamed(CloudControl control, Caller caller, List<String> names) {
        Set<String> wanted = new HashSet<>(names);
        Set<String> out = new HashSet<>();
        for (Instance i : control.describeInstances(caller, ListQuery.all(Comparator.comparing(Instance::instanceId))).items()) {
            if (wanted.contains(i.name())) out.add(i.instanceId());
        }
        return out;
    }
}
