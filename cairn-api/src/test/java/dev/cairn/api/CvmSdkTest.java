package dev.cairn.api;

import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cvm.v20170312.CvmClient;
import com.tencentcloudapi.cvm.v20170312.models.DataDisk;
import com.tencentcloudapi.cvm.v20170312.models.DescribeImagesRequest;
import com.tencentcloudapi.cvm.v20170312.models.DescribeInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.DescribeRegionsRequest;
import com.tencentcloudapi.cvm.v20170312.models.DescribeZonesRequest;
import com.tencentcloudapi.cvm.v20170312.models.Filter;
import com.tencentcloudapi.cvm.v20170312.models.Image;
import com.tencentcloudapi.cvm.v20170312.models.Instance;
import com.tencentcloudapi.cvm.v20170312.models.Placement;
import com.tencentcloudapi.cvm.v20170312.models.RebootInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.StartInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.StopInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.SystemDisk;
import com.tencentcloudapi.cvm.v20170312.models.TerminateInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.ZoneInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The CVM subset driven by the official Tencent SDK (cvm 3.1.1342), unmodified, against a real server. */
class CvmSdkTest {
    static ApiFixture api;
    static CvmClient cvm;
    static CbsClient cbs;

    @BeforeAll
    static void start() throws Exception {
        api = new ApiFixture();
        cvm = api.cvm(api.admin);
        cbs = api.cbs(api.admin);
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
    }

    @Test
    void regionsZonesAndImages() throws Exception {
        var regions = cvm.DescribeRegions(new DescribeRegionsRequest());
        assertThat(regions.getTotalCount()).isEqualTo(1L);
        assertThat(regions.getRegionSet()[0].getRegion()).isEqualTo("ap-guangzhou");
        assertThat(regions.getRegionSet()[0].getRegionState()).isEqualTo("AVAILABLE");

        var zones = cvm.DescribeZones(new DescribeZonesRequest());
        assertThat(zones.getTotalCount()).isEqualTo(3L);
        assertThat(Arrays.stream(zones.getZoneSet()).map(ZoneInfo::getZone))
                .containsExactly("ap-guangzhou-1", "ap-guangzhou-2", "ap-guangzhou-3");
        assertThat(zones.getZoneSet()[0].getZoneState()).isEqualTo("AVAILABLE");

        DescribeImagesRequest req = new DescribeImagesRequest();
        Filter f = new Filter();
        f.setName("image-type");
        f.setValues(new String[] {"PUBLIC_IMAGE"});
        req.setFilters(new Filter[] {f});
        var images = cvm.DescribeImages(req);
        assertThat(images.getTotalCount()).isGreaterThanOrEqualTo(1L);
        Image blank = images.getImageSet()[0];
        assertThat(blank.getImageId()).matches("img-[a-z0-9]{8}");
        assertThat(blank.getImageType()).isEqualTo("PUBLIC_IMAGE");
        assertThat(blank.getImageState()).isEqualTo("NORMAL");
        assertThat(blank.getCreatedTime()).matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z");
        f.setValues(new String[] {"PRIVATE_IMAGE"});
        assertThat(cvm.DescribeImages(req).getTotalCount()).isZero();
        DescribeImagesRequest both = new DescribeImagesRequest();
        both.setImageIds(new String[] {blank.getImageId()});
        both.setFilters(new Filter[] {f});
        assertCode("InvalidParameter.InvalidParameterCoexistImageIdsFilters", () -> cvm.DescribeImages(both));
        DescribeImagesRequest malformed = new DescribeImagesRequest();
        malformed.setImageIds(new String[] {"image-1"});
        assertCode("InvalidImageId.Malformed", () -> cvm.DescribeImages(malformed));
    }

