package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.roaringbitmap.RoaringBitmap;

/**
 * A disk layered over a {@link BaseImage} (DESIGN §3): usable the moment it exists, whatever its size.
 * Its own blocks live in a sparse file ({@code <disk>.raw}); a <em>presence</em> set says which blocks
 * are its own. A block not present reads from the base.
 *
 * <p><b>What stays true.</b>
 * <ul>
 *   <li>A block becomes present only after its own bytes are complete in the file: a change that covers
 *       part of an absent block first copies the base block in, under the block's stripe lock, so two
 *       racing changes never copy over each other.</li>
 *   <li>The presence set is saved ({@code <disk>.overlay}, with the base's label) only after an
 *       fdatasync that covers the bytes of every block in the saved set: {@link #flush} takes a picture
 *       of the set, syncs the file, then saves the picture. After a crash a block is present only if
 *       its bytes are durable; otherwise it reads from the base again, which is what an unflushed
 *       change may do.</li>
 *   <li>A layered disk holds at most {@link #MAX_BLOCKS} blocks (its presence set is a 32-bit bitmap).</li>
 *   <li>Flattening ({@link #flattenBlocks}) copies base blocks in the same way, under the same locks;
 *       once every block is present the base is no longer needed ({@link #complete}).</li>
 * </ul>
 *
 * <p><b>Threads.</b> Data calls run under the read side of {@code gate}; {@link #resize} and
 * {@link #close} take the write side.
 */
public final class OverlayVolume implements Volume {
    static final String MAGIC = "CAIRNOVL";
    private static final int STRIPES = 64;
    /** Blocks a layered disk may hold: its presence set is saved as a 32-bit bitmap (at 64 KiB blocks: 128 TiB, beyond any disk Cairn makes). */
    static final long MAX_BLOCKS = Integer.MAX_VALUE;
    /**
     * Bytes of consecutive blocks that share a lock stripe: a flatten writes up to this much under one
     * lock, in one direct write, and a client's write to the group waits for it (milliseconds). 8 MiB:
     * the kernel sends such a write as several device requests at once; a full flatten of the 4 GiB
     * bench image (3.1 GiB written) copied in 4.7–5.3 s against 5.2–6.3 s with 1 MiB and 4.9–5.9 s with
     * 4 MiB, and 16 MiB gained nothing more (interleaved runs, cold cache; docs/benchmarks.md).
     */
    static final int LOCK_GROUP_BYTES = 8 << 20;

    private final SparseFileVolume own;
    private final BaseImage base;
    private final Path metaFile;
    private final int blockSize;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    /**
     * Lock stripes over groups of consecutive blocks: a flatten copies a group under one lock, and its
     * workers, a whole number of groups apart, do not wait on each other.
     */
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
    /** Blocks per lock group: {@link #LOCK_GROUP_BYTES} of them, at least one. */
    private final int lockGroup;
    private final Object saveLock = new Object();
    private final AtomicBoolean presenceChanged = new AtomicBoolean();
    private volatile BlockBits present;
    /** Set once the base is dropped: the metadata file is gone and must not come back. Guarded by saveLock. */
    private boolean baseDropped;
    private boolean closed;

    private OverlayVolume(SparseFileVolume own, BaseImage base, Path metaFile, int blockSize, BlockBits present) {
        this.own = own;
        this.base = base;
        this.metaFile = metaFile;
        this.blockSize = blockSize;
        this.present = present;
        for (int i = 0; i < STRIPES; i++) stripes[i] = new ReentrantLock();
        this.lockGroup = Math.max(1, LOCK_GROUP_BYTES / blockSize);
    }

    private ReentrantLock stripeOf(long block) {
        return stripes[(int) (block / lockGroup % STRIPES)];
    }

