package dev.cairn.snapshot;

import dev.cairn.volume.OverlayVolume;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes a layered disk independent of its base (DESIGN §3): copies every block the disk does not hold
 * yet from the base, at a bounded rate, saving progress as it goes (a flush every {@link #FLUSH_EVERY}
 * bytes), and drops the base at the end. A crash or stop loses at most the last unflushed stretch: run
 * it again and it goes on from the blocks already present.
 */
public final class Flatten {
    static final long FLUSH_EVERY = 256L << 20;
    static final int WORKERS = 3;
    /**
     * How many rounds of stripes ahead the repository is asked to read (a hint: the OS reads the packs'
     * ranges into its cache): two, measured on a 2 GiB clone from a cold cache, 2.19–2.31 s against
     * 2.37–2.46 s with one; three gained nothing more.
     */
    static final int ROUNDS_AHEAD = 2;
    /** A worker's unit of work, in bytes of disk (whole blocks, at least 64): big enough to keep the reads ahead. */
    static final int STRIPE_BYTES = 16 << 20;
    /**
     * Disk bytes (whole blocks, at least one) a worker copies per call: its blocks' stored chunks are
     * fetched together, and written in one request per lock group of the volume (the same 8 MiB).
     */
    static final int STEP_BYTES = 8 << 20;
    private static final int SCRATCH_ALIGNMENT = 4096;

    /** What a finished run did: the bytes it copied, and where its time went (preparing, copying, the final sync). */
    public record Result(long copiedBytes, long prepareMillis, long copyMillis, long syncMillis) {}

    /** Progress: blocks present so far of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long present, long total);
    }

    private final OverlayVolume volume;
    /** Blocks per stripe. */
    private final int stripe;
    /** Blocks per copy call. */
    private final int step;
    private final long bytesPerSecond;
    private final java.util.function.BooleanSupplier stop;

    /**
     * @param bytesPerSecond the copy-rate limit (≤ 0: unlimited)
     * @param stop polled between steps of {@link #STEP_BYTES}; true ends the run early (progress so far is kept)
     */
    public Flatten(OverlayVolume volume, long bytesPerSecond, java.util.function.BooleanSupplier stop) {
        this.volume = volume;
        this.stripe = Math.max(64, STRIPE_BYTES / volume.blockSize());
        this.step = Math.max(1, STEP_BYTES / volume.blockSize());
        this.bytesPerSecond = bytesPerSecond;
        this.stop = stop;
    }

    /**
     * Runs to the end; returns normally once the disk no longer needs its base. {@link #WORKERS} threads
     * (this one and helpers, all at background priority) copy stripes of {@link #STRIPE_BYTES} taken
     * in order, so fetching, decompressing and verifying blocks keeps both cores busy while others wait
     * on their direct writes. Three, measured on a 2 GiB clone with the blocks preallocated (which stops
     * ext4 from serializing the writes on allocation): 2 workers 3.1–3.3 s, 3 workers 2.9–3.0 s, 4
     * workers 2.7–2.8 s — but with 4 an unlimited flatten fills the device's queue, and a fresh clone's
     * first reads waited up to 240 ms (p99; 35–40 ms with 3, 14–23 ms with 2). Progress is the start
     * of the lowest stripe still being copied (every block before it is present). A worker copies its
     * stripe in steps of {@link #STEP_BYTES}, each read from the base in one call, so the repository
     * fetches neighbouring chunks of a pack with one request.
     */
    public Result run(Progress progress) throws IOException {
        BackgroundPriority.lowerCurrentThread(); // copying yields the cores to the disks' own I/O
        long t0 = System.nanoTime();
        long total = volume.blockCount();
        ExecutorService hints = Executors.newSingleThreadExecutor(Thread.ofPlatform().name(Thread.currentThread().getName() + "-hints").daemon(true).factory());
        try {
            return copyAll(progress, t0, total, hints);
        } finally {
            hints.shutdownNow();
        }
    }

    private Result copyAll(Progress progress, long t0, long total, ExecutorService hints) throws IOException {
        hints.execute(() -> volume.prefetchBase(0, (long) ROUNDS_AHEAD * WORKERS * stripe)); // the first rounds' stripes; later ones as the workers go
        volume.prepareFlatten(); // zero blocks taken as holes, the rest allocated: the workers then only write, in parallel
        long t1 = System.nanoTime();
        Shared shared = new Shared(total, t1, hints);
        List<Thread> helpers = new ArrayList<>();
        for (int i = 1; i < WORKERS; i++) {
            helpers.add(Thread.ofPlatform().name(Thread.currentThread().getName() + "-" + i).daemon(true).start(() -> {
                BackgroundPriority.lowerCurrentThread();
                work(shared, progress);
            }));
        }
        work(shared, progress);
        for (Thread t : helpers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                shared.fail(new InterruptedIOException("flatten interrupted"));
            }
        }
        if (shared.failure != null) {
            volume.flush();
            throw shared.failure;
        }
        long t2 = System.nanoTime();
        volume.flush();
        if (!volume.dropBaseIfComplete()) throw new IOException("flatten of " + volume + " left " + volume.missingBlocks() + " blocks behind");
        progress.update(total, total);
        return new Result(shared.copied.get(), (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (System.nanoTime() - t2) / 1_000_000);
    }

    /** What the workers share: the next stripe, blocks of stripes finished, bytes copied, the first failure. */
    private final class Shared {
        final long total;
        final long started;
        /** Runs the read-ahead hints, in order, so a worker never waits while the kernel queues reads ahead. */
        final ExecutorService hints;
        final AtomicLong nextStripe = new AtomicLong();
        /** Blocks of the stripes finished so far (each stripe counted once, when its last step is done). */
        final AtomicLong finishedBlocks = new AtomicLong();
        final AtomicLong copied = new AtomicLong();
        final AtomicLong sinceFlush = new AtomicLong();
        volatile IOException failure;

        Shared(long total, long started, ExecutorService hints) {
            this.total = total;
            this.started = started;
            this.hints = hints;
        }

        synchronized void fail(IOException e) {
            if (failure == null) failure = e;
        }

        boolean stopped() {
            return failure != null || stop.getAsBoolean();
        }

        private long reported = -1;

        /**
         * Reports the blocks of the stripes finished so far, never less than before (callers throttle).
         * Not "every block before this": with the first stripe's worker slowest, that read 0 until the
         * end, and a user saw no progress at all.
         */
        synchronized void report(Progress progress) {
            long present = finishedBlocks.get();
            if (present > reported) {
                reported = present;
                progress.update(present, total);
            }
        }
    }

    private void work(Shared s, Progress progress) {
        // native and page-aligned: the blocks decode straight into it and go to the disk with O_DIRECT from it, never copied
        int bytes = (step * volume.blockSize() + SCRATCH_ALIGNMENT - 1) / SCRATCH_ALIGNMENT * SCRATCH_ALIGNMENT;
        ByteBuffer scratch = ByteBuffer.allocateDirect(bytes + SCRATCH_ALIGNMENT).alignedSlice(SCRATCH_ALIGNMENT);
        try {
            while (true) {
                long first;
                first = s.nextStripe.getAndIncrement() * stripe;
                if (first >= s.total) return;
                // A stripe the workers take ROUNDS_AHEAD rounds from now: the repository starts reading its chunks (the
                // OS reads the packs' ranges ahead) while these are copied, so a worker seldom waits on a read.
                long ahead = first + (long) ROUNDS_AHEAD * WORKERS * stripe;
                s.hints.execute(() -> volume.prefetchBase(ahead, stripe));
                long end = Math.min(s.total, first + stripe);
                for (long b = first; b < end; b += step) {
                    if (s.stopped()) {
                        s.fail(new InterruptedIOException("flatten of " + volume + " stopped"));
                        return;
                    }
                    long n = volume.flattenBlocks(b, (int) Math.min(step, end - b), scratch);
                    if (n == 0) continue; // present already, or zero blocks: nothing moved, nothing to pace
                    s.copied.addAndGet(n);
                    if (s.sinceFlush.addAndGet(n) >= FLUSH_EVERY) {
                        s.sinceFlush.set(0);
                        volume.flush();
                    }
                    pace(s.started, s.copied.get());
                }
                s.finishedBlocks.addAndGet(end - first);
                s.report(progress);
            }
        } catch (IOException e) {
            s.fail(e);
        } catch (RuntimeException e) {
            s.fail(new IOException("flatten of " + volume + " failed", e));
        }
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
