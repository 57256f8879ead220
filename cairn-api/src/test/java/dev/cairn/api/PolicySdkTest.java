package dev.cairn.api;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.AutoSnapshotPolicy;
import com.tencentcloudapi.cbs.v20170312.models.BindAutoSnapshotPolicyRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateAutoSnapshotPolicyRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateAutoSnapshotPolicyResponse;
import com.tencentcloudapi.cbs.v20170312.models.DeleteAutoSnapshotPoliciesRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeAutoSnapshotPoliciesRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDiskAssociatedAutoSnapshotPolicyRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDiskAssociatedAutoSnapshotPolicyResponse;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotOperationLogsRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsRequest;
import com.tencentcloudapi.cbs.v20170312.models.Filter;
import com.tencentcloudapi.cbs.v20170312.models.ModifyAutoSnapshotPolicyAttributeRequest;
import com.tencentcloudapi.cbs.v20170312.models.Policy;
import com.tencentcloudapi.cbs.v20170312.models.Snapshot;
import com.tencentcloudapi.cbs.v20170312.models.SnapshotOperationLog;
import com.tencentcloudapi.cbs.v20170312.models.UnbindAutoSnapshotPolicyRequest;
import com.tencentcloudapi.common.CommonClient;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.DiskType;
import dev.cairn.control.TestClock;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The auto-snapshot policy actions driven by the official Tencent SDK, under the test clock moved through the API. */
class PolicySdkTest {
    static ApiFixture api;
    static CbsClient cbs;
    static CommonClient common;
    static String disk;