    @Test
    void instanceLifecycleWithSystemAndDataDisks() throws Exception {
        RunInstancesRequest run = new RunInstancesRequest();
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-2");
        run.setPlacement(pl);
        run.setImageId("img-blank001");
        run.setInstanceCount(2L);
        run.setInstanceName("web");
        run.setInstanceType("S5.LARGE8");
        SystemDisk sys = new SystemDisk();
        sys.setDiskType("CLOUD_SSD");
        sys.setDiskSize(40L);
        run.setSystemDisk(sys);
        DataDisk data = new DataDisk();
        data.setDiskSize(20L);
        data.setDiskType("CLOUD_PREMIUM");
        data.setDeleteWithInstance(false);
        run.setDataDisks(new DataDisk[] {data});
        String[] ids = cvm.RunInstances(run).getInstanceIdSet();
        assertThat(ids).hasSize(2).allMatch(id -> id.matches("ins-[a-z0-9]{8}"));
        awaitState(ids[0], "RUNNING");
        awaitState(ids[1], "RUNNING");

        Instance i = instance(ids[0]);
        assertThat(i.getInstanceName()).isEqualTo("web");
        assertThat(i.getInstanceType()).isEqualTo("S5.LARGE8");
        assertThat(i.getCPU()).isEqualTo(4L);
        assertThat(i.getMemory()).isEqualTo(8L);
        assertThat(i.getPlacement().getZone()).isEqualTo("ap-guangzhou-2");
        assertThat(i.getImageId()).isEqualTo("img-blank001");
        assertThat(i.getCreatedTime()).matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z");
        assertThat(i.getLatestOperation()).isEqualTo("RunInstances");
        assertThat(i.getLatestOperationState()).isEqualTo("SUCCESS");
        assertThat(i.getSystemDisk().getDiskSize()).isEqualTo(40L);
        assertThat(i.getSystemDisk().getDiskType()).isEqualTo("CLOUD_SSD");
        String sysId = i.getSystemDisk().getDiskId();
        assertThat(i.getDataDisks()).hasSize(1);
        String dataId = i.getDataDisks()[0].getDiskId();
        assertThat(i.getDataDisks()[0].getDeleteWithInstance()).isFalse();

        var sysDisk = CbsSdkTest.disk(cbs, sysId);
        assertThat(sysDisk.getDiskUsage()).isEqualTo("SYSTEM_DISK");
        assertThat(sysDisk.getDiskState()).isEqualTo("ATTACHED");
        assertThat(sysDisk.getInstanceId()).isEqualTo(ids[0]);
        assertThat(sysDisk.getPortable()).isFalse();
        assertThat(api.volumes.size(sysId)).isEqualTo(40L << 30);
        DescribeDisksRequest systemDisks = new DescribeDisksRequest();
        systemDisks.setFilters(new com.tencentcloudapi.cbs.v20170312.models.Filter[] {
                CbsSdkTest.filter("disk-usage", "SYSTEM_DISK"), CbsSdkTest.filter("instance-id", ids[0])});
        assertThat(cbs.DescribeDisks(systemDisks).getTotalCount()).isEqualTo(1L);
        assertThat(api.control.exportedDiskIds()).contains(sysId, dataId);

        StopInstancesRequest stop = new StopInstancesRequest();
        stop.setInstanceIds(new String[] {ids[0]});
        cvm.StopInstances(stop);
        awaitState(ids[0], "STOPPED");
        assertThat(api.control.exportedDiskIds()).doesNotContain(sysId, dataId);
        assertCode("UnsupportedOperation.InstanceStateStopped", () -> cvm.StopInstances(stop));
        RebootInstancesRequest reboot = new RebootInstancesRequest();
        reboot.setInstanceIds(new String[] {ids[0]});
        assertCode("UnsupportedOperation.InstanceStateStopped", () -> cvm.RebootInstances(reboot));

        StartInstancesRequest startReq = new StartInstancesRequest();
        startReq.setInstanceIds(new String[] {ids[0]});
        cvm.StartInstances(startReq);
        awaitState(ids[0], "RUNNING");
        assertCode("UnsupportedOperation.InstanceStateRunning", () -> cvm.StartInstances(startReq));
        cvm.RebootInstances(reboot);
        awaitState(ids[0], "RUNNING");
        assertThat(instance(ids[0]).getLatestOperation()).isEqualTo("RebootInstances");

        DescribeInstancesRequest byState = new DescribeInstancesRequest();
        Filter f = new Filter();
        f.setName("instance-name");
        f.setValues(new String[] {"web"});
        byState.setFilters(new Filter[] {f});
        assertThat(cvm.DescribeInstances(byState).getTotalCount()).isEqualTo(2L);

        TerminateInstancesRequest terminate = new TerminateInstancesRequest();
        terminate.setInstanceIds(new String[] {ids[0]});
        cvm.TerminateInstances(terminate);
        await().atMost(Duration.ofSeconds(10)).until(() -> instanceOrNull(ids[0]) == null);
        await().atMost(Duration.ofSeconds(10)).until(() -> CbsSdkTest.disk(cbs, sysId) == null && !api.volumes.exists(sysId));
        assertThat(CbsSdkTest.disk(cbs, dataId).getDiskState()).isEqualTo("UNATTACHED");
        assertCode("InvalidInstanceId.NotFound", () -> cvm.TerminateInstances(terminate));
    }

