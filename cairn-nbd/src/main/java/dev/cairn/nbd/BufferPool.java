package dev.cairn.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Direct byte buffers for request payloads and reply headers, reused so the hot path makes no garbage
 * and no new direct memory. Buffers come in power-of-two size classes from 4 KiB to {@link Nbd#MAX_PAYLOAD};
 * each class keeps at most {@link #RETAINED_BYTES_PER_CLASS} bytes (at least one buffer) and drops the
 * rest to the garbage collector, so what the pool retains is bounded (about 150 MiB if every class filled).
 *
 * <p><b>Threads.</b> Thread-safe; any thread may acquire and any thread may release. A buffer must be
 * released at most once and not used after release.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;                                        // 4 KiB
    private static final int MAX_SHIFT = Integer.numberOfTrailingZeros(Nbd.MAX_PAYLOAD); // 32 MiB
    private static final int RETAINED_BYTES_PER_CLASS = 8 << 20;
    private static final int MAX_RETAINED_PER_CLASS = 512;

    @SuppressWarnings("unchecked")
    private final ArrayBlockingQueue<ByteBuffer>[] classes = new ArrayBlockingQueue[MAX_SHIFT - MIN_SHIFT + 1];

    BufferPool() {
        for (int shift = MIN_SHIFT; shift <= MAX_SHIFT; shift++) {
            int keep = Math.clamp(RETAINED_BYTES_PER_CLASS >> shift, 1, MAX_RETAINED_PER_CLASS);
            classes[shift - MIN_SHIFT] = new ArrayBlockingQueue<>(keep);
        }
    }

    /** A buffer with position 0 and limit {@code size} (0 ≤ size ≤ MAX_PAYLOAD); contents undefined. */
    ByteBuffer acquire(int size) {
        if (size < 0 || size > Nbd.MAX_PAYLOAD) throw new IllegalArgumentException("buffer size " + size);
        int shift = shiftFor(size);
        ByteBuffer b = classes[shift - MIN_SHIFT].poll();
        if (b == null) b = ByteBuffer.allocateDirect(1 << shift);
        return b.clear().limit(size);
    }

    /** Returns a buffer from {@link #acquire}; null is ignored so callers can release in finally blocks. */
    void release(ByteBuffer b) {
        if (b == null) return;
        int cap = b.capacity();
        if (Integer.bitCount(cap) != 1 || cap < (1 << MIN_SHIFT) || cap > (1 << MAX_SHIFT) || !b.isDirect()) return;
        classes[Integer.numberOfTrailingZeros(cap) - MIN_SHIFT].offer(b); // full ⇒ dropped, the GC frees it
    }

    private static int shiftFor(int size) {
        if (size <= 1 << MIN_SHIFT) return MIN_SHIFT;
        return 32 - Integer.numberOfLeadingZeros(size - 1);
    }
}
