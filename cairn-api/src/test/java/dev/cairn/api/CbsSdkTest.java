package dev.cairn.api;

import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.AttachDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.AutoMountConfiguration;
import com.tencentcloudapi.cbs.v20170312.models.CreateDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDiskConfigQuotaRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksResponse;
import com.tencentcloudapi.cbs.v20170312.models.DescribeInstancesDiskNumRequest;
import com.tencentcloudapi.cbs.v20170312.models.DetachDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.Disk;
import com.tencentcloudapi.cbs.v20170312.models.DiskConfig;
import com.tencentcloudapi.cbs.v20170312.models.Filter;
import com.tencentcloudapi.cbs.v20170312.models.ModifyDiskAttributesRequest;
import com.tencentcloudapi.cbs.v20170312.models.Placement;
import com.tencentcloudapi.cbs.v20170312.models.ResizeDiskRequest;
import com.tencentcloudapi.cbs.v20170312.models.TerminateDisksRequest;
import com.tencentcloudapi.cvm.v20170312.CvmClient;
import com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest;
import dev.cairn.control.Accounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** CBS disk actions driven by the official Tencent SDK (cbs 3.1.667), unmodified, against a real server. */
class CbsSdkTest {
    static ApiFixture api;
    static CbsClient cbs;
    static CvmClient cvm;

    @BeforeAll
    static void start() throws Exception {
        api = new ApiFixture();
        cbs = api.cbs(api.admin);
        cvm = api.cvm(api.admin);
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
    }

    static String[] createDisks(CbsClient client, String zone, long size, long count, String instanceId) throws Exception {
        CreateDisksRequest req = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone(zone);
        req.setPlacement(pl);
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskType("CLOUD_PREMIUM");
        req.setDiskSize(size);
        req.setDiskCount(count);
        req.setDiskName("data");
        if (instanceId != null) {
            AutoMountConfiguration a = new AutoMountConfiguration();
            a.setInstanceId(new String[] {instanceId});
            req.setAutoMountConfiguration(a);
        }
        return client.CreateDisks(req).getDiskIdSet();
    }

    static Disk disk(CbsClient client, String id) throws Exception {
        DescribeDisksRequest req = new DescribeDisksRequest();
        req.setDiskIds(new String[] {id});
        Disk[] set = client.DescribeDisks(req).getDiskSet();
        return set.length == 0 ? null : set[0];
    }