    @Test
    void runInstancesRefusesBadValues() throws Exception {
        RunInstancesRequest run = new RunInstancesRequest();
        assertCode("MissingParameter", () -> cvm.RunInstances(run));
        Placement pl = new Placement();
        pl.setZone("ap-guangzhou-9");
        run.setPlacement(pl);
        run.setImageId("img-blank001");
        assertCode("InvalidParameterValue.ZoneNotSupported", () -> cvm.RunInstances(run));
        pl.setZone("ap-guangzhou-1");
        run.setImageId("img-nothere1");
        assertCode("InvalidImageId.NotFound", () -> cvm.RunInstances(run));
        run.setImageId("blank");
        assertCode("InvalidImageId.Malformed", () -> cvm.RunInstances(run));
        run.setImageId("img-blank001");
        run.setInstanceType("huge");
        assertCode("InvalidInstanceType.Malformed", () -> cvm.RunInstances(run));
        run.setInstanceType(null);
        SystemDisk sys = new SystemDisk();
        sys.setDiskType("LOCAL_BASIC");
        run.setSystemDisk(sys);
        assertCode("InvalidParameterValue", () -> cvm.RunInstances(run));
        run.setSystemDisk(null);
        run.setDryRun(true);
        assertCode("DryRunOperation", () -> cvm.RunInstances(run));
        DescribeInstancesRequest bad = new DescribeInstancesRequest();
        bad.setInstanceIds(new String[] {"ins-TOOLONG123"});
        assertCode("InvalidInstanceId.Malformed", () -> cvm.DescribeInstances(bad));
    }

