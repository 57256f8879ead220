package dev.cairn.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.PolicyService.Spec;
import dev.cairn.control.Schedule.Rule;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Auto-snapshot policies and the scheduler through the control plane, with real volumes and
 * repository under the test clock: what fires when, exactly once, catch-up after downtime, retention,
 * retries, and the refusals. Run on each catalog engine by a subclass.
 */
abstract class PolicyContract extends SnapshotFixture {
    static final ZoneId REGION_ZONE = ZoneId.of("Asia/Shanghai");

    static Spec daily(int hour, Integer retentionDays) {
        return new Spec("nightly", List.of(new Rule(List.of(hour), List.of(), List.of(), 0)), null, null, retentionDays, null, null, null);
    }

    List<Snapshot> snapshotsOf(String diskId) {
        return control.snapshots().describeSnapshots(alice, new ListQuery<Snapshot>(List.of(), s -> s.diskId().equals(diskId),
                Comparator.comparing(Snapshot::createdAt), 0, 1000)).items();
    }

    AutoSnapshotPolicy policy(String id) {
        return control.policies().describe(alice, new ListQuery<AutoSnapshotPolicy>(List.of(id), p -> true,
                Comparator.comparing(AutoSnapshotPolicy::createdAt), 0, 10)).items().getFirst();
    }

    void advance(Duration d) throws InterruptedException {
        control.advanceClock(d);
    }

    String localHour(Instant t) {
        return t.atZone(REGION_ZONE).format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd_HH"));
    }

    @Test
    void aDailyPolicyFiresEachDayAndItsSnapshotsAreTheDiskThen() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        PolicyService.Created p = control.policies().create(alice, daily(2, null), false);
        // the clock starts 2026-11-26 12:00 in the region: the first firing is 02:00 the next day
        assertThat(p.nextTrigger()).isEqualTo(Instant.parse("2026-11-26T18:00:00Z"));
        control.policies().bind(alice, p.policyId(), List.of(disk));

