package dev.cairn.api;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.ApplySnapshotRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateSnapshotRequest;
import com.tencentcloudapi.cbs.v20170312.models.DeleteSnapshotsRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsRequest;
import com.tencentcloudapi.cbs.v20170312.models.Filter;
import com.tencentcloudapi.cbs.v20170312.models.GetSnapOverviewRequest;
import com.tencentcloudapi.cbs.v20170312.models.GetSnapOverviewResponse;
import com.tencentcloudapi.cbs.v20170312.models.InitializeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.ModifySnapshotAttributeRequest;
import com.tencentcloudapi.cbs.v20170312.models.Placement;
import com.tencentcloudapi.cbs.v20170312.models.Snapshot;
import com.tencentcloudapi.common.CommonClient;
import dev.cairn.control.Accounts;
import dev.cairn.volume.Volume;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The snapshot actions driven by the official Tencent SDK (cbs 3.1.667, and CommonClient for those the jar lacks). */
class SnapshotSdkTest {
    static ApiFixture api;
    static CbsClient cbs;
    static Accounts.Credentials bob;

    @BeforeAll
    static void start() throws Exception {
        api = new ApiFixture();
        cbs = api.cbs(api.admin);
        bob = api.control.accounts().createAccount(new dev.cairn.control.Caller(api.admin.accountId(), true, "t"), "bob");
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
    }

