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
 * with the saved pages laid over it. A change saves under the block's stripe lock before it writes,
 * so any page the live read may have caught mid-change is one the overlay replaces — each block of D
 * is read as it was at the barrier, never a mix. The live read itself takes no lock (writers must not
 * wait on the device for the capture); laying the saved pages over it and marking the block taken
 * happen under the stripe lock, so a change that sees the mark without the lock may overwrite the
 * block at once, and one that does not see it saves first.
 *
 * <p><b>Writes held back.</b> Saving an old page means reading it, and from a cold page cache that
 * read is a trip to the device on the writer's request path (measured: writers kept 0.31–0.39 of
 * their speed, 0.64–0.75 without the read; docs/benchmarks.md). So a plain write of whole pages inside
 * one block of D not read yet is instead held in memory (the same budget as saved pages) and not
 * passed on: the old bytes stay where they are for the capture, and the write costs a memory copy.
 * The held pages reach the inner volume when the capture reads their block (before it is marked
 * taken, so no later write can be overtaken), or earlier when anything must see them there: a read,
 * extents or a transfer of their range, a change that is not held, a flush (all held pages), the
 * capture's end. Those save the old pages first, as a change would. Until then, like data in a
 * disk's volatile cache, they are in this process only: a crash loses them, as NBD allows for writes
 * not flushed. A held page that cannot be written when the capture ends (a full file system) is
 * reported by the next flush, as the page cache reports a failed write-back.
 *
 * <p>Reads, flushes and extents otherwise pass straight through (they change nothing).
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
    /** Why held writes could not reach the inner volume when their capture ended; the next flush reports it. */
    private final java.util.concurrent.atomic.AtomicReference<IOException> lostWrites = new java.util.concurrent.atomic.AtomicReference<>();

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
        Epoch running = beforeChange(offset, src.remaining(), fua ? null : src);
        if (running == null) return; // held for the capture
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

    private static void noteChange() {
        long now = System.nanoTime();
        if (now - lastChange > 1_000_000) lastChange = now; // a shared line written ~1,000 times a second, not per write
    }

    /** Puts the writes a capture holds in {@code [offset, offset + length)} into the inner volume, so reading it there sees them. */
    private void settle(long offset, long length) throws IOException {
        Capture c = capture;
        if (c == null || !c.holdsWrites()) return;
        gate.readLock().lock();
        try {
            if (capture == c) c.settle(offset, length);
        } finally {
            gate.readLock().unlock();
        }
    }

    /** Threads that settle held writes for a flush: each saves old pages with a read of its own, so the device sees them at a queue depth like the writers' own. */
    private static final int SETTLERS = 16;

    /**
     * Puts every write a capture holds now into the inner volume, a block at a time (the capture's end
     * is not held off for long), on {@link #SETTLERS} threads.
     */
    private void settleAll() throws IOException {
        Capture c = capture;
        if (c == null || !c.holdsWrites()) return;
        long[] blocks = c.blocksHoldingWrites();
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<IOException> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Runnable settler = () -> {
            for (int i; failed.get() == null && (i = next.getAndIncrement()) < blocks.length; ) {
                gate.readLock().lock();
                try {
                    if (capture != c) return; // it ended, and its end wrote them
                    c.settle(blocks[i] * c.blockSize(), c.blockLength(blocks[i]));
                } catch (IOException e) {
                    failed.compareAndSet(null, e);
                } finally {
                    gate.readLock().unlock();
                }
            }
        };
        List<Thread> threads = new ArrayList<>();
        for (int t = 1; t < Math.min(SETTLERS, blocks.length); t++) threads.add(Thread.ofVirtual().name("settle").start(settler));
        settler.run();
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("flush of " + name + " interrupted");
            }
        }
        if (failed.get() != null) throw failed.get();
    }

    /**
     * A change's bookkeeping, under the read side of the gate: old pages saved for a capture, blocks
     * marked changed. Returns the epoch it now runs in; the caller exits it once the inner volume has
     * the change (or refused it).
     */
    private Epoch beforeChange(long offset, long length) throws IOException {
        return beforeChange(offset, length, null);
    }

    /**
     * As {@link #beforeChange(long, long)}, but a write given as {@code holdable} that a capture holds in
     * memory (see the class comment) is done here: its blocks are marked changed and null is returned.
     */
    private Epoch beforeChange(long offset, long length, ByteBuffer holdable) throws IOException {
        gate.readLock().lock();
        try {
            Capture c = capture;
            boolean inside = length > 0 && offset >= 0 && offset + length <= inner.size();
            if (holdable != null && c != null && inside && c.holdBack(offset, holdable)) {
                noteChange();
                tracker.mark(offset, length);
                return null;
            }
            Epoch e = epoch.enter();
            try {
                if (!inside) return e; // inner rejects it
                noteChange();
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
    @Override public boolean fastZero(boolean mayPunch) { return inner.fastZero(mayPunch); }
    @Override public void prefetch(long offset, long length) throws IOException { inner.prefetch(offset, length); }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        settle(offset, dst.remaining());
        inner.read(offset, dst);
    }

    @Override
    public Transfer transfer(long offset, long length) throws IOException {
        settle(offset, length);
        return inner.transfer(offset, length);
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        settle(offset, length); // a held page over a hole is data
        return inner.extents(offset, length);
    }

    /** Every write acknowledged before it durable, held ones included; reports held writes lost at a capture's end. */
    @Override
    public void flush() throws IOException {
        settleAll();
        inner.flush();
        IOException lost = lostWrites.getAndSet(null);
        if (lost != null) throw lost;
    }

    /** Flushes and closes the inner volume. A capture still running fails; its blocks count as changed. */
    @Override
    public void close() throws IOException {
        Capture c = capture;
        if (c != null) c.finish(false);
        inner.close();
        IOException lost = lostWrites.getAndSet(null);
        if (lost != null) throw lost;
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
        /** Per block not read yet that changes touched: its saved and held pages. Changed under the block's stripe lock. */
        private final java.util.Map<Long, Touched> touched = new java.util.concurrent.ConcurrentHashMap<>();
        /** Pages held in memory (writes not passed on) over all blocks. */
        private final AtomicLong heldPages = new AtomicLong();
        private final SavedPages oldPages;
        /** The changes begun before the barrier: the capture is of the disk with all of them landed. */
        private final Epoch before;
        private volatile boolean landed;
        private volatile boolean finished;
        private volatile boolean committing;
        private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);

        /** A block of D not read yet that changes touched: which pages are saved, which hold writes not passed on. */
        private static final class Touched {
            /** Pages whose old bytes are in {@link #oldPages}. */
            final long[] saved;
            /** Per page, the bytes of writes held back (null: none); null until the first. */
            ByteBuffer[] held;
            int heldCount;

            Touched(int pages) {
                saved = new long[(pages + 63) / 64];
            }

            ByteBuffer held(int p) {
                return held == null ? null : held[p];
            }
        }

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
            if (count < 1) throw new IllegalArgumentException("at least one block, not " + count);
            long len = 0;
            for (long b = first; b < first + count; b++) {
                if (!blocks.contains((int) b)) throw new IllegalArgumentException("block " + b + " is not captured");
                len += blockLength(b);
            }
            if (dst.remaining() != len) throw new IllegalArgumentException("blocks " + first + "+" + count + " have " + len + " bytes");
            if (!awaitLanded()) throw new IOException("capture of " + volume.name + " has ended");
            for (long b = first; b < first + count; b++) {
                if (taken.get(b)) throw new IOException("capture of " + volume.name + ": block " + b + " read twice");
            }
            int start = dst.position();
            volume.inner.readBulk(first * blockSize(), dst); // no lock: see the class comment
            // then block by block under that block's stripe lock, one lock at a time: each block is read as it
            // was at the barrier on its own, and writers to the run's other blocks go on meanwhile (holding
            // every stripe of a 64-block run while its held writes were passed on stalled every writer)
            for (long b = first; b < first + count; b++) {
                ReentrantLock lock = stripes[(int) (b % STRIPES)];
                lock.lock();
                try {
                    if (finished) throw new IOException("capture of " + volume.name + " has ended");
                    Touched t = touched.get(b);
                    if (t != null) {
                        passOnHeld(b, t, 0, pageCount(b) - 1); // the block's old bytes are read: its held writes may land
                        overlay(b, t.saved, dst, start + (int) ((b - first) * blockSize())); // what changes overwrote since the barrier
                        touched.remove(b);
                    }
                    taken.set(b); // only now: a change that sees the bit may overwrite the block at once
                } finally {
                    lock.unlock();
                }
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

        private int pageCount(long block) {
            return (blockLength(block) + PAGE - 1) / PAGE;
        }

        /** Whether writes are held in memory now (then reads, extents and flushes must settle them first). */
        boolean holdsWrites() {
            return heldPages.get() > 0;
        }

        /** The blocks holding writes now, in ascending order. */
        long[] blocksHoldingWrites() {
            return touched.entrySet().stream().filter(e -> e.getValue().heldCount > 0).mapToLong(java.util.Map.Entry::getKey).sorted().toArray();
        }

        /**
         * Takes the write {@code src} at {@code offset} into memory instead of the volume (see the class
         * comment), consuming {@code src}; false, taking nothing, unless it is whole pages inside one
         * block of D not read yet and the memory budget has room. Under the read side of the gate.
         */
        private boolean holdBack(long offset, ByteBuffer src) throws IOException {
            int length = src.remaining();
            int bs = blockSize();
            long b = offset / bs;
            if (length == 0 || offset % PAGE != 0 || length % PAGE != 0 || offset + length > sizeAtBarrier
                    || (offset + length - 1) / bs != b || !blocks.contains((int) b) || taken.get(b)) return false;
            if (!landed && before.landed.getCount() > 0) return false; // the usual way waits for the changes before the barrier
            ReentrantLock lock = stripes[(int) (b % STRIPES)];
            lock.lock();
            try {
                if (finished || taken.get(b)) return false;
                Touched t = touched.computeIfAbsent(b, k -> new Touched(pageCount(k)));
                int p0 = (int) ((offset - b * bs) / PAGE);
                int n = length / PAGE;
                int fresh = 0;
                for (int i = 0; i < n; i++) if (t.held(p0 + i) == null) fresh++;
                ByteBuffer[] pages = fresh == 0 ? new ByteBuffer[0] : volume.memory.takeWithin(fresh);
                if (pages == null) return false; // memory is full: the write goes on to the volume, its old pages saved
                if (t.held == null) t.held = new ByteBuffer[pageCount(b)];
                for (int i = 0, k = 0; i < n; i++) {
                    ByteBuffer page = t.held[p0 + i];
                    if (page == null) {
                        page = t.held[p0 + i] = pages[k++];
                        t.heldCount++;
                    }
                    page.clear().put(src.slice(src.position() + i * PAGE, PAGE)).flip();
                }
                heldPages.addAndGet(fresh);
                src.position(src.limit());
                return true;
            } finally {
                lock.unlock();
            }
        }

        /** Saves the old bytes of the pages that {@code [offset, offset + length)} touches in blocks of D not read yet, and passes on writes held there. */
        private void preserve(long offset, long length) throws IOException {
            if (!awaitLanded()) return; // the old pages to save are those with every change from before the barrier in them
            forTouchedPages(offset, length, true, (b, t, p0, p1) -> {
                save(b, t, p0, p1, true);
                passOnHeld(b, t, p0, p1); // before the change overwrites part of a page, or the held bytes would land over it later
            });
        }

        /** Passes on the writes held in {@code [offset, offset + length)}, saving the old bytes they replace. Under the read side of the gate. */
        private void settle(long offset, long length) throws IOException {
            forTouchedPages(offset, length, false, (b, t, p0, p1) -> {
                if (t.heldCount == 0) return;
                save(b, t, p0, p1, false);
                passOnHeld(b, t, p0, p1);
            });
        }

        @FunctionalInterface
        private interface PageRange {
            void apply(long block, Touched t, int firstPage, int lastPage) throws IOException;
        }

        /**
         * Runs {@code action} under the stripe lock of each block of D not read yet that {@code [offset,
         * offset + length)} touches, with the pages it touches there. {@code create}: also for blocks no
         * change touched yet (else only those holding something).
         */
        private void forTouchedPages(long offset, long length, boolean create, PageRange action) throws IOException {
            if (length <= 0) return;
            int bs = blockSize();
            long first = offset / bs;
            long last = Math.min((offset + length - 1) / bs, taken.length() - 1);
            for (long b = first; b <= last; b++) {
                if (!blocks.contains((int) b) || taken.get(b) || (!create && !touched.containsKey(b))) continue;
                ReentrantLock lock = stripes[(int) (b % STRIPES)];
                lock.lock();
                try {
                    if (finished || taken.get(b)) continue;
                    Touched t = create ? touched.computeIfAbsent(b, k -> new Touched(pageCount(k))) : touched.get(b);
                    if (t == null) continue;
                    long start = b * bs;
                    int len = blockLength(b);
                    int p0 = (int) ((Math.max(offset, start) - start) / PAGE);
                    int p1 = (int) ((Math.min(offset + length, start + len) - 1 - start) / PAGE);
                    action.apply(b, t, p0, p1);
                } finally {
                    lock.unlock();
                }
            }
        }

        /**
         * Under the block's stripe lock: saves the old bytes of pages {@code p0..p1} of {@code block} not
         * saved yet ({@code all}), or only of those holding a write ({@code !all}). Until a page is saved
         * and its held write passed on, the volume has its bytes as of the barrier.
         */
        private void save(long block, Touched t, int p0, int p1, boolean all) throws IOException {
            long start = block * blockSize();
            int len = blockLength(block);
            for (int p = p0; p <= p1; p++) {
                if (has(t.saved, p) || (!all && t.held(p) == null)) continue;
                int q = p;
                while (q + 1 <= p1 && !has(t.saved, q + 1) && (all || t.held(q + 1) != null)) q++;
                long from = start + (long) p * PAGE;
                ByteBuffer old = ByteBuffer.allocate((int) (Math.min(start + len, start + (long) (q + 1) * PAGE) - from));
                volume.inner.read(from, old);
                old.flip();
                oldPages.save(from, old);
                for (int i = p; i <= q; i++) t.saved[i >>> 6] |= 1L << i; // after they are saved: see read()
                p = q;
            }
        }

        /** Under the block's stripe lock: writes the held pages among {@code p0..p1} of {@code block} to the volume and frees them. */
        private void passOnHeld(long block, Touched t, int p0, int p1) throws IOException {
            if (t.heldCount == 0) return;
            for (int p = p0; p <= p1; p++) {
                if (t.held[p] != null) passOn(block, t, p);
            }
        }

        /** Under the block's stripe lock: writes held page {@code p} of {@code block} to the volume and frees it; if the write fails, it stays held. */
        private void passOn(long block, Touched t, int p) throws IOException {
            volume.inner.write(block * blockSize() + (long) p * PAGE, t.held[p].duplicate(), false);
            free(t, p);
        }

        private void free(Touched t, int p) {
            ByteBuffer page = t.held[p];
            t.held[p] = null;
            t.heldCount--;
            heldPages.decrementAndGet();
            volume.memory.release(page);
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

        /**
         * Under the write side of the gate, at the end: every write still held goes to the volume (none
         * after a capture that read every block). One that cannot is dropped and reported by the next
         * flush, as the page cache reports a failed write-back.
         */
        private void passOnAllHeld() {
            for (long b : blocksHoldingWrites()) {
                ReentrantLock lock = stripes[(int) (b % STRIPES)];
                lock.lock(); // a capture thread may be passing them on itself
                try {
                    Touched t = touched.get(b);
                    if (t == null || t.heldCount == 0) continue;
                    for (int p = 0; p < t.held.length; p++) {
                        if (t.held[p] == null) continue;
                        try {
                            passOn(b, t, p);
                        } catch (IOException | RuntimeException failed) {
                            volume.lostWrites.compareAndSet(null, failed instanceof IOException io ? io
                                    : new IOException("writes to " + volume.name + " held during a capture were lost: " + failed, failed));
                            free(t, p);
                        }
                    }
                } finally {
                    lock.unlock();
                }
            }
        }

        private void finish(boolean success, String label) {
            volume.gate.writeLock().lock(); // no change is in its bookkeeping (saving pages, marking blocks)
            try {
                if (finished) return;
                finished = true;
                passOnAllHeld();
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