        for (int day = 0; day < 3; day++) {
            write(disk, 0, pattern(day, 4096));
            advance(Duration.ofDays(1));
        }
        List<Snapshot> autos = snapshotsOf(disk);
        assertThat(autos).hasSize(3).allMatch(s -> s.state() == SnapshotState.NORMAL && p.policyId().equals(s.policyId()) && !s.permanent());
        for (int day = 0; day < 3; day++) {
            Snapshot s = autos.get(day);
            Instant due = Instant.parse("2026-11-26T18:00:00Z").plus(Duration.ofDays(day));
            assertThat(s.name()).isEqualTo("auto_" + p.policyId() + "_" + localHour(due));
            assertThat(s.createdAt()).isEqualTo(due);
            assertThat(s.deadline()).isEqualTo(due.plus(Duration.ofDays(7)));
            assertThat(readSnapshot(s.snapshotId(), 0, 4096)).isEqualTo(pattern(day, 4096));
        }
        List<PolicyService.Run> runs = control.policies().history(alice, p.policyId(), null, 100);
        assertThat(runs).hasSize(3).allMatch(r -> r.state().equals("SUCCESS") && r.attempts() == 0 && r.storedBytes() != null);
        assertThat(policy(p.policyId()).nextTrigger()).isEqualTo(Instant.parse("2026-11-29T18:00:00Z"));
        assertThat(control.scheduler().stats().runsSucceeded()).isEqualTo(3);
    }

    @Test
    void retentionOverThirtyDaysKeepsExactlyRetentionDaysAndEveryManualOrPermanentSnapshot() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        PolicyService.Created p = control.policies().create(alice, daily(3, 7), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        String manual = control.snapshots().createSnapshot(alice, disk, "by hand", null);
        awaitNormal(manual);
        advance(Duration.ofDays(2));
        String pinned = snapshotsOf(disk).stream().filter(s -> s.policyId() != null).findFirst().orElseThrow().snapshotId();
        control.snapshots().modifySnapshotAttribute(alice, pinned, null, true, null); // made permanent by hand: retention leaves it

        advance(Duration.ofDays(28));
        List<Snapshot> all = snapshotsOf(disk);
        List<Snapshot> autos = all.stream().filter(s -> s.policyId() != null && !s.permanent()).toList();
        assertThat(autos).hasSize(7);
        Instant now = control.now();
        assertThat(autos).allMatch(s -> s.createdAt().isAfter(now.minus(Duration.ofDays(7))));
        assertThat(all).extracting(Snapshot::snapshotId).contains(manual, pinned);
        assertThat(all).hasSize(9);
    }

    @Test
    void theNewestGoodSnapshotOfADiskOutlivesItsDeadlineWhileLaterFiringsFail() throws Exception {
        String instance = runningInstanceWithDisk();
        String disk = dataDiskOf(instance);
        PolicyService.Created p = control.policies().create(alice, daily(2, 1), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        advance(Duration.ofDays(1));
        String good = snapshotsOf(disk).getFirst().snapshotId();

        backend.fault = FaultyBackend.Fault.FULL; // the repository breaks: every later capture fails
        advance(Duration.ofDays(3));
        assertThat(snapshotsOf(disk)).extracting(Snapshot::snapshotId).containsExactly(good);
        List<PolicyService.Run> runs = control.policies().history(alice, p.policyId(), disk, 100);
        assertThat(runs.getFirst().attempts()).isGreaterThan(0);
        assertThat(runs).anyMatch(r -> r.state().equals("FAILED") && r.detail().contains("gave up after 4 attempts"));
        assertThat(control.scheduler().stats().retries()).isPositive();

        backend.fault = FaultyBackend.Fault.NONE;
        advance(Duration.ofDays(1));
        List<Snapshot> after = snapshotsOf(disk);
        assertThat(after).hasSize(1).noneMatch(s -> s.snapshotId().equals(good)); // a newer good one exists: the old one goes
    }

    @Test
    void aFailedAttemptIsRetriedWithBackOffAndSucceeds() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        PolicyService.Created p = control.policies().create(alice, daily(2, null), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        backend.fault = FaultyBackend.Fault.FULL;
        advance(Duration.ofHours(14).plusMinutes(1)); // past 02:00: the first attempt fails
        PolicyService.Run first = control.policies().history(alice, p.policyId(), null, 10).getFirst();
        assertThat(first.state()).isEqualTo("PENDING");
        assertThat(first.attempts()).isEqualTo(1);
        assertThat(first.detail()).contains("attempt 1 failed");
        backend.fault = FaultyBackend.Fault.NONE;
        advance(Duration.ofMinutes(2));
        PolicyService.Run done = control.policies().history(alice, p.policyId(), null, 10).getFirst();
        assertThat(done.state()).isEqualTo("SUCCESS");
        assertThat(done.detail()).contains("attempt 2");
        assertThat(snapshotsOf(disk)).hasSize(1);
    }

    @Test
    void afterDowntimeAMissedFiringIsCaughtUpOnceNotOncePerMissedTime() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        PolicyService.Created p = control.policies().create(alice, daily(2, 30), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        stopNode();
        clock.advance(Duration.ofDays(3)); // three 02:00 firings pass while the server is down
        startNode();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> snapshotsOf(disk).stream()
                .anyMatch(s -> s.state() == SnapshotState.NORMAL));
        Thread.sleep(2500); // a few more ticks: nothing else fires
        List<Snapshot> snaps = snapshotsOf(disk);
        assertThat(snaps).hasSize(1);
        assertThat(snaps.getFirst().name()).isEqualTo("auto_" + p.policyId() + "_20261129_02"); // the latest missed firing
        PolicyService.Run run = control.policies().history(alice, p.policyId(), null, 10).getFirst();
        assertThat(run.detail()).contains("caught up once", "2 earlier firing(s)");
        assertThat(policy(p.policyId()).nextTrigger()).isEqualTo(Instant.parse("2026-11-29T18:00:00Z"));
    }

    @Test
    void disksNotInUseDeletedOrUnboundAreSkippedAndSaySo() throws Exception {
        String instance = runningInstanceWithDisk();
        String disk = dataDiskOf(instance);
        PolicyService.Created p = control.policies().create(alice, daily(2, null), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        control.stopInstances(alice, List.of(instance));
        awaitIdle();
        advance(Duration.ofDays(1));
        PolicyService.Run run = control.policies().history(alice, p.policyId(), null, 10).getFirst();
        assertThat(run.state()).isEqualTo("SKIPPED");
        assertThat(run.detail()).contains("not in use");
        assertThat(snapshotsOf(disk)).isEmpty();

        control.policies().unbind(alice, p.policyId(), List.of(), List.of(instance)); // by instance
        assertThat(policy(p.policyId()).diskIds()).isEmpty();
        control.policies().bind(alice, p.policyId(), List.of(disk));
        control.detachDisks(alice, List.of(disk), null);
        awaitIdle();
        control.terminateDisks(alice, List.of(disk));
        awaitIdle();
        assertThat(policy(p.policyId()).diskIds()).isEmpty(); // the binding went with the disk
    }

    @Test
    void aFailingHookDoesNotCostTheScheduledSnapshotAndTheRunSaysSo() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        java.nio.file.Path hooks = java.nio.file.Files.createDirectories(dir.resolve("hooks"));
        java.nio.file.Path log = dir.resolve("hook.log");
        hook(hooks.resolve("freeze"), "echo \"$CAIRN_HOOK_PHASE $CAIRN_DISK_ID\" >> " + log + "; exit 3");
        hook(hooks.resolve("thaw"), "echo \"$CAIRN_HOOK_PHASE $CAIRN_POLICY_ID\" >> " + log);
        PolicyService.Created p = control.policies().create(alice, new Spec("hooked", List.of(new Rule(List.of(2), List.of(), List.of(), 0)),
                null, null, null, "freeze", "thaw", 5), false);
        control.policies().bind(alice, p.policyId(), List.of(disk));
        advance(Duration.ofDays(1));
        assertThat(snapshotsOf(disk)).hasSize(1).allMatch(s -> s.state() == SnapshotState.NORMAL);
        assertThat(java.nio.file.Files.readAllLines(log)).containsExactly("pre " + disk, "post " + p.policyId());
        PolicyService.Run run = control.policies().history(alice, p.policyId(), null, 10).getFirst();
        assertThat(run.state()).isEqualTo("SUCCESS");
        assertThat(run.detail()).contains("pre-hook failed", "exit status 3", "crash-consistent only");
        assertThat(policy(p.policyId()).preHook()).isEqualTo("freeze");
    }

    private static void hook(java.nio.file.Path file, String body) throws java.io.IOException {
        java.nio.file.Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        java.nio.file.Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void policyRulesAndLimitsAnswerPreciseErrorsAndCreateNothing() {
        String disk = dataDiskOf(runningInstanceWithDisk());
        Spec bad = new Spec("x", List.of(new Rule(List.of(25), List.of(), List.of(), 0)), null, null, null, null, null, null);
        assertThatThrownBy(() -> control.policies().create(alice, bad, false)).isInstanceOf(InvalidValue.class)
                .hasMessageContaining("Policy.0.Hour");
        Spec conflict = new Spec("x", List.of(new Rule(List.of(1), List.of(), List.of(), 0)), null, true, 7, null, null, null);
        assertThatThrownBy(() -> control.policies().create(alice, conflict, false)).isInstanceOf(InvalidValue.class)
                .extracting(e -> ((InvalidValue) e).reason()).isEqualTo(InvalidValue.Reason.CONFLICT);
        Spec hook = new Spec("x", List.of(new Rule(List.of(1), List.of(), List.of(), 0)), null, null, null, "fsfreeze", null, null);
        assertThatThrownBy(() -> control.policies().create(alice, hook, false)).isInstanceOf(InvalidValue.class)
                .hasMessageContaining("no hook named `fsfreeze`");
        assertThatThrownBy(() -> control.policies().create(alice, new Spec("é".repeat(31), List.of(new Rule(List.of(1), List.of(), List.of(), 0)),
                null, null, null, null, null, null), false)).hasMessageContaining("60 bytes");
        assertThat(control.policies().describe(alice, ListQuery.all(Comparator.comparing(AutoSnapshotPolicy::createdAt))).totalCount()).isZero();

        PolicyService.Created dry = control.policies().create(alice, daily(2, null), true);
        assertThat(dry.policyId()).isNull();
        assertThat(dry.nextTrigger()).isNotNull();
        assertThat(control.policies().describe(alice, ListQuery.all(Comparator.comparing(AutoSnapshotPolicy::createdAt))).totalCount()).isZero();

        String a = control.policies().create(alice, daily(2, null), false).policyId();
        String b = control.policies().create(alice, daily(3, null), false).policyId();
        control.policies().bind(alice, a, List.of(disk));
        control.policies().bind(alice, a, List.of(disk)); // again to the same policy: fine
        assertThatThrownBy(() -> control.policies().bind(alice, b, List.of(disk))).isInstanceOf(DiskConflict.class)
                .extracting(e -> ((DiskConflict) e).problem()).isEqualTo(DiskConflict.Problem.ALREADY_BOUND);
        assertThatThrownBy(() -> control.policies().bind(alice, b, List.of("disk-nothere1"))).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.policies().bind(alice, "asp-nothere1", List.of(disk))).isInstanceOf(NotFound.class)
                .extracting(e -> ((NotFound) e).kind()).isEqualTo(ControlException.ResourceKind.AUTO_SNAPSHOT_POLICY);
        assertThat(control.policies().ofDisk(alice, disk)).extracting(AutoSnapshotPolicy::policyId).containsExactly(a);
        assertThat(control.policies().bindings(alice)).isEqualTo(Map.of(disk, a));

        Caller bob = new Caller(control.accounts().createAccount(admin, "bob").accountId(), false, "req-bob");
        assertThatThrownBy(() -> control.policies().delete(bob, List.of(a))).isInstanceOf(NotFound.class);
        assertThatThrownBy(() -> control.policies().delete(alice, List.of(a, "asp-nothere1"))).isInstanceOf(NotFound.class);
        assertThat(policy(a).diskIds()).containsExactly(disk); // all or nothing

        for (int i = 2; i < control.limits().policiesPerAccount(); i++) control.policies().create(alice, daily(4, null), false);
        assertThatThrownBy(() -> control.policies().create(alice, daily(4, null), false)).isInstanceOf(QuotaExceeded.class)
                .extracting(e -> ((QuotaExceeded) e).quota()).isEqualTo(QuotaExceeded.Quota.POLICIES_PER_ACCOUNT);
    }

    @Test
    void modifyReschedulesAndDeactivationStopsFiring() throws Exception {
        String disk = dataDiskOf(runningInstanceWithDisk());
        String id = control.policies().create(alice, daily(2, null), false).policyId();
        control.policies().bind(alice, id, List.of(disk));
        control.policies().modify(alice, id, new Spec("renamed", List.of(new Rule(List.of(13), List.of(), List.of(), 0)), null, null, 3,
                null, null, null));
        AutoSnapshotPolicy p = policy(id);
        assertThat(p.name()).isEqualTo("renamed");
        assertThat(p.retentionDays()).isEqualTo(3);
        assertThat(p.nextTrigger()).isEqualTo(Instant.parse("2026-11-26T05:00:00Z")); // 13:00 today in the region
        control.policies().modify(alice, id, new Spec(null, null, false, null, null, null, null, null));
        assertThat(policy(id).nextTrigger()).isNull();
        advance(Duration.ofDays(2));
        assertThat(snapshotsOf(disk)).isEmpty();
        control.policies().modify(alice, id, new Spec(null, null, true, null, null, null, null, null));
        advance(Duration.ofDays(1));
        assertThat(snapshotsOf(disk)).hasSize(1);

        control.policies().delete(alice, List.of(id));
        assertThat(snapshotsOf(disk)).hasSize(1); // snapshots made stay
        assertThatThrownBy(() -> control.policies().modify(alice, id, new Spec("x", null, null, null, null, null, null, null)))
                .isInstanceOf(NotFound.class);
    }

    @Test
    void severalWorkersFireEachFiringExactlyOnceEvenWhenWorkersDieMidRun() throws Exception {
        List<String> disks = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) disks.add(dataDiskOf(runningInstanceWithDisk()));
        PolicyService.Created p = control.policies().create(alice, new Spec("hourly", List.of(new Rule(
                java.util.stream.IntStream.range(0, 24).boxed().toList(), List.of(), List.of(), 0)), null, null, null, null, null, null), false);
        control.policies().bind(alice, p.policyId(), disks);
        control.scheduler().close(); // only the workers below run: as if each were a node of its own

        java.util.concurrent.atomic.AtomicInteger deaths = new java.util.concurrent.atomic.AtomicInteger();
        Scheduler diesAfterClaim = control.newScheduler("dies-after-claim", Duration.ofSeconds(1), (point, run) -> {
            if (point == Scheduler.Point.CLAIMED) {
                deaths.incrementAndGet();
                throw new Scheduler.WorkerDied();
            }
        });
        Scheduler diesAfterSnapshot = control.newScheduler("dies-after-snapshot", Duration.ofSeconds(1), (point, run) -> {
            if (point == Scheduler.Point.SNAPSHOT_CREATED) {
                deaths.incrementAndGet();
                throw new Scheduler.WorkerDied();
            }
        });
        List<Scheduler> healthy = List.of(control.newScheduler("healthy-1", Duration.ofSeconds(1), Scheduler.Faults.NONE),
                control.newScheduler("healthy-2", Duration.ofSeconds(1), Scheduler.Faults.NONE));
        for (int hour = 1; hour <= 4; hour++) {
            clock.advance(Duration.ofHours(1));
            (hour % 2 == 1 ? diesAfterClaim : diesAfterSnapshot).tick(); // plans the firing and takes every run, then dies
            int firings = hour;
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                healthy.forEach(Scheduler::tick); // they take the runs over once the dead worker's leases run out
                return control.policies().history(alice, p.policyId(), null, 100).stream().filter(r -> r.state().equals("SUCCESS"))
                        .count() == 3L * firings;
            });
        }
        assertThat(deaths.get()).isEqualTo(12);
        for (String disk : disks) {
            Map<String, Long> perFiring = snapshotsOf(disk).stream().collect(Collectors.groupingBy(Snapshot::name, Collectors.counting()));
            assertThat(perFiring).hasSize(4).allSatisfy((name, n) -> assertThat(n).as(name).isEqualTo(1L));
        }
        assertThat(control.policies().history(alice, p.policyId(), null, 100)).hasSize(12).allMatch(r -> r.state().equals("SUCCESS"));
    }
}
