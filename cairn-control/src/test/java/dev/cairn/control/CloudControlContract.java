package dev.cairn.control;

import dev.cairn.control.CloudControl.DiskSpec;
import dev.cairn.control.CloudControl.NewDisks;
import dev.cairn.control.CloudControl.NewInstances;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The catalog and control-plane suite. Every engine runs exactly these tests: {@link SqliteCatalogTest}
 * and {@link PostgresCatalogTest} only say how to open a catalog.
 */
abstract class CloudControlContract {
    @TempDir
    Path dir;

    Catalog catalog;
    VolumeManager volumes;
    CloudControl control;
    final ConcurrentLinkedQueue<String> revoked = new ConcurrentLinkedQueue<>();
    final AtomicLong ticks = new AtomicLong();
    final InstantSource clock = () -> Instant.parse("2026-11-26T04:00:00Z").plusSeconds(ticks.incrementAndGet());
    Caller admin;
    Caller alice;

    /** Opens the catalog under test; called again after {@link #catalog} is closed to test reopening. */
    abstract Catalog openCatalog();

    @BeforeEach
    void start() throws Exception {
        catalog = openCatalog();
        volumes = new VolumeManager(dir.resolve("volumes"));
        control = newControl();
        var adminCreds = control.accounts().bootstrapAdmin();
        admin = new Caller(adminCreds.accountId(), true, "req-admin");
        var aliceCreds = control.accounts().createAccount(admin, "alice-" + System.nanoTime());
        alice = new Caller(aliceCreds.accountId(), false, "req-alice");
    }

    CloudControl newControl() {
        CloudControl c = new CloudControl(catalog, volumes, Region.defaultRegion(), Limits.defaults(), clock);
        c.setExportRevoked(revoked::add);
        return c;
    }

    @AfterEach
    void stop() throws Exception {
        control.close();
        catalog.close();
        volumes.close();
    }

    // ---- catalog ----

    @Test
    void anUnsyncedWriteCommitsAndLaterWritesWaitForTheDiskAgain() {
        // SQLite: PRAGMA synchronous 2 = FULL, 1 = NORMAL (a WAL commit without its fsync); PostgreSQL: synchronous_commit
        String setting = catalog.dialect() == Catalog.Dialect.SQLITE ? "PRAGMA synchronous" : "SHOW synchronous_commit";
        String synced = catalog.dialect() == Catalog.Dialect.SQLITE ? "2" : "on";
        String unsynced = catalog.dialect() == Catalog.Dialect.SQLITE ? "1" : "off";
        if (catalog.dialect() == Catalog.Dialect.POSTGRESQL) { // the test server turns it off for speed: on for this database
            catalog.write(tx -> tx.update("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', current_database()); END $$"));
            control.close();
            catalog.close();
            catalog = openCatalog(); // new connections take the database's setting
            control = newControl();
        }
        catalog.write(tx -> tx.update("CREATE TABLE probe (x INTEGER)"));
        for (int i = 0; i < 10; i++) { // more than the pool's connections: each one goes back as it came
            int x = i;
            String during = catalog.writeUnsynced(tx -> {
                tx.update("INSERT INTO probe (x) VALUES (?)", x);
                return tx.query(setting, rs -> rs.getString(1)).getFirst();
            });
            assertThat(during).isEqualTo(unsynced);
        }
        assertThatThrownBy(() -> catalog.writeUnsynced(tx -> {
            tx.update("INSERT INTO probe (x) VALUES (?)", 99);
            throw new IllegalStateException("rolled back");
        })).hasMessage("rolled back");
        for (int i = 0; i < 10; i++) {
            String inWrite = catalog.write(tx -> tx.query(setting, rs -> rs.getString(1)).getFirst());
            String inRead = catalog.read(tx -> tx.query(setting, rs -> rs.getString(1)).getFirst());
            assertThat(inWrite).isEqualTo(synced);
            assertThat(inRead).isEqualTo(synced);
        }
        List<Integer> rows = catalog.read(tx -> tx.query("SELECT x FROM probe ORDER BY x", rs -> rs.getInt(1)));
        assertThat(rows).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    }

