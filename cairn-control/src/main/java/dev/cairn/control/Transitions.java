package dev.cairn.control;

import dev.cairn.volume.VolumeManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Finishes what actions start: ATTACHING → ATTACHED, DETACHING → UNATTACHED, EXPANDING → (grow the
 * file) → previous state, TORECYCLE → (delete the file) → gone, and the instance transitions PENDING /
 * STARTING / REBOOTING → RUNNING, STOPPING → STOPPED, TERMINATING → (delete or detach its disks) → gone.
 *
 * <p><b>What it keeps true.</b> Each step re-reads the row and acts only if it is still in the state the
 * step finishes, in one transaction, so running a step twice (a retry, or {@link #recover} after a crash
 * re-submitting it) is harmless. File work (grow, delete) happens before the row leaves its
 * transitional state, so a crash in between is finished by the next {@link #recover}.
 *
 * <p><b>Threads.</b> Steps run on a bounded pool of two named platform threads with a bounded queue;
 * when the queue is full the submitting thread runs the step itself (back-pressure, never loss).
 */
final class Transitions implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Transitions.class);

    private final Catalog catalog;
    private final VolumeManager volumes;
    private final InstantSource clock;
    private final java.util.function.Consumer<List<String>> manifestsReleased;
    private final java.util.function.Consumer<String> beforeDelete;
    private final ThreadPoolExecutor executor;
    private final Object idle = new Object();
    private int inFlight; // guarded by idle

    /**
     * @param beforeDelete told before a disk's files go (to stop background work on it, e.g. a flatten)
     * @param manifestsReleased told (after commit) which manifests a deleted disk no longer names
     */
    Transitions(Catalog catalog, VolumeManager volumes, InstantSource clock, java.util.function.Consumer<String> beforeDelete,
                java.util.function.Consumer<List<String>> manifestsReleased) {
        this.beforeDelete = beforeDelete;
        this.catalog = catalog;
        this.volumes = volumes;
        this.clock = clock;
        this.manifestsReleased = manifestsReleased;
        this.executor = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(10_000),
                Thread.ofPlatform().name("cairn-transition-", 0).daemon(true).factory(),
                new ThreadPoolExecutor.CallerRunsPolicy());
        executor.allowCoreThreadTimeOut(true);
    }

    /** Re-submits every transition a previous run left unfinished. */
    void recover() {
        record Pending(String kind, String id, String state) {}
        List<Pending> pending = catalog.read(tx -> {
            List<Pending> out = new ArrayList<>();
            out.addAll(tx.query("SELECT disk_id, state FROM disks WHERE state IN (?, ?, ?, ?)",
                    rs -> new Pending("disk", rs.getString(1), rs.getString(2)),
                    DiskState.ATTACHING, DiskState.DETACHING, DiskState.EXPANDING, DiskState.TORECYCLE));
            out.addAll(tx.query("SELECT instance_id, state FROM instances WHERE state IN (?, ?, ?, ?, ?)",
                    rs -> new Pending("instance", rs.getString(1), rs.getString(2)),
                    InstanceState.PENDING, InstanceState.STARTING, InstanceState.STOPPING, InstanceState.REBOOTING,
                    InstanceState.TERMINATING));
            return out;
        });
        for (Pending p : pending) {
            log.info("recovering transition {}={} state={}", p.kind(), p.id(), p.state());
            if (p.kind().equals("instance")) {
                finishInstance(p.id());
            } else {
                switch (DiskState.valueOf(p.state())) {
                    case ATTACHING -> finishAttach(p.id());
                    case DETACHING -> finishDetach(p.id());
                    case EXPANDING -> finishResize(p.id());
                    case TORECYCLE -> finishDeletion(p.id());
                    default -> { }
                }
            }
        }
    }

    void finishAttach(String diskId) {
        submit("attach " + diskId, () -> catalog.write(tx -> {
            if (tx.update("UPDATE disks SET state = ? WHERE disk_id = ? AND state = ?", DiskState.ATTACHED, diskId, DiskState.ATTACHING) > 0) {
                Rows.finishOps(tx, "AttachDisks", diskId, "SUCCESS", clock.millis(), null);
            }
            return null;
        }));
    }

    void finishDetach(String diskId) {
        submit("detach " + diskId, () -> catalog.write(tx -> {
            if (tx.update("UPDATE disks SET state = ?, instance_id = NULL WHERE disk_id = ? AND state = ?",
                    DiskState.UNATTACHED, diskId, DiskState.DETACHING) > 0) {
                Rows.finishOps(tx, "DetachDisks", diskId, "SUCCESS", clock.millis(), null);
            }
            return null;
        }));
    }

    void finishResize(String diskId) {
        submit("resize " + diskId, () -> {
            Optional<Long> target = catalog.read(tx -> tx.first(
                    "SELECT target_size_gib FROM disks WHERE disk_id = ? AND state = ?", rs -> rs.getLong(1), diskId, DiskState.EXPANDING));
            if (target.isEmpty()) return;
            String failure = null;
            try {
                volumes.resize(diskId, target.get() * CloudControl.GIB);
            } catch (IOException | RuntimeException e) {
                log.error("growing disk={} to {} GiB failed", diskId, target.get(), e);
                failure = e.toString();
            }
            String failed = failure;
            catalog.write(tx -> {
                String back = "CASE WHEN instance_id IS NULL THEN 'UNATTACHED' ELSE 'ATTACHED' END";
                if (failed == null) {
                    tx.update("UPDATE disks SET size_gib = target_size_gib, target_size_gib = NULL, state = " + back
                            + " WHERE disk_id = ? AND state = ?", diskId, DiskState.EXPANDING);
                    Rows.finishOps(tx, "ResizeDisk", diskId, "SUCCESS", clock.millis(), null);
                } else {
                    tx.update("UPDATE disks SET target_size_gib = NULL, state = " + back + " WHERE disk_id = ? AND state = ?",
                            diskId, DiskState.EXPANDING);
                    Rows.finishOps(tx, "ResizeDisk", diskId, "FAILED", clock.millis(), failed);
                }
                return null;
            });
        });
    }

    void finishDeletion(String diskId) {
        submit("delete " + diskId, () -> deleteNow(diskId));
    }

    private void deleteNow(String diskId) throws IOException {
        boolean marked = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM disks WHERE disk_id = ? AND state = ?",
                diskId, DiskState.TORECYCLE) > 0);
        if (!marked) return;
        beforeDelete.accept(diskId);
        volumes.delete(diskId); // idempotent; the row still says TORECYCLE if we crash after this line
        List<String> lineage = catalog.write(tx -> {
            List<String> names = new ArrayList<>();
            tx.query("SELECT last_manifest, base_manifest FROM disks WHERE disk_id = ?", rs -> {
                names.add(rs.getString(1));
                names.add(rs.getString(2));
                return null;
            }, diskId);
            tx.update("DELETE FROM disks WHERE disk_id = ? AND state = ?", diskId, DiskState.TORECYCLE);
            Rows.finishOps(tx, "TerminateDisks", diskId, "SUCCESS", clock.millis(), null);
            return names;
        });
        manifestsReleased.accept(lineage);
    }

    void finishInstance(String instanceId) {
        submit("instance " + instanceId, () -> {
            Optional<Instance> found = catalog.read(tx -> Rows.instanceById(tx, instanceId));
            if (found.isEmpty()) return;
            Instance i = found.get();
            InstanceState to = switch (i.state()) {
                case PENDING, STARTING, REBOOTING -> InstanceState.RUNNING;
                case STOPPING -> InstanceState.STOPPED;
                case TERMINATING -> null;
                default -> i.state();
            };
            if (to == i.state()) return;
            if (to != null) {
                catalog.write(tx -> {
                    if (tx.update("UPDATE instances SET state = ?, latest_operation_state = ? WHERE instance_id = ? AND state = ?",
                            to, "SUCCESS", instanceId, i.state()) > 0) {
                        Rows.finishOps(tx, i.latestOperation() == null ? "RunInstances" : i.latestOperation(), instanceId,
                                "SUCCESS", clock.millis(), null);
                    }
                    return null;
                });
                return;
            }
            List<String> deleted = catalog.write(tx -> {
                if (Rows.instanceById(tx, instanceId).map(x -> x.state() != InstanceState.TERMINATING).orElse(true)) {
                    return List.<String>of();
                }
                List<String> gone = new ArrayList<>();
                for (Disk d : Rows.disksOfInstance(tx, instanceId)) {
                    if (d.diskUsage() == DiskUsage.SYSTEM_DISK || d.deleteWithInstance()) {
                        Rows.setDiskState(tx, d.diskId(), DiskState.TORECYCLE, null);
                        Rows.recordOps(tx, new Caller(i.accountId(), false, nullToEmpty(i.latestOperationRequestId())),
                                "TerminateDisks", List.of(d.diskId()), "PROCESSING", clock.millis(), "with instance " + instanceId);
                        gone.add(d.diskId());
                    } else {
                        Rows.setDiskState(tx, d.diskId(), DiskState.UNATTACHED, null);
                    }
                }
                tx.update("DELETE FROM instances WHERE instance_id = ?", instanceId);
                Rows.finishOps(tx, "TerminateInstances", instanceId, "SUCCESS", clock.millis(), null);
                return gone;
            });
            for (String d : deleted) deleteNow(d);
            log.info("instance terminated instance={} deleted_disks={}", instanceId, deleted);
        });
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    /** A step of background work. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    private void submit(String what, Step step) {
        synchronized (idle) {
            inFlight++;
        }
        Runnable task = () -> {
            try {
                step.run();
            } catch (Exception | Error e) {
                log.error("background step failed: {}", what, e);
            } finally {
                synchronized (idle) {
                    inFlight--;
                    idle.notifyAll();
                }
            }
        };
        if (executor.isShutdown()) {
            log.warn("control plane closing; step not run now, it resumes on the next start: {}", what);
            synchronized (idle) {
                inFlight--;
                idle.notifyAll();
            }
            return;
        }
        executor.execute(task);
    }

    boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (idle) {
            while (inFlight > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                TimeUnit.NANOSECONDS.timedWait(idle, left);
            }
            return true;
        }
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                log.warn("background steps still running after 30 s; they resume on the next start");
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            executor.shutdownNow();
        }
    }
}
