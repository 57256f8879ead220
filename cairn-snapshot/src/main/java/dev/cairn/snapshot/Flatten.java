package dev.cairn.snapshot;

import dev.cairn.volume.OverlayVolume;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.TimeUnit;

/**
 * Makes a layered disk independent of its base (DESIGN §3): copies every block the disk does not hold
 * yet from the base, at a bounded rate, saving progress as it goes (a flush every {@link #FLUSH_EVERY}
 * bytes), and drops the base at the end. A crash or stop loses at most the last unflushed stretch: run
 * it again and it goes on from the blocks already present.
 */
public final class Flatten {
    static final long FLUSH_EVERY = 256L << 20;

    /** Progress: blocks present so far of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long present, long total);
    }

    private final OverlayVolume volume;
    private final long bytesPerSecond;
    private final java.util.function.BooleanSupplier stop;

    /**
     * @param bytesPerSecond the copy-rate limit (≤ 0: unlimited)
     * @param stop polled between blocks; true ends the run early (progress so far is kept)
     */
    public Flatten(OverlayVolume volume, long bytesPerSecond, java.util.function.BooleanSupplier stop) {
        this.volume = volume;
        this.bytesPerSecond = bytesPerSecond;
        this.stop = stop;
    }

    /** Runs to the end; returns normally once the disk no longer needs its base. */
    public void run(Progress progress) throws IOException {
        BackgroundPriority.lowerCurrentThread(); // copying yields the cores to the disks' own I/O
        long total = volume.blockCount();
        long started = System.nanoTime();
        long copied = 0;
        long sinceFlush = 0;
        for (long b = 0; b < total; b++) {
            if (stop.getAsBoolean()) {
                volume.flush();
                throw new InterruptedIOException("flatten of " + volume + " stopped");
            }
            long n = volume.flattenBlock(b);
            if (n == 0) continue; // present already, or a zero block: nothing moved, nothing to pace
            copied += n;
            sinceFlush += n;
            if (sinceFlush >= FLUSH_EVERY) {
                volume.flush();
                sinceFlush = 0;
            }
            progress.update(b + 1, total); // blocks before b+1 are all present now (callers throttle)
            pace(started, copied);
        }
        volume.flush();
        if (!volume.dropBaseIfComplete()) throw new IOException("flatten of " + volume + " left " + volume.missingBlocks() + " blocks behind");
        progress.update(total, total);
    }

    /** Sleeps until {@code copiedBytes} are due at the rate limit (in short naps, so a stop is seen soon). */
    private void pace(long startedNanos, long copiedBytes) throws InterruptedIOException {
        if (bytesPerSecond <= 0) return;
        long dueNanos = startedNanos + (long) (copiedBytes * 1e9 / bytesPerSecond);
        long wait;
        while ((wait = dueNanos - System.nanoTime()) > 0 && !stop.getAsBoolean()) {
            try {
                TimeUnit.NANOSECONDS.sleep(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(50)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("flatten interrupted");
            }
        }
    }
}