    // ---- accounts ----

    @Test
    void bootstrapAdminCreatesOneAdminAndReusesIt() {
        var first = control.accounts().bootstrapAdmin();
        assertThat(first.accountId()).isEqualTo(Accounts.FIRST_ACCOUNT_ID);
        assertThat(first.secretId()).startsWith("AKID").hasSize(36);
        assertThat(first.secretKey()).hasSize(32);
        assertThat(control.accounts().bootstrapAdmin()).isEqualTo(first);

        control.close();
        catalog.close();
        catalog = openCatalog(); // migrations run again: a no-op
        control = newControl();
        assertThat(control.accounts().bootstrapAdmin()).isEqualTo(first);
        var key = control.accounts().findKey(first.secretId()).orElseThrow();
        assertThat(key.admin()).isTrue();
        assertThat(key.secretKey()).isEqualTo(first.secretKey());
    }

    @Test
    void accountsGetTheNextUinAndOnlyTheAdminCreatesThem() {
        var bob = control.accounts().createAccount(admin, "bob");
        assertThat(bob.accountId()).isEqualTo(alice.accountId() + 1);
        assertThat(control.accounts().findKey(bob.secretId()).orElseThrow().admin()).isFalse();
        assertThat(control.accounts().findKey("AKIDnope")).isEmpty();
        assertThatThrownBy(() -> control.accounts().createAccount(alice, "eve"))
                .isInstanceOf(ControlException.Unauthorized.class);
        assertThatThrownBy(() -> control.accounts().createAccount(admin, "bob"))
                .isInstanceOf(ControlException.InvalidValue.class).hasMessageContaining("already exists");
    }

    // ---- disks ----

    @Test
    void diskLifecycleFollowsTencentStatesAndExports() throws Exception {
        String ins = runOne(alice);
        awaitInstance(alice, ins, InstanceState.RUNNING);
        String sys = instance(alice, ins).systemDisk().orElseThrow().diskId();
        assertThat(control.exportable(sys)).isTrue();

        List<String> ids = control.createDisks(alice, disks(2, 10, null));
        assertThat(ids).hasSize(2).allMatch(id -> id.matches("disk-[a-z0-9]{8}"));
        assertThat(volumes.exists(ids.get(0))).isTrue();
        assertThat(volumes.size(ids.get(0))).isEqualTo(10L << 30);
        assertThat(disk(alice, ids.get(0)).state()).isEqualTo(DiskState.UNATTACHED);
        assertThat(control.openExport(ids.get(0))).isEmpty();

        control.attachDisks(alice, ins, ids, null);
        awaitDisk(alice, ids.get(0), DiskState.ATTACHED);
        awaitDisk(alice, ids.get(1), DiskState.ATTACHED);
        assertThat(control.exportedDiskIds()).contains(sys, ids.get(0), ids.get(1));
        try (Volume v = control.openExport(ids.get(0)).orElseThrow()) {
            assertThat(v.size()).isEqualTo(10L << 30);
        }

        control.resizeDisk(alice, ids.get(0), 30);
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(alice, ids.get(0)).sizeGib() == 30);
        awaitDisk(alice, ids.get(0), DiskState.ATTACHED);
        assertThat(volumes.size(ids.get(0))).isEqualTo(30L << 30);
        assertThatThrownBy(() -> control.resizeDisk(alice, ids.get(0), 20))
                .isInstanceOf(ControlException.InvalidValue.class).hasMessageContaining("larger");

        control.stopInstances(alice, List.of(ins));
        assertThat(revoked).contains(sys, ids.get(0), ids.get(1));
        awaitInstance(alice, ins, InstanceState.STOPPED);
        assertThat(control.exportable(ids.get(0))).isFalse();
        assertThat(control.exportedDiskIds()).doesNotContain(sys, ids.get(0));
        control.startInstances(alice, List.of(ins));
        awaitInstance(alice, ins, InstanceState.RUNNING);
        assertThat(control.exportable(ids.get(0))).isTrue();

