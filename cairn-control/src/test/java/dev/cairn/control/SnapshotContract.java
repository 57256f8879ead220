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
 * Snapshots through the control plane with a real repository, volumes and base cache: create,
 * incremental, rollback, clone, initialize, groups, delete and what it frees, restart recovery,
 * catalog rebuild. Run on each catalog engine by a subclass.
 */
abstract class SnapshotContract extends SnapshotFixture {

    /** A second, empty catalog of the same engine: the node's catalog lost and started afresh. */
    abstract Catalog openFreshCatalog();

    // ---- tests ----

    @Test
    void aSnapshotIsTheDiskAtTheBarrierAndTheNextOneIsIncremental() throws IOException {
        String disk = dataDiskOf(runningInstanceWithDisk());
        byte[] a = pattern(1, 3 << 20);
        write(disk, 5 * GIB, a);
        String s1 = control.snapshots().createSnapshot(alice, disk, "first", null);
        write(disk, 5 * GIB, pattern(2, 4096)); // after the barrier: not in s1
        Snapshot first = awaitNormal(s1);
        assertThat(first.percent()).isEqualTo(100);
        assertThat(first.incremental()).isFalse();
        assertThat(first.logicalBytes()).isEqualTo(3L << 20);
        assertThat(first.diskSizeGib()).isEqualTo(10);
        assertThat(readSnapshot(s1, 5 * GIB, a.length)).isEqualTo(a);
        assertThat(readSnapshot(s1, 0, 4096)).isEqualTo(new byte[4096]);

        String s2 = control.snapshots().createSnapshot(alice, disk, "second", null);
        Snapshot second = awaitNormal(s2);
        assertThat(second.incremental()).isTrue();
        assertThat(second.incrementalBytes()).as("one changed block plus a page and a root").isLessThan(600_000);
        byte[] expected = a.clone();
        System.arraycopy(pattern(2, 4096), 0, expected, 0, 4096);
        assertThat(readSnapshot(s2, 5 * GIB, a.length)).isEqualTo(expected);
        assertThat(control.operationLog(alice, s2)).extracting(OperationRecord::state).containsExactly("SUCCESS");
    }

    @Test
    void rollbackNeedsAStoppedInstanceThenRestoresTheDiskAtOnce() throws IOException {
        String ins = runningInstanceWithDisk();
        String disk = dataDiskOf(ins);
        byte[] good = pattern(3, 1 << 20);
        write(disk, GIB, good);
        String s = control.snapshots().createSnapshot(alice, disk, null, null);
        awaitNormal(s);
        write(disk, GIB, pattern(4, 1 << 20)); // the damage
        write(disk, 3 * GIB, pattern(5, 4096));

        assertThatThrownBy(() -> control.rollbacks().applySnapshot(alice, s, disk, false, false))
                .isInstanceOfSatisfying(DiskConflict.class, e -> assertThat(e.problem()).isEqualTo(DiskConflict.Problem.INSTANCE_RUNNING));
        control.rollbacks().applySnapshot(alice, s, disk, true, true);
        awaitIdle();
        assertThat(disk(disk).state()).isEqualTo(DiskState.ATTACHED);
        assertThat(snapshot(s).state()).isEqualTo(SnapshotState.NORMAL);
        assertThat(read(disk, GIB, good.length)).isEqualTo(good);
        assertThat(read(disk, 3 * GIB, 4096)).isEqualTo(new byte[4096]);
        assertThat(control.describeInstances(alice, ListQuery.all(Comparator.comparing(Instance::createdAt))).items().getFirst().state())
                .as("AutoStartInstance").isEqualTo(InstanceState.RUNNING);
        assertThat(control.rollbacks().flattenProgress(alice)).as("flattened in the background").isEmpty();
        assertThat(volumes.baseOf(disk)).isNull();

        // the snapshot after a rollback is incremental against the snapshot rolled back to
        write(disk, GIB, pattern(6, 4096));
        Snapshot after = awaitNormal(control.snapshots().createSnapshot(alice, disk, null, null));
        assertThat(after.incremental()).isTrue();
    }

