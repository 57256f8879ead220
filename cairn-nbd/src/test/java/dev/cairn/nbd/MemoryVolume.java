package dev.cairn.nbd;

import dev.cairn.volume.ReadOnlyVolumeException;
import dev.cairn.volume.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;

/**
 * Test-only in-memory volume: 4 KiB pages, absent pages are holes (read as zeros, reported hole+zero).
 * Can be told to fail calls (for error-mapping tests). Thread-safe: every call is synchronized.
 */
final class MemoryVolume implements Volume {
    static final int PAGE = 4096;

    private final long size;
    private final boolean readOnly;
    private final ConcurrentHashMap<Long, byte[]> pages = new ConcurrentHashMap<>();
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger fuaCalls = new AtomicInteger();
    final AtomicInteger prefetches = new AtomicInteger();
    volatile boolean fastZero = true;
    /** When set, a read or write touching an offset it accepts throws this exception. */
    volatile LongPredicate failAt;
    volatile IOException failure;
    private boolean closed;

    MemoryVolume(long size, boolean readOnly) {
        if (size % 512 != 0) throw new IllegalArgumentException("size");
        this.size = size;
        this.readOnly = readOnly;
    }

    MemoryVolume(long size) {
        this(size, false);
    }

    @Override public long size() { return size; }
    @Override public boolean readOnly() { return readOnly; }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        maybeFail(offset);
        long pos = offset;
        while (dst.hasRemaining()) {
            long page = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = Math.min(dst.remaining(), PAGE - in);
            byte[] p = pages.get(page);
            if (p == null) {
                for (int i = 0; i < n; i++) dst.put((byte) 0);
            } else {
                dst.put(p, in, n);
            }
            pos += n;
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        writable();
        check(offset, src.remaining());
        maybeFail(offset);
        long pos = offset;
        while (src.hasRemaining()) {
            long page = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = Math.min(src.remaining(), PAGE - in);
            src.get(pages.computeIfAbsent(page, k -> new byte[PAGE]), in, n);
            pos += n;
        }
        if (fua) fuaCalls.incrementAndGet();
    }

    @Override
    public void flush() {
        flushes.incrementAndGet();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        writeZeroes(offset, length, true, fua);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException {
        writable();
        check(offset, length);
        long pos = offset, end = offset + length;
        while (pos < end) {
            long page = pos / PAGE;
            int in = (int) (pos % PAGE);
            int n = (int) Math.min(end - pos, PAGE - in);
            if (mayPunch && in == 0 && n == PAGE) {
                pages.remove(page);
            } else if (!mayPunch) {
                byte[] p = pages.computeIfAbsent(page, k -> new byte[PAGE]);
                java.util.Arrays.fill(p, in, in + n, (byte) 0);
            } else {
                byte[] p = pages.get(page);
                if (p != null) java.util.Arrays.fill(p, in, in + n, (byte) 0);
            }
            pos += n;
        }
        if (fua) fuaCalls.incrementAndGet();
    }

    @Override public boolean fastZero(boolean mayPunch) { return fastZero; }

    @Override
    public void prefetch(long offset, long length) {
        check(offset, length);
        prefetches.incrementAndGet();
    }

    @Override
    public synchronized List<Extent> extents(long offset, long length) {
        check(offset, length);
        List<Extent> out = new ArrayList<>();
        long pos = offset, end = offset + length;
        while (pos < end) {
            boolean hole = !pages.containsKey(pos / PAGE);
            long stop = pos;
            while (stop < size && !pages.containsKey(stop / PAGE) == hole) stop = (stop / PAGE + 1) * PAGE;
            stop = Math.min(stop, size);
            out.add(new Extent(pos, stop - pos, hole, hole));
            pos = stop;
        }
        return out;
    }

    @Override public void resize(long newSize) { throw new UnsupportedOperationException(); }

    @Override public synchronized void close() { closed = true; }

    synchronized boolean closed() { return closed; }

    /** The page map's view of a range, for assertions. */
    synchronized byte[] bytes(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        LongPredicate f = failAt;
        failAt = null;
        try {
            read(offset, b);
        } finally {
            failAt = f;
        }
        return b.array();
    }

    private void maybeFail(long offset) throws IOException {
        LongPredicate f = failAt;
        if (f != null && f.test(offset)) throw failure;
    }

    private void writable() throws IOException {
        if (readOnly) throw new ReadOnlyVolumeException("memory");
    }

    private void check(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside " + size);
        }
    }
}