    static String newDisk(long sizeGib, String snapshotId) throws Exception {
        CreateDisksRequest req = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-1");
        req.setPlacement(pl);
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskType("CLOUD_PREMIUM");
        if (sizeGib > 0) req.setDiskSize(sizeGib);
        if (snapshotId != null) req.setSnapshotId(snapshotId);
        String id = cbs.CreateDisks(req).getDiskIdSet()[0];
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(id).getDiskState().equals("UNATTACHED"));
        return id;
    }

    static com.tencentcloudapi.cbs.v20170312.models.Disk disk(String id) throws Exception {
        DescribeDisksRequest req = new DescribeDisksRequest();
        req.setDiskIds(new String[] {id});
        return cbs.DescribeDisks(req).getDiskSet()[0];
    }

    static String snapshot(String diskId, String name) throws Exception {
        CreateSnapshotRequest req = new CreateSnapshotRequest();
        req.setDiskId(diskId);
        if (name != null) req.setSnapshotName(name);
        String id = cbs.CreateSnapshot(req).getSnapshotId();
        assertThat(id).matches("snap-[a-z0-9]{8}");
        await().atMost(Duration.ofSeconds(30)).until(() -> describe(id).getSnapshotState().equals("NORMAL"));
        return id;
    }

    static Snapshot describe(String id) throws Exception {
        DescribeSnapshotsRequest req = new DescribeSnapshotsRequest();
        req.setSnapshotIds(new String[] {id});
        return cbs.DescribeSnapshots(req).getSnapshotSet()[0];
    }

    static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void write(String disk, long offset, byte[] data) throws Exception {
        try (Volume v = api.volumes.open(disk)) {
            v.write(offset, ByteBuffer.wrap(data), true);
        }
    }

    static byte[] read(String disk, long offset, int n) throws Exception {
        try (Volume v = api.volumes.open(disk)) {
            ByteBuffer b = ByteBuffer.allocate(n);
            v.read(offset, b);
            return b.array();
        }
    }

    @Test
    void createDescribeModifyAndDelete() throws Exception {
        String disk = newDisk(10, null);
        write(disk, 0, bytes(1, 1 << 20));
        String s = snapshot(disk, "before upgrade");
        Snapshot got = describe(s);
        assertThat(got.getDiskId()).isEqualTo(disk);
        assertThat(got.getPercent()).isEqualTo(100);
        assertThat(got.getDiskSize()).isEqualTo(10);
        assertThat(got.getDiskUsage()).isEqualTo("DATA_DISK");
        assertThat(got.getIsPermanent()).isTrue();
        assertThat(got.getSnapshotType()).isEqualTo("PRIVATE_SNAPSHOT");
        assertThat(got.getCreateTime()).matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d");
        assertThat(got.getPlacement().getZone()).isEqualTo("ap-guangzhou-1");

        ModifySnapshotAttributeRequest mod = new ModifySnapshotAttributeRequest();
        mod.setSnapshotId(s);
        mod.setSnapshotName("renamed");
        mod.setIsPermanent(false);
        mod.setDeadline("2099-01-01T00:00:00+00:00");
        cbs.ModifySnapshotAttribute(mod);
        assertThat(describe(s).getSnapshotName()).isEqualTo("renamed");
        assertThat(describe(s).getIsPermanent()).isFalse();
        assertThat(describe(s).getDeadlineTime()).startsWith("2099-01-01");

        String s2 = snapshot(disk, "second");
        assertThat(disk(disk).getSnapshotCount()).isEqualTo(2);
        assertThat(disk(disk).getSnapshotSize()).as("MiB the two snapshots stored").isGreaterThanOrEqualTo(1);
        DescribeSnapshotsRequest byDisk = new DescribeSnapshotsRequest();
        Filter f = new Filter();
        f.setName("disk-id");
        f.setValues(new String[] {disk});
        byDisk.setFilters(new Filter[] {f});
        byDisk.setOrder("ASC");
        byDisk.setLimit(1L);
        var page = cbs.DescribeSnapshots(byDisk);
        assertThat(page.getTotalCount()).isEqualTo(2);
        assertThat(page.getSnapshotSet()).extracting(Snapshot::getSnapshotId).containsExactly(s);
        byDisk.setOffset(1L);
        assertThat(cbs.DescribeSnapshots(byDisk).getSnapshotSet()).extracting(Snapshot::getSnapshotId).containsExactly(s2);

        GetSnapOverviewResponse overview = cbs.GetSnapOverview(new GetSnapOverviewRequest());
        assertThat(overview.getTotalNums()).isGreaterThanOrEqualTo(2);
        assertThat(overview.getTotalSize()).isGreaterThan(0f);

        DeleteSnapshotsRequest del = new DeleteSnapshotsRequest();
        del.setSnapshotIds(new String[] {s, s2});
        cbs.DeleteSnapshots(del);
        assertCode("InvalidSnapshotId.NotFound", () -> describeMissing(s));
        assertCode("InvalidSnapshotId.NotFound", () -> cbs.DeleteSnapshots(del));
    }

    static void describeMissing(String id) throws Exception {
        ModifySnapshotAttributeRequest mod = new ModifySnapshotAttributeRequest();
        mod.setSnapshotId(id);
        mod.setSnapshotName("x");
        cbs.ModifySnapshotAttribute(mod);
    }

    @Test
    void rollbackCloneAndInitialize() throws Exception {
        String disk = newDisk(10, null);
        byte[] good = bytes(2, 1 << 20);
        write(disk, 4096, good);
        String s = snapshot(disk, null);
        write(disk, 4096, bytes(3, 1 << 20));

        ApplySnapshotRequest apply = new ApplySnapshotRequest();
        apply.setSnapshotId(s);
        apply.setDiskId(disk);
        cbs.ApplySnapshot(apply);
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(disk).getDiskState().equals("UNATTACHED"));
        assertThat(read(disk, 4096, good.length)).isEqualTo(good);

        String clone = newDisk(0, s);
        assertThat(disk(clone).getDiskSize()).isEqualTo(10);
        assertThat(read(clone, 4096, good.length)).isEqualTo(good);
        write(clone, 0, bytes(4, 4096));
        InitializeDisksRequest init = new InitializeDisksRequest();
        init.setDiskIds(new String[] {clone});
        cbs.InitializeDisks(init);
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(clone).getDiskState().equals("UNATTACHED"));
        assertThat(read(clone, 0, 4096 + good.length)).isEqualTo(concat(new byte[4096], good));

        ApplySnapshotRequest wrongDisk = new ApplySnapshotRequest();
        wrongDisk.setSnapshotId(s);
        wrongDisk.setDiskId(clone);
        assertCode("InvalidSnapshot.NotSupported", () -> cbs.ApplySnapshot(wrongDisk));
        CreateDisksRequest small = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-1");
        small.setPlacement(pl);
        small.setDiskChargeType("POSTPAID_BY_HOUR");
        small.setDiskType("CLOUD_BSSD");
        small.setDiskSize(5L);
        small.setSnapshotId(s);
        assertCode("InvalidParameter.DiskSizeNotMatch", () -> cbs.CreateDisks(small));
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Runs an instance with {@code dataDisks} 10 GiB data disks; returns its id. */
    static String runInstance(int dataDisks) throws Exception {
        var run = new com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest();
        var place = new com.tencentcloudapi.cvm.v20170312.models.Placement();
        place.setZone("ap-guangzhou-1");
        run.setPlacement(place);
        run.setImageId("img-blank001");
        run.setInstanceType("S5.MEDIUM4");
        var data = new com.tencentcloudapi.cvm.v20170312.models.DataDisk();
        data.setDiskType("CLOUD_PREMIUM");
        data.setDiskSize(10L);
        var disks = new com.tencentcloudapi.cvm.v20170312.models.DataDisk[dataDisks];
        Arrays.fill(disks, data);
        run.setDataDisks(disks);
        return api.cvm(api.admin).RunInstances(run).getInstanceIdSet()[0];
    }

    /** The query for an instance's data disks, once every one is attached. */
    static DescribeDisksRequest dataDisksOf(String instance) {
        DescribeDisksRequest q = new DescribeDisksRequest();
        Filter f = new Filter();
        f.setName("instance-id");
        f.setValues(new String[] {instance});
        Filter usage = new Filter();
        usage.setName("disk-usage");
        usage.setValues(new String[] {"DATA_DISK"});
        q.setFilters(new Filter[] {f, usage});
        await().atMost(Duration.ofSeconds(10)).until(() -> allAttached(q));
        return q;
    }

    static boolean allAttached(DescribeDisksRequest q) throws Exception {
        var set = cbs.DescribeDisks(q).getDiskSet();
        return set.length > 0 && Arrays.stream(set).allMatch(d -> d.getDiskState().equals("ATTACHED"));
    }

    @Test
    void rollingBackTheDiskOfARunningInstanceNeedsAutoStop() throws Exception {
        DescribeDisksRequest q = dataDisksOf(runInstance(1));
        String disk = cbs.DescribeDisks(q).getDiskSet()[0].getDiskId();
        String s = snapshot(disk, null);

        ApplySnapshotRequest apply = new ApplySnapshotRequest();
        apply.setSnapshotId(s);
        apply.setDiskId(disk);
        assertCode("UnsupportedOperation.InstanceNotStopped", () -> cbs.ApplySnapshot(apply));
        apply.setAutoStartInstance(true);
        assertCode("InvalidParameter", () -> cbs.ApplySnapshot(apply));
        apply.setAutoStopInstance(true);
        cbs.ApplySnapshot(apply);
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(disk).getDiskState().equals("ATTACHED"));
        await().atMost(Duration.ofSeconds(10)).until(() -> api.control.exportable(disk));

        // the wrong account sees nothing
        CbsClient other = api.cbs(bob);
        DescribeSnapshotsRequest all = new DescribeSnapshotsRequest();
        assertThat(other.DescribeSnapshots(all).getTotalCount()).isZero();
        assertCode("InvalidSnapshotId.NotFound", () -> other.ApplySnapshot(apply));
    }

    @Test
    void describeSnapshotsFiltersPagesAndOrders() throws Exception {
        String disk = newDisk(10, null);
        write(disk, 0, bytes(31, 4096));
        String tag = Long.toString(System.nanoTime(), 36);
        List<String> made = new ArrayList<>(); // oldest first
        for (String n : List.of("a", "b", "c")) {
            made.add(snapshot(disk, n + "-" + tag));
            Thread.sleep(5); // distinct creation times
        }
        assertThat(ids(query(null, null, null, filter("disk-id", disk)))).as("newest first by default").isEqualTo(made.reversed());
        assertThat(ids(query("ASC", null, null, filter("disk-id", disk)))).isEqualTo(made);
        var page = query("DESC", 1L, 1L, filter("disk-id", disk));
        assertThat(page.getTotalCount()).isEqualTo(3);
        assertThat(ids(page)).containsExactly(made.get(1));
        assertThat(ids(query(null, null, null, filter("disk-id", disk), filter("snapshot-name", "b-" + tag)))).containsExactly(made.get(1));
        assertThat(ids(query(null, null, null, filter("snapshot-id", made.get(2))))).containsExactly(made.get(2));
        for (Filter[] three : List.of(
                new Filter[] {filter("snapshot-state", "NORMAL")}, new Filter[] {filter("disk-usage", "DATA_DISK")},
                new Filter[] {filter("zone", "ap-guangzhou-1")}, new Filter[] {filter("project-id", "0")},
                new Filter[] {filter("encrypt", "FALSE")}, new Filter[] {filter("snapshot-type", "PRIVATE_SNAPSHOT")})) {
            Filter[] withDisk = Arrays.copyOf(three, 2);
            withDisk[1] = filter("disk-id", disk);
            assertThat(query(null, null, null, withDisk).getTotalCount()).as(three[0].getName()).isEqualTo(3);
        }
        for (Filter[] none : List.of(
                new Filter[] {filter("snapshot-state", "CREATING")}, new Filter[] {filter("disk-usage", "SYSTEM_DISK")},
                new Filter[] {filter("zone", "ap-guangzhou-2")}, new Filter[] {filter("encrypt", "TRUE")},
                new Filter[] {filter("snapshot-type", "SHARED_SNAPSHOT")})) {
            Filter[] withDisk = Arrays.copyOf(none, 2);
            withDisk[1] = filter("disk-id", disk);
            assertThat(query(null, null, null, withDisk).getTotalCount()).as(none[0].getName()).isZero();
        }
        // Cairn's ExclusiveBytes, refreshed in the background: the disk's last capture frees nothing; an older one its root
        CommonClient common = api.common(api.admin);
        String byIds = "{\"SnapshotIds\":[\"" + made.getFirst() + "\",\"" + made.getLast() + "\"],\"Order\":\"ASC\"}";
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            JsonNode set = TencentApi.JSON.readTree(common.call("DescribeSnapshots", byIds)).path("Response").path("SnapshotSet");
            return set.get(0).path("ExclusiveBytes").asLong(0) > 0 && set.get(1).path("ExclusiveBytes").isNumber();
        });
        JsonNode set = TencentApi.JSON.readTree(common.call("DescribeSnapshots", byIds)).path("Response").path("SnapshotSet");
        assertThat(set.get(1).path("ExclusiveBytes").asLong()).as("the disk's last capture").isZero();
        assertThat(set.get(0).path("ExclusiveBytes").asLong()).as("an unchanged older snapshot: its root").isLessThan(64 * 1024);

        DescribeSnapshotsRequest both = new DescribeSnapshotsRequest();
        both.setSnapshotIds(new String[] {made.getFirst()});
        both.setFilters(new Filter[] {filter("disk-id", disk)});
        assertCode("InvalidParameter", () -> cbs.DescribeSnapshots(both));
        DescribeSnapshotsRequest many = new DescribeSnapshotsRequest();
        Filter eleven = new Filter();
        eleven.setName("disk-id");
        eleven.setValues(java.util.stream.IntStream.range(0, 11).mapToObj(i -> String.format("disk-%08d", i)).toArray(String[]::new));
        many.setFilters(new Filter[] {eleven});
        assertCode("InvalidParameterValue.LimitExceeded", () -> cbs.DescribeSnapshots(many));
    }

    static Filter filter(String name, String value) {
        Filter f = new Filter();
        f.setName(name);
        f.setValues(new String[] {value});
        return f;
    }

    static com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsResponse query(String order, Long offset, Long limit, Filter... filters) throws Exception {
        DescribeSnapshotsRequest req = new DescribeSnapshotsRequest();
        req.setFilters(filters);
        if (order != null) req.setOrder(order);
        if (offset != null) req.setOffset(offset);
        if (limit != null) req.setLimit(limit);
        return cbs.DescribeSnapshots(req);
    }

    static List<String> ids(com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsResponse r) {
        return Arrays.stream(r.getSnapshotSet()).map(Snapshot::getSnapshotId).toList();
    }

    @Test
    void snapshotGroupsThroughTheApi() throws Exception {
        DescribeDisksRequest q = dataDisksOf(runInstance(2));
        String d1 = cbs.DescribeDisks(q).getDiskSet()[0].getDiskId();
        String d2 = cbs.DescribeDisks(q).getDiskSet()[1].getDiskId();
        write(d1, 0, bytes(21, 4096));
        write(d2, 0, bytes(22, 4096));
        CommonClient common = api.common(api.admin);

        JsonNode created = TencentApi.JSON.readTree(common.call("CreateSnapshotGroup",
                "{\"DiskIds\":[\"" + d1 + "\",\"" + d2 + "\"],\"SnapshotGroupName\":\"nightly\"}"));
        String g = created.path("Response").path("SnapshotGroupId").asText();
        assertThat(g).matches("csnap-[a-z0-9]{8}");
        String byId = "{\"Filters\":[{\"Name\":\"snapshot-group-id\",\"Values\":[\"" + g + "\"]}]}";
        await().atMost(Duration.ofSeconds(30)).until(() -> TencentApi.JSON.readTree(common.call("DescribeSnapshotGroups", byId))
                .path("Response").path("SnapshotGroupSet").path(0).path("SnapshotGroupState").asText().equals("NORMAL"));
        JsonNode groups = TencentApi.JSON.readTree(common.call("DescribeSnapshotGroups", byId)).path("Response");
        assertThat(groups.path("TotalCount").asLong()).isEqualTo(1);
        JsonNode group = groups.path("SnapshotGroupSet").get(0);
        assertThat(group.path("SnapshotGroupName").asText()).isEqualTo("nightly");
        assertThat(group.path("Percent").asLong()).isEqualTo(100);
        List<String> members = new ArrayList<>();
        group.path("SnapshotIdSet").forEach(m -> members.add(m.asText()));
        assertThat(members).hasSize(2);
        assertThat(TencentApi.JSON.readTree(common.call("DescribeSnapshotGroups",
                "{\"Filters\":[{\"Name\":\"snapshot-id\",\"Values\":[\"" + members.getFirst() + "\"]}]}")).path("Response").path("TotalCount").asLong())
                .isEqualTo(1);
        assertThat(TencentApi.JSON.readTree(common.call("DescribeSnapshotGroups",
                "{\"Filters\":[{\"Name\":\"snapshot-group-name\",\"Values\":[\"weekly\"]}]}")).path("Response").path("TotalCount").asLong())
                .isZero();
        assertCode("InvalidFilter", () -> common.call("DescribeSnapshotGroups", "{\"Filters\":[{\"Name\":\"color\",\"Values\":[\"x\"]}]}"));
        assertCode("InvalidParameterValue", () -> common.call("ApplySnapshotGroup", "{\"SnapshotGroupId\":\"nope\",\"ApplyDisks\":[]}"));

        // roll both disks back together: the instance must be stopped, as for one disk
        write(d1, 0, bytes(23, 4096));
        write(d2, 0, bytes(24, 4096));
        String d1Snap = describe(members.get(0)).getDiskId().equals(d1) ? members.get(0) : members.get(1);
        String d2Snap = d1Snap.equals(members.get(0)) ? members.get(1) : members.get(0);
        String apply = "{\"SnapshotGroupId\":\"" + g + "\",\"ApplyDisks\":[{\"DiskId\":\"" + d1 + "\",\"SnapshotId\":\"" + d1Snap
                + "\"},{\"DiskId\":\"" + d2 + "\",\"SnapshotId\":\"" + d2Snap + "\"}]";
        assertCode("UnsupportedOperation.InstanceNotStopped", () -> common.call("ApplySnapshotGroup", apply + "}"));
        common.call("ApplySnapshotGroup", apply + ",\"AutoStopInstance\":true,\"AutoStartInstance\":true}");
        await().atMost(Duration.ofSeconds(10)).until(() -> allAttached(q));
        assertThat(read(d1, 0, 4096)).isEqualTo(bytes(21, 4096));
        assertThat(read(d2, 0, 4096)).isEqualTo(bytes(22, 4096));

        common.call("DeleteSnapshotGroup", "{\"SnapshotGroupId\":\"" + g + "\"}");
        assertThat(TencentApi.JSON.readTree(common.call("DescribeSnapshotGroups", byId)).path("Response").path("TotalCount").asLong()).isZero();
        DescribeSnapshotsRequest gone = new DescribeSnapshotsRequest();
        gone.setSnapshotIds(members.toArray(String[]::new));
        assertThat(cbs.DescribeSnapshots(gone).getTotalCount()).as("a group's snapshots go with it").isZero();
        assertCode("InvalidParameterValue", () -> common.call("DeleteSnapshotGroup", "{\"SnapshotGroupId\":\"snap-12345678\"}"));
        assertCode("MissingParameter", () -> common.call("CreateSnapshotGroup", "{}"));
    }

    @Test
    void groupsAndCairnsOwnActionsThroughCommonClient() throws Exception {
        String disk = newDisk(10, null);
        write(disk, 0, bytes(5, 4096));
        String s = snapshot(disk, null);
        CommonClient common = api.common(api.admin);
        JsonNode space = TencentApi.JSON.readTree(common.call("DescribeSnapshotSpace", "{\"SnapshotIds\":[\"" + s + "\"]}"));
        JsonNode row = space.path("Response").path("SnapshotSpaceSet").get(0);
        assertThat(row.path("LogicalBytes").asLong()).as("the one block that holds data")
                .isEqualTo(dev.cairn.repository.RepositoryOptions.DEFAULT_BLOCK_SIZE);
        assertThat(row.path("ExclusiveBytes").asLong()).as("also the disk's last capture").isZero();

        JsonNode verify = TencentApi.JSON.readTree(common.call("VerifyRepository", "{\"SamplePercent\":100}"));
        assertThat(verify.path("Response").path("Ok").asBoolean()).isTrue();
        JsonNode repo = TencentApi.JSON.readTree(common.call("DescribeRepository", "{}"));
        assertThat(repo.path("Response").path("BlockSize").asLong()).isEqualTo(dev.cairn.repository.RepositoryOptions.DEFAULT_BLOCK_SIZE);
        CommonClient notAdmin = api.common(bob);
        assertCode("UnauthorizedOperation", () -> notAdmin.call("CollectRepositoryGarbage", "{}"));
        JsonNode overview = TencentApi.JSON.readTree(common.call("DescribeSnapshotOverview", "{}"));
        assertThat(overview.path("Response").path("TotalNums").asLong()).isGreaterThanOrEqualTo(1);
        assertCode("InvalidFilter", () -> common.call("DescribeSnapshots", "{\"Filters\":[{\"Name\":\"color\",\"Values\":[\"x\"]}]}"));
        assertCode("InvalidSnapshotId.Malformed", () -> common.call("DescribeSnapshots", "{\"SnapshotIds\":[\"disk-12345678\"]}"));
    }

    @Test
    void quotasAreVisibleAndEnforcedWithTencentsCode() throws Exception {
        CommonClient common = api.common(api.admin);
        String disk = newDisk(10, null);
        common.call("ModifyAccountQuota", "{\"Name\":\"snapshots-per-disk\",\"Limit\":1}");
        try {
            snapshot(disk, "the only one");
            assertCode("InsufficientSnapshotQuota", () -> {
                CreateSnapshotRequest req = new CreateSnapshotRequest();
                req.setDiskId(disk);
                cbs.CreateSnapshot(req);
            });
            JsonNode quotas = TencentApi.JSON.readTree(common.call("DescribeAccountQuotas", "{}")).path("Response");
            assertThat(quotas.path("AccountId").asText()).isEqualTo(Long.toString(api.admin.accountId()));
            JsonNode perDisk = null;
            for (JsonNode q : quotas.path("QuotaSet")) if (q.path("Name").asText().equals("snapshots-per-disk")) perDisk = q;
            assertThat(perDisk).isNotNull();
            assertThat(perDisk.path("Limit").asLong()).isEqualTo(1);
            assertThat(perDisk.path("Used").asLong()).isGreaterThanOrEqualTo(1);
            assertThat(perDisk.path("Custom").asBoolean()).isTrue();
            assertCode("UnauthorizedOperation", () -> api.common(bob).call("ModifyAccountQuota", "{\"Name\":\"instances\",\"Limit\":1}"));
            assertCode("UnauthorizedOperation", () -> api.common(bob).call("DescribeAccountQuotas",
                    "{\"AccountId\":\"" + api.admin.accountId() + "\"}"));
            assertCode("InvalidParameterValue", () -> common.call("ModifyAccountQuota", "{\"Name\":\"bananas\",\"Limit\":1}"));
            assertCode("InvalidParameter", () -> common.call("ModifyAccountQuota", "{\"Name\":\"instances\"}"));
            assertCode("InvalidAccountId.NotFound", () -> common.call("DescribeAccountQuotas", "{\"AccountId\":\"42\"}"));
        } finally {
            common.call("ModifyAccountQuota", "{\"Name\":\"snapshots-per-disk\",\"Reset\":true}");
        }
    }

    @Test
    void aSnapshotSharedWithAnotherAccountIsTheirsToCloneAndNothingElse() throws Exception {
        String disk = newDisk(10, null);
        String snap = snapshot(disk, "shared");
        var share = new com.tencentcloudapi.cbs.v20170312.models.ModifySnapshotsSharePermissionRequest();
        share.setSnapshotIds(new String[] {snap});
        share.setAccountIds(new String[] {Long.toString(bob.accountId())});
        share.setPermission("SHARE");
        cbs.ModifySnapshotsSharePermission(share);
        var who = new com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotSharePermissionRequest();
        who.setSnapshotId(snap);
        var set = cbs.DescribeSnapshotSharePermission(who).getSharePermissionSet();
        assertThat(set).hasSize(1);
        assertThat(set[0].getAccountId()).isEqualTo(Long.toString(bob.accountId()));
        assertThat(describe(snap).getShareReference()).isEqualTo(1L);

        CbsClient bobCbs = api.cbs(bob);
        DescribeSnapshotsRequest shared = new DescribeSnapshotsRequest();
        Filter type = new Filter();
        type.setName("snapshot-type");
        type.setValues(new String[] {"SHARED_SNAPSHOT"});
        shared.setFilters(new Filter[] {type});
        Snapshot[] seen = bobCbs.DescribeSnapshots(shared).getSnapshotSet();
        assertThat(seen).extracting(Snapshot::getSnapshotId).containsExactly(snap);
        assertThat(seen[0].getSnapshotType()).isEqualTo("SHARED_SNAPSHOT");
        CreateDisksRequest fromShared = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-1");
        fromShared.setPlacement(pl);
        fromShared.setDiskChargeType("POSTPAID_BY_HOUR");
        fromShared.setDiskType("CLOUD_PREMIUM");
        fromShared.setSnapshotId(snap);
        assertThat(bobCbs.CreateDisks(fromShared).getDiskIdSet()).hasSize(1);
        DeleteSnapshotsRequest delete = new DeleteSnapshotsRequest();
        delete.setSnapshotIds(new String[] {snap});
        assertCode("InvalidSnapshotId.NotFound", () -> bobCbs.DeleteSnapshots(delete));
        assertCode("InvalidSnapshotId.NotFound", () -> bobCbs.DescribeSnapshotSharePermission(who));

        CommonClient common = api.common(api.admin);
        assertCode("InvalidParameterValue", () -> common.call("ModifySnapshotsSharePermission",
                "{\"SnapshotIds\":[\"" + snap + "\"],\"AccountIds\":[\"" + bob.accountId() + "\"],\"Permission\":\"MAYBE\"}"));
        assertCode("InvalidParameter", () -> common.call("ModifySnapshotsSharePermission",
                "{\"SnapshotIds\":[\"" + snap + "\"],\"AccountIds\":[\"" + api.admin.accountId() + "\"],\"Permission\":\"SHARE\"}"));
        share.setPermission("CANCEL");
        cbs.ModifySnapshotsSharePermission(share);
        assertThat(bobCbs.DescribeSnapshots(shared).getSnapshotSet()).isEmpty();
        assertThat(describe(snap).getShareReference()).isZero();
    }

    @Test
    void aLockedSnapshotRefusesDeletionWithItsOwnCode() throws Exception {
        String disk = newDisk(10, null);
        String snap = snapshot(disk, "locked");
        CommonClient common = api.common(api.admin);
        String until = java.time.OffsetDateTime.now(java.time.ZoneOffset.ofHours(8)).plusDays(30).withNano(0).toString();
        common.call("ModifySnapshotLock", "{\"SnapshotIds\":[\"" + snap + "\"],\"LockedUntil\":\"" + until + "\"}");
        JsonNode shown = TencentApi.JSON.readTree(common.call("DescribeSnapshots", "{\"SnapshotIds\":[\"" + snap + "\"]}"))
                .path("Response").path("SnapshotSet").get(0);
        assertThat(shown.path("IsLocked").asBoolean()).isTrue();
        assertThat(java.time.OffsetDateTime.parse(shown.path("LockedUntil").asText()).toInstant())
                .isEqualTo(java.time.OffsetDateTime.parse(until).toInstant());
        DeleteSnapshotsRequest delete = new DeleteSnapshotsRequest();
        delete.setSnapshotIds(new String[] {snap});
        assertCode("UnsupportedOperation.SnapshotLocked", () -> cbs.DeleteSnapshots(delete));
        String sooner = java.time.OffsetDateTime.parse(until).minusDays(1).toString();
        assertCode("UnsupportedOperation.SnapshotLocked", () -> common.call("ModifySnapshotLock",
                "{\"SnapshotIds\":[\"" + snap + "\"],\"LockedUntil\":\"" + sooner + "\"}"));
        assertCode("InvalidParameterValue", () -> common.call("ModifySnapshotLock",
                "{\"SnapshotIds\":[\"" + snap + "\"],\"LockedUntil\":\"2001-01-01T00:00:00Z\"}"));
        assertCode("InvalidParameterValue", () -> common.call("ModifySnapshotLock", "{\"SnapshotIds\":[\"" + snap + "\"],\"LockedUntil\":\"soon\"}"));
        assertThat(describe(snap).getSnapshotState()).isEqualTo("NORMAL");
    }
}
