package dev.cairn.cli;

import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.Disk;
import com.tencentcloudapi.common.Credential;
import com.tencentcloudapi.common.exception.TencentCloudSDKException;
import com.tencentcloudapi.common.profile.ClientProfile;
import com.tencentcloudapi.common.profile.HttpProfile;
import com.tencentcloudapi.cvm.v20170312.CvmClient;
import com.tencentcloudapi.cvm.v20170312.models.DataDisk;
import com.tencentcloudapi.cvm.v20170312.models.DescribeInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.Instance;
import com.tencentcloudapi.cvm.v20170312.models.Placement;
import com.tencentcloudapi.cvm.v20170312.models.RunInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.StopInstancesRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's story with the official Tencent SDK against a real {@code cairn serve}: run an instance with a
 * data disk, put an ext4 file system on the disk over NBD, read it back intact; stopping the instance
 * stops serving the disk.
 */
class SdkStoryIT {
    @TempDir Path tmp;

    @Test
    void ext4OnACloudDiskMadeWithTheSdk() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            JsonNode c = new ObjectMapper().readTree(server.credentials().toFile());
            Credential cred = new Credential(c.path("secretId").asText(), c.path("secretKey").asText());
            HttpProfile http = new HttpProfile();
            http.setEndpoint(server.api.substring("http://".length()));
            http.setProtocol("http://");
            ClientProfile profile = new ClientProfile("TC3-HMAC-SHA256", http);
            CvmClient cvm = new CvmClient(cred, "ap-guangzhou", profile);
            CbsClient cbs = new CbsClient(cred, "ap-guangzhou", profile);

            RunInstancesRequest run = new RunInstancesRequest();
            Placement placement = new Placement();
            placement.setZone("ap-guangzhou-1");
            run.setPlacement(placement);
            run.setImageId(firstPublicImage(cvm));
            DataDisk data = new DataDisk();
            data.setDiskSize(10L);
            data.setDiskType("CLOUD_PREMIUM");
            run.setDataDisks(new DataDisk[] {data});
            run.setInstanceName("story");
            String instanceId = cvm.RunInstances(run).getInstanceIdSet()[0];
            Instance instance = waitForInstance(cvm, instanceId, i -> "RUNNING".equals(i.getInstanceState()));
            assertThat(instance.getDataDisks()).hasSize(1);
            String diskId = instance.getDataDisks()[0].getDiskId();
            assertThat(instance.getSystemDisk().getDiskId()).startsWith("disk-");

            DescribeDisksRequest dd = new DescribeDisksRequest();
            dd.setDiskIds(new String[] {diskId});
            Disk disk = cbs.DescribeDisks(dd).getDiskSet()[0];
            assertThat(disk.getDiskState()).isEqualTo("ATTACHED");
            assertThat(disk.getInstanceId()).isEqualTo(instanceId);
            assertThat(disk.getDiskSize()).isEqualTo(10L);

            // An ext4 file system with real files, built offline, copied onto the cloud disk over NBD.
            Path src = Files.createDirectories(tmp.resolve("src/dir"));
            byte[] big = new byte[3 << 20];
            ThreadLocalRandom.current().nextBytes(big);
            Files.write(src.resolve("big.bin"), big);
            Files.writeString(src.resolveSibling("hello.txt"), "hello, cairn\n");
            Path image = tmp.resolve("fs.img");
            run("mke2fs", "-q", "-F", "-t", "ext4", "-d", tmp.resolve("src").toString(), image.toString(), "64M").ok();
            String uri = server.nbdUri(diskId);
            run("nbdcopy", "--flush", image.toString(), uri).ok();

            Path back = tmp.resolve("back.img");
            Files.createFile(back);
            run("truncate", "-s", String.valueOf(10L << 30), back.toString()).ok();
            run("nbdcopy", uri, back.toString()).ok();
            run("e2fsck", "-fn", back.toString()).ok();
            Path out = Files.createDirectories(tmp.resolve("out"));
            run("debugfs", "-R", "rdump / " + out, back.toString()).ok();
            assertThat(Files.readAllBytes(out.resolve("dir/big.bin"))).isEqualTo(big);
            assertThat(Files.readString(out.resolve("hello.txt"))).isEqualTo("hello, cairn\n");

            // A stopped instance's disks are not served.
            StopInstancesRequest stop = new StopInstancesRequest();
            stop.setInstanceIds(new String[] {instanceId});
            cvm.StopInstances(stop);
            waitForInstance(cvm, instanceId, i -> "STOPPED".equals(i.getInstanceState()));
            Tools.Result refused = run("nbdinfo", uri);
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.err()).contains(diskId).contains("opt_go");

            // Tencent's error codes come through the SDK unchanged.
            DescribeDisksRequest bad = new DescribeDisksRequest();
            bad.setLimit(1000L);
            assertThatThrownBy(() -> cbs.DescribeDisks(bad))
                    .isInstanceOfSatisfying(TencentCloudSDKException.class,
                            e -> assertThat(e.getErrorCode()).startsWith("InvalidParameterValue"));
            assertThat(server.stop()).isZero();
        }
    }

    private static String firstPublicImage(CvmClient cvm) throws TencentCloudSDKException {
        var images = cvm.DescribeImages(new com.tencentcloudapi.cvm.v20170312.models.DescribeImagesRequest()).getImageSet();
        assertThat(images).isNotEmpty();
        return images[0].getImageId();
    }

    private static Instance waitForInstance(CvmClient cvm, String id, Predicate<Instance> done) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (true) {
            DescribeInstancesRequest r = new DescribeInstancesRequest();
            r.setInstanceIds(new String[] {id});
            Instance[] set = cvm.DescribeInstances(r).getInstanceSet();
            if (set.length == 1 && done.test(set[0])) return set[0];
            if (Instant.now().isAfter(deadline)) throw new AssertionError("instance " + id + " did not reach the state in time");
            Thread.sleep(100); // polling the API for a state change; bounded by the deadline
        }
    }
}
