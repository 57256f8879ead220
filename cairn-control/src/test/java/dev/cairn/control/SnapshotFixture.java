package dev.cairn.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cairn.control.CloudControl.DiskSpec;
import dev.cairn.control.CloudControl.NewDisks;
import dev.cairn.control.CloudControl.NewInstances;
import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.SnapshotConflict;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.local.LocalBackend;
import dev.cairn.snapshot.BaseCache;
import dev.cairn.snapshot.SnapshotEngine;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node for control-plane tests with snapshots: a catalog (the subclass picks the engine), a real
 * local repository behind a {@link FaultyBackend}, volumes, the base cache, a test clock, and the
 * accounts {@code admin} and {@code alice}; with helpers to make disks and read and write them.
 */
abstract class SnapshotFixture {
    static final long GIB = 1L << 30;
    @TempDir Path dir;

    Catalog catalog;
    Repository repo;
    FaultyBackend backend;
    BaseCache cache;
    VolumeManager volumes;
    CloudControl control;
    TestClock clock = new TestClock(Instant.parse("2026-11-26T04:00:00Z"));
    /** The node's limits; a test may change them and restart the node ({@link #stopNode}, {@link #startNode}). */
    Limits limits = Limits.defaults();
    Caller admin;
    Caller alice;

    abstract Catalog openCatalog();

    @BeforeEach
    void start() throws Exception {
        catalog = openCatalog();
        backend = new FaultyBackend(LocalBackend.open(dir.resolve("repository")));
        repo = Repository.create(backend, RepositoryOptions.defaults());
        startNode();
        admin = new Caller(control.accounts().bootstrapAdmin().accountId(), true, "req-admin");
        alice = new Caller(control.accounts().createAccount(admin, "alice").accountId(), false, "req-alice");
    }

    void startNode() throws IOException {
        cache = new BaseCache(dir.resolve("cache"), repo);
        volumes = new VolumeManager(dir.resolve("volumes"), repo.blockSize(), cache);
        control = new CloudControl(catalog, volumes, new SnapshotEngine(repo, volumes, cache, 2), Region.defaultRegion(),
                limits, clock, 0, new ServerHooks(dir.resolve("hooks")));
    }

    void stopNode() throws Exception {
        control.close();
        volumes.close();
        cache.close();
    }

    @AfterEach
    void stop() throws Exception {
        stopNode();
        catalog.close();
    }

    // ---- fixtures ----

    String runningInstanceWithDisk() {
        String ins = control.runInstances(alice, new NewInstances("ap-guangzhou-1", 0, "img-blank001", "S5.MEDIUM4", "web", 1,
                new DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true), List.of(new DiskSpec(DiskType.CLOUD_PREMIUM, 10, "data", false)),
                null, false)).getFirst();
        awaitIdle();
        return ins;
    }

    String dataDiskOf(String instanceId) {
        return disks().stream().filter(d -> instanceId.equals(d.instanceId()) && d.diskUsage() == DiskUsage.DATA_DISK)
                .findFirst().orElseThrow().diskId();
    }

    List<Disk> disks() {
        return control.describeDisks(alice, ListQuery.all(Comparator.comparing(Disk::createdAt))).items();
    }

    Disk disk(String id) {
        return disks().stream().filter(d -> d.diskId().equals(id)).findFirst().orElseThrow();
    }

    Snapshot snapshot(String id) {
        return control.snapshots().describeSnapshots(alice, new ListQuery<Snapshot>(List.of(id), s -> true,
                Comparator.comparing(Snapshot::createdAt), 0, 100)).items().getFirst();
    }

    Snapshot awaitNormal(String id) {
        await().atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                .until(() -> snapshot(id).state() == SnapshotState.NORMAL);
        return snapshot(id);
    }

    void awaitIdle() {
        try {
            assertThat(control.awaitIdle(Duration.ofSeconds(60))).isTrue();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] pattern(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    void write(String diskId, long offset, byte[] data) throws IOException {
        try (Volume v = volumes.open(diskId)) {
            v.write(offset, ByteBuffer.wrap(data), false);
            v.flush();
        }
    }

    byte[] read(Volume v, long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        v.read(offset, b);
        return b.array();
    }

    byte[] read(String diskId, long offset, int n) throws IOException {
        try (Volume v = volumes.open(diskId)) {
            return read(v, offset, n);
        }
    }

    byte[] readSnapshot(String snapshotId, long offset, int n) throws IOException {
        try (Volume v = control.snapshots().openExport(snapshotId).orElseThrow()) {
            return read(v, offset, n);
        }
    }
}