    private void awaitState(String id, String state) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
            Instance i = instanceOrNull(id);
            return i != null && state.equals(i.getInstanceState());
        });
    }

    private static Instance instance(String id) throws Exception {
        Instance i = instanceOrNull(id);
        assertThat(i).as("instance " + id).isNotNull();
        return i;
    }

    private static Instance instanceOrNull(String id) throws Exception {
        DescribeInstancesRequest req = new DescribeInstancesRequest();
        req.setInstanceIds(new String[] {id});
        Instance[] set = cvm.DescribeInstances(req).getInstanceSet();
        return set.length == 0 ? null : set[0];
    }

    /** RunInstances of one instance in ap-guangzhou-1 from {@code imageId}. */
    static com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest runFrom(String imageId) {
        var run = new com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest();
        var placement = new com.tencentcloudapi.cvm.v20170312.models.Placement();
        placement.setZone("ap-guangzhou-1");
        run.setPlacement(placement);
        run.setImageId(imageId);
        return run;
    }

    /** A new instance from the blank image, running, and an image of it named {@code name}, NORMAL; returns the image id. */
    static String imageOfANewInstance(String name) throws Exception {
        String source = cvm.RunInstances(runFrom("img-blank001")).getInstanceIdSet()[0];
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> {
            var d = new com.tencentcloudapi.cvm.v20170312.models.DescribeInstancesRequest();
            d.setInstanceIds(new String[] {source});
            return cvm.DescribeInstances(d).getInstanceSet()[0].getInstanceState().equals("RUNNING");
        });
        var create = new com.tencentcloudapi.cvm.v20170312.models.CreateImageRequest();
        create.setInstanceId(source);
        create.setImageName(name);
        String image = cvm.CreateImage(create).getImageId();
        assertThat(image).matches("img-[a-z0-9]{8}");
        var byId = new DescribeImagesRequest();
        byId.setImageIds(new String[] {image});
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                .until(() -> cvm.DescribeImages(byId).getImageSet()[0].getImageState().equals("NORMAL"));
        return image;
    }

    @Test
    void aCustomImageMadeFromAnInstanceLaunchesLayeredInstances() throws Exception {
        String image = imageOfANewInstance("golden");
        var byId = new DescribeImagesRequest();
        byId.setImageIds(new String[] {image});
        var shown = cvm.DescribeImages(byId).getImageSet()[0];
        assertThat(shown.getImageType()).isEqualTo("PRIVATE_IMAGE");
        assertThat(shown.getImageName()).isEqualTo("golden");

        var run = runFrom(image);
        run.setInstanceCount(3L);
        assertThat(cvm.RunInstances(run).getInstanceIdSet()).hasSize(3);

        var snaps = cbs.DescribeSnapshots(new com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsRequest()).getSnapshotSet();
        var imaged = Arrays.stream(snaps).filter(s -> s.getImageCount() == 1L).toList();
        assertThat(imaged).hasSize(1);
        assertThat(imaged.getFirst().getImages()[0].getImageId()).isEqualTo(image);
        var delete = new com.tencentcloudapi.cbs.v20170312.models.DeleteSnapshotsRequest();
        delete.setSnapshotIds(new String[] {imaged.getFirst().getSnapshotId()});
        ApiFixture.assertCode("UnsupportedOperation.SnapshotHasBindedImage", () -> cbs.DeleteSnapshots(delete));

        var deleteImage = new com.tencentcloudapi.cvm.v20170312.models.DeleteImagesRequest();
        deleteImage.setImageIds(new String[] {image});
        deleteImage.setDeleteBindedSnap(true);
        cvm.DeleteImages(deleteImage);
        ApiFixture.assertCode("InvalidImageId.NotFound", () -> cvm.DeleteImages(deleteImage));
        assertThat(Arrays.stream(cbs.DescribeSnapshots(new com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsRequest()).getSnapshotSet())
                .map(com.tencentcloudapi.cbs.v20170312.models.Snapshot::getSnapshotId)).doesNotContain(imaged.getFirst().getSnapshotId());
    }

    @Test
    void aSharedImageLaunchesInstancesForTheOtherAccountAndNothingElse() throws Exception {
        var bob = api.control.accounts().createAccount(new dev.cairn.control.Caller(api.admin.accountId(), true, "t"), "image-bob");
        String image = imageOfANewInstance("to-share");
        var byId = new DescribeImagesRequest();
        byId.setImageIds(new String[] {image});

        var share = new com.tencentcloudapi.cvm.v20170312.models.ModifyImageSharePermissionRequest();
        share.setImageId(image);
        share.setAccountIds(new String[] {Long.toString(bob.accountId())});
        share.setPermission("SHARE");
        cvm.ModifyImageSharePermission(share);
        ApiFixture.assertCode("FailedOperation.AccountAlreadyExists", () -> cvm.ModifyImageSharePermission(share));
        var self = new com.tencentcloudapi.cvm.v20170312.models.ModifyImageSharePermissionRequest();
        self.setImageId(image);
        self.setAccountIds(new String[] {Long.toString(api.admin.accountId())});
        self.setPermission("SHARE");
        ApiFixture.assertCode("InvalidAccountIs.YourSelf", () -> cvm.ModifyImageSharePermission(self));
        var who = new com.tencentcloudapi.cvm.v20170312.models.DescribeImageSharePermissionRequest();
        who.setImageId(image);
        assertThat(cvm.DescribeImageSharePermission(who).getSharePermissionSet()[0].getAccountId()).isEqualTo(Long.toString(bob.accountId()));

        var bobCvm = api.cvm(bob);
        assertThat(bobCvm.DescribeImages(byId).getImageSet()[0].getImageType()).isEqualTo("SHARED_IMAGE");
        assertThat(bobCvm.RunInstances(runFrom(image)).getInstanceIdSet()).hasSize(1);
        var deleteImage = new com.tencentcloudapi.cvm.v20170312.models.DeleteImagesRequest();
        deleteImage.setImageIds(new String[] {image});
        ApiFixture.assertCode("UnauthorizedOperation.ImageNotBelongToAccount", () -> bobCvm.DeleteImages(deleteImage));
        ApiFixture.assertCode("InvalidImageId.InShared", () -> cvm.DeleteImages(deleteImage));

        share.setPermission("CANCEL");
        cvm.ModifyImageSharePermission(share);
        assertThat(bobCvm.DescribeImages(byId).getImageSet()).isEmpty();
        cvm.DeleteImages(deleteImage);
    }
}
