package dev.cairn.api;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.CopySnapshotCrossRegionsRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.CreateSnapshotRequest;
import com.tencentcloudapi.cbs.v20170312.models.DeleteSnapshotsRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeSnapshotsRequest;
import com.tencentcloudapi.cbs.v20170312.models.Placement;
import com.tencentcloudapi.cbs.v20170312.models.Snapshot;
import com.tencentcloudapi.cbs.v20170312.models.SnapshotCopyResult;
import dev.cairn.control.Caller;
import dev.cairn.control.Quotas;
import dev.cairn.control.Region;
import dev.cairn.control.SnapshotCopies;
import dev.cairn.volume.Volume;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CopySnapshotCrossRegions with the Tencent SDK between two in-process Cairns (each a region with its
 * own repository, reached over its real API): results per region, the destination's states and
 * refusals, verification that repairs a damaged chunk, and a copy given up at the destination.
 */
class CopySdkTest {
    private static final int MIB = 1 << 20;

    ApiFixture guangzhou;
    ApiFixture beijing;
    CbsClient source;
    CbsClient destination;

    @BeforeEach
    void start() throws Exception {
        beijing = new ApiFixture(InstantSource.system(), Region.of("ap-beijing"));
        guangzhou = new ApiFixture(InstantSource.system(), Region.defaultRegion());
        startCopies(0);
        source = guangzhou.cbs(guangzhou.admin);
        destination = beijing.cbs(beijing.admin);
    }

    private void startCopies(long bytesPerSecond) {
        guangzhou.control.snapshotCopies().start(List.of(new PeerRegionClient("ap-beijing", URI.create("http://" + beijing.endpoint() + "/"),
                beijing.admin.secretId(), beijing.admin.secretKey())), bytesPerSecond);
    }

    @AfterEach
    void stop() throws Exception {
        guangzhou.close();
        beijing.close();
    }

    @Test
    void aCopyArrivesVerifiedAndClonesInTheOtherRegion() throws Exception {
        String disk = newDisk(guangzhou, source, null);
        byte[] data = bytes(1, 3 * MIB);
        write(guangzhou, disk, data);
        String snap = snapshot(disk);

        SnapshotCopyResult[] results = copy(snap, "ap-beijing");
        assertThat(results).hasSize(1);
        assertThat(results[0].getCode()).isEqualTo("Success");
        assertThat(results[0].getDestinationRegion()).isEqualTo("ap-beijing");
        String copy = results[0].getSnapshotId();
        awaitDone(snap);

        Snapshot arrived = describe(destination, copy);
        assertThat(arrived.getSnapshotState()).isEqualTo("NORMAL");
        assertThat(arrived.getCopyFromRemote()).isTrue();
        assertThat(arrived.getDiskId()).isEqualTo(disk);
        assertThat(arrived.getPlacement().getZone()).isEqualTo("ap-beijing-1");
        assertThat(describe(source, snap).getCopyingToRegions()).isEmpty();
        String clone = newDisk(beijing, destination, copy);
        assertThat(read(beijing, clone, data.length)).isEqualTo(data);
        assertThat(beijing.repository.verify(1.0).problems()).isEmpty();

        // the source region knows nothing of the copy's id; the destination, nothing of the source's
        DescribeSnapshotsRequest other = new DescribeSnapshotsRequest();
        other.setSnapshotIds(new String[] {copy});
        assertThat(source.DescribeSnapshots(other).getSnapshotSet()).isEmpty();
        assertCode("InvalidParameterValue", () -> copy(snap, "ap-shanghai"));
        assertCode("InvalidParameterValue", () -> copy(snap, "ap-guangzhou"));
    }

    @Test
    void toAnEncryptedRegionPlaintextTravelsAndLaterCopiesStillSendOnlyWhatChanged() throws Exception {
        beijing.close();
        beijing = new ApiFixture(InstantSource.system(), Region.of("ap-beijing"), dev.cairn.repository.RepositoryOptions.defaults()
                .withKey(dev.cairn.repository.RepositoryKey.passphrase("beijing only")).withKdfIterations(1000));
        destination = beijing.cbs(beijing.admin);
        startCopies(0);
        String disk = newDisk(guangzhou, source, null);
        byte[] v1 = bytes(5, 4 * MIB);
        write(guangzhou, disk, v1);
        String s1 = snapshot(disk);
        String c1 = copy(s1, "ap-beijing")[0].getSnapshotId();
        assertThat(awaitDone(s1).bytesSent()).isEqualTo(4L * MIB); // plaintext: the keys differ, so do the ids
        byte[] v2 = v1.clone();
        System.arraycopy(bytes(6, 256 << 10), 0, v2, MIB, 256 << 10); // one block changed
        write(guangzhou, disk, v2);
        String s2 = snapshot(disk);
        String c2 = copy(s2, "ap-beijing")[0].getSnapshotId();
        assertThat(awaitDone(s2).bytesSent()).isEqualTo(256L << 10); // the other blocks: known from the first copy
        assertThat(read(beijing, newDisk(beijing, destination, c1), v1.length)).isEqualTo(v1);
        assertThat(read(beijing, newDisk(beijing, destination, c2), v2.length)).isEqualTo(v2);
    }

