package dev.cairn.control;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.SnapshotsUnavailable;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fires auto-snapshot policies (DESIGN §6): durable, exactly once per firing and disk, caught up once
 * after downtime, retried with back-off, and visible as a history of runs.
 *
 * <p><b>How.</b> Due firings are catalog rows, never timers in memory. {@link #plan} turns a policy whose
 * {@code next_trigger_at} has passed into one {@code auto_snapshot_runs} row per bound disk — for the
 * <em>latest</em> firing that has passed, so a scheduler that was down catches up once — and moves
 * {@code next_trigger_at} past now, both in one transaction (two nodes planning at once: one wins the
 * serializable race, and the unique key (policy, disk, due) stands behind it). {@link #claim} leases
 * runnable rows ({@code FOR UPDATE SKIP LOCKED} on PostgreSQL) with a fresh token; every later update
 * of the row names that token, so a worker that lost its lease (it stalled or died, and another took
 * the row over after {@code lease_until}) can change nothing. The snapshot's row and the run's
 * {@code snapshot_id} are written in one transaction, by the lease holder only: a run that already has
 * a snapshot is only ever waited for, never snapshotted again.
 *
 * <p><b>Two clocks.</b> Due times, back-off and retention are service time ({@link InstantSource} — the
 * test clock under {@code --test-clock}); leases are real time, so a dead worker's lease runs out even
 * while the test clock stands still. Nodes sharing a catalog need roughly synchronised clocks.
 *
 * <p><b>Failures.</b> A disk that is gone or was unbound is SKIPPED; one that is not in use (not attached
 * to a running instance) is SKIPPED as Tencent does. Anything else (a snapshot already being taken, the
 * repository unreachable, a failed capture) is retried after 2, 8 and 32 minutes, then FAILED. A hook
 * that fails does not stop the snapshot: it is taken crash-consistent and the run says so.
 *
 * <p><b>Threads.</b> {@link #start} ticks once a second on a virtual thread; each claimed run runs on a
 * virtual thread of its own (at most {@link #CONCURRENT_RUNS}). Thread-safe.
 */
public final class Scheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
    static final String PENDING = "PENDING", RUNNING = "RUNNING", SUCCESS = "SUCCESS", FAILED = "FAILED", SKIPPED = "SKIPPED";
    static final int MAX_ATTEMPTS = 4;
    static final Duration FIRST_RETRY = Duration.ofMinutes(2);
    static final int CONCURRENT_RUNS = 64;
    /** How long finished runs stay in a policy's history. */
    static final Duration HISTORY = Duration.ofDays(90);
    private static final DateTimeFormatter NAME_TIME = DateTimeFormatter.ofPattern("yyyyMMdd_HH");

    /** Where a test may stop a worker dead (it keeps its lease and does nothing more). */
    enum Point { CLAIMED, SNAPSHOT_CREATED }

    /** Test hook: throw {@link WorkerDied} at a point to simulate a worker killed there. */
    @FunctionalInterface
    interface Faults {
        void at(Point point, String runId);

        Faults NONE = (point, runId) -> { };
    }

    /** Thrown by {@link Faults} to end a worker without any clean-up. */
    static final class WorkerDied extends RuntimeException {
        WorkerDied() {
            super("worker killed by a test", null, false, false);
        }
    }

    /** Another worker holds the run now. */
    private static final class LeaseLost extends RuntimeException {
        LeaseLost(String runId) {
            super("lease on run " + runId + " lost", null, false, false);
        }
    }

    /** What the scheduler has done since start (for /metrics). */
    public record Stats(long firingsPlanned, long runsStarted, long runsSucceeded, long runsFailed, long runsSkipped, long retries) {}

    private record Claim(String runId, String policyId, long accountId, String diskId, Instant dueAt, int attempts, String snapshotId,
                         String token) {}

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;
    private final SnapshotService snapshots;
    private final ServerHooks hooks;
    private final String worker;
    private final Duration lease;
    private final Faults faults;
    private final Semaphore slots = new Semaphore(CONCURRENT_RUNS);
    private final Set<String> working = ConcurrentHashMap.newKeySet();
    private final LongAdder planned = new LongAdder(), started = new LongAdder(), succeeded = new LongAdder(), failed = new LongAdder(),
            skipped = new LongAdder(), retried = new LongAdder();
    private volatile LongConsumer lagObserver = ms -> { };
    private volatile boolean closing;
    private final Object tickerLock = new Object();
    private Thread ticker;

    Scheduler(CloudControl control, Catalog catalog, InstantSource clock, SnapshotService snapshots, ServerHooks hooks, String worker,
              Duration lease, Faults faults) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
        this.snapshots = snapshots;
        this.hooks = hooks;
        this.worker = worker;
        this.lease = lease;
        this.faults = faults;
    }

    public Stats stats() {
        return new Stats(planned.sum(), started.sum(), succeeded.sum(), failed.sum(), skipped.sum(), retried.sum());
    }

    /** Receives, for each run's first attempt, how late it started after its due time (ms of service time). */
    public void setLagObserver(LongConsumer observer) {
        this.lagObserver = observer == null ? ms -> { } : observer;
    }

    /** Ticks once a second (real time) until closed; the first tick catches up what passed while down. */
    void start() {
        synchronized (tickerLock) {
            if (ticker != null) return;
            ticker = Thread.ofVirtual().name("scheduler-" + worker).start(() -> {
            while (!closing) {
                try {
                    tick();
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    log.warn("scheduler tick failed; retrying", e);
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
            });
        }
    }

    /** Plans due firings and starts the runs that may run now. */
    void tick() {
        if (closing) return;
        meter();
        plan();
        for (Claim c : claim(slots.availablePermits())) startRun(c);
    }

    /** Meters the hours that ended (billing), before anything new happens at this time. */
    private void meter() {
        try {
            control.billing().meterThrough();
        } catch (RuntimeException e) {
            log.warn("metering failed; the next tick tries again", e);
        }
    }

    // ------------------------------------------------------------------ planning

    /** Turns each policy whose next firing has passed into runs (once, for the latest firing passed). Returns how many firings. */
    int plan() {
        Instant now = clock.instant();
        List<AutoSnapshotPolicy> due = catalog.read(tx -> tx.query("SELECT " + AutoSnapshotPolicy.COLUMNS
                + " FROM auto_snapshot_policies WHERE is_activated = ? AND next_trigger_at IS NOT NULL AND next_trigger_at <= ?",
                PolicyService::policy, true, now.toEpochMilli()));
        int fired = 0;
        for (AutoSnapshotPolicy p : due) {
            if (planOne(p, now)) fired++;
        }
        return fired;
    }

    private boolean planOne(AutoSnapshotPolicy p, Instant now) {
        ZoneId zone = control.region().timeZone();
        Instant first = p.nextTrigger();
        Instant latest = first;
        int missed = 0;
        for (Optional<Instant> t = p.schedule().next(latest, zone); t.isPresent() && !t.get().isAfter(now); t = p.schedule().next(latest, zone)) {
            latest = t.get();
            missed++;
        }
        Instant dueAt = latest;
        Instant next = p.schedule().next(now, zone).orElse(null);
        String detail = missed == 0 ? "" : "caught up once after downtime; " + missed + " earlier firing(s) since " + first + " not repeated";
        boolean won = catalog.write(tx -> {
            if (tx.update("UPDATE auto_snapshot_policies SET next_trigger_at = ? WHERE policy_id = ? AND next_trigger_at = ? AND is_activated = ?",
                    next == null ? null : next.toEpochMilli(), p.policyId(), first.toEpochMilli(), true) == 0) {
                return false; // another node planned it, or it changed meanwhile
            }
            List<String> disks = tx.query("SELECT disk_id FROM auto_snapshot_policy_disks WHERE policy_id = ? ORDER BY disk_id",
                    rs -> rs.getString(1), p.policyId());
            tx.update("DELETE FROM auto_snapshot_runs WHERE policy_id = ? AND due_at < ? AND state IN (?, ?, ?)", p.policyId(),
                    now.minus(HISTORY).toEpochMilli(), SUCCESS, FAILED, SKIPPED);
            for (String disk : disks) {
                tx.update("""
                        INSERT INTO auto_snapshot_runs (run_id, policy_id, account_id, disk_id, due_at, state, attempts, not_before, detail)
                        VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)""",
                        UUID.randomUUID().toString(), p.policyId(), p.accountId(), disk, dueAt.toEpochMilli(), PENDING, dueAt.toEpochMilli(), detail);
            }
            return true;
        });
        if (won) {
            planned.increment();
            log.info("policy fired policy={} due={} next={}{}", p.policyId(), dueAt, next, missed == 0 ? "" : " (" + detail + ")");
        }
        return won;
    }

    // ------------------------------------------------------------------ claiming

    /** Leases up to {@code max} runs that may run now: pending and due, or running under a lease that ran out. */
    private List<Claim> claim(int max) {
        if (max <= 0) return List.of();
        long now = clock.millis();
        long real = System.currentTimeMillis();
        return catalog.writeLocked(tx -> {
            List<Claim> found = tx.query("SELECT run_id, policy_id, account_id, disk_id, due_at, attempts, snapshot_id FROM auto_snapshot_runs "
                    + "WHERE (state = ? AND not_before <= ?) OR (state = ? AND lease_until < ?) ORDER BY due_at, run_id LIMIT " + max
                    + catalog.skipLocked(), rs -> new Claim(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4),
                    Instant.ofEpochMilli(rs.getLong(5)), rs.getInt(6), rs.getString(7), UUID.randomUUID().toString()),
                    PENDING, now, RUNNING, real);
            List<Claim> mine = new ArrayList<>();
            for (Claim c : found) {
                if (working.contains(c.runId())) continue; // still ours (a stalled renewal): leave it
                int n = tx.update("""
                        UPDATE auto_snapshot_runs SET state = ?, lease_token = ?, lease_until = ?, started_at = COALESCE(started_at, ?)
                        WHERE run_id = ? AND ((state = ? AND not_before <= ?) OR (state = ? AND lease_until < ?))""",
                        RUNNING, c.token(), real + lease.toMillis(), now, c.runId(), PENDING, now, RUNNING, real);
                if (n == 1) mine.add(c);
            }
            return mine;
        });
    }

    private void startRun(Claim c) {
        if (!slots.tryAcquire()) {
            release(c); // no room after all: let it go at once rather than hold the lease idle
            return;
        }
        working.add(c.runId());
        Thread.ofVirtual().name("run-" + c.runId()).start(() -> {
            try {
                run(c);
            } catch (WorkerDied dead) {
                log.info("worker {} died (test) holding run {}", worker, c.runId());
            } catch (LeaseLost lost) {
                log.info("{}: another worker took the run over", lost.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                log.error("policy run {} failed unexpectedly; it is retried when its lease runs out", c.runId(), e);
            } finally {
                working.remove(c.runId());
                slots.release();
            }
        });
    }

    private void release(Claim c) {
        catalog.write(tx -> tx.update("UPDATE auto_snapshot_runs SET state = ?, lease_token = NULL, lease_until = NULL WHERE run_id = ? "
                + "AND lease_token = ?", PENDING, c.runId(), c.token()));
    }

    // ------------------------------------------------------------------ running

    private void run(Claim c) throws InterruptedException {
        faults.at(Point.CLAIMED, c.runId());
        if (c.attempts() == 0 && c.snapshotId() == null) {
            started.increment();
            lagObserver.accept(Math.max(0, clock.millis() - c.dueAt().toEpochMilli()));
        }
        String snapshotId = c.snapshotId();
        String note = "";
        if (snapshotId == null) {
            Target t = target(c);
            if (t.skip() != null) {
                finish(c, SKIPPED, null, t.skip());
                return;
            }
            StringBuilder hookNotes = new StringBuilder();
            runHook(t.policy(), t.policy().preHook(), "pre", t.disk(), hookNotes);
            try {
                snapshotId = createSnapshot(c, t.policy());
            } catch (DiskConflict | SnapshotsUnavailable e) {
                attemptFailed(c, e.getMessage());
                return;
            } catch (NotFound e) {
                finish(c, SKIPPED, null, e.getMessage());
                return;
            } finally {
                runHook(t.policy(), t.policy().postHook(), "post", t.disk(), hookNotes);
            }
            note = hookNotes.toString();
            faults.at(Point.SNAPSHOT_CREATED, c.runId());
        }
        settle(c, snapshotId, note);
    }

    /** The run's policy and disk, or why there is nothing to do. */
    private record Target(AutoSnapshotPolicy policy, Disk disk, String skip) {}

    private Target target(Claim c) {
        return catalog.read(tx -> {
            Optional<AutoSnapshotPolicy> p = tx.first("SELECT " + AutoSnapshotPolicy.COLUMNS + " FROM auto_snapshot_policies WHERE policy_id = ?",
                    PolicyService::policy, c.policyId());
            if (p.isEmpty()) return new Target(null, null, "policy deleted");
            Optional<Disk> d = Rows.diskById(tx, c.diskId());
            if (d.isEmpty() || d.get().state() == DiskState.TORECYCLE) return new Target(null, null, "disk deleted");
            if (tx.count("SELECT COUNT(*) FROM auto_snapshot_policy_disks WHERE disk_id = ? AND policy_id = ?", c.diskId(), c.policyId()) == 0) {
                return new Target(null, null, "disk unbound from the policy");
            }
            Optional<Instance> i = d.get().instanceId() == null ? Optional.empty() : Rows.instanceById(tx, d.get().instanceId());
            if (i.isEmpty() || !i.get().state().servesDisks()) {
                return new Target(null, null, "disk not in use (not attached to a running instance): no scheduled snapshot, as Tencent does");
            }
            return new Target(p.get(), d.get(), null);
        });
    }

    private String createSnapshot(Claim c, AutoSnapshotPolicy p) {
        Instant now = clock.instant();
        String name = "auto_" + p.policyId() + "_" + c.dueAt().atZone(control.region().timeZone()).format(NAME_TIME);
        Instant deadline = p.permanent() ? null : now.plus(Duration.ofDays(p.retentionDays()));
        Caller caller = new Caller(c.accountId(), false, p.policyId()); // the policy id marks the operation log's ASP_ entries
        return snapshots.createScheduled(caller, c.diskId(), name, deadline, p.policyId(), (tx, snapshotId) -> {
            if (tx.update("UPDATE auto_snapshot_runs SET snapshot_id = ? WHERE run_id = ? AND lease_token = ?", snapshotId, c.runId(), c.token()) == 0) {
                throw new LeaseLost(c.runId());
            }
        });
    }

    private void runHook(AutoSnapshotPolicy p, String hook, String phase, Disk disk, StringBuilder notes) throws InterruptedException {
        if (hook == null) return;
        try {
            hooks.run(hook, Map.of("CAIRN_DISK_ID", disk.diskId(), "CAIRN_INSTANCE_ID", String.valueOf(disk.instanceId()),
                    "CAIRN_POLICY_ID", p.policyId(), "CAIRN_HOOK_PHASE", phase), Duration.ofSeconds(p.hookTimeoutSeconds()));
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("{}-hook of policy {} failed for disk {}: {}", phase, p.policyId(), disk.diskId(), e.getMessage());
            notes.append(notes.isEmpty() ? "" : "; ").append(phase).append("-hook failed (").append(e.getMessage())
                    .append(phase.equals("pre") ? "): crash-consistent only" : ")");
        }
    }

    /** Waits for the run's snapshot to end (renewing the lease), then records the result. */
    private void settle(Claim c, String snapshotId, String note) throws InterruptedException {
        Duration renewEvery = lease.dividedBy(3);
        while (!closing) {
            record State(String state, long stored, boolean incremental) {}
            Optional<State> s = catalog.read(tx -> tx.first("SELECT state, incremental_bytes, incremental FROM snapshots WHERE snapshot_id = ?",
                    rs -> new State(rs.getString(1), rs.getLong(2), rs.getBoolean(3)), snapshotId));
            if (s.isEmpty()) {
                String why = catalog.read(tx -> tx.first("SELECT detail FROM operations WHERE resource_id = ? AND action = ? AND state = ?",
                        rs -> rs.getString(1), snapshotId, "CreateSnapshot", "FAILED")).orElse("the snapshot was removed");
                attemptFailed(c, "snapshot " + snapshotId + " failed: " + why);
                return;
            }
            if (s.get().state().equals(SnapshotState.NORMAL.name())) {
                String detail = snapshotId + (s.get().incremental() ? " incremental" : " full") + (note.isEmpty() ? "" : "; " + note);
                finish(c, SUCCESS, s.get().stored(), detail);
                return;
            }
            if (!snapshots.awaitCapture(snapshotId, renewEvery)) Thread.sleep(Math.min(200, renewEvery.toMillis())); // another node's capture
            renew(c);
        }
    }

    private void renew(Claim c) {
        long until = System.currentTimeMillis() + lease.toMillis();
        if (catalog.write(tx -> tx.update("UPDATE auto_snapshot_runs SET lease_until = ? WHERE run_id = ? AND lease_token = ?",
                until, c.runId(), c.token())) == 0) {
            throw new LeaseLost(c.runId());
        }
    }

    private void finish(Claim c, String state, Long storedBytes, String detail) {
        finish(c, state, storedBytes, detail, c.attempts());
    }

    private void finish(Claim c, String state, Long storedBytes, String detail, int attempts) {
        long now = clock.millis();
        int n = catalog.write(tx -> tx.update("""
                UPDATE auto_snapshot_runs SET state = ?, finished_at = ?, stored_bytes = ?, detail = ?, attempts = ?, lease_token = NULL,
                lease_until = NULL WHERE run_id = ? AND lease_token = ?""", state, now, storedBytes, Rows.truncate(joinDetail(c, detail)),
                attempts, c.runId(), c.token()));
        if (n == 0) throw new LeaseLost(c.runId());
        switch (state) {
            case SUCCESS -> succeeded.increment();
            case SKIPPED -> skipped.increment();
            default -> failed.increment();
        }
        log.info("policy run {} policy={} disk={} due={}: {}", state, c.policyId(), c.diskId(), c.dueAt(), detail);
    }

    /** One attempt failed: try again after back-off, or give up after {@link #MAX_ATTEMPTS}. */
    private void attemptFailed(Claim c, String why) {
        int attempts = c.attempts() + 1;
        if (attempts >= MAX_ATTEMPTS) {
            finish(c, FAILED, null, "gave up after " + attempts + " attempts; last: " + why, attempts);
            return;
        }
        Instant retryAt = clock.instant().plus(FIRST_RETRY.multipliedBy(1L << (2 * (attempts - 1))));
        int n = catalog.write(tx -> tx.update("""
                UPDATE auto_snapshot_runs SET state = ?, attempts = ?, not_before = ?, snapshot_id = NULL, lease_token = NULL, lease_until = NULL,
                detail = ? WHERE run_id = ? AND lease_token = ?""", PENDING, attempts, retryAt.toEpochMilli(),
                Rows.truncate("attempt " + attempts + " failed: " + why + "; next try at " + retryAt), c.runId(), c.token()));
        if (n == 0) throw new LeaseLost(c.runId());
        retried.increment();
        log.warn("policy run attempt {} failed policy={} disk={}: {}; retry at {}", attempts, c.policyId(), c.diskId(), why, retryAt);
    }

    /** Keeps a catch-up note from planning; says which attempt succeeded when it was not the first. */
    private String joinDetail(Claim c, String detail) {
        String earlier = catalog.read(tx -> tx.first("SELECT detail FROM auto_snapshot_runs WHERE run_id = ?", rs -> rs.getString(1), c.runId()))
                .orElse("");
        String attempt = c.attempts() > 0 ? " (attempt " + (c.attempts() + 1) + ")" : "";
        return detail + attempt + (earlier.startsWith("caught up") ? "; " + earlier : "");
    }

    // ------------------------------------------------------------------ the test clock

    /**
     * Moves the test clock forward by {@code step}, stopping at every firing, retry and hour boundary (billing) in between
     * (in order) and letting it finish there, as if that time had passed; returns the new time.
     */
    synchronized Instant advance(TestClock testClock, Duration step) throws InterruptedException {
        TestClock.requireForward(step);
        Instant target = testClock.instant().plus(step);
        runUntilQuiet(); // what is due already fires at its own time, not merged into a later firing
        while (true) {
            long now = testClock.millis();
            Optional<Long> next = catalog.read(tx -> {
                long policy = tx.count("SELECT MIN(next_trigger_at) FROM auto_snapshot_policies WHERE is_activated = ? AND next_trigger_at > ? "
                        + "AND next_trigger_at <= ?", true, now, target.toEpochMilli());
                long retry = tx.count("SELECT MIN(not_before) FROM auto_snapshot_runs WHERE state = ? AND not_before > ? AND not_before <= ?",
                        PENDING, now, target.toEpochMilli());
                long first = policy == 0 ? retry : retry == 0 ? policy : Math.min(policy, retry);
                long hour = Instant.ofEpochMilli(now).truncatedTo(java.time.temporal.ChronoUnit.HOURS).plus(Duration.ofHours(1)).toEpochMilli();
                if (hour <= target.toEpochMilli() && (first == 0 || hour < first)) first = hour; // every hour is metered at its end
                return first == 0 ? Optional.empty() : Optional.of(first);
            });
            if (next.isEmpty()) break;
            testClock.moveTo(Instant.ofEpochMilli(next.get()));
            runUntilQuiet();
        }
        testClock.moveTo(target);
        runUntilQuiet();
        return testClock.instant();
    }

    /** Ticks until nothing due is left to run or running (or 10 minutes of real time pass). */
    private void runUntilQuiet() throws InterruptedException {
        long giveUp = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (!closing && System.nanoTime() < giveUp) {
            tick();
            snapshots.expire();
            long now = clock.millis();
            long open = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM auto_snapshot_runs WHERE (state = ? AND not_before <= ?) OR state = ?",
                    PENDING, now, RUNNING));
            if (open == 0 && working.isEmpty()) return;
            Thread.sleep(20);
        }
        log.warn("advancing the clock: runs still open after waiting; going on");
    }

    @Override
    public void close() {
        closing = true;
        Thread t;
        synchronized (tickerLock) {
            t = ticker;
        }
        if (t != null) t.interrupt();
    }
}
