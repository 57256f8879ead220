package dev.cairn.snapshot;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestWriter;
import dev.cairn.repository.Repository;
import dev.cairn.volume.TrackedVolume;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.roaringbitmap.PeekableIntIterator;

/**
 * Reads one capture (the blocks D of a disk frozen at a barrier, see {@link TrackedVolume}) into a new
 * repository manifest: the parent's map with D's entries replaced — an incremental snapshot, or a full
 * one when there is no parent. Blocks are read and stored by several threads (hashing and compressing
 * is the work); only chunks the repository lacks are written.
 *
 * <p>The manifest is durable when {@link #run} returns; the caller then records it and ends the
 * capture ({@link TrackedVolume.Capture#finish}). On failure nothing references what was written and
 * the caller ends the capture without success, so the next snapshot takes D again.
 */
public final class SnapshotCapture {

    /**
     * Consecutive changed blocks are read in runs of up to this many bytes: one direct read keeps several
     * device requests in flight. 4 MiB: a cold full snapshot of the 4 GiB bench image took 5.6–7.1 s
     * against 5.9–8.6 s with 1 MiB runs, in interleaved runs.
     */
    static final int RUN_BYTES = 4 << 20;

    /** Progress of a running capture: blocks of D done so far, of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total, long bytesRead);
    }

    private static final int PAGE = 4096;

    private final Repository repository;
    private final TrackedVolume.Capture capture;
    private final ManifestId parent;
    private final Map<String, String> metadata;
    private final int threads;
    private volatile boolean cancelled;
    private volatile long storeNanos;
    private volatile long commitNanos;
    private volatile ManifestWriter.CommitTimes commitTimes;

    /**
     * @param parent the manifest D is relative to (the disk's last snapshot, or the base of a layered
     *               disk captured in full), or null: blocks outside D are zero
     */
    public SnapshotCapture(Repository repository, TrackedVolume.Capture capture, ManifestId parent, Map<String, String> metadata, int threads) {
        if (capture.blockSize() != repository.blockSize()) {
            throw new IllegalArgumentException("volume tracks " + capture.blockSize() + "-byte blocks, repository stores " + repository.blockSize());
        }
        this.repository = repository;
        this.capture = capture;
        this.parent = parent;
        this.metadata = Map.copyOf(metadata);
        this.threads = Math.max(1, threads);
    }

    /** Makes {@link #run} stop soon with an {@link InterruptedIOException}. */
    public void cancel() {
        cancelled = true;
    }

    /** Time {@link #run} spent reading and storing blocks, then committing the manifest: where a capture's time went. */
    public long storeMillis() {
        return storeNanos / 1_000_000;
    }

    public long commitMillis() {
        return commitNanos / 1_000_000;
    }

    /** Where the commit's time went (see {@link ManifestWriter.CommitTimes}), null before it succeeded. */
    public ManifestWriter.CommitTimes commitTimes() {
        return commitTimes;
    }

    /**
     * Threads that read runs of D ahead of the storers: a capture's reads (O_DIRECT, straight from the
     * device) and its hashing and compressing then overlap, instead of each thread waiting on the
     * device between blocks.
     */
    static final int READERS = 2;
    /** Runs read and waiting to be stored, at most (memory: this plus one per reader and per thread, of {@link #RUN_BYTES}). */
    static final int RUNS_AHEAD = 4;

    /** Consecutive blocks of D read into {@code bytes}, to store. */
    private record Run(long first, int count, ByteBuffer bytes) {}

    /** Tells the storers that the readers are done. */
    private static final Run END = new Run(-1, 0, null);

    /** Reads every block of D into the repository and commits the manifest; returns its id. */
    public ManifestId run(Progress progress) throws IOException {
        long started = System.nanoTime();
        long total = capture.blocks().getLongCardinality();
        try (ManifestWriter writer = repository.newManifest(parent, capture.sizeAtBarrier(), metadata)) {
            // an unchanged disk (most of a scheduled storm's) needs no threads and no buffers: 40% of such a capture's time
            if (total > 0) readAndStore(writer, total, progress);
            if (cancelled) throw new InterruptedIOException("capture cancelled");
            long stored = System.nanoTime();
            storeNanos = stored - started;
            ManifestId id = writer.commit();
            commitNanos = System.nanoTime() - stored;
            commitTimes = writer.commitTimes();
            return id;
        }
    }

