package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.roaringbitmap.RoaringBitmap;

/**
 * A disk's volume with changed-block tracking and copy-before-write capture (DESIGN §3–4). Every disk
 * that {@link VolumeManager} opens is one of these, around a {@link SparseFileVolume} or an
 * {@link OverlayVolume}.
 *
 * <p><b>The barrier.</b> A change (write, trim, zeroing) does its bookkeeping — marking the tracker,
 * copy-before-write — under the read side of {@code gate}, then passes on to the inner volume
 * outside it, counted as running in the current {@link Epoch}. {@link #beginCapture} takes the write
 * side: the set <em>D</em> of blocks to capture is frozen (the tracker's set, plus whatever the
 * caller adds for a full rescan), an empty set starts, the epoch closes and a new one starts, and
 * changes resume — microseconds, whatever the disk size, and never waiting on the device: changes
 * still running at the barrier belong to the snapshot, and what must see their bytes waits for them
 * to land instead (the capture before its first read, a later change before it saves old pages). A
 * write the device holds for a second (dirty-page throttling under a heavy writer) delays the
 * capture by that second, not {@code CreateSnapshot}. Resizes run wholly under the read side.
 *
 * <p><b>Copy-before-write, by the page.</b> Until the capture ends, a change that touches a block of D
 * the capture has not read yet first copies the old bytes of the 4 KiB pages it touches (only those it
 * has not copied already) aside ({@link SavedPages}: in memory within a process-wide budget, else a
 * spill file {@code DIR/<disk>.cow}), then proceeds: a 4 KiB write costs a 4 KiB copy, not a whole
 * block. The capture reads each block of D exactly once through {@link Capture#read}: the live block,
 * with the saved pages laid over it. Both happen under the block's stripe lock, and a change saves
 * before it writes, so any page the live read may have caught mid-change is one the overlay replaces —
 * each block of D is read as it was at the barrier, never a mix. The block is marked taken only after
 * that read, so a change that sees the mark without the lock may overwrite it at once.
 *
 * <p>Reads, flushes and extents pass straight through (they change nothing).
 */
public final class TrackedVolume implements Volume {
    private static final int STRIPES = 64;
    /** Copy-before-write unit: a page (a block smaller than a page is one page). */
    private static final int PAGE = SavedPages.PAGE;

    private final String name;
    private final Volume inner;
    private final ChangeTracker tracker;
    private final Path spillFile;
    private final SavedPages.Budget memory;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    private volatile Capture capture;
    /** The changes since the last barrier; replaced (under the write side of the gate) at each barrier. */
    private volatile Epoch epoch = new Epoch();

    /**
     * The changes begun between two barriers, counted while they run in the inner volume. Once closed
     * (at the barrier that ends it) the count only falls; at zero every one of them has landed.
     */
    private static final class Epoch {
        private final AtomicLong running = new AtomicLong();
        private volatile boolean closed;
        private final CountDownLatch landed = new CountDownLatch(1);

        /** Under the read side of the gate (so a barrier sees it). */
        Epoch enter() {
            running.incrementAndGet();
            return this;
        }

        void exit() {
            if (running.decrementAndGet() == 0 && closed) landed.countDown();
        }

        /** Under the write side of the gate: no change enters it any more. */
        void close() {
            closed = true;
            if (running.get() == 0) landed.countDown();
        }
    }

    public TrackedVolume(String name, Volume inner, ChangeTracker tracker, Path spillFile) {
        this(name, inner, tracker, spillFile, SavedPages.Budget.PROCESS);
    }

    /** With the memory budget its captures' saved pages share ({@code memory}); tests use small ones. */
    TrackedVolume(String name, Volume inner, ChangeTracker tracker, Path spillFile, SavedPages.Budget memory) {
        this.name = name;
        this.inner = inner;
        this.tracker = tracker;
        this.spillFile = spillFile;
        this.memory = memory;
    }

    public String name() {
        return name;
    }

    public ChangeTracker tracker() {
        return tracker;
    }

    /** The volume underneath: a {@link SparseFileVolume} or an {@link OverlayVolume}. */
    public Volume inner() {
        return inner;
    }

    /** The capture in progress, if any. */
    public Capture capture() {
        return capture;
    }

    /**
     * Every block a capture from nothing must read: the blocks holding data (a plain disk) or the
     * blocks the disk holds itself rather than its base (an overlay, captured relative to its base).
     * Computed without the barrier: blocks changed meanwhile are in the tracker's set anyway.
     */
    public RoaringBitmap blocksForFullCapture() throws IOException {
        if (inner instanceof OverlayVolume o) return o.ownBlocks();
        RoaringBitmap blocks = new RoaringBitmap();
        int bs = tracker.blockSize();
        long pos = 0;
        long size = inner.size();
        while (pos < size) {
            List<Extent> extents = inner.extents(pos, size - pos);
            for (Extent e : extents) {
                if (!e.hole()) blocks.add(e.offset() / bs, (e.end() - 1) / bs + 1);
                pos = e.end();
            }
        }
        return blocks;
    }