    @Test
    void dataThatArrivesForAChunkTheDestinationHasDamagedIsStillChecked() throws Exception {
        beijing.close();
        beijing = new ApiFixture(InstantSource.system(), Region.of("ap-beijing"), dev.cairn.repository.RepositoryOptions.defaults()
                .withKey(dev.cairn.repository.RepositoryKey.passphrase("beijing only")).withKdfIterations(1000));
        destination = beijing.cbs(beijing.admin);
        startCopies(0);
        byte[] data = bytes(7, MIB);
        String own = newDisk(beijing, destination, null); // the destination holds these bytes already, from a disk of its own
        write(beijing, own, data);
        snapshot(destination, own);
        damageChunks(beijing);
        String disk = newDisk(guangzhou, source, null);
        write(guangzhou, disk, data);
        String snap = snapshot(disk);
        String copy = copy(snap, "ap-beijing")[0].getSnapshotId();
        SnapshotCopies.Copy done = awaitDone(snap);
        assertThat(done.attempts()).isEqualTo(2); // the data arrived, dedup found the damaged chunk, verification caught it
        assertThat(read(beijing, newDisk(beijing, destination, copy), data.length)).isEqualTo(data);
    }

    /** Bit rot in every chunk the region stores: in the chunk objects of its packs (a flipped byte every KiB, trailers left whole). */
    private static void damageChunks(ApiFixture region) throws Exception {
        try (Stream<Path> packs = Files.walk(region.dir.resolve("repository").resolve("packs"))) {
            for (Path p : packs.filter(Files::isRegularFile).toList()) {
                byte[] b = Files.readAllBytes(p);
                int trailer = java.nio.ByteBuffer.wrap(b, b.length - 12, 4).getInt();
                for (int i = 512; i < b.length - trailer; i += 1024) b[i] ^= 0x5a;
                Files.write(p, b);
            }
        }
    }

    @Test
    void theDestinationsRulesComeBackAsTheRegionsResult() throws Exception {
        String disk = newDisk(guangzhou, source, null);
        write(guangzhou, disk, bytes(2, MIB));
        String snap = snapshot(disk);
        Caller admin = new Caller(beijing.admin.accountId(), true, "t");
        beijing.control.quotas().modify(admin, beijing.admin.accountId(), Quotas.Quota.SNAPSHOTS_PER_REGION, 0L);

        SnapshotCopyResult r = copy(snap, "ap-beijing")[0];
        assertThat(r.getCode()).isEqualTo("InsufficientSnapshotQuota");
        assertThat(r.getSnapshotId()).isEmpty();
        assertThat(guangzhou.control.snapshotCopies().describe(new Caller(guangzhou.admin.accountId(), true, "t"), snap)).isEmpty();

        // an account the destination does not have
        var alice = guangzhou.control.accounts().createAccount(new Caller(guangzhou.admin.accountId(), true, "t"), "alice");
        CbsClient aliceSource = guangzhou.cbs(alice);
        String aliceDisk = newDisk(guangzhou, aliceSource, null);
        String aliceSnap = snapshot(aliceSource, aliceDisk);
        assertThat(copy(aliceSource, aliceSnap, "ap-beijing")[0].getCode()).isEqualTo("InvalidAccountId.NotFound");
    }

    @Test
    void aDamagedChunkAtTheDestinationIsFoundBeforeNormalAndSentAgain() throws Exception {
        String disk = newDisk(guangzhou, source, null);
        byte[] data = bytes(3, 2 * MIB);
        write(guangzhou, disk, data);
        String first = snapshot(disk);
        copy(first, "ap-beijing");
        awaitDone(first);
        damageChunks(beijing); // bit rot at the destination
        String second = snapshot(disk); // the same data: the destination believes it has every chunk
        String copy = copy(second, "ap-beijing")[0].getSnapshotId();
        SnapshotCopies.Copy done = awaitDone(second);
        assertThat(done.attempts()).isEqualTo(2); // the first attempt failed verification
        assertThat(done.bytesSent()).isBetween(2L * MIB, 2L * MIB + 4096); // the damaged chunks were sent again (stored form)
        assertThat(describe(destination, copy).getSnapshotState()).isEqualTo("NORMAL");
        assertThat(read(beijing, newDisk(beijing, destination, copy), data.length)).isEqualTo(data);
    }