    /**
     * Makes the disk whose file is {@code ownFile} read as {@code base} from now on: saves an empty
     * presence set naming the base, then empties the file (if there is one) to free its space. The disk
     * reads as the base from the moment the metadata is durable, so a crash in between changes nothing
     * — which is how a rollback and a clone stay atomic. The disk must not be open.
     */
    public static void layer(Path ownFile, Path metaFile, long size, int blockSize, String baseLabel) throws IOException {
        BitmapFile.write(metaFile, MAGIC, blockSize, baseLabel, new RoaringBitmap());
        if (Files.exists(ownFile)) {
            try (SparseFileVolume v = SparseFileVolume.open(ownFile, false)) {
                v.trim(0, v.size(), false);
                if (v.size() < size) v.resize(size);
                v.flush();
            }
        } else {
            SparseFileVolume.create(ownFile, size).close();
        }
    }

    /** The base label an overlay's metadata names, or null if {@code metaFile} does not exist (a plain disk). */
    public static String baseLabelOf(Path metaFile) throws IOException {
        BitmapFile f = BitmapFile.read(metaFile, MAGIC);
        return f == null ? null : f.label();
    }

    /** Opens an overlay disk; {@code base} becomes owned by it (closed with it). */
    public static OverlayVolume open(Path ownFile, Path metaFile, BaseImage base) throws IOException {
        BitmapFile meta = BitmapFile.read(metaFile, MAGIC);
        if (meta == null) throw new IOException("no overlay metadata " + metaFile);
        if (!meta.label().equals(base.label())) throw new IOException(metaFile + " names base " + meta.label() + ", not " + base.label());
        SparseFileVolume own = SparseFileVolume.open(ownFile, false);
        long blocks = (own.size() + meta.blockSize() - 1) / meta.blockSize();
        if (blocks > MAX_BLOCKS) {
            own.close();
            throw new IOException(ownFile + " holds " + blocks + " blocks; a layered disk holds at most " + MAX_BLOCKS);
        }
        return new OverlayVolume(own, base, metaFile, meta.blockSize(), BlockBits.of(meta.bitmap(), blocks));
    }

    public BaseImage base() {
        return base;
    }

    public int blockSize() {
        return blockSize;
    }

    /** The blocks the disk holds itself (written, trimmed or copied in). */
    public RoaringBitmap ownBlocks() {
        return present.toBitmap();
    }

    public long blockCount() {
        return present.length();
    }

    /** Number of blocks still read from the base. */
    public long missingBlocks() {
        BlockBits p = present;
        return p.length() - p.cardinality();
    }

    /** True once no block reads from the base any more: the disk could be a plain one. */
    public boolean complete() {
        return missingBlocks() == 0;
    }