    @Test
    void rollbackRefusesAnotherDisksSnapshotAndUnknownIds() {
        String ins = runningInstanceWithDisk();
        String disk = dataDiskOf(ins);
        String other = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)).getFirst();
        String s = control.snapshots().createSnapshot(alice, disk, null, null);
        awaitNormal(s);
        assertThatThrownBy(() -> control.rollbacks().applySnapshot(alice, s, other, false, false))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.OTHER_DISK));
        assertThatThrownBy(() -> control.rollbacks().applySnapshot(alice, "snap-00000000", other, false, false)).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.snapshots().createSnapshot(alice, "disk-00000000", null, null)).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.snapshots().deleteSnapshots(admin, List.of(s))).as("another account's").isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.rollbacks().applySnapshot(alice, s, disk, false, true))
                .isInstanceOf(ControlException.InvalidValue.class);
    }

    @Test
    void clonesReadTheSnapshotAtOnceAndDivergeIndependently() throws IOException {
        String disk = dataDiskOf(runningInstanceWithDisk());
        byte[] data = pattern(7, 2 << 20);
        write(disk, 0, data);
        String s = control.snapshots().createSnapshot(alice, disk, null, null);
        awaitNormal(s);
        List<String> clones = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 0, "clone", 2,
                null, false, 0, null, s));
        assertThat(disk(clones.getFirst()).sizeGib()).isEqualTo(10);
        for (String c : clones) assertThat(read(c, 0, data.length)).isEqualTo(data);
        write(clones.getFirst(), 0, pattern(8, 4096));
        assertThat(read(clones.get(1), 0, data.length)).isEqualTo(data);
        assertThat(read(disk, 0, data.length)).isEqualTo(data);
        awaitIdle();
        assertThat(volumes.baseOf(clones.get(1))).as("flattened").isNull();
        assertThat(read(clones.get(1), 0, data.length)).isEqualTo(data);

        assertThatThrownBy(() -> control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 0, null, 1, null,
                false, 0, null, "snap-00000000"))).isInstanceOf(NotFound.class);
        String big = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 20, null, 1, null, false, 0, null, s)).getFirst();
        assertThat(disk(big).sizeGib()).isEqualTo(20);
        assertThat(read(big, 15 * GIB, 4096)).isEqualTo(new byte[4096]);

        // InitializeDisks takes a clone back to its snapshot
        write(big, 0, pattern(9, 8192));
        control.rollbacks().initializeDisks(alice, List.of(big));
        awaitIdle();
        assertThat(read(big, 0, data.length)).isEqualTo(data);
    }

    @Test
    void deletingSnapshotsFreesOnlyWhatNothingElseNames() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        write(disk, 0, pattern(10, 1 << 20));
        String s1 = control.snapshots().createSnapshot(alice, disk, null, null);
        String m1 = awaitNormal(s1).manifestId();
        write(disk, 0, pattern(11, 1 << 20));
        String s2 = control.snapshots().createSnapshot(alice, disk, null, null);
        String m2 = awaitNormal(s2).manifestId();
        assertThat(control.snapshots().space(alice, List.of(s1)).getFirst().exclusiveBytes())
                .as("s1's 1 MiB of data is in no other manifest: deleting s1 would free it").isGreaterThan(1 << 20);
        awaitIdle();
        assertThat(control.snapshots().exclusiveBytes(alice, List.of(s1)).get(s1)).as("stored for DescribeSnapshots, the same figure")
                .isEqualTo(control.snapshots().space(alice, List.of(s1)).getFirst().exclusiveBytes());
        assertThat(control.snapshots().exclusiveBytes(admin, List.of(s1))).as("another account's: not shown").isEmpty();
        String clone = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 0, null, 1, null, false, 0, null, s1)).getFirst();

        var space = control.snapshots().space(alice, List.of(s1, s2));
        assertThat(space.get(0).exclusiveBytes()).as("s1 is also the clone's lineage").isZero();
        assertThat(space.get(1).exclusiveBytes()).as("s2 is the disk's last capture").isZero();
        awaitIdle(); // the background refresh behind DescribeSnapshots' ExclusiveBytes
        assertThat(control.snapshots().exclusiveBytes(alice, List.of(s1, s2))).containsEntry(s1, 0L).containsEntry(s2, 0L);

        control.snapshots().deleteSnapshots(alice, List.of(s1, s2));
        awaitIdle();
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).totalCount()).isZero();
        assertThat(repo.listManifests()).as("m2: parent of the disk's next snapshot; m1: of the clone's")
                .contains(ManifestId.parse(m1), ManifestId.parse(m2));
        assertThat(repo.deletedSnapshotManifests()).as("the repository says their snapshots are gone")
                .containsExactlyInAnyOrder(ManifestId.parse(m1), ManifestId.parse(m2));
        catalog.write(tx -> tx.update("DELETE FROM snapshots"));
        assertThat(control.repository().rebuildCatalog(admin).snapshotIds()).as("a rebuilt catalog does not bring deleted snapshots back").isEmpty();
        control.terminateDisks(alice, List.of(clone));
        awaitIdle();
        assertThat(repo.listManifests()).as("nothing names m1 any more").doesNotContain(ManifestId.parse(m1)).contains(ManifestId.parse(m2));

        assertThat(repo.deletedSnapshotManifests()).containsExactly(ManifestId.parse(m2));

        // a crash between a snapshot's row going and its release: gc marks what only a disk still names
        write(disk, 0, pattern(12, 1 << 20));
        String s3 = control.snapshots().createSnapshot(alice, disk, null, null);
        String m3 = awaitNormal(s3).manifestId();
        catalog.write(tx -> tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", s3));
        var gc = control.repository().collectGarbage(admin, Duration.ZERO);
        assertThat(gc.chunksDeleted()).as("s1's chunk").isGreaterThan(0);
        assertThat(repo.deletedSnapshotManifests()).as("m2 now names nothing: its root and marker are gone")
                .containsExactly(ManifestId.parse(m3));
        assertThat(repo.listManifests()).doesNotContain(ManifestId.parse(m2));
        assertThat(control.repository().rebuildCatalog(admin).snapshotIds()).isEmpty();
        assertThat(control.repository().verify(admin, 1.0).ok()).isTrue();
        assertThatThrownBy(() -> control.repository().collectGarbage(alice, Duration.ZERO)).isInstanceOf(ControlException.Unauthorized.class);
    }

    @Test
    void aGroupIsOneBarrierAcrossTheInstancesDisks() throws IOException {
        String ins = runningInstanceWithDisk();
        String d1 = dataDiskOf(ins);
        String d2 = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, ins, false, 0, null)).getFirst();
        awaitIdle();
        write(d1, 0, pattern(12, 4096));
        write(d2, 0, pattern(13, 4096));
        String g = control.snapshots().createSnapshotGroup(alice, List.of(d1, d2), "nightly");
        awaitIdle();
        SnapshotGroup group = control.snapshots().describeSnapshotGroups(alice, ListQuery.all(Comparator.comparing(SnapshotGroup::createdAt))).items().getFirst();
        assertThat(group.groupId()).isEqualTo(g);
        assertThat(group.state()).isEqualTo(SnapshotState.NORMAL);
        assertThat(group.snapshotIds()).hasSize(2);
        assertThat(group.snapshotIds().stream().map(this::snapshot).map(Snapshot::name)).containsExactlyInAnyOrder("nightly_0", "nightly_1");

        write(d1, 0, pattern(14, 4096));
        write(d2, 0, pattern(15, 4096));
        Map<String, String> pairs = new java.util.LinkedHashMap<>();
        for (String s : group.snapshotIds()) pairs.put(snapshot(s).diskId(), s);
        control.rollbacks().applySnapshotGroup(alice, g, pairs, true, false);
        awaitIdle();
        assertThat(read(d1, 0, 4096)).isEqualTo(pattern(12, 4096));
        assertThat(read(d2, 0, 4096)).isEqualTo(pattern(13, 4096));

        control.snapshots().deleteSnapshotGroups(alice, List.of(g));
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).totalCount()).isZero();
    }

    @Test
    void aRestartRemovesInterruptedCapturesAndTheCatalogCanBeRebuiltFromTheRepository() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        write(disk, 0, pattern(16, 4096));
        String s = control.snapshots().createSnapshot(alice, disk, "keep me", null);
        awaitNormal(s);
        catalog.write(tx -> tx.update("INSERT INTO snapshots (" + Snapshot.COLUMNS + ") VALUES (" + Snapshot.PLACEHOLDERS + ")",
                "snap-crashed0", alice.accountId(), "x", "ap-guangzhou-1", 0L, disk, 10L, "DATA_DISK", "CREATING", 40, null, null, null,
                true, null, 0L, 0L, false, 0L, 0L, 0L, false));
        stopNode();
        startNode();
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).items())
                .extracting(Snapshot::snapshotId).containsExactly(s);

        catalog.write(tx -> tx.update("DELETE FROM snapshots"));
        var rebuilt = control.repository().rebuildCatalog(admin);
        assertThat(rebuilt.snapshotIds()).containsExactly(s);
        assertThat(rebuilt.accounts()).as("alice's account is still there").isEmpty();
        Snapshot back = snapshot(s);
        assertThat(back.name()).isEqualTo("keep me");
        assertThat(back.diskId()).isEqualTo(disk);
        assertThat(readSnapshot(s, 0, 4096)).isEqualTo(pattern(16, 4096));
    }

    @Test
    void aLostCatalogIsRebuiltFromTheRepositoryWithItsAccountsAndGroups() throws Exception {
        String ins = runningInstanceWithDisk();
        String d1 = dataDiskOf(ins);
        String d2 = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, ins, false, 0, null)).getFirst();
        awaitIdle();
        write(d1, 0, pattern(17, 4096));
        write(d2, 0, pattern(18, 4096));
        String single = control.snapshots().createSnapshot(alice, d1, "single", null);
        awaitNormal(single);
        String g = control.snapshots().createSnapshotGroup(alice, List.of(d1, d2), "nightly");
        awaitIdle();
        List<String> members = control.snapshots().describeSnapshotGroups(alice, ListQuery.all(Comparator.comparing(SnapshotGroup::createdAt)))
                .items().getFirst().snapshotIds();
        String gone = control.snapshots().createSnapshot(alice, d1, "deleted", null);
        awaitNormal(gone);
        control.snapshots().deleteSnapshots(alice, List.of(gone)); // its root stays: d1's last capture
        awaitIdle();

        stopNode();
        catalog.close();
        catalog = openFreshCatalog(); // the catalog is lost: a new, empty one over the same repository
        startNode();
        admin = new Caller(control.accounts().bootstrapAdmin().accountId(), true, "req-admin");
        var rebuilt = control.repository().rebuildCatalog(admin);
        assertThat(rebuilt.snapshotIds()).containsExactlyInAnyOrder(single, members.get(0), members.get(1));
        assertThat(rebuilt.accounts()).extracting(Accounts.Credentials::accountId).containsExactly(alice.accountId());
        var key = control.accounts().findKey(rebuilt.accounts().getFirst().secretId()).orElseThrow();
        assertThat(key.accountName()).isEqualTo("restored-" + alice.accountId());
        assertThat(key.admin()).isFalse();

        assertThat(snapshot(single).name()).isEqualTo("single");
        assertThat(readSnapshot(single, 0, 4096)).isEqualTo(pattern(17, 4096));
        SnapshotGroup group = control.snapshots().describeSnapshotGroups(alice, ListQuery.all(Comparator.comparing(SnapshotGroup::createdAt)))
                .items().getFirst();
        assertThat(group.groupId()).isEqualTo(g);
        assertThat(group.name()).isEqualTo("nightly");
        assertThat(group.state()).isEqualTo(SnapshotState.NORMAL);
        assertThat(group.snapshotIds()).containsExactlyInAnyOrderElementsOf(members);
        assertThat(readSnapshot(members.get(1), 0, 4096)).isIn(pattern(17, 4096), pattern(18, 4096));
        assertThat(control.repository().rebuildCatalog(admin).snapshotIds()).as("a second run finds nothing missing").isEmpty();
    }

    @Test
    void aFullOrUnreachableRepositoryFailsTheSnapshotCleanlyAndTheDiskKeepsWorking() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        byte[] a = pattern(20, 1 << 20);
        write(disk, 0, a);
        for (FaultyBackend.Fault fault : List.of(FaultyBackend.Fault.FULL, FaultyBackend.Fault.UNREACHABLE)) {
            backend.fault = fault;
            String s = control.snapshots().createSnapshot(alice, disk, null, null);
            awaitIdle();
            assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).items())
                    .as("%s: no snapshot is left behind", fault).isEmpty();
            assertThat(control.operationLog(alice, s)).extracting(OperationRecord::state).as("%s", fault).containsExactly("FAILED");
            write(disk, 2 << 20, pattern(21, 4096)); // the disk keeps working
        }
        backend.fault = FaultyBackend.Fault.NONE;
        Snapshot s = awaitNormal(control.snapshots().createSnapshot(alice, disk, null, null));
        assertThat(readSnapshot(s.snapshotId(), 0, a.length)).isEqualTo(a);
        assertThat(readSnapshot(s.snapshotId(), 2 << 20, 4096)).as("the failed captures' changes are in the next").isEqualTo(pattern(21, 4096));
        assertThat(control.repository().verify(admin, 1.0).ok()).isTrue();
    }

    @Test
    void aDamagedChunkIsAnIoErrorOnReadAndAProblemForVerifyNeverWrongData() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        write(disk, 0, pattern(22, repo.blockSize())); // exactly one chunk
        Snapshot s = awaitNormal(control.snapshots().createSnapshot(alice, disk, null, null));
        Path chunk;
        try (var files = java.nio.file.Files.walk(dir.resolve("repository"))) {
            // a chunk file (format 1) or the pack holding it (format 2), whose middle is inside the chunk
            chunk = files.filter(p -> java.nio.file.Files.isRegularFile(p) && (p.toString().contains("chunk") || p.toString().contains("packs"))).filter(p -> {
                try {
                    return java.nio.file.Files.size(p) > repo.blockSize() / 2; // the random block's chunk, not a page
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).findFirst().orElseThrow();
        }
        byte[] bytes = java.nio.file.Files.readAllBytes(chunk);
        bytes[bytes.length / 2] ^= 0x40;
        java.nio.file.Files.write(chunk, bytes);
        assertThatThrownBy(() -> readSnapshot(s.snapshotId(), 0, 4096)).isInstanceOf(IOException.class).hasMessageContaining("chunk");
        var report = control.repository().verify(admin, 1.0);
        assertThat(report.ok()).isFalse();
        assertThat(report.problems()).isNotEmpty();
    }

    @Test
    void withAThousandSnapshotsOfADiskOneMoreCostsWhatItChanged() throws Exception {
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, -1L); // past Tencent's 64 per disk
        String disk = dataDiskOf(runningInstanceWithDisk());
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            clock.advance(Duration.ofMinutes(1));
            write(disk, (long) (i % 64) * (1 << 20), pattern(100 + i, 4096));
            ids.add(awaitNormal(control.snapshots().createSnapshot(alice, disk, null, null)).snapshotId());
        }
        write(disk, 7 << 20, pattern(99, 4096));
        clock.advance(Duration.ofMinutes(1));
        control.billing().meterThrough(); // the hours the loop passed are metered now, not during the measurement
        awaitIdle(); // and the loop's last space refresh is done
        long before = backend.calls();
        long t0 = System.nanoTime();
        String last = control.snapshots().createSnapshot(alice, disk, null, null);
        awaitNormal(last);
        long createMs = (System.nanoTime() - t0) / 1_000_000;
        awaitIdle(); // and the refresh of every snapshot's ExclusiveBytes it set off (cached roots and pages: the new ones only)
        long createCalls = backend.calls() - before;
        assertThat(createCalls).as("one changed block: a chunk, a page, a root, and their checks").isLessThan(20);

        before = backend.calls();
        SnapshotQuery newest = new SnapshotQuery(List.of(new SnapshotQuery.Condition(SnapshotQuery.Field.DISK_ID, List.of(disk))), false, 0, 20);
        var page = control.snapshots().describeSnapshots(alice, newest);
        assertThat(page.totalCount()).isEqualTo(1001);
        assertThat(page.items()).hasSize(20);
        assertThat(page.items().getFirst().snapshotId()).isEqualTo(last);
        assertThat(page.items().get(1).snapshotId()).isEqualTo(ids.getLast());
        assertThat(backend.calls() - before).as("describing reads only the catalog").isZero();
        long d0 = System.nanoTime();
        for (int i = 0; i < 20; i++) control.snapshots().describeSnapshots(alice, newest);
        long describeMicros = (System.nanoTime() - d0) / 20_000;

        before = backend.calls();
        control.snapshots().deleteSnapshots(alice, List.of(ids.get(500)));
        awaitIdle();
        assertThat(backend.calls() - before).as("deleting one drops its root only (and the refresh reads nothing new)").isLessThan(5);
        assertThat(control.snapshots().exclusiveBytes(alice, List.of(ids.get(499), last))).as("refreshed for the rows").hasSize(2);
        System.out.printf("1,000 snapshots of one disk: the next one in %d ms with %d repository calls; its newest 20 described in %d us%n",
                createMs, createCalls, describeMicros);
    }

    @Test
    void theCatalogFiltersOrdersAndPagesSnapshotsAsTheConditionsSay() throws Exception {
        Caller bob = new Caller(control.accounts().createAccount(admin, "bob").accountId(), false, "req-bob");
        String first = dataDiskOf(runningInstanceWithDisk());
        String second = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)).getFirst();
        List<String> made = new java.util.ArrayList<>();
        for (int i = 0; i < 7; i++) {
            if (i % 3 != 2) clock.advance(Duration.ofSeconds(1)); // some share a creation time: the id orders them
            made.add(awaitNormal(control.snapshots().createSnapshot(alice, i % 2 == 0 ? first : second, "s" + (i % 3), null)).snapshotId());
        }
        String bobs = control.createDisks(bob, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)).getFirst();
        String bobsSnapshot = control.snapshots().createSnapshot(bob, bobs, "s0", null);
        awaitIdle();
        control.snapshotShares().modify(alice, List.of(made.get(1), made.get(4)), List.of(bob.accountId()), true);
        Map<SnapshotQuery.Field, List<String>> pool = Map.of(
                SnapshotQuery.Field.SNAPSHOT_ID, List.of(made.get(0), made.get(1), made.get(4), bobsSnapshot, "snap-nothere"),
                SnapshotQuery.Field.NAME, List.of("s0", "s1", "s2", "x"),
                SnapshotQuery.Field.STATE, List.of("NORMAL", "CREATING", "TORECYCLE"),
                SnapshotQuery.Field.DISK_USAGE, List.of("DATA_DISK", "SYSTEM_DISK"),
                SnapshotQuery.Field.PROJECT_ID, List.of("0", "7", "not-a-number"),
                SnapshotQuery.Field.DISK_ID, List.of(first, second, bobs),
                SnapshotQuery.Field.ZONE, List.of("ap-guangzhou-1", "ap-guangzhou-2"),
                SnapshotQuery.Field.TYPE, List.of(SnapshotQuery.PRIVATE, SnapshotQuery.SHARED));
        Random random = new Random(7);
        for (int round = 0; round < 300; round++) {
            Caller caller = random.nextBoolean() ? alice : bob;
            List<SnapshotQuery.Condition> conditions = new java.util.ArrayList<>();
            for (int n = random.nextInt(3); n > 0; n--) {
                SnapshotQuery.Field field = SnapshotQuery.Field.values()[random.nextInt(SnapshotQuery.Field.values().length)];
                List<String> values = new java.util.ArrayList<>(pool.get(field));
                java.util.Collections.shuffle(values, random);
                conditions.add(new SnapshotQuery.Condition(field, values.subList(0, random.nextInt(values.size() + 1))));
            }
            SnapshotQuery query = new SnapshotQuery(conditions, random.nextBoolean(), random.nextInt(4), random.nextInt(5));
            // the same in Java over every snapshot the caller sees
            Comparator<Snapshot> order = Comparator.comparing(Snapshot::createdAt).thenComparing(Snapshot::snapshotId);
            List<Snapshot> expected = control.snapshots().describeSnapshots(caller, ListQuery.all(query.ascending() ? order : order.reversed())).items()
                    .stream().filter(x -> conditions.stream().allMatch(c -> c.values().contains(field(x, c.field(), caller)))).toList();
            var page = control.snapshots().describeSnapshots(caller, query);
            assertThat(page.totalCount()).as("round %d: %s", round, query).isEqualTo(expected.size());
            assertThat(page.items()).as("round %d: %s", round, query)
                    .isEqualTo(expected.subList(Math.min(query.offset(), expected.size()), Math.min(query.offset() + query.limit(), expected.size())));
        }
        assertThat(control.snapshots().describeSnapshots(bob, ListQuery.all(Comparator.comparing(Snapshot::snapshotId))).items())
                .as("bob sees his own and the two shared with him").extracting(Snapshot::snapshotId)
                .containsExactlyInAnyOrder(bobsSnapshot, made.get(1), made.get(4));
    }

    private static String field(Snapshot s, SnapshotQuery.Field field, Caller caller) {
        return switch (field) {
            case SNAPSHOT_ID -> s.snapshotId();
            case NAME -> s.name();
            case STATE -> s.state().name();
            case DISK_USAGE -> s.diskUsage().name();
            case PROJECT_ID -> Long.toString(s.projectId());
            case DISK_ID -> s.diskId();
            case ZONE -> s.zone();
            case TYPE -> s.accountId() == caller.accountId() ? SnapshotQuery.PRIVATE : SnapshotQuery.SHARED;
        };
    }

    @Test
    void snapshotsPastTheirDeadlineGoAndNonPermanentOnesGoWithTheirDisk() throws Exception {
        String disk = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)).getFirst();
        write(disk, 0, pattern(30, 4096));
        String expiring = awaitNormal(control.snapshots().createSnapshot(alice, disk, "short", clock.instant().plus(Duration.ofDays(2)))).snapshotId();
        String kept = awaitNormal(control.snapshots().createSnapshot(alice, disk, "forever", null)).snapshotId();
        assertThat(snapshot(expiring).permanent()).isFalse();
        assertThat(snapshot(kept).permanent()).isTrue();
        assertThat(control.snapshots().expire()).isZero();
        clock.advance(Duration.ofDays(3));
        assertThat(control.snapshots().expire()).isEqualTo(1);
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).items())
                .extracting(Snapshot::snapshotId).containsExactly(kept);

        String temporary = awaitNormal(control.snapshots().createSnapshot(alice, disk, "tmp", clock.instant().plus(Duration.ofDays(5)))).snapshotId();
        control.terminateDisks(alice, List.of(disk), true);
        awaitIdle();
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).items())
                .as("the permanent one outlives its disk").extracting(Snapshot::snapshotId).containsExactly(kept).doesNotContain(temporary);
        assertThat(readSnapshot(kept, 0, 4096)).isEqualTo(pattern(30, 4096));
    }

    @Test
    void aCloneDeletedWhileItFlattensLeavesNoFilesBehind() throws Exception {
        String disk = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)).getFirst();
        write(disk, 0, pattern(40, 32 << 20));
        String s = awaitNormal(control.snapshots().createSnapshot(alice, disk, null, null)).snapshotId();
        String clone = control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 0, null, 1, null, false, 0, null, s)).getFirst();
        control.terminateDisks(alice, List.of(clone)); // most likely while its flatten copies
        awaitIdle();
        try (var files = java.nio.file.Files.list(dir.resolve("volumes"))) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(clone));
        }
    }

    @Test
    void quotasPerDiskAndPerAccountHoldAndAnAdminCanChangeThem() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, 2L);
        awaitNormal(control.snapshots().createSnapshot(alice, disk, "1", null));
        String second = control.snapshots().createSnapshot(alice, disk, "2", null);
        awaitNormal(second);
        assertThatThrownBy(() -> control.snapshots().createSnapshot(alice, disk, "3", null))
                .isInstanceOfSatisfying(ControlException.QuotaExceeded.class,
                        e -> assertThat(e.quota()).isEqualTo(ControlException.QuotaExceeded.Quota.SNAPSHOTS_PER_DISK))
                .hasMessageContaining("snapshots-per-disk");
        control.snapshots().deleteSnapshots(alice, List.of(second));
        awaitNormal(control.snapshots().createSnapshot(alice, disk, "3", null)); // a slot freed

        Quotas.Usage perDisk = control.quotas().describe(alice, alice.accountId()).stream()
                .filter(u -> u.quota() == Quotas.Quota.SNAPSHOTS_PER_DISK).findFirst().orElseThrow();
        assertThat(perDisk).isEqualTo(new Quotas.Usage(Quotas.Quota.SNAPSHOTS_PER_DISK, 2, 2, true));
        assertThatThrownBy(() -> control.quotas().modify(alice, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, 100L))
                .isInstanceOf(ControlException.Unauthorized.class);
        assertThatThrownBy(() -> control.quotas().describe(alice, admin.accountId())).isInstanceOf(ControlException.Unauthorized.class);
        assertThatThrownBy(() -> control.quotas().describe(admin, 999L)).isInstanceOf(NotFound.class);
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, null); // back to Tencent's 64
        assertThat(control.quotas().describe(alice, alice.accountId()).getFirst().limit()).isEqualTo(64);
    }

    @Test
    void concurrentCreatesCannotPassTheLastSlotsTogether() throws Exception {
        List<String> diskIds = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String instance = runningInstanceWithDisk();
            disks().stream().filter(d -> instance.equals(d.instanceId())).forEach(d -> diskIds.add(d.diskId()));
        }
        assertThat(diskIds).hasSize(12);
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_REGION, 5L);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<java.util.concurrent.Future<String>> calls = new java.util.ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(12)) {
            for (String d : diskIds) {
                calls.add(pool.submit(() -> {
                    go.await();
                    try {
                        return control.snapshots().createSnapshot(alice, d, null, null);
                    } catch (ControlException.QuotaExceeded e) {
                        return "refused";
                    }
                }));
            }
            go.countDown();
            List<String> results = new java.util.ArrayList<>();
            for (var f : calls) results.add(f.get());
            assertThat(results.stream().filter(r -> r.startsWith("snap-"))).hasSize(5);
            assertThat(results.stream().filter(r -> r.equals("refused"))).hasSize(7);
        }
        awaitIdle();
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).totalCount())
                .isEqualTo(5); // nothing half-created
    }

    @Test
    void aSharedSnapshotIsVisibleAndClonableByTheOtherAccountAndNothingElse() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        byte[] data = pattern(21, 1 << 20);
        write(disk, 0, data);
        String snap = control.snapshots().createSnapshot(alice, disk, "golden", null);
        awaitNormal(snap);
        Caller bob = new Caller(control.accounts().createAccount(admin, "bob").accountId(), false, "req-bob");
        Caller carol = new Caller(control.accounts().createAccount(admin, "carol").accountId(), false, "req-carol");
        ListQuery<Snapshot> all = ListQuery.all(Comparator.comparing(Snapshot::createdAt));
        assertThat(control.snapshots().describeSnapshots(bob, all).items()).isEmpty();
        assertThatThrownBy(() -> control.createDisks(bob, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null, snap)))
                .isInstanceOf(NotFound.class);

        control.snapshotShares().modify(alice, List.of(snap), List.of(bob.accountId()), true);
        assertThat(control.snapshotShares().of(alice, snap)).extracting(SnapshotShares.Share::accountId).containsExactly(bob.accountId());
        assertThat(control.snapshotShares().summaries(alice)).containsOnlyKeys(snap);
        assertThat(control.snapshots().describeSnapshots(bob, all).items()).extracting(Snapshot::snapshotId).containsExactly(snap);
        assertThat(control.snapshots().describeSnapshots(carol, all).items()).isEmpty(); // only whom it is shared with

        // bob may clone it, and nothing else
        String clone = control.createDisks(bob, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null, snap)).getFirst();
        awaitIdle();
        assertThat(read(clone, 0, data.length)).isEqualTo(data);
        assertThatThrownBy(() -> control.snapshots().deleteSnapshots(bob, List.of(snap))).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.snapshots().modifySnapshotAttribute(bob, snap, "mine", null, null)).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.snapshotShares().modify(bob, List.of(snap), List.of(carol.accountId()), true)).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.snapshotShares().of(bob, snap)).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.rollbacks().applySnapshot(bob, snap, clone, false, false)).isInstanceOf(NotFound.class);

        // a shared snapshot is not deleted (Tencent: stop sharing first)
        assertThatThrownBy(() -> control.snapshots().deleteSnapshots(alice, List.of(snap)))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.SHARED));
        // revoking stops new use; the disk already made keeps working, even once the owner deletes the snapshot
        control.snapshotShares().modify(alice, List.of(snap), List.of(bob.accountId()), false);
        assertThat(control.snapshots().describeSnapshots(bob, all).items()).isEmpty();
        assertThatThrownBy(() -> control.createDisks(bob, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null, snap)))
                .isInstanceOf(NotFound.class);
        control.snapshots().deleteSnapshots(alice, List.of(snap));
        control.repository().collectGarbage(admin, Duration.ZERO);
        assertThat(read(clone, 0, data.length)).isEqualTo(data);

        // the rules: own account, unknown account, system-disk snapshots, not one's own snapshot
        String other = control.snapshots().createSnapshot(alice, disk, "other", null);
        awaitNormal(other);
        assertThatThrownBy(() -> control.snapshotShares().modify(alice, List.of(other), List.of(alice.accountId()), true))
                .isInstanceOf(ControlException.InvalidValue.class);
        assertThatThrownBy(() -> control.snapshotShares().modify(alice, List.of(other), List.of(42L), true)).isInstanceOf(NotFound.class);
        String system = disks().stream().filter(d -> d.diskUsage() == DiskUsage.SYSTEM_DISK).findFirst().orElseThrow().diskId();
        String sys = control.snapshots().createSnapshot(alice, system, "sys", null);
        awaitNormal(sys);
        assertThatThrownBy(() -> control.snapshotShares().modify(alice, List.of(other, sys), List.of(bob.accountId()), true))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.NOT_SHAREABLE));
        assertThat(control.snapshotShares().of(alice, other)).isEmpty(); // all or nothing
    }

    @Test
    void aLockedSnapshotCannotBeDeletedByAnyoneOrAnythingUntilItsDate() throws Exception {
        String instance = runningInstanceWithDisk();
        String disk = dataDiskOf(instance);
        String snap = control.snapshots().createSnapshot(alice, disk, "keep", clock.instant().plus(Duration.ofDays(1)));
        awaitNormal(snap);
        Instant until = clock.instant().plus(Duration.ofDays(10));
        control.snapshotLocks().lock(alice, List.of(snap), until);
        assertThat(control.snapshotLocks().of(alice)).containsEntry(snap, until);

        assertThatThrownBy(() -> control.snapshots().deleteSnapshots(alice, List.of(snap)))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.LOCKED));
        assertThatThrownBy(() -> control.snapshotLocks().lock(alice, List.of(snap), until.minus(Duration.ofDays(1))))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.LOCKED));
        assertThatThrownBy(() -> control.snapshotLocks().lock(admin, List.of(snap), until.plusSeconds(1))).isInstanceOf(NotFound.class);
        // its deadline passes: the lock wins
        clock.advance(Duration.ofDays(2));
        assertThat(control.snapshots().expire()).isZero();
        // the disk goes with its snapshots: the locked one stays
        control.detachDisks(alice, List.of(disk), null);
        awaitIdle();
        control.terminateDisks(alice, List.of(disk), true);
        awaitIdle();
        assertThat(snapshot(snap).state()).isEqualTo(SnapshotState.NORMAL);
        // and the catalog itself refuses a delete that skipped the check
        assertThatThrownBy(() -> catalog.write(tx -> tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", snap)))
                .isInstanceOf(Catalog.CatalogException.class);

        control.snapshotLocks().lock(alice, List.of(snap), until.plus(Duration.ofDays(1))); // extending is fine
        clock.advance(Duration.ofDays(10));
        assertThat(control.snapshotLocks().of(alice)).isEmpty();
        assertThat(control.snapshots().expire()).isEqualTo(1); // the lock has passed: its deadline applies again
    }

    @Test
    void withARecycleBinADeletedSnapshotIsRecoverableUntilItIsPurged() throws Exception {
        stopNode();
        limits = Limits.defaults().withSnapshotRecycleDays(7);
        startNode();
        String disk = dataDiskOf(runningInstanceWithDisk());
        byte[] data = pattern(33, 1 << 20);
        write(disk, 0, data);
        String snap = control.snapshots().createSnapshot(alice, disk, "oops", null);
        awaitNormal(snap);
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, 1L);
        control.snapshots().deleteSnapshots(alice, List.of(snap));
        assertThat(snapshot(snap).state()).isEqualTo(SnapshotState.TORECYCLE);
        String instead = control.snapshots().createSnapshot(alice, disk, "instead", null); // the bin's do not hold a quota slot
        awaitNormal(instead);
        control.snapshots().deleteSnapshots(alice, List.of(instead));
        control.quotas().modify(admin, alice.accountId(), Quotas.Quota.SNAPSHOTS_PER_DISK, null);
        List<SnapshotService.Recycled> bin = control.snapshots().recycled(alice);
        assertThat(bin).extracting(r -> r.snapshot().snapshotId()).containsExactlyInAnyOrder(snap, instead);
        bin = bin.stream().filter(r -> r.snapshot().snapshotId().equals(snap)).toList();
        assertThat(bin.getFirst().purgeAt()).isEqualTo(clock.instant().plus(Duration.ofDays(7)));
        // in the bin it is nobody's to use, and GC keeps its data
        assertThatThrownBy(() -> control.createDisks(alice, new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0,
                null, snap))).isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.RECYCLED));
        assertThatThrownBy(() -> control.snapshotLocks().lock(alice, List.of(snap), clock.instant().plus(Duration.ofDays(1))))
                .isInstanceOf(SnapshotConflict.class);
        assertThat(control.snapshots().openExport(snap)).isEmpty();
        control.repository().collectGarbage(admin, Duration.ZERO);
        control.snapshots().recoverSnapshots(alice, List.of(snap));
        assertThat(snapshot(snap).state()).isEqualTo(SnapshotState.NORMAL);
        assertThat(readSnapshot(snap, 0, data.length)).isEqualTo(data);
        assertThatThrownBy(() -> control.snapshots().recoverSnapshots(alice, List.of(snap))).isInstanceOf(SnapshotConflict.class);

        // a deadline sends it to the bin too; recovered after its deadline it comes back permanent
        String dated = control.snapshots().createSnapshot(alice, disk, "dated", clock.instant().plus(Duration.ofDays(1)));
        awaitNormal(dated);
        clock.advance(Duration.ofDays(2));
        control.snapshots().expire();
        assertThat(snapshot(dated).state()).isEqualTo(SnapshotState.TORECYCLE);
        control.snapshots().recoverSnapshots(alice, List.of(dated));
        assertThat(snapshot(dated).permanent()).isTrue();
        assertThat(snapshot(dated).deadline()).isNull();

        // past its days in the bin it is purged, for good
        control.snapshots().deleteSnapshots(alice, List.of(snap));
        clock.advance(Duration.ofDays(8));
        control.snapshots().expire();
        assertThat(control.snapshots().describeSnapshots(alice, ListQuery.all(Comparator.comparing(Snapshot::createdAt))).items())
                .extracting(Snapshot::snapshotId).containsExactly(dated);
        assertThat(control.snapshots().recycled(alice)).isEmpty();
    }

    @Test
    void aScriptedMonthIsBilledAsTheRuleSays() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        Caller bob = new Caller(control.accounts().createAccount(admin, "bob").accountId(), false, "req-bob");
        java.time.ZoneId zone = control.region().timeZone();
        Instant december = java.time.LocalDate.of(2026, 12, 1).atStartOfDay(zone).toInstant();
        control.billing().meterThrough(); // the meter starts now
        control.advanceClock(Duration.between(clock.instant(), december));

        // Dec 1 00:00: A, four blocks
        byte[] a = pattern(41, 4 * repo.blockSize());
        write(disk, 0, a);
        String snapA = control.snapshots().createSnapshot(alice, disk, "A", null);
        ManifestId mA = ManifestId.parse(awaitNormal(snapA).manifestId());
        control.advanceClock(Duration.ofDays(10));
        // Dec 11 00:00: B, two of A's blocks changed and two new ones; shared with bob (who pays nothing for it)
        write(disk, 2L * repo.blockSize(), pattern(42, 4 * repo.blockSize()));
        String snapB = control.snapshots().createSnapshot(alice, disk, "B", null);
        ManifestId mB = ManifestId.parse(awaitNormal(snapB).manifestId());
        control.snapshotShares().modify(alice, List.of(snapB), List.of(bob.accountId()), true);
        control.advanceClock(Duration.ofDays(10));
        // Dec 21 00:00: A deleted; what B shares with it passes to B
        var accounting = repo.spaceAccounting();
        long sA = accounting.storedBytes(List.of(mA));
        long mBWithA = accounting.storedBytes(List.of(mA, mB)) - sA;
        control.snapshots().deleteSnapshots(alice, List.of(snapA));
        long sB = accounting.storedBytes(List.of(mB));
        control.advanceClock(Duration.ofDays(11)); // to Jan 1 00:00: December's 744 hours are all metered

        // the hand computation: hours are billed at their end, from the state then
        double expectA = 480.0 * sA / Billing.GIB;
        double expectB = (240.0 * mBWithA + 264.0 * sB) / Billing.GIB;
        List<Billing.AccountReport> bill = control.billing().report(admin, java.time.YearMonth.of(2026, 12), null);
        assertThat(bill).extracting(Billing.AccountReport::accountId).containsExactly(alice.accountId());
        Billing.AccountReport mine = bill.getFirst();
        assertThat(mine.snapshots()).extracting(Billing.SnapshotLine::snapshotId).containsExactlyInAnyOrder(snapA, snapB);
        Map<String, Double> bySnapshot = new java.util.HashMap<>();
        mine.snapshots().forEach(l -> bySnapshot.put(l.snapshotId(), l.gibHours()));
        assertThat(bySnapshot.get(snapA)).isCloseTo(expectA, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(bySnapshot.get(snapB)).isCloseTo(expectB, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(mine.gibHours()).isCloseTo(expectA + expectB, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(mine.cost()).isCloseTo((expectA + expectB) * 0.12 / 730, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(sA).isGreaterThan(4L * repo.blockSize()); // random data: stored about as large
        assertThat(control.billing().report(bob, java.time.YearMonth.of(2026, 12), null)).isEmpty();
        assertThat(control.billing().billedBytesNow(alice)).isEqualTo(sB); // the overview agrees with the meter
        assertThatThrownBy(() -> control.billing().report(bob, java.time.YearMonth.of(2026, 12), alice.accountId()))
                .isInstanceOf(ControlException.Unauthorized.class);
    }

    @Test
    void instancesFromACustomImageAreLayeredClonesThatCostOneImage() throws Exception {
        String source = runningInstanceWithDisk();
        String system = disks().stream().filter(d -> source.equals(d.instanceId()) && d.diskUsage() == DiskUsage.SYSTEM_DISK).findFirst().orElseThrow().diskId();
        String data = dataDiskOf(source);
        byte[] os = pattern(51, 2 << 20), files = pattern(52, 1 << 20);
        write(system, 0, os);
        write(data, GIB, files);
        String image = control.images().create(alice, "golden", "web server", source, List.of(data), List.of(), false);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> control.describeImages(alice,
                ListQuery.all(Comparator.comparing(Image::createdAt))).items().stream().anyMatch(i -> i.imageId().equals(image) && i.imageState().equals("NORMAL")));
        Image shown = control.describeImages(alice, new ListQuery<Image>(List.of(image), x -> true, Comparator.comparing(Image::createdAt), 0, 10))
                .items().getFirst();
        assertThat(shown.imageType()).isEqualTo("PRIVATE_IMAGE");
        assertThat(shown.imageSizeGib()).isEqualTo(50);
        assertThat(control.images().bySnapshot(alice)).hasSize(2);

        long storedBefore = repo.spaceAccounting().storedBytes(control.snapshots().liveManifests());
        List<String> made = control.runInstances(alice, new NewInstances("ap-guangzhou-1", 0, image, "S5.MEDIUM4", "web", 5,
                new DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true), List.of(), null, false));
        awaitIdle();
        assertThat(made).hasSize(5);
        for (String instance : made) {
            List<Disk> its = disks().stream().filter(d -> instance.equals(d.instanceId())).toList();
            assertThat(its).extracting(Disk::diskUsage).containsExactly(DiskUsage.SYSTEM_DISK, DiskUsage.DATA_DISK);
            assertThat(read(its.get(0).diskId(), 0, os.length)).isEqualTo(os);
            assertThat(read(its.get(1).diskId(), GIB, files.length)).isEqualTo(files);
        }
        write(disks().stream().filter(d -> made.getFirst().equals(d.instanceId())).findFirst().orElseThrow().diskId(), 0, pattern(53, 4096));
        assertThat(read(disks().stream().filter(d -> made.get(1).equals(d.instanceId())).findFirst().orElseThrow().diskId(), 0, os.length))
                .as("each instance changes only its own disk").isEqualTo(os);
        // one image, not five copies: nothing new in the repository, and the disks stay layered (no flatten)
        assertThat(repo.spaceAccounting().storedBytes(control.snapshots().liveManifests())).isEqualTo(storedBefore);
        long layeredForGood = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM disks WHERE base_manifest IS NOT NULL AND flatten_percent IS NULL"));
        assertThat(layeredForGood).isEqualTo(10);

        // the image's snapshots are not deleted on their own; with the image, they are — and the instances keep their data
        String systemSnapshot = control.images().bySnapshot(alice).keySet().iterator().next();
        assertThatThrownBy(() -> control.snapshots().deleteSnapshots(alice, List.of(systemSnapshot)))
                .isInstanceOfSatisfying(SnapshotConflict.class, e -> assertThat(e.problem()).isEqualTo(SnapshotConflict.Problem.HAS_IMAGE));
        control.images().delete(alice, List.of(image), true);
        assertThat(control.describeImages(alice, ListQuery.all(Comparator.comparing(Image::createdAt))).items()).extracting(Image::imageId)
                .containsExactly(Image.BLANK.imageId());
        control.repository().collectGarbage(admin, Duration.ZERO);
        assertThat(read(disks().stream().filter(d -> made.get(2).equals(d.instanceId())).findFirst().orElseThrow().diskId(), 0, os.length)).isEqualTo(os);

        // the rules
        assertThatThrownBy(() -> control.images().create(alice, "x", null, source, List.of(), List.of("snap-00000000"), false))
                .isInstanceOf(ControlException.InvalidValue.class);
        String dataSnap = control.snapshots().createSnapshot(alice, data, "data only", null);
        awaitNormal(dataSnap);
        assertThatThrownBy(() -> control.images().create(alice, "x", null, null, List.of(), List.of(dataSnap), false))
                .isInstanceOf(ControlException.InvalidValue.class).hasMessageContaining("system disk");
        assertThatThrownBy(() -> control.runInstances(alice, new NewInstances("ap-guangzhou-1", 0, "img-nothere1", "S5.MEDIUM4", "web", 1,
                new DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true), List.of(), null, false))).isInstanceOf(NotFound.class);
    }
}
