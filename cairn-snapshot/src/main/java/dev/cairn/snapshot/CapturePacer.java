package dev.cairn.snapshot;

import dev.cairn.volume.TrackedVolume;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a capture's CPU use to a share of the machine while the disks are being written, and out of
 * the way otherwise. A low priority alone does not do it: the writers' requests go fio → socket →
 * server thread → disk → reply, and the capture fills every gap of that pipeline, so writers kept
 * under half their speed at any nice value or {@code SCHED_IDLE} (docs/benchmarks.md, "Where the
 * writers' loss goes"). So each capture thread, after a block, sleeps long enough that its CPU time
 * is its share of the wall time — only while some disk changed in the last {@link #BUSY_WINDOW_NANOS};
 * on quiet disks a capture runs at full speed.
 */
final class CapturePacer {
    /** Share of all cores a capture may use while disks are written ({@code -Dcairn.captureBusyCpuShare}, default 0.1; 1 = no pacing). */
    static final double BUSY_CPU_SHARE = Double.parseDouble(System.getProperty("cairn.captureBusyCpuShare", "0.1"));
    static final long BUSY_WINDOW_NANOS = 100_000_000;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Per capture thread: the fraction of its wall time it may spend on a core while disks are busy. */
    private final double duty;

    CapturePacer(int threads) {
        this(BUSY_CPU_SHARE, Runtime.getRuntime().availableProcessors(), threads);
    }

    CapturePacer(double share, int cores, int threads) {
        this.duty = share >= 1 ? 1 : Math.min(1, share * cores / threads);
    }

    /** The calling thread's CPU time so far (nanoseconds); 0 when pacing is off. */
    long cpuNow() {
        return duty < 1 ? THREADS.getCurrentThreadCpuTime() : 0;
    }

    /** After a block that took the calling thread's CPU from {@code cpuBefore} on: sleeps if disks are busy. */
    void afterBlock(long cpuBefore) {
        if (duty >= 1 || !TrackedVolume.changedWithin(BUSY_WINDOW_NANOS)) return;
        LockSupport.parkNanos(pauseFor(THREADS.getCurrentThreadCpuTime() - cpuBefore));
    }

    /** The sleep after {@code cpuNanos} of work that makes the work {@link #duty} of the wall time. */
    long pauseFor(long cpuNanos) {
        return duty >= 1 ? 0 : (long) (cpuNanos * (1 - duty) / duty);
    }
}