    // ---------------------------------------------------------------- reads

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        gate.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, dst.remaining());
            BlockBits p = present;
            long pos = offset;
            while (dst.hasRemaining()) {
                long block = pos / blockSize;
                // the longest run of blocks of one kind, so a present range is one pread
                boolean mine = p.get(block);
                long runEnd = (block + 1) * blockSize;
                long end = pos + dst.remaining();
                while (runEnd < end && p.get(runEnd / blockSize) == mine) runEnd += blockSize;
                int n = (int) (Math.min(runEnd, end) - pos);
                ByteBuffer part = dst.slice(dst.position(), n);
                if (mine) own.read(pos, part); else base.read(pos, part);
                dst.position(dst.position() + n);
                pos += n;
            }
        } finally {
            gate.readLock().unlock();
        }
    }

    @Override
    public Transfer transfer(long offset, long length) throws IOException {
        BlockBits p = present;
        for (long b = offset / blockSize; b <= (offset + length - 1) / blockSize; b++) if (!p.get(b)) return null;
        return own.transfer(offset, length);
    }

    // ---------------------------------------------------------------- changes

    /** One change applied to a sub-range of the own file. */
    @FunctionalInterface
    private interface Change {
        void apply(long offset, long length, long srcOffset) throws IOException;
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        ByteBuffer data = src.duplicate();
        int start = data.position();
        change(offset, src.remaining(), fua, (off, len, at) -> own.write(off, data.slice(start + (int) at, (int) len), false));
        src.position(src.limit());
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        change(offset, length, fua, (off, len, at) -> own.trim(off, len, false));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException {
        change(offset, length, fua, (off, len, at) -> own.writeZeroes(off, len, mayPunch, false));
    }

    private void change(long offset, long length, boolean fua, Change c) throws IOException {
        gate.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, length);
            if (length == 0) return;
            BlockBits p = present;
            long first = offset / blockSize;
            long last = (offset + length - 1) / blockSize;
            boolean allMine = true;
            for (long b = first; b <= last && allMine; b++) allMine = p.get(b);
            if (allMine) {
                c.apply(offset, length, 0);
            } else {
                for (long b = first; b <= last; b++) {
                    long from = Math.max(offset, b * blockSize);
                    long to = Math.min(offset + length, (b + 1) * blockSize);
                    if (p.get(b)) {
                        c.apply(from, to - from, from - offset);
                        continue;
                    }
                    ReentrantLock lock = stripeOf(b);
                    lock.lock();
                    try {
                        if (!p.get(b)) {
                            boolean whole = from == b * blockSize && to == Math.min((b + 1) * blockSize, own.size());
                            if (!whole) copyIn(b);
                        }
                        c.apply(from, to - from, from - offset);
                        if (p.set(b)) presenceChanged.set(true);
                    } finally {
                        lock.unlock();
                    }
                }
            }
        } finally {
            gate.readLock().unlock();
        }
        if (fua) flush(); // the change and, if it made blocks present, the presence set
    }

    /** Copies base block {@code b} into the own file for a client's partial change (holes stay holes). Caller holds the block's stripe. */
    private void copyIn(long b) throws IOException {
        long off = b * blockSize;
        int len = (int) Math.min(blockSize, own.size() - off);
        if (base.isZero(off, len)) {
            own.trim(off, len, false);
            return;
        }
        ByteBuffer buf = ByteBuffer.allocate(len);
        base.readOnce(off, buf); // from now on the disk holds it: no need to cache it too
        own.write(off, buf.flip(), false);
    }

    /** Kinds of absent block for {@link #prepareFlatten}: made present (skipped), zeros in the base (a hole), data (allocated). */
    private static final int PRESENT = 0, ZEROS = 1, DATA = 2;

    /**
     * Readies the disk for a flatten, before its copies start. Every absent block that is zeros in the
     * base becomes the disk's own now: a hole in the file, punched in runs, each lock group under its
     * stripe lock (blocks a client made present meanwhile are left alone). Every other absent block is
     * allocated in the file, in runs, so the copies write into allocated blocks (see
     * {@link SparseFileVolume#preallocate}). Both happen here rather than during the copy: a hole punch
     * waits for every direct write in flight on the file and holds the file's lock meanwhile, so punches
     * between the workers' copies stalled them all (a tenth of their time, flattening the bench image).
     * Space taken is what the flatten would take by its end.
     */
    public void prepareFlatten() throws IOException {
        gate.readLock().lock();
        try {
            checkOpen();
            BlockBits p = present;
            long runStart = 0;
            int runKind = PRESENT;
            for (long b = 0; b <= p.length(); b++) {
                int k = b == p.length() || p.get(b) ? PRESENT : zeroInBase(b) ? ZEROS : DATA;
                if (k == runKind) continue;
                if (runKind == DATA) own.preallocate(runStart * blockSize, endOf(b) - runStart * blockSize);
                if (runKind == ZEROS) takeZeros(p, runStart, b);
                runStart = b;
                runKind = k;
            }
        } finally {
            gate.readLock().unlock();
        }
    }

    /** Makes the absent ones of blocks {@code [from, to)}, zeros in the base, the disk's own: holes, one lock group at a time. */
    private void takeZeros(BlockBits p, long from, long to) throws IOException {
        for (long g = from, groupEnd; g < to; g = groupEnd) {
            groupEnd = Math.min(to, (g / lockGroup + 1) * lockGroup);
            takeAbsent(p, g, groupEnd, (a, b) -> {
                own.trim(a * blockSize, endOf(b) - a * blockSize, false);
                return 0;
            });
        }
    }

    /** True if the base holds block {@code b} as zeros. */
    private boolean zeroInBase(long b) throws IOException {
        return base.isZero(b * blockSize, (int) Math.min(blockSize, own.size() - b * blockSize));
    }

    /** Where block {@code b} begins, or the disk's end: the end of a run of blocks before {@code b}. */
    private long endOf(long b) {
        return Math.min(b * blockSize, own.size());
    }

    /** What {@link #takeAbsent} does with each run of absent blocks {@code [from, to)}: returns bytes copied. */
    @FunctionalInterface
    private interface Fill {
        long run(long from, long to) throws IOException;
    }

    /**
     * Under the stripe lock of blocks {@code [from, to)} (one lock group): gives {@code fill} each run of
     * them still absent, then makes the run present. Returns the sum of what {@code fill} returned.
     */
    private long takeAbsent(BlockBits p, long from, long to, Fill fill) throws IOException {
        long copied = 0;
        ReentrantLock lock = stripeOf(from);
        lock.lock();
        try {
            for (long a = from, b; a < to; a = b) {
                if (p.get(a)) {
                    b = a + 1;
                    continue;
                }
                for (b = a + 1; b < to && !p.get(b); b++) {}
                copied += fill.run(a, b);
                for (long r = a; r < b; r++) if (p.set(r)) presenceChanged.set(true);
            }
        } finally {
            lock.unlock();
        }
        return copied;
    }

    /**
     * Flatten copies written in one request at least this long go around the page cache (O_DIRECT: no
     * copy into the cache, and workers write in parallel); shorter ones go through it, which merges them.
     */
    static final int DIRECT_COPY_MIN_BYTES = 256 << 10;

    /**
     * Makes blocks {@code [first, first + count)} the disk's own by copying from the base those that
     * are not already (flatten). Each run of absent blocks is read from the base in one call, without
     * locks (the base never changes), so the base can fetch its blocks together; it is then written
     * one stripe's stretch at a time (at most {@link #LOCK_GROUP_BYTES}) under that stripe's lock, skipping
     * blocks a client changed meanwhile. Zero blocks are trimmed, not written. The bytes read are also
     * written into the absent blocks elsewhere that the base says hold the same ({@link BaseImage#twins}),
     * so they are not read again. Returns the bytes copied. Durable with the next {@link #flush}.
     *
     * @param scratch the caller's buffer for the base's bytes, with room for {@code count} blocks (a
     *     flatten's worker reuses one: fresh megabytes per call keep the garbage collector busy)
     */
    public long flattenBlocks(long first, int count, ByteBuffer scratch) throws IOException {
        if (scratch.capacity() < (long) count * blockSize) throw new IllegalArgumentException("scratch holds " + scratch.capacity() + " bytes, not " + count + " blocks");
        gate.readLock().lock();
        try {
            checkOpen();
            BlockBits p = present;
            long end = Math.min(first + count, p.length());
            long copied = 0;
            for (long a = Math.max(0, first); a < end; ) {
                if (p.get(a)) {
                    a++;
                    continue;
                }
                long b = a + 1;
                while (b < end && !p.get(b)) b++;
                copied += copyRunIn(p, a, b, scratch);
                a = b;
            }
            return copied;
        } finally {
            gate.readLock().unlock();
        }
    }

    /** Copies base blocks {@code [from, to)} in, as {@link #flattenBlocks} describes. Caller holds the gate's read side. */
    private long copyRunIn(BlockBits p, long from, long to, ByteBuffer scratch) throws IOException {
        long start = from * blockSize;
        ByteBuffer buf = scratch.clear().limit((int) (Math.min(to * blockSize, own.size()) - start));
        base.readOnce(start, buf);
        long copied = 0;
        for (long g = from, groupEnd; g < to; g = groupEnd) {
            groupEnd = Math.min(to, (g / lockGroup + 1) * lockGroup);
            copied += takeAbsent(p, g, groupEnd, (a, b) -> copyOrTrim(a, b, buf, start)); // a block a client changed meanwhile is skipped
        }
        copied += copyToTwins(p, from, to, buf, start); // buf holds the base's bytes of every block read, whoever owns it now
        return copied;
    }

    /** Makes blocks {@code [from, to)} hold the base's bytes, read into {@code buf} from byte {@code start}: runs of zeros trimmed, the rest written. */
    private long copyOrTrim(long from, long to, ByteBuffer buf, long start) throws IOException {
        long copied = 0;
        for (long a = from, b; a < to; a = b) {
            boolean zeros = zeroInBase(a);
            for (b = a + 1; b < to && zeroInBase(b) == zeros; b++) {}
            long off = a * blockSize;
            int len = (int) (endOf(b) - off);
            if (zeros) own.trim(off, len, false); else copied += writeCopy(buf.slice((int) (off - start), len), off);
        }
        return copied;
    }

    /**
     * Writes the base's bytes of blocks {@code [from, to)}, read into {@code buf} (from byte {@code start}),
     * into the absent blocks the base says hold the same ({@link BaseImage#twins}): the flatten then reads
     * and checks each stored chunk once, however many blocks hold it. Consecutive targets filled from
     * consecutive sources are written together, one lock group at a time. Returns the bytes written.
     */
    private long copyToTwins(BlockBits p, long from, long to, ByteBuffer buf, long start) throws IOException {
        // each twin as (target << 32 | source - from), sorted by target: a primitive sort (sorting records with a
        // comparator sent the JIT recompiling TimSort over and over, 0.4 s of a core per flatten); block numbers
        // stay below 2^31 (MAX_BLOCKS) and a call's run below 2^32 blocks, so both fit
        long[] twins = new long[16];
        int n = 0;
        for (long b = from; b < to; b++) {
            for (long t : base.twins(b)) {
                if (t >= p.length() || p.get(t)) continue;
                if (n == twins.length) twins = Arrays.copyOf(twins, 2 * n);
                twins[n++] = t << 32 | (b - from);
            }
        }
        Arrays.sort(twins, 0, n);
        long copied = 0;
        for (int i = 0, j; i < n; i = j) {
            long target = twins[i] >>> 32, source = from + (twins[i] & 0xFFFF_FFFFL);
            for (j = i + 1; j < n; j++) {
                long t = twins[j] >>> 32, s = from + (twins[j] & 0xFFFF_FFFFL);
                if (t != target + (j - i) || s != source + (j - i) || t / lockGroup != target / lockGroup) break;
            }
            copied += fillTwins(p, target, source, j - i, buf, start);
        }
        return copied;
    }

    /** Fills the absent ones of {@code count} blocks from {@code target} (one lock group) with the bytes of as many blocks from {@code source}. */
    private long fillTwins(BlockBits p, long target, long source, int count, ByteBuffer buf, long start) throws IOException {
        return takeAbsent(p, target, target + count, (from, to) -> {
            long off = (source + from - target) * blockSize;
            int len = (int) (Math.min((source + to - target) * blockSize, own.size()) - off);
            return writeCopy(buf.slice((int) (off - start), len), from * blockSize);
        });
    }

    /** Writes a flatten's copy of base bytes at {@code off}; returns their length. */
    private long writeCopy(ByteBuffer bytes, long off) throws IOException {
        int len = bytes.remaining();
        if (len >= DIRECT_COPY_MIN_BYTES) own.writeBulk(off, bytes); else own.write(off, bytes, false);
        return len;
    }

    /**
     * Once every block is the disk's own: makes that durable and removes the metadata, so the disk
     * opens as a plain one from now on (this object goes on serving it). Returns false if blocks are
     * still missing.
     */
    public boolean dropBaseIfComplete() throws IOException {
        if (!complete()) return false;
        flush();
        synchronized (saveLock) {
            if (!baseDropped) {
                Files.deleteIfExists(metaFile);
                AtomicFiles.syncDirectory(metaFile.toAbsolutePath().getParent());
                baseDropped = true;
            }
        }
        return true;
    }

    @Override
    public void flush() throws IOException {
        gate.readLock().lock();
        try {
            checkOpen();
            synchronized (saveLock) { // one save at a time, so an older picture never replaces a newer one
                boolean changed = presenceChanged.getAndSet(false);
                RoaringBitmap picture = changed ? present.toBitmap() : null; // blocks in it have their bytes written
                try {
                    own.flush();
                    if (changed && !baseDropped) BitmapFile.write(metaFile, MAGIC, blockSize, base.label(), picture);
                } catch (IOException | RuntimeException e) {
                    if (changed) presenceChanged.set(true);
                    throw e;
                }
            }
        } finally {
            gate.readLock().unlock();
        }
    }

    @Override
    public boolean fastZero(boolean mayPunch) {
        return own.fastZero(mayPunch);
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        own.prefetch(offset, length);
    }

    /** Asks the base to fetch the absent blocks among {@code count} from {@code first} ahead of a flatten that will copy them. */
    public void prefetchBase(long first, long count) {
        BlockBits p = present;
        long end = Math.min(first + count, p.length());
        long runStart = -1;
        for (long b = first; b <= end; b++) {
            boolean absent = b < end && !p.get(b);
            if (absent && runStart < 0) runStart = b;
            if (!absent && runStart >= 0) {
                base.prefetch(runStart * blockSize, (b - runStart) * blockSize);
                runStart = -1;
            }
        }
    }

    /** Present blocks report the own file's allocation; absent ones report data unless the base knows them to be zeros. */
    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        gate.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, length);
            List<Extent> out = new ArrayList<>();
            BlockBits p = present;
            long pos = offset;
            long end = offset + length;
            int budget = 4096;
            while (pos < end && budget-- > 0) {
                long block = pos / blockSize;
                long blockEnd = Math.min(end, (block + 1) * blockSize);
                if (p.get(block)) {
                    // a run of present blocks: the own file's map, cut at the run's end — its last extent may
                    // reach far beyond (a hole up to the next data), over absent blocks that read as the base
                    long runEnd = blockEnd;
                    while (runEnd < end && p.get(runEnd / blockSize)) runEnd = Math.min(end, runEnd + blockSize);
                    long covered = pos;
                    for (Extent e : own.extents(pos, runEnd - pos)) {
                        long from = Math.max(e.offset(), covered), to = Math.min(e.end(), runEnd);
                        if (from != covered || to <= from) break;
                        add(out, new Extent(from, to - from, e.hole(), e.zero()));
                        covered = to;
                    }
                    if (covered == pos) { // no usable map: data is the answer that is never wrong
                        add(out, new Extent(pos, blockEnd - pos, false, false));
                        covered = blockEnd;
                    }
                    pos = covered;
                } else {
                    boolean zero = base.isZero(block * blockSize, Math.min(blockSize, size() - block * blockSize));
                    add(out, new Extent(pos, blockEnd - pos, zero, zero));
                    pos = blockEnd;
                }
            }
            return out;
        } finally {
            gate.readLock().unlock();
        }
    }

    private static void add(List<Extent> out, Extent e) {
        if (!out.isEmpty()) {
            Extent last = out.getLast();
            if (last.hole() == e.hole() && last.zero() == e.zero() && last.end() == e.offset()) {
                out.set(out.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.hole(), e.zero()));
                return;
            }
        }
        out.add(e);
    }

    @Override
    public void resize(long newSize) throws IOException {
        gate.writeLock().lock();
        try {
            checkOpen();
            if ((newSize + blockSize - 1) / blockSize > MAX_BLOCKS) throw new IllegalArgumentException("a layered disk holds at most " + MAX_BLOCKS + " blocks of " + blockSize + " bytes");
            own.resize(newSize);
            present = present.resized((newSize + blockSize - 1) / blockSize);
        } finally {
            gate.writeLock().unlock();
        }
    }

    @Override
    public long size() {
        return own.size();
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public void close() throws IOException {
        gate.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
        } finally {
            gate.writeLock().unlock();
        }
        try {
            synchronized (saveLock) {
                own.flush();
                if (presenceChanged.getAndSet(false) && !baseDropped) BitmapFile.write(metaFile, MAGIC, blockSize, base.label(), present.toBitmap());
            }
        } finally {
            try {
                own.close();
            } finally {
                base.close();
            }
        }
    }

    private void checkOpen() throws IOException {
        if (closed) throw new IOException("volume " + own.path() + " is closed");
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > own.size()) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside volume of " + own.size() + " bytes");
        }
    }

    @Override
    public String toString() {
        return "overlay " + own.path() + " over " + base.label();
    }
}