    /** Reads every block of D ({@code total} of them) with the reader threads and stores them with the storers. */
    private void readAndStore(ManifestWriter writer, long total, Progress progress) throws IOException {
        AtomicLong done = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        PeekableIntIterator next = capture.blocks().getIntIterator();
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        BooleanSupplier stopped = () -> {
            synchronized (failures) {
                return cancelled || !failures.isEmpty();
            }
        };
        CapturePacer pacer = new CapturePacer(threads);
        int runMax = Math.max(1, RUN_BYTES / capture.blockSize());
        BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(RUNS_AHEAD + READERS + threads);
        // direct and page-aligned: the volume reads into it with O_DIRECT and the codec encodes it in place
        while (free.remainingCapacity() > 0) free.add(ByteBuffer.allocateDirect(runMax * capture.blockSize() + PAGE).alignedSlice(PAGE));
        BlockingQueue<Run> read = new ArrayBlockingQueue<>(RUNS_AHEAD);
        AtomicInteger readersLeft = new AtomicInteger(READERS);
        for (int t = 0; t < READERS; t++) {
            workers.add(worker("capture-read-" + t, failures, () -> {
                try {
                    while (!stopped.getAsBoolean()) {
                        long first;
                        int count = 1;
                        synchronized (next) {
                            if (!next.hasNext()) return;
                            first = Integer.toUnsignedLong(next.next());
                            while (count < runMax && next.hasNext() && Integer.toUnsignedLong(next.peekNext()) == first + count) {
                                next.next();
                                count++;
                            }
                        }
                        ByteBuffer buf = take(free, stopped);
                        if (buf == null) return;
                        int length = 0;
                        for (int i = 0; i < count; i++) length += capture.blockLength(first + i);
                        buf.clear().limit(length);
                        capture.read(first, count, buf);
                        if (!put(read, new Run(first, count, buf), stopped)) return;
                    }
                } finally {
                    if (readersLeft.decrementAndGet() == 0) {
                        for (int i = 0; i < threads; i++) put(read, END, stopped);
                    }
                }
            }));
        }
        for (int t = 0; t < threads; t++) {
            workers.add(worker("capture-" + t, failures, () -> {
                while (true) {
                    Run run = take(read, stopped);
                    if (run == null || run == END) return;
                    long cpu = pacer.cpuNow();
                    int at = 0;
                    for (int i = 0; i < run.count(); i++) {
                        int n = capture.blockLength(run.first() + i);
                        writer.putBlock(run.first() + i, run.bytes().slice(at, n));
                        at += n;
                        bytes.addAndGet(n);
                        progress.update(done.incrementAndGet(), total, bytes.get());
                    }
                    free.add(run.bytes()); // never full: there are as many buffers as it holds
                    pacer.afterBlock(cpu);
                }
            }));
        }
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                cancelled = true;
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("capture interrupted");
            }
        }
        if (!failures.isEmpty()) {
            Throwable first = failures.getFirst();
            if (first instanceof IOException io) throw io;
            if (first instanceof RuntimeException re) throw re;
            if (first instanceof Error err) throw err;
            throw new IOException(first);
        }
    }

    /** An action of a capture's thread, which may fail with anything. */
    @FunctionalInterface
    private interface Work {
        void run() throws Exception;
    }

    /** A capture thread at background priority (idle cores only, when the disks' writers want them); what it throws goes to {@code failures}. */
    private static Thread worker(String name, List<Throwable> failures, Work work) {
        return Thread.ofPlatform().name(name).start(() -> {
            BackgroundPriority.lowerCurrentThread();
            try {
                work.run();
            } catch (Throwable e) {
                synchronized (failures) {
                    failures.add(e);
                }
            }
        });
    }

    /** The queue's next element, or null once the capture has stopped (a failure elsewhere, or a cancel). */
    private static <T> T take(BlockingQueue<T> queue, BooleanSupplier stopped) throws InterruptedException {
        T x;
        while ((x = queue.poll(20, TimeUnit.MILLISECONDS)) == null) {
            if (stopped.getAsBoolean()) return null;
        }
        return x;
    }

    /** Adds to the queue when it has room; false if the capture stopped first. */
    private static <T> boolean put(BlockingQueue<T> queue, T x, BooleanSupplier stopped) throws InterruptedException {
        while (!queue.offer(x, 20, TimeUnit.MILLISECONDS)) {
            if (stopped.getAsBoolean()) return false;
        }
        return true;
    }
}