        revoked.clear();
        control.detachDisks(alice, List.of(ids.get(0)), ins);
        assertThat(revoked).containsExactly(ids.get(0));
        awaitDisk(alice, ids.get(0), DiskState.UNATTACHED);
        assertThat(disk(alice, ids.get(0)).instanceId()).isNull();

        control.terminateDisks(alice, List.of(ids.get(0)));
        assertThat(control.describeDisks(alice, byId(ids.get(0))).totalCount()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> !volumes.exists(ids.get(0)));
        assertThat(control.operationLog(alice, ids.get(0))).extracting(OperationRecord::action)
                .containsExactly("CreateDisks", "AttachDisks", "ResizeDisk", "DetachDisks", "TerminateDisks");
        assertThat(control.operationLog(alice, ids.get(0))).allMatch(o -> o.state().equals("SUCCESS") && o.finishedAt() != null);
    }

    @Test
    void batchActionsAreAllOrNothing() throws Exception {
        String ins = runOne(alice);
        awaitInstance(alice, ins, InstanceState.RUNNING);
        String sys = instance(alice, ins).systemDisk().orElseThrow().diskId();
        String data = control.createDisks(alice, disks(1, 10, null)).getFirst();
        assertThatThrownBy(() -> control.attachDisks(alice, ins, List.of(data, sys), null))
                .isInstanceOf(ControlException.DiskConflict.class);
        assertThat(disk(alice, data).state()).isEqualTo(DiskState.UNATTACHED);
        assertThatThrownBy(() -> control.terminateDisks(alice, List.of(data, "disk-nothere1")))
                .isInstanceOf(ControlException.NotFound.class);
        assertThat(disk(alice, data).state()).isEqualTo(DiskState.UNATTACHED);
        assertThat(volumes.exists(data)).isTrue();
        assertThat(control.operationLog(alice, "")).anyMatch(o -> o.state().equals("FAILED") && o.action().equals("TerminateDisks"));
    }

    @Test
    void anotherAccountSeesNothingAndTouchesNothing() throws Exception {
        String ins = runOne(alice);
        String disk = control.createDisks(alice, disks(1, 10, null)).getFirst();
        var bob = control.accounts().createAccount(admin, "bob");
        Caller b = new Caller(bob.accountId(), false, "req-bob");
        assertThat(control.describeDisks(b, ListQuery.all(Comparator.comparing(Disk::diskId))).totalCount()).isZero();
        assertThat(control.describeInstances(b, ListQuery.all(Comparator.comparing(Instance::instanceId))).totalCount()).isZero();
        assertThatThrownBy(() -> control.terminateDisks(b, List.of(disk))).isInstanceOf(ControlException.NotFound.class);
        assertThatThrownBy(() -> control.resizeDisk(b, disk, 100)).isInstanceOf(ControlException.NotFound.class);
        assertThatThrownBy(() -> control.stopInstances(b, List.of(ins))).isInstanceOf(ControlException.NotFound.class);
        String bobsIns = runOne(b);
        assertThatThrownBy(() -> control.attachDisks(b, bobsIns, List.of(disk), null))
                .isInstanceOf(ControlException.NotFound.class);
        assertThat(disk(alice, disk).state()).isEqualTo(DiskState.UNATTACHED);
    }

    @Test
    void concurrentAttachesNeverExceedTheInstanceQuota() throws Exception {
        String ins = runOne(alice);
        List<String> ids = new ArrayList<>();
        ids.addAll(control.createDisks(alice, disks(13, 10, null)));
        ids.addAll(control.createDisks(alice, disks(13, 10, null)));
        List<Boolean> results = inParallel(ids.size(), n -> () -> {
            try {
                control.attachDisks(alice, ins, List.of(ids.get(n)), null);
                return true;
            } catch (ControlException.QuotaExceeded e) {
                return false;
            }
        });
        assertThat(results.stream().filter(ok -> ok).count()).isEqualTo(20);
        assertThat(control.instancesDiskNum(alice, List.of(ins)).getFirst().attached()).isEqualTo(20);
    }

    @Test
    void concurrentCreatesAllLand() throws Exception {
        List<List<String>> created = inParallel(8, n -> () -> control.createDisks(alice, disks(3, 20, null)));
        assertThat(created.stream().flatMap(List::stream).distinct().count()).isEqualTo(24);
        assertThat(control.describeDisks(alice, ListQuery.all(Comparator.comparing(Disk::diskId))).totalCount()).isEqualTo(24);
    }

    @Test
    void terminatingAnInstanceDeletesItsSystemDiskAndFlaggedDataDisks() throws Exception {
        var spec = new NewInstances("ap-guangzhou-2", 0, Image.BLANK.imageId(), InstanceTypes.DEFAULT, "web", 1,
                new DiskSpec(DiskType.CLOUD_PREMIUM, 50, null, true),
                List.of(new DiskSpec(DiskType.CLOUD_SSD, 20, "scratch", true), new DiskSpec(DiskType.CLOUD_SSD, 30, "keep", false)),
                null, false);
        String ins = control.runInstances(alice, spec).getFirst();
        awaitInstance(alice, ins, InstanceState.RUNNING);
        Instance i = instance(alice, ins);
        assertThat(i.disks()).hasSize(3);
        assertThat(i.systemDisk().orElseThrow().sizeGib()).isEqualTo(50);
        String sys = i.systemDisk().orElseThrow().diskId();
        String scratch = i.dataDisks().stream().filter(d -> d.name().equals("scratch")).findFirst().orElseThrow().diskId();
        String keep = i.dataDisks().stream().filter(d -> d.name().equals("keep")).findFirst().orElseThrow().diskId();

        control.terminateInstances(alice, List.of(ins));
        assertThat(revoked).contains(sys, scratch, keep);
        await().atMost(Duration.ofSeconds(10))
                .until(() -> control.describeInstances(alice, ListQuery.all(Comparator.comparing(Instance::instanceId))).totalCount() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> !volumes.exists(sys) && !volumes.exists(scratch));
        assertThat(disk(alice, keep).state()).isEqualTo(DiskState.UNATTACHED);
        assertThat(volumes.exists(keep)).isTrue();
        assertThatThrownBy(() -> control.startInstances(alice, List.of(ins))).isInstanceOf(ControlException.NotFound.class);
    }

    @Test
    void instanceStatesRefuseWrongTransitions() throws Exception {
        String ins = runOne(alice);
        awaitInstance(alice, ins, InstanceState.RUNNING);
        assertThatThrownBy(() -> control.startInstances(alice, List.of(ins)))
                .isInstanceOfSatisfying(ControlException.InstanceConflict.class, e -> assertThat(e.state()).isEqualTo(InstanceState.RUNNING));
        control.rebootInstances(alice, List.of(ins));
        awaitInstance(alice, ins, InstanceState.RUNNING);
        assertThat(instance(alice, ins).latestOperation()).isEqualTo("RebootInstances");
        assertThat(instance(alice, ins).latestOperationState()).isEqualTo("SUCCESS");
    }

    @Test
    void clientTokenMakesCreatesIdempotent() {
        var spec = new NewDisks("ap-guangzhou-1", 0, DiskType.CLOUD_PREMIUM, 10, "x", 2, null, false, 0, "token-1");
        List<String> first = control.createDisks(alice, spec);
        assertThat(control.createDisks(alice, spec)).isEqualTo(first);
        assertThat(control.describeDisks(alice, ListQuery.all(Comparator.comparing(Disk::diskId))).totalCount()).isEqualTo(2);
    }

    @Test
    void createWithAttachAndLimits() throws Exception {
        String ins = runOne(alice);
        List<String> ids = control.createDisks(alice, disks(2, 10, ins));
        awaitDisk(alice, ids.get(0), DiskState.ATTACHED);
        assertThat(disk(alice, ids.get(1)).instanceId()).isEqualTo(ins);
        assertThatThrownBy(() -> control.createDisks(alice, disks(1, 15, null)))
                .isInstanceOf(ControlException.InvalidValue.class).hasMessageContaining("DiskSize");
        assertThatThrownBy(() -> control.createDisks(alice, disks(51, 10, null)))
                .isInstanceOf(ControlException.InvalidValue.class).hasMessageContaining("DiskCount");
        assertThatThrownBy(() -> control.createDisks(alice, new NewDisks("ap-shanghai-1", 0, DiskType.CLOUD_PREMIUM, 10, null, 1, null, false, 0, null)))
                .isInstanceOfSatisfying(ControlException.InvalidValue.class, e -> assertThat(e.reason()).isEqualTo(ControlException.InvalidValue.Reason.ZONE));
        assertThat(volumes.list()).hasSize(3); // system disk + the two; refused creates left no file
    }

    @Test
    void startUpFinishesTransitionsLeftByACrash() throws Exception {
        String disk = control.createDisks(alice, disks(1, 10, null)).getFirst();
        control.close();
        catalog.write(tx -> tx.update("UPDATE disks SET state = ?, target_size_gib = ? WHERE disk_id = ?", DiskState.EXPANDING, 40, disk));
        control = newControl();
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(alice, disk).state() == DiskState.UNATTACHED);
        assertThat(disk(alice, disk).sizeGib()).isEqualTo(40);
        assertThat(volumes.size(disk)).isEqualTo(40L << 30);
    }

    @Test
    void pagingAndFiltersApplyBeforeTheWindow() {
        List<String> ids = control.createDisks(alice, disks(5, 10, null));
        Page<Disk> page = control.describeDisks(alice, new ListQuery<>(List.of(), d -> d.sizeGib() == 10,
                Comparator.comparing(Disk::createdAt).thenComparing(Disk::diskId), 1, 2));
        assertThat(page.totalCount()).isEqualTo(5);
        assertThat(page.items()).hasSize(2);
        Page<Disk> two = control.describeDisks(alice, new ListQuery<>(List.of(ids.get(3), ids.get(4)), d -> true,
                Comparator.comparing(Disk::diskId), 0, 100));
        assertThat(two.items()).extracting(Disk::diskId).containsExactlyInAnyOrder(ids.get(3), ids.get(4));
    }

    // ---- helpers ----

    NewDisks disks(int count, long gib, String attachTo) {
        return new NewDisks("ap-guangzhou-2", 0, DiskType.CLOUD_PREMIUM, gib, null, count, attachTo, false, 0, null);
    }

    String runOne(Caller c) {
        return control.runInstances(c, new NewInstances("ap-guangzhou-2", 0, Image.BLANK.imageId(), InstanceTypes.DEFAULT,
                null, 1, new DiskSpec(DiskType.CLOUD_PREMIUM, 20, null, true), List.of(), null, false)).getFirst();
    }

    static ListQuery<Disk> byId(String id) {
        return new ListQuery<>(List.of(id), d -> true, Comparator.comparing(Disk::diskId), 0, 100);
    }

    Disk disk(Caller c, String id) {
        return control.describeDisks(c, byId(id)).items().stream().findFirst().orElseThrow(() -> new AssertionError("no disk " + id));
    }

    Instance instance(Caller c, String id) {
        Optional<Instance> i = control.describeInstances(c, new ListQuery<>(List.of(id), x -> true,
                Comparator.comparing(Instance::instanceId), 0, 100)).items().stream().findFirst();
        return i.orElseThrow(() -> new AssertionError("no instance " + id));
    }

    void awaitDisk(Caller c, String id, DiskState state) {
        await().atMost(Duration.ofSeconds(10)).until(() -> disk(c, id).state() == state);
    }

    void awaitInstance(Caller c, String id, InstanceState state) {
        await().atMost(Duration.ofSeconds(10)).until(() -> instance(c, id).state() == state);
    }

    interface Job<T> {
        Supplier<T> make(int n);
    }

    static <T> List<T> inParallel(int n, Job<T> job) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, 16));
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Supplier<T> s = job.make(i);
                futures.add(pool.submit(() -> {
                    go.await();
                    return s.get();
                }));
            }
            go.countDown();
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }
}