    @Test
    void anArrivingCopyDeletedAtTheDestinationFailsAtTheSource() throws Exception {
        guangzhou.control.snapshotCopies().start(List.of(), 0);
        startCopies(2L * MIB); // 2 MiB/s: the copy of 8 MiB waits 4 s before it completes
        String disk = newDisk(guangzhou, source, null);
        write(guangzhou, disk, bytes(4, 8 * MIB));
        String snap = snapshot(disk);
        String copy = copy(snap, "ap-beijing")[0].getSnapshotId();
        assertThat(describe(source, snap).getCopyingToRegions()).containsExactly("ap-beijing");
        assertThat(describe(destination, copy).getSnapshotState()).isEqualTo("COPYING_FROM_REMOTE");
        assertThat(copy(snap, "ap-beijing")[0].getCode()).isEqualTo("ResourceInUse.CopySnapshotConflict");
        assertCode("ResourceBusy", () -> delete(source, snap));
        assertCode("ResourceUnavailable.SnapshotCreating", () -> newDisk(beijing, destination, copy));

        delete(destination, copy); // given up here
        SnapshotCopies.Copy failed = await().atMost(Duration.ofSeconds(30)).until(() -> copies(snap).getFirst(),
                c -> c.state() != SnapshotCopies.State.RUNNING);
        assertThat(failed.state()).isEqualTo(SnapshotCopies.State.FAILED);
        assertThat(failed.error()).contains("deleted in ap-beijing");
        delete(source, snap); // no longer being copied
    }

    // ------------------------------------------------------------------ helpers

    private SnapshotCopyResult[] copy(String snapshot, String region) throws Exception {
        return copy(source, snapshot, region);
    }

    private static SnapshotCopyResult[] copy(CbsClient cbs, String snapshot, String region) throws Exception {
        CopySnapshotCrossRegionsRequest req = new CopySnapshotCrossRegionsRequest();
        req.setSnapshotId(snapshot);
        req.setDestinationRegions(new String[] {region});
        return cbs.CopySnapshotCrossRegions(req).getSnapshotCopyResultSet();
    }

    private List<SnapshotCopies.Copy> copies(String snapshot) {
        return guangzhou.control.snapshotCopies().describe(new Caller(guangzhou.admin.accountId(), true, "t"), snapshot);
    }

    private SnapshotCopies.Copy awaitDone(String snapshot) {
        SnapshotCopies.Copy c = await().atMost(Duration.ofSeconds(60)).until(() -> copies(snapshot).getFirst(),
                x -> x.state() != SnapshotCopies.State.RUNNING);
        assertThat(c.state()).as("copy %s: %s", c.copySnapshotId(), c.error()).isEqualTo(SnapshotCopies.State.DONE);
        return c;
    }

    private String snapshot(String disk) throws Exception {
        return snapshot(source, disk);
    }

    private static String snapshot(CbsClient cbs, String disk) throws Exception {
        CreateSnapshotRequest req = new CreateSnapshotRequest();
        req.setDiskId(disk);
        String id = cbs.CreateSnapshot(req).getSnapshotId();
        await().atMost(Duration.ofSeconds(30)).until(() -> describe(cbs, id).getSnapshotState().equals("NORMAL"));
        return id;
    }

    private static Snapshot describe(CbsClient cbs, String id) throws Exception {
        DescribeSnapshotsRequest req = new DescribeSnapshotsRequest();
        req.setSnapshotIds(new String[] {id});
        return cbs.DescribeSnapshots(req).getSnapshotSet()[0];
    }

    private static void delete(CbsClient cbs, String id) throws Exception {
        DeleteSnapshotsRequest req = new DeleteSnapshotsRequest();
        req.setSnapshotIds(new String[] {id});
        cbs.DeleteSnapshots(req);
    }

    private static String newDisk(ApiFixture region, CbsClient cbs, String snapshotId) throws Exception {
        CreateDisksRequest req = new CreateDisksRequest();
        Placement pl = new Placement();
        pl.setZone(region.control.region().name() + "-1");
        req.setPlacement(pl);
        req.setDiskChargeType("POSTPAID_BY_HOUR");
        req.setDiskType("CLOUD_PREMIUM");
        if (snapshotId == null) req.setDiskSize(10L);
        else req.setSnapshotId(snapshotId);
        String id = cbs.CreateDisks(req).getDiskIdSet()[0];
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            DescribeDisksRequest d = new DescribeDisksRequest();
            d.setDiskIds(new String[] {id});
            return cbs.DescribeDisks(d).getDiskSet()[0].getDiskState().equals("UNATTACHED");
        });
        return id;
    }

    private static void write(ApiFixture region, String disk, byte[] data) throws Exception {
        try (Volume v = region.volumes.open(disk)) {
            v.write(0, ByteBuffer.wrap(data), true);
        }
    }

    private static byte[] read(ApiFixture region, String disk, int n) throws Exception {
        try (Volume v = region.volumes.open(disk)) {
            ByteBuffer b = ByteBuffer.allocate(n);
            v.read(0, b);
            return b.array();
        }
    }

    private static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
