package dev.cairn.control;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.SnapshotConflict;
import dev.cairn.control.ControlException.SnapshotsUnavailable;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestInfo;
import dev.cairn.snapshot.SnapshotEngine;
import dev.cairn.volume.Volume;
import java.io.IOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots of cloud disks (DESIGN §4): create (one disk, or a crash-consistent group), describe,
 * modify, delete, expire, serve read-only, account for space; and the manifest lineage that keeps
 * incremental captures and layered disks correct. Rolling disks back and cloning them is
 * {@link Rollbacks}; the repository's upkeep is {@link RepositoryMaintenance}.
 *
 * <p><b>What it keeps true.</b>
 * <ul>
 *   <li>A snapshot is NORMAL only once its manifest is durable in the repository; its row, the disk's
 *       {@code last_manifest} and the operation record change in one transaction after that. A capture
 *       that fails — or that a crash or stop interrupts — removes its row, and its blocks count as
 *       changed again on the disk, so the next snapshot takes them.</li>
 *   <li>A manifest stays in the repository while anything in the catalog names it: a snapshot, a
 *       disk's last capture (the parent of its next incremental) or a disk's base (until flattened).
 *       Whoever drops the last name deletes the manifest root ({@link #release}); chunks go with the
 *       next GC. A crash in between leaves an orphan root that {@link RepositoryMaintenance#collectGarbage}
 *       removes.</li>
 * </ul>
 *
 * <p><b>Threads.</b> Actions run on the caller's thread and return once the barrier is in place or
 * the state change is committed; captures run on {@link BackgroundWork} (at most
 * {@link #CONCURRENT_CAPTURES} at a time, each with its own hashing threads).
 */
public final class SnapshotService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SnapshotService.class);
    static final int CONCURRENT_CAPTURES = 2;
    static final long PROGRESS_INTERVAL_MS = 250;

    private final CloudControl control;
    private final Catalog catalog;
    private final SnapshotEngine engine;
    private final InstantSource clock;
    private final BackgroundWork background;
    private final Semaphore captureSlots = new Semaphore(CONCURRENT_CAPTURES);
    private final Map<String, SnapshotEngine.Job> capturing = new ConcurrentHashMap<>();
    private final Map<String, java.util.concurrent.CompletableFuture<Void>> captureEnds = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> exported = new ConcurrentHashMap<>();

    SnapshotService(CloudControl control, Catalog catalog, SnapshotEngine engine, InstantSource clock, BackgroundWork background) {
        this.control = control;
        this.catalog = catalog;
        this.engine = engine;
        this.clock = clock;
        this.background = background;
    }

    /** True when a repository is configured. Without one every snapshot action answers {@link SnapshotsUnavailable}. */
    public boolean available() {
        return engine != null;
    }

    SnapshotEngine engine() {
        if (engine == null) throw new SnapshotsUnavailable("this server has no snapshot repository");
        return engine;
    }

    // ------------------------------------------------------------------ create

    /** CreateSnapshot: the barrier is in place when this returns; the capture goes on in the background. */
    public String createSnapshot(Caller caller, String diskId, String name, Instant deadline) {
        return control.recorded(caller, "CreateSnapshot", () -> {
            engine();
            CloudControl.requireName(name, "SnapshotName", 60, InvalidValue.Reason.VALUE);
            checkDeadline(deadline);
            return create(caller, List.of(diskId), name == null ? CloudControl.UNNAMED : name, deadline, null, null, null).getFirst();
        });
    }

    /**
     * CreateSnapshotGroup: one barrier across the disks, all attached to one instance; member snapshots
     * are named {@code <name>_0}, {@code <name>_1}, … in the order given.
     */
    public String createSnapshotGroup(Caller caller, List<String> diskIds, String name) {
        return control.recorded(caller, "CreateSnapshotGroup", () -> {
            engine();
            CloudControl.requireIds(diskIds, "DiskIds", control.limits().idsPerDescribe());
            CloudControl.requireName(name, "SnapshotGroupName", 60, InvalidValue.Reason.VALUE);
            String groupName = name == null ? CloudControl.UNNAMED : name;
            String groupId = Ids.snapshotGroup();
            create(caller, diskIds, groupName, null, groupId, null, null);
            return groupId;
        });
    }

    private void checkDeadline(Instant deadline) {
        if (deadline != null && deadline.isBefore(clock.instant().plus(Duration.ofDays(1)))) {
            throw new InvalidValue("Deadline", InvalidValue.Reason.VALUE, "`Deadline` must be at least one day from now");
        }
    }

    /** Work done in the transaction that inserts a scheduled snapshot's row; throwing undoes the insert. */
    @FunctionalInterface
    interface Fence {
        void check(Catalog.Tx tx, String snapshotId) throws SQLException;
    }

    /**
     * A policy's snapshot of one disk (see {@link Scheduler}): like CreateSnapshot, plus {@code fence}
     * in the transaction that inserts the row. {@code deadline} null makes it permanent.
     */
    String createScheduled(Caller caller, String diskId, String name, Instant deadline, String policyId, Fence fence) {
        engine();
        return create(caller, List.of(diskId), name, deadline, null, policyId, fence).getFirst();
    }

    /** An image's snapshots of an instance's disks, at one barrier, permanent; {@code fence} runs per snapshot, in order. */
    void createForImage(Caller caller, List<String> diskIds, String name, Fence fence) {
        engine();
        create(caller, diskIds, name, null, null, null, fence);
    }

    /**
     * Waits up to {@code timeout} for a capture this node runs to end. Returns false at once when this
     * node runs no capture of that snapshot (it ended already, or another node runs it).
     */
    boolean awaitCapture(String snapshotId, Duration timeout) throws InterruptedException {
        java.util.concurrent.CompletableFuture<Void> done = captureEnds.get(snapshotId);
        if (done == null) return false;
        try {
            done.get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // ended badly or not yet: the caller reads the catalog either way
        }
        return true;
    }

    /** One planned member of a capture. */
    private record Planned(String snapshotId, Disk disk, String lastManifest, String name) {}

    private List<String> create(Caller caller, List<String> diskIds, String name, Instant deadline, String groupId, String policyId,
                                Fence fence) {
        Instant now = clock.instant();
        String action = groupId == null ? "CreateSnapshot" : "CreateSnapshotGroup";
        long t0 = System.nanoTime();
        Catalog.TxBody<List<Planned>> insert = tx -> {
            List<Planned> out = new ArrayList<>();
            String instance = null;
            for (int i = 0; i < diskIds.size(); i++) {
                Disk d = Rows.ownDisk(tx, caller.accountId(), diskIds.get(i));
                checkCapturable(tx, d);
                if (groupId != null) {
                    if (d.instanceId() == null || (instance != null && !instance.equals(d.instanceId()))) {
                        throw new InvalidValue("DiskIds", InvalidValue.Reason.VALUE,
                                "the disks of a snapshot group must all be attached to one instance");
                    }
                    instance = d.instanceId();
                }
                control.quotas().requireDiskSnapshot(tx, caller.accountId(), d.diskId());
                String member = groupId == null ? name : name + "_" + i;
                out.add(new Planned(Ids.snapshot(), d, lastManifest(tx, d.diskId()), member));
            }
            control.quotas().requireRegionSnapshots(tx, caller.accountId(), out.size());
            for (Planned p : out) {
                tx.update("INSERT INTO snapshots (" + Snapshot.COLUMNS + ") VALUES (" + Snapshot.PLACEHOLDERS + ")",
                        p.snapshotId(), caller.accountId(), p.name(), p.disk().zone(), p.disk().projectId(), p.disk().diskId(),
                        p.disk().sizeGib(), p.disk().diskUsage(), SnapshotState.CREATING, 0, null, groupId, policyId,
                        deadline == null, deadline == null ? null : deadline.toEpochMilli(), now.toEpochMilli(), now.toEpochMilli(),
                        false, 0L, 0L, 0L, false);
                if (fence != null) fence.check(tx, p.snapshotId());
            }
            if (groupId != null) {
                tx.update("INSERT INTO snapshot_groups (group_id, account_id, name, state, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)",
                        groupId, caller.accountId(), name, SnapshotState.CREATING, now.toEpochMilli(), now.toEpochMilli());
                Rows.recordOps(tx, caller, action, List.of(groupId), "PROCESSING", now.toEpochMilli(), String.join(",", diskIds));
            }
            Rows.recordOps(tx, caller, "CreateSnapshot", out.stream().map(Planned::snapshotId).toList(), "PROCESSING",
                    now.toEpochMilli(), groupId == null ? "disk " + diskIds.getFirst() : "group " + groupId);
            return out;
        };
        // Unsynced without a fence: a crash before the next durable commit loses only rows recover() would
        // delete anyway (the call's operation-log entry then goes missing instead of reading FAILED), and the
        // call does not wait for a log flush queued behind the disks' writeback (28 ms of a 32 ms call under
        // fio). A fence is another part's bookkeeping, which stays durable.
        List<Planned> plan = fence == null ? catalog.writeUnsynced(insert) : catalog.write(insert);

        List<SnapshotEngine.Request> requests = new ArrayList<>();
        for (Planned p : plan) {
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("snapshot", p.snapshotId());
            meta.put("account", Long.toString(caller.accountId()));
            meta.put("disk", p.disk().diskId());
            meta.put("name", p.name());
            meta.put("zone", p.disk().zone());
            meta.put("disk-usage", p.disk().diskUsage().name());
            meta.put("created", now.toString());
            if (groupId != null) meta.put("group", groupId);
            if (policyId != null) meta.put("policy", policyId);
            requests.add(new SnapshotEngine.Request(p.disk().diskId(), p.lastManifest() == null ? null : ManifestId.parse(p.lastManifest()), meta));
        }
        List<SnapshotEngine.Job> jobs;
        long t1 = System.nanoTime();
        try {
            jobs = engine.begin(requests);
        } catch (IllegalStateException busy) {
            forget(plan, groupId, "a snapshot of the disk is already being taken");
            throw new DiskConflict(diskIds.getFirst(), DiskConflict.Problem.SNAPSHOT_CREATING, "a snapshot of disk `"
                    + diskIds.getFirst() + "` is being created; try again when it is done");
        } catch (IOException | RuntimeException e) {
            log.error("snapshot barrier failed disks={}", diskIds, e);
            forget(plan, groupId, e.toString());
            throw new SnapshotsUnavailable("could not start the snapshot: " + e.getMessage());
        }
        for (int i = 0; i < plan.size(); i++) {
            capturing.put(plan.get(i).snapshotId(), jobs.get(i));
            captureEnds.put(plan.get(i).snapshotId(), new java.util.concurrent.CompletableFuture<>());
        }
        long t2 = System.nanoTime();
        log.info("snapshot barrier catalog_ms={} barrier_ms={} account={} request_id={} snapshots={} disks={} group={}",
                (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, caller.accountId(), caller.requestId(),
                plan.stream().map(Planned::snapshotId).toList(), diskIds, groupId);
        background.submit("capture " + plan.getFirst().snapshotId(), () -> runCaptures(plan, jobs, groupId));
        return plan.stream().map(Planned::snapshotId).toList();
    }

    private void checkCapturable(Catalog.Tx tx, Disk d) throws SQLException {
        switch (d.state()) {
            case ROLLBACKING -> throw new DiskConflict(d.diskId(), DiskConflict.Problem.ROLLBACKING, "disk `" + d.diskId() + "` is rolling back");
            case TORECYCLE -> throw new DiskConflict(d.diskId(), DiskConflict.Problem.BUSY, "disk `" + d.diskId() + "` is being deleted");
            default -> { }
        }
        if (tx.count("SELECT COUNT(*) FROM snapshots WHERE disk_id = ? AND state = ?", d.diskId(), SnapshotState.CREATING) > 0) {
            throw new DiskConflict(d.diskId(), DiskConflict.Problem.SNAPSHOT_CREATING, "a snapshot of disk `" + d.diskId()
                    + "` is being created; try again when it is done");
        }
    }

    static String lastManifest(Catalog.Tx tx, String diskId) throws SQLException {
        return tx.first("SELECT last_manifest FROM disks WHERE disk_id = ?", rs -> rs.getString(1), diskId).orElse(null);
    }

    /** Removes the rows of snapshots that never started. */
    private void forget(List<Planned> plan, String groupId, String why) {
        catalog.write(tx -> {
            for (Planned p : plan) {
                tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", p.snapshotId());
                Rows.finishOps(tx, "CreateSnapshot", p.snapshotId(), "FAILED", clock.millis(), why);
            }
            if (groupId != null) {
                tx.update("DELETE FROM snapshot_groups WHERE group_id = ?", groupId);
                Rows.finishOps(tx, "CreateSnapshotGroup", groupId, "FAILED", clock.millis(), why);
            }
            return null;
        });
    }

    private void runCaptures(List<Planned> plan, List<SnapshotEngine.Job> jobs, String groupId) throws InterruptedException {
        boolean allOk = true;
        List<String> done = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            Planned p = plan.get(i);
            SnapshotEngine.Job job = jobs.get(i);
            boolean ok = allOk && capture(p, job);
            if (!allOk) {
                try {
                    job.abandon();
                } catch (IOException e) {
                    log.warn("abandoning capture of {} failed", p.snapshotId(), e);
                }
                fail(p, "another member of group " + groupId + " failed");
            }
            capturing.remove(p.snapshotId());
            java.util.concurrent.CompletableFuture<Void> ended = captureEnds.remove(p.snapshotId());
            if (ended != null) ended.complete(null);
            if (ok) done.add(p.snapshotId());
            allOk &= ok;
        }
        if (groupId == null) return;
        if (allOk) {
            catalog.write(tx -> {
                tx.update("UPDATE snapshot_groups SET state = ?, modified_at = ? WHERE group_id = ?", SnapshotState.NORMAL, clock.millis(), groupId);
                Rows.finishOps(tx, "CreateSnapshotGroup", groupId, "SUCCESS", clock.millis(), null);
                return null;
            });
        } else { // a group is all of its disks at one instant or nothing
            List<String> manifests = catalog.write(tx -> {
                List<String> names = new ArrayList<>();
                for (String id : done) {
                    tx.first("SELECT manifest_id FROM snapshots WHERE snapshot_id = ?", rs -> rs.getString(1), id).ifPresent(names::add);
                    tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", id);
                }
                tx.update("DELETE FROM snapshot_groups WHERE group_id = ?", groupId);
                Rows.finishOps(tx, "CreateSnapshotGroup", groupId, "FAILED", clock.millis(), "a member snapshot failed");
                return names;
            });
            release(manifests);
        }
    }

    /** Runs one capture to its end; true if the snapshot became NORMAL. */
    private boolean capture(Planned p, SnapshotEngine.Job job) throws InterruptedException {
        captureSlots.acquire();
        long started = System.nanoTime();
        try {
            long[] lastWrite = {0};
            List<String> replaced = new ArrayList<>();
            ManifestId m = job.run((blocksDone, total, bytes) -> {
                long now = System.currentTimeMillis();
                if (now - lastWrite[0] < PROGRESS_INTERVAL_MS || total == 0) return;
                lastWrite[0] = now;
                long percent = Math.min(99, blocksDone * 100 / total);
                catalog.write(tx -> tx.update("UPDATE snapshots SET percent = ?, bytes_read = ? WHERE snapshot_id = ? AND state = ?",
                        percent, bytes, p.snapshotId(), SnapshotState.CREATING));
            }, manifest -> {
                ManifestInfo info = engine.repository().openManifest(manifest).info();
                catalog.write(tx -> {
                    replaced.clear();
                    int n = tx.update("UPDATE snapshots SET state = ?, percent = 100, manifest_id = ?, modified_at = ?, incremental = ?, "
                                    + "logical_bytes = ?, incremental_bytes = ?, bytes_read = ? WHERE snapshot_id = ? AND state = ?",
                            SnapshotState.NORMAL, manifest.toString(), clock.millis(), job.incremental(), info.logicalBytes(),
                            info.incrementalBytes(), job.bytesRead(), p.snapshotId(), SnapshotState.CREATING);
                    if (n == 0) throw new IllegalStateException("snapshot " + p.snapshotId() + " vanished while it was being created");
                    String old = lastManifest(tx, p.disk().diskId());
                    if (old != null) replaced.add(old);
                    tx.update("UPDATE disks SET last_manifest = ? WHERE disk_id = ?", manifest.toString(), p.disk().diskId());
                    Rows.finishOps(tx, "CreateSnapshot", p.snapshotId(), "SUCCESS", clock.millis(),
                            (job.incremental() ? "incremental" : "full") + ", " + job.blocks() + " blocks read");
                    return null;
                });
            });
            release(replaced); // also refreshes the snapshots' exclusive bytes
            log.info("snapshot done snapshot={} disk={} manifest={} incremental={} blocks={} ms={} store_ms={} commit_ms={} spilled_mib={} commit={}",
                    p.snapshotId(), p.disk().diskId(), m.shortForm(), job.incremental(), job.blocks(), (System.nanoTime() - started) / 1_000_000,
                    job.work().storeMillis(), job.work().commitMillis(), job.bytesSpilled() >> 20, job.work().commitTimes());
            return true;
        } catch (IOException | RuntimeException e) {
            if (background.closing()) log.info("snapshot {} stopped by shutdown; its changes go to the next snapshot", p.snapshotId());
            else log.error("snapshot failed snapshot={} disk={}", p.snapshotId(), p.disk().diskId(), e);
            fail(p, background.closing() ? "stopped by a server shutdown" : e instanceof IOException && e.getMessage() != null ? e.getMessage() : e.toString());
            return false;
        } finally {
            captureSlots.release();
        }
    }

    private void fail(Planned p, String why) {
        try {
            catalog.write(tx -> {
                tx.update("DELETE FROM snapshots WHERE snapshot_id = ? AND state = ?", p.snapshotId(), SnapshotState.CREATING);
                Rows.finishOps(tx, "CreateSnapshot", p.snapshotId(), "FAILED", clock.millis(), why);
                return null;
            });
        } catch (RuntimeException e) {
            log.warn("recording the failure of snapshot {} failed; the next start removes it", p.snapshotId(), e);
        }
    }

    // ------------------------------------------------------------------ describe, modify

    /** DescribeSnapshots: the caller's own snapshots and those shared with it, as the query selects them. */
    public Page<Snapshot> describeSnapshots(Caller caller, SnapshotQuery query) {
        List<String> branches = new ArrayList<>();
        List<Object> args = new ArrayList<>();
        // two branches, each served by an index: the caller's rows, and rows shared with it (never its own)
        if (query.admits(SnapshotQuery.PRIVATE)) {
            args.add(caller.accountId());
            branches.add("FROM snapshots s WHERE s.account_id = ?" + query.where(args));
        }
        if (query.admits(SnapshotQuery.SHARED)) {
            args.add(caller.accountId());
            branches.add("FROM snapshots s WHERE s.snapshot_id IN (SELECT snapshot_id FROM snapshot_shares WHERE account_id = ?)" + query.where(args));
        }
        if (branches.isEmpty()) return new Page<>(0, List.of());
        String direction = query.ascending() ? " ASC" : " DESC";
        String count = "SELECT " + String.join(" + ", branches.stream().map(b -> "(SELECT COUNT(*) " + b + ")").toList());
        String page = String.join(" UNION ALL ", branches.stream().map(b -> "SELECT " + columns("s") + " " + b).toList())
                + " ORDER BY created_at" + direction + ", snapshot_id" + direction + " LIMIT ? OFFSET ?";
        List<Object> pageArgs = new ArrayList<>(args);
        pageArgs.add(query.limit());
        pageArgs.add(query.offset());
        return catalog.read(tx -> {
            long total = tx.count(count, args.toArray());
            boolean none = total <= query.offset() || query.limit() == 0;
            return new Page<>(total, none ? List.of() : tx.query(page, SnapshotService::snapshot, pageArgs.toArray()));
        });
    }

    /** DescribeSnapshots with the filter and order in Java, over every snapshot the caller sees (or those of {@code ids}). */
    public Page<Snapshot> describeSnapshots(Caller caller, ListQuery<Snapshot> query) {
        return query.apply(describeSnapshots(caller, SnapshotQuery.all(query.ids())).items());
    }

    public Page<SnapshotGroup> describeSnapshotGroups(Caller caller, ListQuery<SnapshotGroup> query) {
        List<SnapshotGroup> all = catalog.read(tx -> {
            Map<String, List<Snapshot>> members = new LinkedHashMap<>();
            for (Snapshot s : tx.query("SELECT " + Snapshot.COLUMNS + " FROM snapshots WHERE account_id = ? AND group_id IS NOT NULL "
                    + "ORDER BY snapshot_id", SnapshotService::snapshot, caller.accountId())) {
                members.computeIfAbsent(s.groupId(), k -> new ArrayList<>()).add(s);
            }
            return tx.query("SELECT group_id, account_id, name, state, created_at, modified_at FROM snapshot_groups WHERE account_id = ?",
                    rs -> {
                        List<Snapshot> ms = members.getOrDefault(rs.getString(1), List.of());
                        int percent = ms.isEmpty() ? 0 : (int) ms.stream().mapToInt(Snapshot::percent).average().orElse(0);
                        return new SnapshotGroup(rs.getString(1), rs.getLong(2), rs.getString(3), SnapshotState.valueOf(rs.getString(4)),
                                percent, ms.stream().map(Snapshot::snapshotId).toList(),
                                ms.stream().anyMatch(s -> s.diskUsage() == DiskUsage.SYSTEM_DISK),
                                Instant.ofEpochMilli(rs.getLong(5)), Instant.ofEpochMilli(rs.getLong(6)));
                    }, caller.accountId());
        });
        return query.apply(CloudControl.restrictIds(all, query.ids(), SnapshotGroup::groupId));
    }

    /** ModifySnapshotAttribute: null fields stay; {@code permanent} true clears the deadline. */
    public void modifySnapshotAttribute(Caller caller, String snapshotId, String name, Boolean permanent, Instant deadline) {
        control.recorded(caller, "ModifySnapshotAttribute", () -> {
            CloudControl.requireName(name, "SnapshotName", 60, InvalidValue.Reason.VALUE);
            if (deadline != null && !Boolean.TRUE.equals(permanent)) checkDeadline(deadline);
            catalog.write(tx -> {
                Snapshot s = ownSnapshot(tx, caller, snapshotId);
                boolean perm = permanent != null ? permanent : (deadline == null && s.permanent());
                Long until = perm ? null : deadline != null ? Long.valueOf(deadline.toEpochMilli())
                        : s.deadline() == null ? null : s.deadline().toEpochMilli();
                tx.update("UPDATE snapshots SET name = ?, is_permanent = ?, deadline_at = ?, modified_at = ? WHERE snapshot_id = ?",
                        name == null ? s.name() : name, perm, until, clock.millis(), snapshotId);
                Rows.recordOps(tx, caller, "ModifySnapshotAttribute", List.of(snapshotId), "SUCCESS", clock.millis(),
                        "name=" + name + " permanent=" + permanent + " deadline=" + deadline);
                return null;
            });
            return null;
        });
    }

    // ------------------------------------------------------------------ delete

    /** DeleteSnapshots: NORMAL snapshots of the caller, all or nothing; refused for snapshots an image uses. */
    public void deleteSnapshots(Caller caller, List<String> snapshotIds) {
        deleteSnapshots(caller, snapshotIds, false);
    }

    /** DeleteSnapshots; with {@code deleteBindImages} the images using them are deleted too. */
    public void deleteSnapshots(Caller caller, List<String> snapshotIds, boolean deleteBindImages) {
        control.recorded(caller, "DeleteSnapshots", () -> {
            CloudControl.requireIds(snapshotIds, "SnapshotIds", control.limits().idsPerDescribe());
            List<String> manifests = catalog.write(tx -> {
                List<Snapshot> found = new ArrayList<>();
                for (String id : snapshotIds) found.add(ownSnapshot(tx, caller, id));
                for (Snapshot s : found) {
                    if (s.state() != SnapshotState.COPYING_FROM_REMOTE) requireSettled(s); // an arriving copy may be given up
                }
                SnapshotLocks.requireUnlocked(tx, snapshotIds, clock.instant());
                SnapshotCopies.requireNotCopying(tx, snapshotIds);
                for (Snapshot s : found) {
                    if (tx.count("SELECT COUNT(*) FROM snapshot_shares WHERE snapshot_id = ?", s.snapshotId()) > 0) {
                        throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.SHARED, "snapshot `" + s.snapshotId()
                                + "` is shared with other accounts; stop sharing it first (ModifySnapshotsSharePermission CANCEL)");
                    }
                }
                for (Snapshot s : found) {
                    if (deleteBindImages) {
                        tx.update("DELETE FROM images WHERE image_id IN (SELECT image_id FROM image_snapshots WHERE snapshot_id = ?)", s.snapshotId());
                    } else {
                        ImageService.requireNoImage(tx, s.snapshotId());
                    }
                }
                List<String> names = new ArrayList<>();
                for (Snapshot s : found) {
                    if (s.state() == SnapshotState.COPYING_FROM_REMOTE) tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", s.snapshotId());
                    else names.add(remove(tx, s.snapshotId(), s.manifestId()));
                }
                Rows.recordOps(tx, caller, "DeleteSnapshots", snapshotIds, "SUCCESS", clock.millis(), recycleNote());
                dropEmptyGroups(tx);
                return names;
            });
            log.info("snapshots deleted account={} request_id={} snapshots={}", caller.accountId(), caller.requestId(), snapshotIds);
            snapshotIds.forEach(control.copyReceiver()::abandon);
            release(manifests);
            return null;
        });
    }

    /** DeleteSnapshotGroup: the groups and all their snapshots, all or nothing. */
    public void deleteSnapshotGroups(Caller caller, List<String> groupIds) {
        control.recorded(caller, "DeleteSnapshotGroup", () -> {
            CloudControl.requireIds(groupIds, "SnapshotGroupIds", control.limits().idsPerDescribe());
            List<String> manifests = catalog.write(tx -> {
                List<String> names = new ArrayList<>();
                for (String g : groupIds) {
                    String state = tx.first("SELECT state FROM snapshot_groups WHERE group_id = ? AND account_id = ?",
                            rs -> rs.getString(1), g, caller.accountId()).orElseThrow(() -> new NotFound(ResourceKind.SNAPSHOT_GROUP, g));
                    if (!state.equals(SnapshotState.NORMAL.name())) {
                        throw new SnapshotConflict(g, SnapshotConflict.Problem.CREATING, "snapshot group `" + g + "` is " + state);
                    }
                }
                for (String g : groupIds) {
                    SnapshotLocks.requireUnlocked(tx, tx.query("SELECT snapshot_id FROM snapshots WHERE group_id = ?", rs -> rs.getString(1), g),
                            clock.instant());
                }
                for (String g : groupIds) {
                    record Member(String id, String manifest) {}
                    for (Member m : tx.query("SELECT snapshot_id, manifest_id FROM snapshots WHERE group_id = ?",
                            rs -> new Member(rs.getString(1), rs.getString(2)), g)) {
                        names.add(remove(tx, m.id(), m.manifest())); // a recovered member comes back on its own
                    }
                    tx.update("DELETE FROM snapshot_groups WHERE group_id = ?", g);
                }
                Rows.recordOps(tx, caller, "DeleteSnapshotGroup", groupIds, "SUCCESS", clock.millis(), "");
                return names;
            });
            release(manifests);
            return null;
        });
    }

    /** Deletes a disk's non-permanent NORMAL snapshots in the caller's transaction; returns their manifests (release them after commit). */
    List<String> dropNonPermanentOf(Catalog.Tx tx, Caller caller, String diskId) throws SQLException {
        SnapshotLocks.clearExpired(tx, clock.instant());
        List<String> ids = tx.query("SELECT s.snapshot_id FROM snapshots s WHERE s.disk_id = ? AND s.is_permanent = ? AND s.state = ? AND "
                + SnapshotLocks.NOT_LOCKED, rs -> rs.getString(1), diskId, false, SnapshotState.NORMAL); // locked ones stay
        List<String> manifests = new ArrayList<>();
        for (String id : ids) {
            String manifest = tx.first("SELECT manifest_id FROM snapshots WHERE snapshot_id = ?", rs -> rs.getString(1), id).orElse(null);
            manifests.add(remove(tx, id, manifest));
        }
        if (!ids.isEmpty()) {
            Rows.recordOps(tx, caller, "DeleteSnapshots", ids, "SUCCESS", clock.millis(), "with disk " + diskId + recycleNote());
            dropEmptyGroups(tx);
        }
        return manifests;
    }

    /**
     * Deletes NORMAL snapshots whose {@code Deadline} has passed (by the service clock, so the test
     * clock moves it too); returns how many. Run every few seconds by {@link #startExpiry}.
     *
     * <p>Retention of auto-snapshot policies is this too (their snapshots get a deadline), with one
     * exception: while its policy exists, the newest NORMAL snapshot a policy made of a disk stays, so a
     * run of failed firings never leaves the disk without its last good restore point. Those deletions
     * are logged with the policy id as the request id.
     */
    int expire() {
        long now = clock.millis();
        record Expired(String id, long account, String manifest, String policy) {}
        List<Expired> gone = catalog.write(tx -> {
            SnapshotLocks.clearExpired(tx, Instant.ofEpochMilli(now));
            List<Expired> out = tx.query("""
                    SELECT s.snapshot_id, s.account_id, s.manifest_id, s.policy_id FROM snapshots s
                    WHERE s.is_permanent = ? AND s.deadline_at IS NOT NULL AND s.deadline_at <= ? AND s.state = ? AND %s
                    AND NOT (s.policy_id IS NOT NULL
                        AND EXISTS (SELECT 1 FROM auto_snapshot_policies p WHERE p.policy_id = s.policy_id)
                        AND NOT EXISTS (SELECT 1 FROM snapshots n WHERE n.policy_id = s.policy_id AND n.disk_id = s.disk_id AND n.state = ?
                            AND (n.created_at > s.created_at OR (n.created_at = s.created_at AND n.snapshot_id > s.snapshot_id))))"""
                    .formatted(SnapshotLocks.NOT_LOCKED),
                    rs -> new Expired(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4)), false, now,
                    SnapshotState.NORMAL, SnapshotState.NORMAL);
            List<Expired> released = new ArrayList<>();
            for (Expired e : out) {
                released.add(new Expired(e.id(), e.account(), remove(tx, e.id(), e.manifest()), e.policy()));
                Caller by = new Caller(e.account(), false, e.policy() == null ? "deadline" : e.policy());
                Rows.recordOps(tx, by, "DeleteSnapshots", List.of(e.id()), "SUCCESS", now,
                        (e.policy() == null ? "deadline passed" : "retention of policy " + e.policy()) + recycleNote());
            }
            // the recycle bin's time is up: deleted for good
            for (Expired e : tx.query("SELECT s.snapshot_id, s.account_id, s.manifest_id, s.policy_id FROM snapshot_recycle r "
                    + "JOIN snapshots s ON s.snapshot_id = r.snapshot_id WHERE r.purge_at <= ?",
                    rs -> new Expired(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4)), now)) {
                tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", e.id());
                Rows.recordOps(tx, new Caller(e.account(), false, "recycle-bin"), "DeleteSnapshots", List.of(e.id()), "SUCCESS", now,
                        "purged from the recycle bin");
                released.add(e);
            }
            out = released;
            if (!out.isEmpty()) dropEmptyGroups(tx);
            return out;
        });
        if (gone.isEmpty()) return 0;
        log.info("snapshots past their deadline deleted: {}", gone.stream().map(Expired::id).toList());
        release(gone.stream().map(Expired::manifest).toList());
        return gone.size();
    }

    /** Checks for expired snapshots every {@code period} of real time until closed. */
    void startExpiry(Duration period) {
        Thread.ofVirtual().name("snapshot-expiry").start(() -> {
            while (!background.closing()) {
                try {
                    Thread.sleep(period);
                    if (!background.closing()) expire();
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    log.warn("snapshot expiry check failed; retrying", e);
                }
            }
        });
    }

    /**
     * Removes a settled snapshot in the caller's transaction: into the recycle bin when one is configured
     * (it stays TORECYCLE, out of its group, until purged), else for good. Returns the manifest to release
     * after the commit, or null while the bin keeps it.
     */
    private String remove(Catalog.Tx tx, String snapshotId, String manifest) throws SQLException {
        int days = control.limits().snapshotRecycleDays();
        if (days <= 0) {
            tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", snapshotId);
            return manifest;
        }
        long now = clock.millis();
        tx.update("UPDATE snapshots SET state = ?, group_id = NULL, modified_at = ? WHERE snapshot_id = ?", SnapshotState.TORECYCLE, now, snapshotId);
        tx.update("INSERT INTO snapshot_recycle (snapshot_id, recycled_at, purge_at) VALUES (?, ?, ?)", snapshotId, now,
                now + Duration.ofDays(days).toMillis());
        return null;
    }

    private String recycleNote() {
        int days = control.limits().snapshotRecycleDays();
        return days <= 0 ? "" : " (to the recycle bin for " + days + " days)";
    }

    /** A snapshot in the recycle bin: when it went in, and when it is purged. */
    public record Recycled(Snapshot snapshot, Instant recycledAt, Instant purgeAt) {}

    /** The caller's snapshots in the recycle bin, newest first. */
    public List<Recycled> recycled(Caller caller) {
        return catalog.read(tx -> tx.query("SELECT " + columns("s") + ", r.recycled_at, r.purge_at FROM snapshot_recycle r "
                + "JOIN snapshots s ON s.snapshot_id = r.snapshot_id WHERE s.account_id = ? ORDER BY r.recycled_at DESC, s.snapshot_id",
                rs -> new Recycled(snapshot(rs), Instant.ofEpochMilli(rs.getLong(Snapshot.COLUMN_COUNT + 1)),
                        Instant.ofEpochMilli(rs.getLong(Snapshot.COLUMN_COUNT + 2))), caller.accountId()));
    }

    /**
     * RecoverSnapshots: back from the recycle bin to NORMAL, all or nothing. One whose deadline passed
     * meanwhile comes back permanent (else the next expiry would delete it again at once).
     */
    public void recoverSnapshots(Caller caller, List<String> snapshotIds) {
        control.recorded(caller, "RecoverSnapshots", () -> {
            CloudControl.requireIds(snapshotIds, "SnapshotIds", control.limits().idsPerDescribe());
            long now = clock.millis();
            catalog.write(tx -> {
                for (String id : snapshotIds) {
                    if (ownSnapshot(tx, caller, id).state() != SnapshotState.TORECYCLE) {
                        throw new SnapshotConflict(id, SnapshotConflict.Problem.RECYCLED, "snapshot `" + id + "` is not in the recycle bin");
                    }
                }
                for (String id : snapshotIds) {
                    tx.update("DELETE FROM snapshot_recycle WHERE snapshot_id = ?", id);
                    tx.update("UPDATE snapshots SET state = ?, modified_at = ?, is_permanent = CASE WHEN deadline_at IS NOT NULL AND deadline_at <= ? "
                            + "THEN ? ELSE is_permanent END, deadline_at = CASE WHEN deadline_at IS NOT NULL AND deadline_at <= ? THEN NULL "
                            + "ELSE deadline_at END WHERE snapshot_id = ?", SnapshotState.NORMAL, now, now, true, now, id);
                }
                Rows.recordOps(tx, caller, "RecoverSnapshots", snapshotIds, "SUCCESS", now, "");
                return null;
            });
            return null;
        });
    }

    /** {@link Snapshot#COLUMNS} qualified by a table alias. */
    static String columns(String alias) {
        return alias + "." + Snapshot.COLUMNS.replace(", ", ", " + alias + ".");
    }

    private static void dropEmptyGroups(Catalog.Tx tx) throws SQLException {
        tx.update("DELETE FROM snapshot_groups WHERE state = ? AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.group_id = snapshot_groups.group_id)",
                SnapshotState.NORMAL);
    }

    static void requireSettled(Snapshot s) {
        if (s.state() == SnapshotState.COPYING_FROM_REMOTE || s.state() == SnapshotState.CHECKING_COPIED) {
            throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.CREATING, "snapshot `" + s.snapshotId()
                    + "` is still being copied from another region");
        }
        if (s.state() == SnapshotState.CREATING) {
            throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.CREATING, "snapshot `" + s.snapshotId() + "` is still being created");
        }
        if (s.state() == SnapshotState.ROLLBACKING) {
            throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.BUSY, "a disk is rolling back to snapshot `" + s.snapshotId() + "`");
        }
        if (s.state() == SnapshotState.TORECYCLE) {
            throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.RECYCLED, "snapshot `" + s.snapshotId()
                    + "` is in the recycle bin; recover it first (RecoverSnapshots)");
        }
    }

    /**
     * Deletes the roots of manifests nothing in the catalog names any more, and marks in the repository
     * those only a disk still names (its parent or base) as no longer a snapshot. Safe against a
     * concurrent clone: a new name for a manifest is only ever added in a transaction that finds its
     * snapshot row, and the callers removed that row before. A crash before this runs leaves work for
     * {@code repo gc}, which does the same for every manifest.
     */
    void release(Collection<String> manifests) {
        if (engine == null) return;
        refreshSpaceSoon(); // what the others hold alone changes as a manifest goes
        for (String m : new LinkedHashSet<>(manifests)) {
            if (m == null) continue;
            Naming naming = catalog.read(tx -> naming(tx, m));
            try {
                if (naming == Naming.DISK) engine.repository().markSnapshotDeleted(ManifestId.parse(m));
                if (naming == Naming.NONE && !exported.containsKey(m)) engine.repository().deleteManifest(ManifestId.parse(m));
            } catch (IOException | RuntimeException e) {
                log.warn("could not release manifest {}; repo gc does it later", m, e);
            }
        }
    }

    /** Who names a manifest in the catalog: a snapshot row, else only a disk (as its parent or base), else nothing. */
    enum Naming { SNAPSHOT, DISK, NONE }

    static Naming naming(Catalog.Tx tx, String manifest) throws SQLException {
        if (tx.count("SELECT COUNT(*) FROM snapshots WHERE manifest_id = ?", manifest) > 0) return Naming.SNAPSHOT;
        if (tx.count("SELECT COUNT(*) FROM disks WHERE last_manifest = ? OR base_manifest = ?", manifest, manifest) > 0) return Naming.DISK;
        return Naming.NONE;
    }

    /** A disk's snapshots: how many, and the bytes they added to the repository when taken. */
    public record DiskSnapshots(long count, long storedBytes) {}

    /** {@link DiskSnapshots} of each of the caller's disks that has snapshots (DescribeDisks' SnapshotCount/SnapshotSize). */
    public Map<String, DiskSnapshots> snapshotsPerDisk(Caller caller) {
        return catalog.read(tx -> {
            Map<String, DiskSnapshots> out = new LinkedHashMap<>();
            tx.query("SELECT disk_id, COUNT(*), SUM(incremental_bytes) FROM snapshots WHERE account_id = ? AND state <> ? GROUP BY disk_id", rs -> {
                out.put(rs.getString(1), new DiskSnapshots(rs.getLong(2), rs.getLong(3)));
                return null;
            }, caller.accountId(), SnapshotState.TORECYCLE);
            return out;
        });
    }

    // ------------------------------------------------------------------ read-only exports

    /** A NORMAL snapshot as a read-only volume for NBD ({@code snap-…}), else empty. */
    public Optional<Volume> openExport(String snapshotId) throws IOException {
        if (engine == null) return Optional.empty();
        Optional<String> manifest = catalog.read(tx -> tx.first("SELECT manifest_id FROM snapshots WHERE snapshot_id = ? AND state IN (?, ?)",
                rs -> rs.getString(1), snapshotId, SnapshotState.NORMAL, SnapshotState.ROLLBACKING));
        if (manifest.isEmpty() || manifest.get() == null) return Optional.empty();
        String m = manifest.get();
        exported.computeIfAbsent(m, k -> new AtomicInteger()).incrementAndGet(); // release() leaves it while served
        Volume v;
        try {
            v = engine.openSnapshot(ManifestId.parse(m));
        } catch (IOException | RuntimeException e) {
            unexport(m);
            throw e;
        }
        return Optional.of(new ExportedSnapshot(v, () -> unexport(m)));
    }

    private void unexport(String manifest) {
        exported.computeIfPresent(manifest, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    /** NORMAL snapshot ids, sorted (for NBD_OPT_LIST). */
    public List<String> exportedSnapshotIds() {
        if (engine == null) return List.of();
        return catalog.read(tx -> tx.query("SELECT snapshot_id FROM snapshots WHERE state = ? ORDER BY snapshot_id",
                rs -> rs.getString(1), SnapshotState.NORMAL));
    }

    // ------------------------------------------------------------------ space

    /** Totals for DescribeSnapshotOverview: snapshots and the bytes their manifests store (shared chunks once). */
    public record Overview(long count, long storedBytes) {}

    public Overview overview(Caller caller) {
        List<String> manifests = catalog.read(tx -> tx.query("SELECT manifest_id FROM snapshots WHERE account_id = ? AND manifest_id IS NOT NULL",
                rs -> rs.getString(1), caller.accountId()));
        long count = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM snapshots WHERE account_id = ?", caller.accountId()));
        if (engine == null || manifests.isEmpty()) return new Overview(count, 0);
        try {
            return new Overview(count, engine.repository().spaceAccounting().storedBytes(manifests.stream().map(ManifestId::parse).toList()));
        } catch (IOException e) {
            throw new SnapshotsUnavailable("reading the repository failed: " + e.getMessage());
        }
    }

    /** Per snapshot: logical, incremental (when taken) and exclusive (what deleting it alone would free now). */
    public record Space(String snapshotId, long logicalBytes, long incrementalBytes, long exclusiveBytes) {}

    public List<Space> space(Caller caller, List<String> snapshotIds) {
        engine();
        CloudControl.requireIds(snapshotIds, "SnapshotIds", control.limits().idsPerDescribe());
        List<Snapshot> mine = catalog.read(tx -> {
            List<Snapshot> out = new ArrayList<>();
            for (String id : snapshotIds) out.add(ownSnapshot(tx, caller, id));
            return out;
        });
        try {
            // one pass over the repository for all of them: what deleting each alone frees while the rest stay
            Map<ManifestId, Long> exclusive = engine.repository().spaceAccounting().exclusiveBytes(liveManifests(),
                    dev.cairn.repository.Cancellation.none());
            List<Space> out = new ArrayList<>();
            for (Snapshot s : mine) {
                long freed = 0;
                if (s.manifestId() != null) {
                    boolean alsoNamedElsewhere = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM snapshots WHERE manifest_id = ?", s.manifestId()) > 1
                            || tx.count("SELECT COUNT(*) FROM disks WHERE last_manifest = ? OR base_manifest = ?", s.manifestId(), s.manifestId()) > 0);
                    freed = alsoNamedElsewhere ? 0 : exclusive.getOrDefault(ManifestId.parse(s.manifestId()), 0L);
                }
                out.add(new Space(s.snapshotId(), s.logicalBytes(), s.incrementalBytes(), freed));
            }
            return out;
        } catch (IOException e) {
            throw new SnapshotsUnavailable("reading the repository failed: " + e.getMessage());
        }
    }

    /** Set while a refresh of the snapshots' exclusive bytes is queued: changes until it starts ride on it. */
    private final java.util.concurrent.atomic.AtomicBoolean spaceRefreshQueued = new java.util.concurrent.atomic.AtomicBoolean();
    /** How long a queued refresh waits, so a burst of snapshots and deletions shares one pass over the repository. */
    static final long SPACE_REFRESH_DELAY_MS = 200;

    /** Recomputes every snapshot's {@code exclusive_bytes} soon, in the background (see {@link #refreshSpace}). */
    void refreshSpaceSoon() {
        if (engine == null || !spaceRefreshQueued.compareAndSet(false, true)) return;
        background.submit("refresh of snapshot space", () -> {
            Thread.sleep(SPACE_REFRESH_DELAY_MS);
            spaceRefreshQueued.set(false); // a change from here on queues another refresh
            refreshSpace();
        });
    }

    /**
     * Stores what deleting each snapshot alone would free now (as {@link #space} reports it), for
     * DescribeSnapshots: one pass over the live manifests (per distinct page, with SpaceAccounting's
     * page cache), so a describe reads a column instead. Rows that appear meanwhile wait for the next.
     */
    void refreshSpace() throws IOException {
        Map<ManifestId, Long> exclusive = engine.repository().spaceAccounting().exclusiveBytes(liveManifests(), dev.cairn.repository.Cancellation.none());
        catalog.writeLocked(tx -> { // a cache of figures: READ COMMITTED, so captures' row updates never retry because of it
            Map<String, Integer> rowsPerManifest = new java.util.HashMap<>();
            List<String[]> rows = tx.query("SELECT snapshot_id, manifest_id, exclusive_bytes FROM snapshots WHERE manifest_id IS NOT NULL",
                    rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
            for (String[] r : rows) rowsPerManifest.merge(r[1], 1, Integer::sum);
            Set<String> diskNamed = new java.util.HashSet<>();
            tx.query("SELECT last_manifest, base_manifest FROM disks", rs -> {
                diskNamed.add(rs.getString(1));
                diskNamed.add(rs.getString(2));
                return null;
            });
            for (String[] r : rows) {
                Long bytes = exclusive.get(ManifestId.parse(r[1]));
                if (bytes == null) continue; // committed after the pass began
                long value = rowsPerManifest.get(r[1]) > 1 || diskNamed.contains(r[1]) ? 0L : bytes;
                if (r[2] != null && Long.parseLong(r[2]) == value) continue; // most rows: a change moves few figures
                tx.update("UPDATE snapshots SET exclusive_bytes = ? WHERE snapshot_id = ?", value, r[0]);
            }
            return null;
        });
    }

    /** The stored {@code exclusive_bytes} of these snapshots of the caller's that have one. */
    public Map<String, Long> exclusiveBytes(Caller caller, Collection<String> snapshotIds) {
        Map<String, Long> out = new java.util.HashMap<>();
        if (snapshotIds.isEmpty()) return out;
        catalog.read(tx -> {
            for (String id : snapshotIds) {
                tx.query("SELECT exclusive_bytes FROM snapshots WHERE snapshot_id = ? AND account_id = ? AND exclusive_bytes IS NOT NULL",
                        rs -> out.put(id, rs.getLong(1)), id, caller.accountId());
            }
            return null;
        });
        return out;
    }

    /** Every manifest the catalog names (snapshots, disks' last captures and bases) plus those being served. */
    Set<ManifestId> liveManifests() {
        ManifestNames names = manifestNames();
        Set<ManifestId> live = new LinkedHashSet<>(names.snapshots());
        live.addAll(names.disksOnly());
        for (String m : exported.keySet()) live.add(ManifestId.parse(m));
        return live;
    }

    /** The manifests snapshot rows name, and those only disks name (as parent or base: their snapshot was deleted). */
    record ManifestNames(Set<ManifestId> snapshots, Set<ManifestId> disksOnly) {}

    /** {@link ManifestNames} from one consistent read of the catalog. */
    ManifestNames manifestNames() {
        return catalog.read(tx -> {
            Set<ManifestId> snapshots = new LinkedHashSet<>();
            Set<ManifestId> disks = new LinkedHashSet<>();
            for (String m : tx.query("SELECT manifest_id FROM snapshots WHERE manifest_id IS NOT NULL", rs -> rs.getString(1))) snapshots.add(ManifestId.parse(m));
            tx.query("SELECT last_manifest, base_manifest FROM disks", rs -> {
                if (rs.getString(1) != null) disks.add(ManifestId.parse(rs.getString(1)));
                if (rs.getString(2) != null) disks.add(ManifestId.parse(rs.getString(2)));
                return null;
            });
            disks.removeAll(snapshots);
            return new ManifestNames(snapshots, disks);
        });
    }

    // ------------------------------------------------------------------ recovery and lifecycle

    /**
     * At start-up: captures a crash or stop interrupted are failed (their rows removed; their blocks are
     * in the disks' change sets or a rescan takes them).
     */
    void recover() {
        List<String> interrupted = catalog.write(tx -> {
            List<String> ids = tx.query("SELECT snapshot_id FROM snapshots WHERE state = ?", rs -> rs.getString(1), SnapshotState.CREATING);
            for (String id : ids) {
                tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", id);
                Rows.finishOps(tx, "CreateSnapshot", id, "FAILED", clock.millis(), "interrupted by a restart");
            }
            for (String g : tx.query("SELECT group_id FROM snapshot_groups WHERE state = ?", rs -> rs.getString(1), SnapshotState.CREATING)) {
                for (String m : tx.query("SELECT snapshot_id FROM snapshots WHERE group_id = ?", rs -> rs.getString(1), g)) {
                    tx.update("DELETE FROM snapshots WHERE snapshot_id = ?", m);
                }
                tx.update("DELETE FROM snapshot_groups WHERE group_id = ?", g);
                Rows.finishOps(tx, "CreateSnapshotGroup", g, "FAILED", clock.millis(), "interrupted by a restart");
            }
            return ids;
        });
        if (!interrupted.isEmpty()) log.info("snapshots interrupted by the last stop, removed: {}", interrupted);
        refreshSpaceSoon(); // rows from before this column, or changed by a crash
    }

    /** Stops captures: they fail, and their blocks go to the next snapshot. */
    @Override
    public void close() {
        capturing.values().forEach(SnapshotEngine.Job::cancel);
    }

    // ------------------------------------------------------------------ rows

    static Snapshot ownSnapshot(Catalog.Tx tx, Caller caller, String id) throws SQLException {
        return tx.first("SELECT " + Snapshot.COLUMNS + " FROM snapshots WHERE snapshot_id = ? AND account_id = ?", SnapshotService::snapshot,
                id, caller.accountId()).orElseThrow(() -> new NotFound(ResourceKind.SNAPSHOT, id));
    }

    static Optional<Snapshot> snapshotById(Catalog.Tx tx, String id) throws SQLException {
        return tx.first("SELECT " + Snapshot.COLUMNS + " FROM snapshots WHERE snapshot_id = ?", SnapshotService::snapshot, id);
    }

    static Snapshot snapshot(ResultSet rs) throws SQLException {
        long deadline = rs.getLong(15);
        boolean noDeadline = rs.wasNull();
        return new Snapshot(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getLong(5), rs.getString(6),
                rs.getLong(7), DiskUsage.valueOf(rs.getString(8)), SnapshotState.valueOf(rs.getString(9)), rs.getInt(10),
                rs.getString(11), rs.getString(12), rs.getString(13), rs.getBoolean(14), noDeadline ? null : Instant.ofEpochMilli(deadline),
                Instant.ofEpochMilli(rs.getLong(16)), Instant.ofEpochMilli(rs.getLong(17)), rs.getBoolean(18), rs.getLong(19), rs.getLong(20),
                rs.getLong(21), rs.getBoolean(22));
    }

    /** A snapshot export: read-only; closing it also ends its GC pin. */
    private static final class ExportedSnapshot extends dev.cairn.volume.ForwardingVolume {
        private final Runnable onClose;

        ExportedSnapshot(Volume inner, Runnable onClose) {
            super(inner);
            this.onClose = onClose;
        }

        @Override public boolean readOnly() { return true; }

        @Override
        public void close() throws IOException {
            try {
                inner.close();
            } finally {
                onClose.run();
            }
        }
    }
}
