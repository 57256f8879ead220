package dev.cairn.control;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.SnapshotConflict;
import dev.cairn.repository.ManifestId;
import dev.cairn.snapshot.Flatten;
import dev.cairn.snapshot.SnapshotEngine;
import java.io.IOException;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Disks laid over snapshots (DESIGN §3): rollback (ApplySnapshot, ApplySnapshotGroup), InitializeDisks,
 * the lineage of disks cloned by CreateDisks, and the background flatten that makes them independent.
 *
 * <p><b>What it keeps true.</b> A rollback is committed as ROLLBACKING (the disk stops being served),
 * then finished in the background: the disk's flatten is stopped, nothing holds the disk open, its
 * files are laid over the snapshot (atomic across a crash, see {@code OverlayVolume.layer}), and one
 * transaction returns it to service with its new lineage. Until that transaction, running the
 * background half again (after a crash: {@link #recover}) is harmless. A disk layered over a snapshot
 * names it as its base until its flatten ends, so GC keeps the snapshot's data.
 *
 * <p><b>Threads.</b> Actions run on the caller's thread; rollbacks and flattens on {@link BackgroundWork}.
 */
public final class Rollbacks implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Rollbacks.class);
    /** Default flatten rate: enough to finish 100 GiB in ~7 minutes without starving the disk's own I/O. */
    public static final long DEFAULT_FLATTEN_BYTES_PER_SECOND = 256L << 20;

    private final CloudControl control;
    private final Catalog catalog;
    private final SnapshotEngine engine;
    private final InstantSource clock;
    private final long flattenRate;
    private final BackgroundWork background;
    private final SnapshotService snapshots;
    private final Map<String, AtomicBoolean> flattening = new ConcurrentHashMap<>();

    Rollbacks(CloudControl control, Catalog catalog, SnapshotEngine engine, InstantSource clock, long flattenRate,
              BackgroundWork background, SnapshotService snapshots) {
        this.control = control;
        this.catalog = catalog;
        this.engine = engine;
        this.clock = clock;
        this.flattenRate = flattenRate;
        this.background = background;
        this.snapshots = snapshots;
    }

    /**
     * ApplySnapshot: rolls the disk back to one of its own NORMAL snapshots. The disk must be unattached
     * or its instance stopped ({@code autoStop} stops it first). The disk is usable again as soon as
     * this returns and the background step lays it over the snapshot (milliseconds).
     */
    public void applySnapshot(Caller caller, String snapshotId, String diskId, boolean autoStop, boolean autoStart) {
        control.recorded(caller, "ApplySnapshot", () -> {
            snapshots.engine();
            if (autoStart && !autoStop) {
                throw new InvalidValue("AutoStartInstance", InvalidValue.Reason.CONFLICT, "`AutoStartInstance` needs `AutoStopInstance`");
            }
            String[] instanceToStart = {null};
            control.commitAndRevoke(tx -> {
                Snapshot s = SnapshotService.ownSnapshot(tx, caller, snapshotId);
                SnapshotService.requireSettled(s);
                if (!s.diskId().equals(diskId)) {
                    throw new SnapshotConflict(snapshotId, SnapshotConflict.Problem.OTHER_DISK, "snapshot `" + snapshotId
                            + "` was taken of disk `" + s.diskId() + "`, not `" + diskId + "`; create a new disk from it instead");
                }
                Disk d = Rows.ownDisk(tx, caller.accountId(), diskId);
                List<String> revoked = prepareRollback(tx, caller, d, autoStop, "ApplySnapshot");
                if (autoStart && d.instanceId() != null) instanceToStart[0] = d.instanceId();
                startRollback(tx, caller, d, s, "ApplySnapshot");
                return revoked;
            });
            String start = instanceToStart[0];
            background.submit("rollback " + diskId, () -> finishRollback(diskId, start));
            return null;
        });
    }

    /**
     * ApplySnapshotGroup: rolls each named disk back to its member snapshot of the group, all or
     * nothing; attached disks must be on one instance (stopped, or {@code autoStop}).
     */
    public void applySnapshotGroup(Caller caller, String groupId, Map<String, String> snapshotByDisk, boolean autoStop, boolean autoStart) {
        control.recorded(caller, "ApplySnapshotGroup", () -> {
            snapshots.engine();
            if (snapshotByDisk.isEmpty()) throw new InvalidValue("ApplyDisks", InvalidValue.Reason.VALUE, "`ApplyDisks` is empty");
            if (autoStart && !autoStop) {
                throw new InvalidValue("AutoStartInstance", InvalidValue.Reason.CONFLICT, "`AutoStartInstance` needs `AutoStopInstance`");
            }
            Set<String> toStart = new LinkedHashSet<>();
            control.commitAndRevoke(tx -> {
                tx.first("SELECT state FROM snapshot_groups WHERE group_id = ? AND account_id = ?", rs -> rs.getString(1), groupId,
                        caller.accountId()).orElseThrow(() -> new NotFound(ResourceKind.SNAPSHOT_GROUP, groupId));
                List<String> revoked = new ArrayList<>();
                String instance = null;
                toStart.clear();
                for (var e : snapshotByDisk.entrySet()) {
                    Snapshot s = SnapshotService.ownSnapshot(tx, caller, e.getValue());
                    if (!groupId.equals(s.groupId())) {
                        throw new InvalidValue("ApplyDisks", InvalidValue.Reason.VALUE, "snapshot `" + s.snapshotId() + "` is not in group `" + groupId + "`");
                    }
                    SnapshotService.requireSettled(s);
                    if (!s.diskId().equals(e.getKey())) {
                        throw new SnapshotConflict(s.snapshotId(), SnapshotConflict.Problem.OTHER_DISK, "snapshot `" + s.snapshotId()
                                + "` was taken of disk `" + s.diskId() + "`, not `" + e.getKey() + "`");
                    }
                    Disk d = Rows.ownDisk(tx, caller.accountId(), e.getKey());
                    if (d.instanceId() != null) {
                        if (instance != null && !instance.equals(d.instanceId())) {
                            throw new InvalidValue("ApplyDisks", InvalidValue.Reason.CONFLICT, "the disks are attached to different instances");
                        }
                        instance = d.instanceId();
                        if (autoStart) toStart.add(d.instanceId());
                    }
                    revoked.addAll(prepareRollback(tx, caller, d, autoStop, "ApplySnapshotGroup"));
                    startRollback(tx, caller, d, s, "ApplySnapshot");
                }
                tx.update("UPDATE snapshot_groups SET state = ?, modified_at = ? WHERE group_id = ?", SnapshotState.ROLLBACKING, clock.millis(), groupId);
                return revoked;
            });
            String start = toStart.isEmpty() ? null : toStart.iterator().next();
            List<String> disks = List.copyOf(snapshotByDisk.keySet());
            background.submit("group rollback " + groupId, () -> {
                for (int i = 0; i < disks.size(); i++) finishRollback(disks.get(i), i == disks.size() - 1 ? start : null);
                catalog.write(tx -> tx.update("UPDATE snapshot_groups SET state = ?, modified_at = ? WHERE group_id = ? AND state = ?",
                        SnapshotState.NORMAL, clock.millis(), groupId, SnapshotState.ROLLBACKING));
            });
            return null;
        });
    }

    /**
     * InitializeDisks: unattached data disks go back to how they were created — the snapshot they were
     * made from (if it still exists), else empty.
     */
    public void initializeDisks(Caller caller, List<String> diskIds) {
        control.recorded(caller, "InitializeDisks", () -> {
            snapshots.engine();
            CloudControl.requireIds(diskIds, "DiskIds", 20);
            catalog.write(tx -> {
                List<Disk> disks = new ArrayList<>();
                for (String id : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), id));
                for (Disk d : disks) {
                    if (d.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.SYSTEM_DISK, "disk `" + d.diskId() + "` is a system disk");
                    }
                    if (d.instanceId() != null) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.ATTACHED, "disk `" + d.diskId() + "` is attached; detach it first");
                    }
                    prepareRollback(tx, caller, d, false, "InitializeDisks");
                }
                for (Disk d : disks) {
                    String source = tx.first("SELECT source_snapshot_id FROM disks WHERE disk_id = ?", rs -> rs.getString(1), d.diskId()).orElse(null);
                    Optional<Snapshot> s = source == null ? Optional.empty() : SnapshotService.snapshotById(tx, source).filter(x -> x.manifestId() != null);
                    Rows.setDiskState(tx, d.diskId(), DiskState.ROLLBACKING, null);
                    tx.update("UPDATE disks SET rollback_snapshot_id = ? WHERE disk_id = ?", s.map(Snapshot::snapshotId).orElse(""), d.diskId());
                    Rows.recordOps(tx, caller, "InitializeDisks", List.of(d.diskId()), "PROCESSING", clock.millis(),
                            s.map(x -> "to " + x.snapshotId()).orElse("empty"));
                }
                return null;
            });
            for (String d : diskIds) background.submit("initialize " + d, () -> finishRollback(d, null));
            return null;
        });
    }

    /** Checks the disk may roll back now (stopping its instance if asked); returns the disk if it stops being exported. */
    private List<String> prepareRollback(Catalog.Tx tx, Caller caller, Disk d, boolean autoStop, String action) throws SQLException {
        if (d.state() == DiskState.ROLLBACKING) {
            throw new DiskConflict(d.diskId(), DiskConflict.Problem.ROLLBACKING, "disk `" + d.diskId() + "` is already rolling back");
        }
        if (tx.count("SELECT COUNT(*) FROM snapshots WHERE disk_id = ? AND state = ?", d.diskId(), SnapshotState.CREATING) > 0) {
            throw new DiskConflict(d.diskId(), DiskConflict.Problem.SNAPSHOT_CREATING, "a snapshot of disk `" + d.diskId() + "` is being created");
        }
        if (d.state() != DiskState.UNATTACHED && d.state() != DiskState.ATTACHED) {
            throw new DiskConflict(d.diskId(), DiskConflict.Problem.BUSY, "disk `" + d.diskId() + "` is " + d.state());
        }
        if (d.instanceId() == null) return List.of();
        Instance i = Rows.instanceById(tx, d.instanceId()).orElseThrow(() -> new NotFound(ResourceKind.INSTANCE, d.instanceId()));
        if (i.state() == InstanceState.STOPPED) return List.of();
        if (i.state() != InstanceState.RUNNING || !autoStop) {
            throw new DiskConflict(d.diskId(), DiskConflict.Problem.INSTANCE_RUNNING, "disk `" + d.diskId() + "` is attached to instance `"
                    + i.instanceId() + "`, which is " + i.state() + "; stop it first (or set AutoStopInstance)");
        }
        // Cairn's instances are attachment targets, not machines: stopping is bookkeeping and done at once.
        Rows.setInstanceState(tx, i.instanceId(), InstanceState.STOPPED, "StopInstances", "SUCCESS", caller.requestId());
        Rows.recordOps(tx, caller, "StopInstances", List.of(i.instanceId()), "SUCCESS", clock.millis(), "AutoStopInstance of " + action);
        List<String> revoked = new ArrayList<>();
        for (Disk other : Rows.disksOfInstance(tx, i.instanceId())) {
            if (other.state() == DiskState.ATTACHED || other.state() == DiskState.EXPANDING) revoked.add(other.diskId());
        }
        return revoked;
    }

    private void startRollback(Catalog.Tx tx, Caller caller, Disk d, Snapshot s, String action) throws SQLException {
        Rows.setDiskState(tx, d.diskId(), DiskState.ROLLBACKING, d.instanceId());
        tx.update("UPDATE disks SET rollback_snapshot_id = ? WHERE disk_id = ?", s.snapshotId(), d.diskId());
        tx.update("UPDATE snapshots SET state = ?, modified_at = ? WHERE snapshot_id = ?", SnapshotState.ROLLBACKING, clock.millis(), s.snapshotId());
        Rows.recordOps(tx, caller, action, List.of(d.diskId()), "PROCESSING", clock.millis(), "to " + s.snapshotId());
    }

    /**
     * The background half of a rollback or initialize (also run by {@link #recover}): stops the disk's
     * flatten, waits until nothing holds the disk open, lays it over the snapshot (or empties it), and
     * returns it to service. Idempotent until its final transaction.
     */
    private void finishRollback(String diskId, String instanceToStart) throws Exception {
        record Target(String snapshotId, String manifest, long sizeGib) {}
        Optional<Target> target = catalog.read(tx -> tx.first("""
                SELECT d.rollback_snapshot_id, s.manifest_id, d.size_gib FROM disks d LEFT JOIN snapshots s ON s.snapshot_id = d.rollback_snapshot_id
                WHERE d.disk_id = ? AND d.state = ?""", rs -> new Target(rs.getString(1), rs.getString(2), rs.getLong(3)), diskId, DiskState.ROLLBACKING));
        if (target.isEmpty()) return;
        Target t = target.get();
        stopFlatten(diskId);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (t.manifest() != null) {
                    engine.layer(diskId, t.sizeGib() * CloudControl.GIB, ManifestId.parse(t.manifest()));
                } else {
                    engine.volumes().delete(diskId);
                    engine.volumes().create(diskId, t.sizeGib() * CloudControl.GIB);
                }
                break;
            } catch (IllegalStateException inUse) { // NBD clients of the disk are still closing
                if (System.nanoTime() > deadline) throw new IOException("disk " + diskId + " stayed in use for 60 s; rollback retried at next start", inUse);
                Thread.sleep(20);
            }
        }
        List<String> replaced = new ArrayList<>();
        catalog.write(tx -> {
            replaced.clear();
            tx.query("SELECT last_manifest, base_manifest FROM disks WHERE disk_id = ?", rs -> {
                replaced.add(rs.getString(1));
                replaced.add(rs.getString(2));
                return null;
            }, diskId);
            String back = "CASE WHEN instance_id IS NULL THEN 'UNATTACHED' ELSE 'ATTACHED' END";
            int n = tx.update("UPDATE disks SET state = " + back + ", rollback_snapshot_id = NULL, last_manifest = ?, base_manifest = ?, "
                    + "flatten_percent = ? WHERE disk_id = ? AND state = ?", t.manifest(), t.manifest(), t.manifest() == null ? null : 0L,
                    diskId, DiskState.ROLLBACKING);
            if (n == 0) return null;
            if (t.snapshotId() != null && !t.snapshotId().isEmpty()) {
                tx.update("UPDATE snapshots SET state = ? WHERE snapshot_id = ? AND state = ? AND NOT EXISTS "
                        + "(SELECT 1 FROM disks WHERE rollback_snapshot_id = ? AND state = ?)", SnapshotState.NORMAL, t.snapshotId(),
                        SnapshotState.ROLLBACKING, t.snapshotId(), DiskState.ROLLBACKING);
            }
            Rows.finishOps(tx, "ApplySnapshot", diskId, "SUCCESS", clock.millis(), null);
            Rows.finishOps(tx, "InitializeDisks", diskId, "SUCCESS", clock.millis(), null);
            if (instanceToStart != null) {
                tx.update("UPDATE instances SET state = ?, latest_operation = ?, latest_operation_state = ? WHERE instance_id = ? AND state = ?",
                        InstanceState.RUNNING, "StartInstances", "SUCCESS", instanceToStart, InstanceState.STOPPED);
            }
            return null;
        });
        log.info("disk rolled back disk={} snapshot={} manifest={}", diskId, t.snapshotId(), t.manifest());
        snapshots.release(replaced);
        if (t.manifest() != null) startFlatten(diskId);
    }

    // ------------------------------------------------------------------ clones (CreateDisks with SnapshotId)

    /** What a disk cloned from a snapshot starts from. */
    record CloneSource(String snapshotId, String manifestId, long sizeGib) {}

    /** Checks the caller may create disks from the snapshot; returns its manifest and size. */
    CloneSource cloneSource(Caller caller, String snapshotId) {
        snapshots.engine();
        return catalog.read(tx -> cloneSource(tx, caller, snapshotId));
    }

    CloneSource cloneSource(Catalog.Tx tx, Caller caller, String snapshotId) throws SQLException {
        Snapshot s = SnapshotShares.usable(tx, caller, snapshotId); // its own, or shared with it
        if (s.state() != SnapshotState.ROLLBACKING) SnapshotService.requireSettled(s); // creating, arriving or in the recycle bin: not yet
        if (s.diskUsage() == DiskUsage.SYSTEM_DISK) {
            throw new SnapshotConflict(snapshotId, SnapshotConflict.Problem.SYSTEM_DISK, "snapshot `" + snapshotId
                    + "` is of a system disk; data disks can only be created from data-disk snapshots (make an image of it instead)");
        }
        return new CloneSource(s.snapshotId(), s.manifestId(), s.diskSizeGib());
    }

    /** Lays a new disk's files over the snapshot (before its row exists). */
    void layClone(String diskId, long sizeBytes, CloneSource source) throws IOException {
        engine.layer(diskId, sizeBytes, ManifestId.parse(source.manifestId()));
    }

    /**
     * What an image's instance disk starts from: the image's snapshot (a system-disk one too). Such disks
     * stay layered over it (no flatten): N instances cost one image plus what each changes.
     */
    CloneSource imageSource(Catalog.Tx tx, String snapshotId) throws SQLException {
        snapshots.engine();
        Snapshot s = SnapshotService.snapshotById(tx, snapshotId).orElseThrow(() -> new NotFound(ResourceKind.SNAPSHOT, snapshotId));
        SnapshotService.requireSettled(s);
        return new CloneSource(s.snapshotId(), s.manifestId(), s.diskSizeGib());
    }

    /** Records an image instance disk's lineage: layered over the image's snapshot, not flattening. */
    static void recordLayered(Catalog.Tx tx, String diskId, CloneSource source) throws SQLException {
        tx.update("UPDATE disks SET last_manifest = ?, base_manifest = ?, source_snapshot_id = ?, flatten_percent = NULL WHERE disk_id = ?",
                source.manifestId(), source.manifestId(), source.snapshotId(), diskId);
    }

    /** Records the lineage of cloned disks in the transaction that inserts them. */
    static void recordClone(Catalog.Tx tx, String diskId, CloneSource source) throws SQLException {
        tx.update("UPDATE disks SET last_manifest = ?, base_manifest = ?, source_snapshot_id = ?, flatten_percent = 0 WHERE disk_id = ?",
                source.manifestId(), source.manifestId(), source.snapshotId(), diskId);
    }

    // ------------------------------------------------------------------ flatten

    /** Starts (or restarts) the background flatten of a layered disk. */
    void startFlatten(String diskId) {
        if (engine == null || background.closing()) return;
        AtomicBoolean stop = new AtomicBoolean();
        if (flattening.putIfAbsent(diskId, stop) != null) return;
        background.submitOnOwnThread("flatten " + diskId, () -> {
            try {
                long[] lastWrite = {0};
                Flatten.Result flattened = engine.flatten(diskId, flattenRate, (present, total) -> {
                    long now = System.currentTimeMillis();
                    if (now - lastWrite[0] < SnapshotService.PROGRESS_INTERVAL_MS && present < total) return;
                    lastWrite[0] = now;
                    long percent = total == 0 ? 100 : present * 100 / total;
                    catalog.write(tx -> tx.update("UPDATE disks SET flatten_percent = ? WHERE disk_id = ? AND base_manifest IS NOT NULL",
                            percent, diskId));
                }, stop::get);
                String base = catalog.write(tx -> {
                    String b = tx.first("SELECT base_manifest FROM disks WHERE disk_id = ?", rs -> rs.getString(1), diskId).orElse(null);
                    tx.update("UPDATE disks SET base_manifest = NULL, flatten_percent = NULL WHERE disk_id = ?", diskId);
                    return b;
                });
                if (flattened == null) {
                    log.info("disk flattened disk={} copied=false", diskId);
                } else {
                    log.info("disk flattened disk={} copied=true copied_mib={} prepare_ms={} copy_ms={} sync_ms={}", diskId,
                            flattened.copiedBytes() >> 20, flattened.prepareMillis(), flattened.copyMillis(), flattened.syncMillis());
                }
                if (base != null) snapshots.release(List.of(base));
            } catch (java.io.InterruptedIOException stopped) {
                log.info("flatten of {} paused; it resumes on the next start", diskId);
            } finally {
                flattening.remove(diskId, stop);
            }
        });
    }

    /** Stops a running flatten of the disk and waits until it has released the disk (before a rollback or a delete). */
    void stopFlatten(String diskId) {
        AtomicBoolean stop = flattening.get(diskId);
        if (stop == null) return;
        stop.set(true);
        while (flattening.get(diskId) == stop) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Progress of disks still layered over a snapshot: disk id → percent copied. */
    public Map<String, Integer> flattenProgress(Caller caller) {
        return catalog.read(tx -> {
            Map<String, Integer> out = new LinkedHashMap<>();
            tx.query("SELECT disk_id, flatten_percent FROM disks WHERE account_id = ? AND flatten_percent IS NOT NULL", rs -> {
                out.put(rs.getString(1), rs.getInt(2));
                return null;
            }, caller.accountId());
            return out;
        });
    }

    /** At start-up: rollbacks a crash interrupted are finished; flattens resume. */
    void recover() {
        if (engine == null) return;
        for (String d : catalog.read(tx -> tx.query("SELECT disk_id FROM disks WHERE state = ?", rs -> rs.getString(1), DiskState.ROLLBACKING))) {
            log.info("finishing rollback of disk={} left by the last stop", d);
            background.submit("rollback " + d, () -> finishRollback(d, null));
        }
        // disks layered for good (an image's instances: flatten_percent NULL) stay layered
        for (String d : catalog.read(tx -> tx.query("SELECT disk_id FROM disks WHERE base_manifest IS NOT NULL AND flatten_percent IS NOT NULL "
                + "AND state <> ?", rs -> rs.getString(1), DiskState.ROLLBACKING))) {
            startFlatten(d);
        }
    }

    /** Stops flattens; they resume at the next start. */
    @Override
    public void close() {
        flattening.values().forEach(s -> s.set(true));
    }
}