    static void awaitState(CbsClient client, String id, String state) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> state.equals(disk(client, id).getDiskState()));
    }

    static String runInstance(CvmClient client, String zone) throws Exception {
        RunInstancesRequest req = new RunInstancesRequest();
        var pl = new com.tencentcloudapi.cvm.v20170312.models.Placement();
        pl.setZone(zone);
        req.setPlacement(pl);
        req.setImageId("img-blank001");
        return client.RunInstances(req).getInstanceIdSet()[0];
    }

    @Test
    void diskLifecycleWithTheSdk() throws Exception {
        String ins = runInstance(cvm, "ap-guangzhou-3");
        String[] ids = createDisks(cbs, "ap-guangzhou-3", 10, 2, null);
        assertThat(ids).hasSize(2).allMatch(id -> id.matches("disk-[a-z0-9]{8}"));
        Disk d = disk(cbs, ids[0]);
        assertThat(d.getDiskState()).isEqualTo("UNATTACHED");
        assertThat(d.getDiskSize()).isEqualTo(10L);
        assertThat(d.getDiskType()).isEqualTo("CLOUD_PREMIUM");
        assertThat(d.getDiskUsage()).isEqualTo("DATA_DISK");
        assertThat(d.getDiskName()).isEqualTo("data");
        assertThat(d.getPlacement().getZone()).isEqualTo("ap-guangzhou-3");
        assertThat(d.getPlacement().getProjectId()).isZero();
        assertThat(d.getCreateTime()).matches("\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}");
        assertThat(d.getAttached()).isFalse();
        assertThat(d.getPortable()).isTrue();
        assertThat(d.getInstanceId()).isEmpty();
        assertThat(d.getDiskChargeType()).isEqualTo("POSTPAID_BY_HOUR");

        AttachDisksRequest attach = new AttachDisksRequest();
        attach.setInstanceId(ins);
        attach.setDiskIds(ids);
        cbs.AttachDisks(attach);
        awaitState(cbs, ids[0], "ATTACHED");
        awaitState(cbs, ids[1], "ATTACHED");
        assertThat(disk(cbs, ids[0]).getInstanceId()).isEqualTo(ins);
        assertThat(disk(cbs, ids[0]).getAttached()).isTrue();
        assertThat(api.control.exportedDiskIds()).contains(ids[0], ids[1]);

        DescribeInstancesDiskNumRequest num = new DescribeInstancesDiskNumRequest();
        num.setInstanceIds(new String[] {ins});
        var detail = cbs.DescribeInstancesDiskNum(num).getAttachDetail()[0];
        assertThat(detail.getInstanceId()).isEqualTo(ins);
        assertThat(detail.getAttachedDiskCount()).isEqualTo(2L);
        assertThat(detail.getMaxAttachCount()).isEqualTo(20L);

        ResizeDiskRequest resize = new ResizeDiskRequest();
        resize.setDiskId(ids[0]);
        resize.setDiskSize(30L);
        cbs.ResizeDisk(resize);
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(cbs, ids[0]).getDiskSize() == 30L);
        awaitState(cbs, ids[0], "ATTACHED");
        assertThat(api.volumes.size(ids[0])).isEqualTo(30L << 30);
        resize.setDiskSize(20L);
        assertCode("InvalidParameterValue", () -> cbs.ResizeDisk(resize));

        ModifyDiskAttributesRequest modify = new ModifyDiskAttributesRequest();
        modify.setDiskIds(new String[] {ids[1]});
        modify.setDiskName("renamed");
        modify.setDeleteWithInstance(true);
        cbs.ModifyDiskAttributes(modify);
        assertThat(disk(cbs, ids[1]).getDiskName()).isEqualTo("renamed");
        assertThat(disk(cbs, ids[1]).getDeleteWithInstance()).isTrue();

        TerminateDisksRequest terminate = new TerminateDisksRequest();
        terminate.setDiskIds(new String[] {ids[0]});
        assertCode("ResourceUnavailable.Attached", () -> cbs.TerminateDisks(terminate));

        DetachDisksRequest detach = new DetachDisksRequest();
        detach.setDiskIds(new String[] {ids[0]});
        detach.setInstanceId(ins);
        cbs.DetachDisks(detach);
        awaitState(cbs, ids[0], "UNATTACHED");
        assertThat(api.control.exportedDiskIds()).doesNotContain(ids[0]);
        assertCode("InvalidDisk.NotSupported", () -> cbs.DetachDisks(detach));

        cbs.TerminateDisks(terminate);
        assertThat(disk(cbs, ids[0])).isNull();
        await().atMost(Duration.ofSeconds(10)).until(() -> !api.volumes.exists(ids[0]));
        assertCode("InvalidDiskId.NotFound", () -> cbs.TerminateDisks(terminate));
    }

    @Test
    void createDisksCanAttachAtOnce() throws Exception {
        String ins = runInstance(cvm, "ap-guangzhou-1");
        String[] ids = createDisks(cbs, "ap-guangzhou-1", 20, 1, ins);
        awaitState(cbs, ids[0], "ATTACHED");
        assertThat(disk(cbs, ids[0]).getInstanceId()).isEqualTo(ins);
    }

    @Test
    void describeDisksFiltersPagesAndOrders() throws Exception {
        Accounts.Credentials own = api.control.accounts().createAccount(
                new dev.cairn.control.Caller(api.admin.accountId(), true, "t"), "pager");
        CbsClient mine = api.cbs(own);
        String[] first = createDisks(mine, "ap-guangzhou-1", 10, 3, null);
        String[] second = createDisks(mine, "ap-guangzhou-2", 50, 4, null);

        DescribeDisksRequest all = new DescribeDisksRequest();
        DescribeDisksResponse r = mine.DescribeDisks(all);
        assertThat(r.getTotalCount()).isEqualTo(7L);
        assertThat(r.getDiskSet()).hasSize(7);

        DescribeDisksRequest zone = new DescribeDisksRequest();
        zone.setFilters(new Filter[] {filter("zone", "ap-guangzhou-2"), filter("disk-state", "UNATTACHED", "ATTACHED")});
        assertThat(mine.DescribeDisks(zone).getTotalCount()).isEqualTo(4L);

        DescribeDisksRequest byName = new DescribeDisksRequest();
        byName.setFilters(new Filter[] {filter("disk-id", first[0], second[0]), filter("portable", "TRUE")});
        assertThat(Arrays.stream(mine.DescribeDisks(byName).getDiskSet()).map(Disk::getDiskId)).containsExactlyInAnyOrder(first[0], second[0]);

        DescribeDisksRequest page = new DescribeDisksRequest();
        page.setOrder("ASC");
        page.setOffset(2L);
        page.setLimit(3L);
        DescribeDisksResponse p = mine.DescribeDisks(page);
        assertThat(p.getTotalCount()).isEqualTo(7L);
        assertThat(p.getDiskSet()).hasSize(3);
        page.setOffset(0L);
        page.setLimit(100L);
        List<String> asc = Arrays.stream(mine.DescribeDisks(page).getDiskSet()).map(Disk::getDiskId).toList();
        page.setOrder("DESC");
        List<String> desc = Arrays.stream(mine.DescribeDisks(page).getDiskSet()).map(Disk::getDiskId).toList();
        assertThat(desc).containsExactlyElementsOf(asc.reversed());

        DescribeDisksRequest bad = new DescribeDisksRequest();
        bad.setFilters(new Filter[] {filter("colour", "blue")});
        assertCode("InvalidFilter", () -> mine.DescribeDisks(bad));
        DescribeDisksRequest big = new DescribeDisksRequest();
        big.setLimit(101L);
        assertCode("InvalidParameterValue.LimitExceeded", () -> mine.DescribeDisks(big));
        DescribeDisksRequest both = new DescribeDisksRequest();
        both.setDiskIds(new String[] {first[0]});
        both.setFilters(new Filter[] {filter("zone", "ap-guangzhou-1")});
        assertCode("InvalidParameter", () -> mine.DescribeDisks(both));
        DescribeDisksRequest order = new DescribeDisksRequest();
        order.setOrder("SIDEWAYS");
        assertCode("InvalidParameterValue", () -> mine.DescribeDisks(order));
    }

    @Test
    void inquiryPriceCreateDisksAnswersThatDisksAreFreeAndChecksTheRequest() throws Exception {
        var req = new com.tencentcloudapi.cbs.v20170312.models.InquiryPriceCreateDisksRequest();
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskType("CLOUD_PREMIUM");
        req.setDiskSize(100L);
        req.setDiskCount(3L);
        var price = cbs.InquiryPriceCreateDisks(req).getDiskPrice();
        assertThat(price.getChargeUnit()).isEqualTo("HOUR");
        assertThat(price.getUnitPrice()).isZero(); // Cairn bills stored snapshot data, not disks
        assertThat(price.getUnitPriceDiscount()).isZero();

        req.setDiskSize(7L); // below CLOUD_PREMIUM's 10 GiB
        assertCode("InvalidParameterValue", () -> cbs.InquiryPriceCreateDisks(req));
        req.setDiskSize(100L);
        req.setDiskChargeType("PREPAID");
        assertCode("InvalidParameterValue", () -> cbs.InquiryPriceCreateDisks(req));
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskType("CLOUD_FLOPPY");
        assertCode("InvalidParameterValue", () -> cbs.InquiryPriceCreateDisks(req));
    }

    @Test
    void diskConfigQuotaPublishesSizeRules() throws Exception {
        DescribeDiskConfigQuotaRequest req = new DescribeDiskConfigQuotaRequest();
        req.setInquiryType("INQUIRY_CBS_CONFIG");
        req.setZones(new String[] {"ap-guangzhou-2"});
        req.setDiskTypes(new String[] {"CLOUD_PREMIUM"});
        DiskConfig[] set = cbs.DescribeDiskConfigQuota(req).getDiskConfigSet();
        assertThat(set).hasSize(1);
        assertThat(set[0].getMinDiskSize()).isEqualTo(10L);
        assertThat(set[0].getMaxDiskSize()).isEqualTo(16000L);
        assertThat(set[0].getStepSize()).isEqualTo(10L);
        assertThat(set[0].getAvailable()).isTrue();
        assertThat(set[0].getDiskUsage()).isEqualTo("DATA_DISK");
        DescribeDiskConfigQuotaRequest none = new DescribeDiskConfigQuotaRequest();
        assertCode("MissingParameter", () -> cbs.DescribeDiskConfigQuota(none));
    }

    @Test
    void createDisksRefusesBadValuesWithTencentCodes() throws Exception {
        assertCode("InvalidParameterValue", () -> createDisks(cbs, "ap-guangzhou-1", 15, 1, null));
        assertCode("InvalidParameterValue.ZoneNotSupported", () -> createDisks(cbs, "ap-beijing-1", 10, 1, null));
        assertCode("InvalidParameterValue.LimitExceeded", () -> createDisks(cbs, "ap-guangzhou-1", 10, 51, null));
        assertCode("InvalidInstanceId.NotFound", () -> createDisks(cbs, "ap-guangzhou-1", 10, 1, "ins-zzzzzzzz"));
        CreateDisksRequest req = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-1");
        req.setPlacement(pl);
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskSize(10L);
        assertCode("MissingParameter", () -> cbs.CreateDisks(req));
        req.setDiskType("CLOUD_FLOPPY");
        assertCode("InvalidParameterValue", () -> cbs.CreateDisks(req));
        req.setDiskType("CLOUD_PREMIUM");
        req.setDiskChargeType("PREPAID");
        assertCode("InvalidParameterValue", () -> cbs.CreateDisks(req));
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setEncrypt("ENCRYPT");
        assertCode("UnsupportedOperation", () -> cbs.CreateDisks(req));
    }

    static Filter filter(String name, String... values) {
        Filter f = new Filter();
        f.setName(name);
        f.setValues(values);
        return f;
    }
}