    /** The label of the base the disk is layered over (an overlay), or null for a plain disk. */
    public String baseLabel() {
        return inner instanceof OverlayVolume o ? o.base().label() : null;
    }

    /** Starts a capture of this volume; see {@link #beginCaptures}. */
    public Capture beginCapture(RoaringBitmap extra) {
        return beginCaptures(List.of(this), java.util.Collections.singletonList(extra)).getFirst();
    }

    /**
     * Puts one barrier across several volumes at once (a crash-consistent group): with every change's
     * bookkeeping held off, each one's D = its tracked set ∪ {@code extra[i]} is frozen and its epoch
     * closed (changes still writing belong to the capture, which waits for them before its first read).
     * Fails, starting nothing, if one of them is already capturing.
     */
    public static List<Capture> beginCaptures(List<TrackedVolume> volumes, List<RoaringBitmap> extra) {
        for (TrackedVolume v : volumes) {
            Capture c = v.capture;
            if (c != null && c.committing) c.awaitEnd(); // its snapshot is being recorded: it ends in a moment
        }
        List<TrackedVolume> ordered = new ArrayList<>(volumes);
        ordered.sort(Comparator.comparing(TrackedVolume::name)); // one lock order: no deadlock between groups
        List<Capture> started = new ArrayList<>();
        List<TrackedVolume> locked = new ArrayList<>();
        try {
            for (TrackedVolume v : ordered) {
                v.gate.writeLock().lock();
                locked.add(v);
                if (v.capture != null) throw new IllegalStateException(v.name + " is already being captured");
            }
            for (int i = 0; i < volumes.size(); i++) {
                TrackedVolume v = volumes.get(i);
                RoaringBitmap d = v.tracker.swap();
                if (extra.get(i) != null) d.or(extra.get(i));
                long size = v.inner.size();
                long blocks = (size + v.tracker.blockSize() - 1) / v.tracker.blockSize();
                d.remove(blocks, 0x1_0000_0000L); // nothing past the end (a set kept across a shrink-free life; defensive)
                started.add(new Capture(v, d, size, v.tracker.trusted() ? v.tracker.label() : null, v.epoch));
            }
            for (Capture c : started) {
                c.volume.capture = c;
                c.volume.epoch = new Epoch();
                c.before.close();
            }
            return started;
        } catch (RuntimeException e) {
            for (Capture c : started) {
                c.volume.tracker.giveBack(c.blocks);
                c.oldPages.close();
            }
            throw e;
        } finally {
            for (TrackedVolume v : locked) v.gate.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------- changes: mark, preserve, pass on

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Epoch running = beforeChange(offset, src.remaining());
        try {
            inner.write(offset, src, fua);
        } finally {
            running.exit();
        }
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        Epoch running = beforeChange(offset, length);
        try {
            inner.trim(offset, length, fua);
        } finally {
            running.exit();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException {
        Epoch running = beforeChange(offset, length);
        try {
            inner.writeZeroes(offset, length, mayPunch, fua);
        } finally {
            running.exit();
        }
    }

    @Override
    public void resize(long newSize) throws IOException {
        gate.readLock().lock(); // growing changes no block a capture holds; new blocks read as zeros
        try {
            inner.resize(newSize);
        } finally {
            gate.readLock().unlock();
        }
    }

    /** When a disk of this process last changed (nanoTime), updated at most every millisecond. */
    private static volatile long lastChange = System.nanoTime() - Long.MAX_VALUE / 2;

    /**
     * True if any disk of this process changed within the last {@code nanos}: background work (a
     * capture) then yields the cores to the writers. One signal for all disks, as the cores are shared.
     */
    public static boolean changedWithin(long nanos) {
        return System.nanoTime() - lastChange < nanos;
    }

    /**
     * A change's bookkeeping, under the read side of the gate: old pages saved for a capture, blocks
     * marked changed. Returns the epoch it now runs in; the caller exits it once the inner volume has
     * the change (or refused it).
     */
    private Epoch beforeChange(long offset, long length) throws IOException {
        gate.readLock().lock();
        try {
            Epoch e = epoch.enter();
            try {
                if (length <= 0 || offset < 0 || offset + length > inner.size()) return e; // inner rejects it
                long now = System.nanoTime();
                if (now - lastChange > 1_000_000) lastChange = now; // a shared line written ~1,000 times a second, not per write
                Capture c = capture;
                if (c != null) c.preserve(offset, length);
                tracker.mark(offset, length);
                return e;
            } catch (IOException | RuntimeException | Error failed) {
                e.exit();
                throw failed;
            }
        } finally {
            gate.readLock().unlock();
        }
    }

    // ---------------------------------------------------------------- pass-through

    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }
    @Override public void read(long offset, ByteBuffer dst) throws IOException { inner.read(offset, dst); }
    @Override public Transfer transfer(long offset, long length) throws IOException { return inner.transfer(offset, length); }
    @Override public void flush() throws IOException { inner.flush(); }
    @Override public boolean fastZero(boolean mayPunch) { return inner.fastZero(mayPunch); }
    @Override public void prefetch(long offset, long length) throws IOException { inner.prefetch(offset, length); }
    @Override public List<Extent> extents(long offset, long length) throws IOException { return inner.extents(offset, length); }

    /** Flushes and closes the inner volume. A capture still running fails; its blocks count as changed. */
    @Override
    public void close() throws IOException {
        Capture c = capture;
        if (c != null) c.finish(false);
        inner.close();
    }

    @Override
    public String toString() {
        return "tracked " + inner;
    }

    /**
     * One capture: the blocks of D as they were at the barrier. Read each block once with
     * {@link #read}, then {@link #finish} it: with success once the snapshot is durable, without when
     * it failed (D then counts as changed again, so the next snapshot takes it).
     */
    public static final class Capture {
        private final TrackedVolume volume;
        private final RoaringBitmap blocks;
        private final BlockBits taken;
        private final long sizeAtBarrier;
        private final String relativeTo;
        private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
        /** Per block not read yet: which of its pages are saved. Changed under the block's stripe lock. */
        private final java.util.Map<Long, long[]> saved = new java.util.concurrent.ConcurrentHashMap<>();
        private final SavedPages oldPages;
        /** The changes begun before the barrier: the capture is of the disk with all of them landed. */
        private final Epoch before;
        private volatile boolean landed;
        private volatile boolean finished;
        private volatile boolean committing;
        private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);

        private Capture(TrackedVolume volume, RoaringBitmap blocks, long sizeAtBarrier, String relativeTo, Epoch before) {
            this.volume = volume;
            this.before = before;
            this.blocks = blocks;
            this.sizeAtBarrier = sizeAtBarrier;
            this.relativeTo = relativeTo;
            long count = (sizeAtBarrier + volume.tracker.blockSize() - 1) / volume.tracker.blockSize();
            this.taken = new BlockBits(count);
            this.oldPages = new SavedPages(volume.spillFile, volume.memory);
            for (int i = 0; i < STRIPES; i++) stripes[i] = new ReentrantLock();
        }

        /** D: the blocks to read (do not modify). */
        public RoaringBitmap blocks() {
            return blocks;
        }

        public long sizeAtBarrier() {
            return sizeAtBarrier;
        }

        public int blockSize() {
            return volume.tracker.blockSize();
        }

        /** The label D is relative to (the tracker's, if it was trusted at the barrier), else null: D is not complete on its own. */
        public String relativeTo() {
            return relativeTo;
        }

        public int blockLength(long block) {
            return (int) Math.min(blockSize(), sizeAtBarrier - block * blockSize());
        }

        /** Reads block {@code block} of D as it was at the barrier into {@code dst} (exactly {@link #blockLength} bytes). */
        public void read(long block, ByteBuffer dst) throws IOException {
            read(block, 1, dst);
        }

        /**
         * Reads {@code count} consecutive blocks of D as they were at the barrier, in one read of the
         * volume: {@code dst} gets exactly the sum of their {@link #blockLength}s. Small blocks read one
         * by one made the device wait between requests; a run of them is one large request.
         */
        public void read(long first, int count, ByteBuffer dst) throws IOException {
            if (count < 1 || count > STRIPES) throw new IllegalArgumentException("1.." + STRIPES + " blocks at a time, not " + count);
            long len = 0;
            for (long b = first; b < first + count; b++) {
                if (!blocks.contains((int) b)) throw new IllegalArgumentException("block " + b + " is not captured");
                len += blockLength(b);
            }
            if (dst.remaining() != len) throw new IllegalArgumentException("blocks " + first + "+" + count + " have " + len + " bytes");
            // their stripes, in ascending stripe order: preserve() holds one stripe at a time, and every run
            // takes them in this one order, so two runs never wait for each other in a cycle
            if (!awaitLanded()) throw new IOException("capture of " + volume.name + " has ended");
            int[] order = new int[count];
            for (int i = 0; i < count; i++) order[i] = (int) ((first + i) % STRIPES);
            java.util.Arrays.sort(order);
            int held = 0;
            try {
                for (; held < count; held++) stripes[order[held]].lock();
                if (finished) throw new IOException("capture of " + volume.name + " has ended");
                for (long b = first; b < first + count; b++) {
                    if (taken.get(b)) throw new IOException("capture of " + volume.name + ": block " + b + " read twice");
                }
                int start = dst.position();
                volume.inner.readBulk(first * blockSize(), dst);
                for (long b = first; b < first + count; b++) {
                    long[] pages = saved.remove(b);
                    if (pages != null) overlay(b, pages, dst, start + (int) ((b - first) * blockSize())); // what changes overwrote since the barrier
                    taken.set(b); // only now: a change that sees the bit may overwrite the block at once
                }
            } finally {
                for (int i = 0; i < held; i++) stripes[order[i]].unlock();
            }
        }

        /** Bytes of old pages this capture had to put in the spill file (memory budget full). */
        public long bytesSpilled() {
            return oldPages.bytesToFile();
        }

        private static boolean has(long[] pages, int p) {
            return (pages[p >>> 6] & (1L << p)) != 0;
        }

        /** Reads the saved pages of {@code block} over their places in {@code dst}. */
        private void overlay(long block, long[] pages, ByteBuffer dst, int start) throws IOException {
            int len = blockLength(block);
            int count = (len + PAGE - 1) / PAGE;
            for (int p = 0; p < count; p++) {
                if (!has(pages, p)) continue;
                int q = p;
                while (q + 1 < count && has(pages, q + 1)) q++;
                ByteBuffer part = dst.duplicate();
                part.limit(start + Math.min(len, (q + 1) * PAGE)).position(start + p * PAGE);
                oldPages.read(block * blockSize() + (long) p * PAGE, part);
                p = q;
            }
        }

        /** Saves the old bytes of the pages that {@code [offset, offset + length)} touches in blocks of D not read yet. */
        private void preserve(long offset, long length) throws IOException {
            if (!awaitLanded()) return; // the old pages to save are those with every change from before the barrier in them
            int bs = blockSize();
            long first = offset / bs;
            long last = Math.min((offset + length - 1) / bs, taken.length() - 1);
            for (long b = first; b <= last; b++) {
                if (!blocks.contains((int) b) || taken.get(b)) continue;
                ReentrantLock lock = stripes[(int) (b % STRIPES)];
                lock.lock();
                try {
                    if (finished || taken.get(b)) continue;
                    long start = b * bs;
                    int len = blockLength(b);
                    int p0 = (int) ((Math.max(offset, start) - start) / PAGE);
                    int p1 = (int) ((Math.min(offset + length, start + len) - 1 - start) / PAGE);
                    long[] pages = saved.computeIfAbsent(b, k -> new long[((bs + PAGE - 1) / PAGE + 63) / 64]);
                    for (int p = p0; p <= p1; p++) {
                        if (has(pages, p)) continue;
                        int q = p;
                        while (q + 1 <= p1 && !has(pages, q + 1)) q++;
                        long from = start + (long) p * PAGE;
                        ByteBuffer old = ByteBuffer.allocate((int) (Math.min(start + len, start + (long) (q + 1) * PAGE) - from));
                        volume.inner.read(from, old);
                        old.flip();
                        oldPages.save(from, old);
                        for (int i = p; i <= q; i++) pages[i >>> 6] |= 1L << i; // after they are saved: see read()
                        p = q;
                    }
                } finally {
                    lock.unlock();
                }
            }
        }

        /**
         * Says every block was read and the snapshot is being recorded: a new capture of the volume then
         * waits for this one to end instead of being refused (the snapshot may already show as done).
         */
        public void committing() {
            committing = true;
        }

        /**
         * Waits until every change begun before the barrier is in the inner volume; false if the capture
         * ended first (a change stuck on a failing device then holds no capture thread forever).
         */
        private boolean awaitLanded() throws IOException {
            if (landed) return true;
            try {
                while (!before.landed.await(20, TimeUnit.MILLISECONDS)) {
                    if (finished) return false;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("capture of " + volume.name + " interrupted");
            }
            landed = true;
            return true;
        }

        private void awaitEnd() {
            try {
                ended.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /**
         * Ends the capture. {@code durableAs} non-null: the snapshot of D is durable under that label and
         * the tracker is now relative to it. Null: it failed, D counts as changed again. Idempotent.
         */
        public void finish(String durableAs) {
            finish(durableAs != null, durableAs);
        }

        private void finish(boolean success) {
            finish(success, null);
        }

        private void finish(boolean success, String label) {
            volume.gate.writeLock().lock(); // no change is in its bookkeeping (saving pages, marking blocks)
            try {
                if (finished) return;
                finished = true;
                if (success) volume.tracker.captured(label);
                else volume.tracker.giveBack(blocks);
                if (volume.capture == this) volume.capture = null;
            } finally {
                volume.gate.writeLock().unlock();
            }
            ended.countDown();
            oldPages.close();
        }
    }
}
