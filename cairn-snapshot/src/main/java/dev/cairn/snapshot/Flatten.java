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
    private volatile boolean cancelled;

    /** @param bytesPerSecond the copy-rate limit (≤ 0: unlimited) */
    public Flatten(OverlayVolume volume, long bytesPerSecond) {
        this.volume = volume;
        this.bytesPerSecond = bytesPerSecond;
    }

    public void cancel() {
        cancelled = true;
    }

    /** Runs to the end; returns normally once the disk no longer needs its base. */
    public void run(Progress progress) throws IOException {
        long total = volume.blockCount();
        long started = System.nanoTime();
        long copied = 0;
        long sinceFlush = 0;
        for (long b = 0; b < total; b++) {
            if (cancelled || Thread.currentThread().isInterrupted()) {
                volume.flush();
                throw new InterruptedIOException("flatten of " + volume + " stopped");
            }
            if (!volume.flattenBlock(b)) continue;
            copied += volume.blockSize();
            sinceFlush += volume.blockSize();
            if (sinceFlush >= FLUSH_EVERY) {
                volume.flush();
                sinceFlush = 0;
                progress.update(total - volume.missingBlocks(), total);
            }
            pace(started, copied);
        }
        volume.flush();
        if (!volume.dropBaseIfComplete()) throw new IOException("flatten of " + volume + " left " + volume.missingBlocks() + " blocks behind");
        progress.update(total, total);
    }

    private void pace(long startedNanos, long copiedBytes) throws InterruptedIOException {
        if (bytesPerSecond <= 0) return;
        long dueNanos = startedNanos + TimeUnit.SECONDS.toNanos(1) * copiedBytes / bytesPerSecond;
        long wait = dueNanos - System.nanoTime();
        if (wait <= 0) return;
        try {
            TimeUnit.NANOSECONDS.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("flatten interrupted");
        }
    }
}