    @BeforeAll
    static void start() throws Exception {
        api = new ApiFixture(new TestClock(Instant.parse("2026-11-26T04:00:00Z"))); // Thursday 12:00 in the region (UTC+8)
        cbs = api.cbs(api.admin);
        common = api.common(api.admin);
        Caller admin = new Caller(api.admin.accountId(), true, "t");
        String instance = api.control.runInstances(admin, new CloudControl.NewInstances("ap-guangzhou-1", 0, "img-blank001", "S5.MEDIUM4",
                "web", 1, new CloudControl.DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true),
                List.of(new CloudControl.DiskSpec(DiskType.CLOUD_PREMIUM, 10, "data", false)), null, false)).getFirst();
        api.control.awaitIdle(java.time.Duration.ofSeconds(30));
        DescribeDisksRequest req = new DescribeDisksRequest();
        disk = Arrays.stream(cbs.DescribeDisks(req).getDiskSet())
                .filter(d -> d.getInstanceId().equals(instance) && d.getDiskUsage().equals("DATA_DISK")).findFirst().orElseThrow().getDiskId();
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
    }

    static Policy policy(Long[] days, Long... hours) {
        Policy p = new Policy();
        p.setDayOfWeek(days);
        p.setHour(hours);
        return p;
    }

    static AutoSnapshotPolicy describe(String id) throws Exception {
        DescribeAutoSnapshotPoliciesRequest req = new DescribeAutoSnapshotPoliciesRequest();
        req.setAutoSnapshotPolicyIds(new String[] {id});
        return cbs.DescribeAutoSnapshotPolicies(req).getAutoSnapshotPolicySet()[0];
    }

    @Test
    void aPolicyLivesItsWholeLifeThroughTheSdk() throws Exception {
        CreateAutoSnapshotPolicyRequest create = new CreateAutoSnapshotPolicyRequest();
        create.setPolicy(new Policy[] {policy(new Long[] {1L, 2L, 3L, 4L, 5L}, 2L, 14L)});
        create.setAutoSnapshotPolicyName("weekdays");
        create.setRetentionDays(7L);
        create.setDryRun(true);
        CreateAutoSnapshotPolicyResponse dry = cbs.CreateAutoSnapshotPolicy(create);
        assertThat(dry.getAutoSnapshotPolicyId()).isNull();
        assertThat(dry.getNextTriggerTime()).isEqualTo("2026-11-26 14:00:00");
        create.setDryRun(false);
        CreateAutoSnapshotPolicyResponse created = cbs.CreateAutoSnapshotPolicy(create);
        String id = created.getAutoSnapshotPolicyId();
        assertThat(id).matches("asp-[a-z0-9]{8}");

        BindAutoSnapshotPolicyRequest bind = new BindAutoSnapshotPolicyRequest();
        bind.setAutoSnapshotPolicyId(id);
        bind.setDiskIds(new String[] {disk});
        cbs.BindAutoSnapshotPolicy(bind);

        com.tencentcloudapi.cbs.v20170312.models.DescribeDiskOperationLogsRequest diskLogs = new com.tencentcloudapi.cbs.v20170312.models.DescribeDiskOperationLogsRequest();
        Filter diskFilter = new Filter();
        diskFilter.setName("disk-id");
        diskFilter.setValues(new String[] {disk});
        diskLogs.setFilters(new Filter[] {diskFilter});
        assertThat(cbs.DescribeDiskOperationLogs(diskLogs).getDiskOperationLogSet())
                .extracting(com.tencentcloudapi.cbs.v20170312.models.DiskOperationLog::getOperation)
                .contains("CBS_OPERATION_CREATE", "ASP_OPERATION_BIND"); // made by RunInstances, then bound

        AutoSnapshotPolicy p = describe(id);
        assertThat(p.getAutoSnapshotPolicyName()).isEqualTo("weekdays");
        assertThat(p.getAutoSnapshotPolicyState()).isEqualTo("NORMAL");
        assertThat(p.getIsActivated()).isTrue();
        assertThat(p.getIsPermanent()).isFalse();
        assertThat(p.getRetentionDays()).isEqualTo(7L);
        assertThat(p.getDiskIdSet()).containsExactly(disk);
        assertThat(p.getPolicy()[0].getHour()).containsExactly(2L, 14L);
        assertThat(p.getPolicy()[0].getDayOfWeek()).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(p.getNextTriggerTime()).isEqualTo("2026-11-26 14:00:00");

        DescribeDiskAssociatedAutoSnapshotPolicyRequest assoc = new DescribeDiskAssociatedAutoSnapshotPolicyRequest();
        assoc.setDiskId(disk);
        DescribeDiskAssociatedAutoSnapshotPolicyResponse bound = cbs.DescribeDiskAssociatedAutoSnapshotPolicy(assoc);
        assertThat(bound.getTotalCount()).isEqualTo(1L);
        assertThat(bound.getAutoSnapshotPolicySet()[0].getAutoSnapshotPolicyId()).isEqualTo(id);
        assertThat(bound.getAutoSnapshotPolicySet()[0].getDiskIdSet()).isEmpty();
        DescribeDisksRequest disks = new DescribeDisksRequest();
        disks.setDiskIds(new String[] {disk});
        disks.setReturnBindAutoSnapshotPolicy(true);
        assertThat(cbs.DescribeDisks(disks).getDiskSet()[0].getAutoSnapshotPolicyIds()).containsExactly(id);

        // three days pass (Thursday 12:00 → Sunday 12:00): Thu 14:00, Fri 02:00 and Fri 14:00 fire, the weekend does not
        JsonNode now = TencentApi.JSON.readTree(common.call("AdvanceClock", "{\"Duration\":\"P3D\"}"));
        assertThat(now.path("Response").path("Now").asText()).isEqualTo("2026-11-29T04:00:00Z");
        DescribeSnapshotsRequest snaps = new DescribeSnapshotsRequest();
        Filter byDisk = new Filter();
        byDisk.setName("disk-id");
        byDisk.setValues(new String[] {disk});
        snaps.setFilters(new Filter[] {byDisk});
        snaps.setOrder("ASC");
        Snapshot[] auto = cbs.DescribeSnapshots(snaps).getSnapshotSet();
        assertThat(auto).extracting(Snapshot::getSnapshotName).containsExactly("auto_" + id + "_20261126_14", "auto_" + id + "_20261127_02",
                "auto_" + id + "_20261127_14");
        assertThat(auto).allMatch(s -> s.getSnapshotState().equals("NORMAL") && !s.getIsPermanent());
        assertThat(auto[0].getCreateTime()).isEqualTo("2026-11-26 14:00:00");
        assertThat(auto[0].getDeadlineTime()).isEqualTo("2026-12-03 14:00:00");
        assertThat(describe(id).getNextTriggerTime()).isEqualTo("2026-11-30 02:00:00");

        DescribeSnapshotOperationLogsRequest logs = new DescribeSnapshotOperationLogsRequest();
        Filter bySnapshot = new Filter();
        bySnapshot.setName("snapshot-id");
        bySnapshot.setValues(new String[] {auto[0].getSnapshotId()});
        logs.setFilters(new Filter[] {bySnapshot});
        SnapshotOperationLog[] log = cbs.DescribeSnapshotOperationLogs(logs).getSnapshotOperationLogSet();
        assertThat(log).extracting(SnapshotOperationLog::getOperation).containsExactly("ASP_OPERATION_CREATE_SNAP");
        assertThat(log[0].getOperationState()).isEqualTo("SUCCESS");
        assertThat(log[0].getSnapshotId()).isEqualTo(auto[0].getSnapshotId());

        JsonNode runs = TencentApi.JSON.readTree(common.call("DescribeAutoSnapshotPolicyRuns", "{\"AutoSnapshotPolicyId\":\"" + id + "\"}"));
        JsonNode set = runs.path("Response").path("RunSet");
        assertThat(set.size()).isEqualTo(3);
        assertThat(set.get(0).path("RunState").asText()).isEqualTo("SUCCESS");
        assertThat(set.get(0).path("DueTime").asText()).isEqualTo("2026-11-27 14:00:00");
        assertThat(set.get(0).path("SnapshotId").asText()).isEqualTo(auto[2].getSnapshotId());

        ModifyAutoSnapshotPolicyAttributeRequest modify = new ModifyAutoSnapshotPolicyAttributeRequest();
        modify.setAutoSnapshotPolicyId(id);
        modify.setAutoSnapshotPolicyName("paused");
        modify.setIsActivated(false);
        cbs.ModifyAutoSnapshotPolicyAttribute(modify);
        AutoSnapshotPolicy paused = describe(id);
        assertThat(paused.getAutoSnapshotPolicyName()).isEqualTo("paused");
        assertThat(paused.getIsActivated()).isFalse();
        assertThat(paused.getNextTriggerTime()).isNull();

        UnbindAutoSnapshotPolicyRequest unbind = new UnbindAutoSnapshotPolicyRequest();
        unbind.setAutoSnapshotPolicyId(id);
        unbind.setDiskIds(new String[] {disk});
        cbs.UnbindAutoSnapshotPolicy(unbind);
        assertThat(describe(id).getDiskIdSet()).isEmpty();
        DeleteAutoSnapshotPoliciesRequest delete = new DeleteAutoSnapshotPoliciesRequest();
        delete.setAutoSnapshotPolicyIds(new String[] {id});
        cbs.DeleteAutoSnapshotPolicies(delete);
        DescribeAutoSnapshotPoliciesRequest all = new DescribeAutoSnapshotPoliciesRequest();
        assertThat(cbs.DescribeAutoSnapshotPolicies(all).getTotalCount()).isZero();
        assertThat(cbs.DescribeSnapshots(snaps).getSnapshotSet()).hasSize(3); // snapshots made stay
    }

    @Test
    void badRequestsAnswerTencentsCodes() throws Exception {
        assertCode("MissingParameter", () -> common.call("CreateAutoSnapshotPolicy", "{\"AutoSnapshotPolicyName\":\"x\"}"));
        assertCode("MissingParameter", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"DayOfWeek\":[1]}]}"));
        assertCode("InvalidParameterValue", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[24]}]}"));
        assertCode("InvalidParameterValue", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[1],\"DayOfWeek\":[7]}]}"));
        assertCode("InvalidParameter", () -> common.call("CreateAutoSnapshotPolicy",
                "{\"Policy\":[{\"Hour\":[1]}],\"IsPermanent\":true,\"RetentionDays\":3}"));
        assertCode("InvalidParameterValue", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[1]}],\"RetentionDays\":0}"));
        assertCode("InvalidParameterValue", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[1]}],\"PreHook\":\"rm -rf /\"}"));
        assertCode("UnknownParameter", () -> common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[1]}],\"Color\":\"red\"}"));
        assertThat(cbs.DescribeAutoSnapshotPolicies(new DescribeAutoSnapshotPoliciesRequest()).getTotalCount()).isZero(); // nothing half-made

        String id = TencentApi.JSON.readTree(common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[3]}]}"))
                .path("Response").path("AutoSnapshotPolicyId").asText();
        String other = TencentApi.JSON.readTree(common.call("CreateAutoSnapshotPolicy", "{\"Policy\":[{\"Hour\":[4]}]}"))
                .path("Response").path("AutoSnapshotPolicyId").asText();
        try {
            assertCode("InvalidAutoSnapshotPolicyId.NotFound", () -> common.call("BindAutoSnapshotPolicy",
                    "{\"AutoSnapshotPolicyId\":\"asp-00000000\",\"DiskIds\":[\"" + disk + "\"]}"));
            assertCode("InvalidParameterValue", () -> common.call("BindAutoSnapshotPolicy",
                    "{\"AutoSnapshotPolicyId\":\"policy-1\",\"DiskIds\":[\"" + disk + "\"]}"));
            assertCode("InvalidDiskId.NotFound", () -> common.call("BindAutoSnapshotPolicy",
                    "{\"AutoSnapshotPolicyId\":\"" + id + "\",\"DiskIds\":[\"disk-00000000\"]}"));
            common.call("BindAutoSnapshotPolicy", "{\"AutoSnapshotPolicyId\":\"" + id + "\",\"DiskIds\":[\"" + disk + "\"]}");
            assertCode("InvalidDisk.AlreadyBound", () -> common.call("BindAutoSnapshotPolicy",
                    "{\"AutoSnapshotPolicyId\":\"" + other + "\",\"DiskIds\":[\"" + disk + "\"]}"));
            String tooMany = String.join(",", java.util.Collections.nCopies(81, "\"" + disk + "\""));
            assertCode("InvalidParameterValue.LimitExceeded", () -> common.call("BindAutoSnapshotPolicy",
                    "{\"AutoSnapshotPolicyId\":\"" + other + "\",\"DiskIds\":[" + tooMany + "]}"));
            assertCode("InvalidFilter", () -> common.call("DescribeAutoSnapshotPolicies", "{\"Filters\":[{\"Name\":\"color\",\"Values\":[\"x\"]}]}"));
            assertCode("InvalidParameter", () -> common.call("DescribeAutoSnapshotPolicies",
                    "{\"AutoSnapshotPolicyIds\":[\"" + id + "\"],\"Filters\":[{\"Name\":\"auto-snapshot-policy-name\",\"Values\":[\"x\"]}]}"));
            assertCode("InvalidAutoSnapshotPolicyId.NotFound", () -> common.call("DeleteAutoSnapshotPolicies",
                    "{\"AutoSnapshotPolicyIds\":[\"" + id + "\",\"asp-00000000\"]}"));
            assertThat(describe(id).getDiskIdSet()).containsExactly(disk); // all or nothing
            assertCode("MissingParameter", () -> common.call("DescribeSnapshotOperationLogs", "{}"));
            assertCode("InvalidFilter", () -> common.call("DescribeSnapshotOperationLogs", "{\"Filters\":[{\"Name\":\"disk-id\",\"Values\":[\"" + disk + "\"]}]}"));
            JsonNode named = TencentApi.JSON.readTree(common.call("DescribeAutoSnapshotPolicies",
                    "{\"Filters\":[{\"Name\":\"auto-snapshot-policy-id\",\"Values\":[\"" + other + "\"]}]}"));
            assertThat(named.path("Response").path("TotalCount").asLong()).isEqualTo(1);
            // a policy without days fires every day: shown as all seven days of the week
            assertThat(describe(other).getPolicy()[0].getDayOfWeek()).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L);
        } finally {
            common.call("DeleteAutoSnapshotPolicies", "{\"AutoSnapshotPolicyIds\":[\"" + id + "\",\"" + other + "\"]}");
        }
    }
}
