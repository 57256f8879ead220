package dev.cairn.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct byte buffers for request payloads and reply headers, reused so the hot path makes no garbage
 * and touches no fresh memory (a new direct buffer costs a zeroing pass plus page faults: measured at a
 * fifth of the server's CPU on 1 MiB reads before the pool kept enough of them). Buffers come in
 * power-of-two size classes from 4 KiB to {@link Nbd#MAX_PAYLOAD}; released buffers are kept, most
 * recently used first, while all kept buffers together stay within {@link #MAX_RETAINED_BYTES}; beyond
 * that they are dropped to the garbage collector. So the pool adapts to whatever sizes the clients use
 * and what it holds is bounded.
 *
 * <p><b>Threads.</b> Thread-safe; any thread may acquire and any thread may release. A buffer must be
 * released at most once and not used after release.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;                                             // 4 KiB
    private static final int MAX_SHIFT = Integer.numberOfTrailingZeros(Nbd.MAX_PAYLOAD); // 32 MiB
    /** Enough for e.g. 64 × 1 MiB requests in flight on one server, or 4 of the largest. */
    static final long MAX_RETAINED_BYTES = 128L << 20;

    @SuppressWarnings({"unchecked", "rawtypes"}) // generic array creation
    private final ConcurrentLinkedDeque<ByteBuffer>[] classes = new ConcurrentLinkedDeque[MAX_SHIFT - MIN_SHIFT + 1];
    private final AtomicLong retained = new AtomicLong();

    BufferPool() {
        for (int i = 0; i < classes.length; i++) classes[i] = new ConcurrentLinkedDeque<>();
    }

    /** A buffer with position 0 and limit {@code size} (0 ≤ size ≤ MAX_PAYLOAD); contents undefined. */
    ByteBuffer acquire(int size) {
        if (size < 0 || size > Nbd.MAX_PAYLOAD) throw new IllegalArgumentException("buffer size " + size);
        int shift = shiftFor(size);
        ByteBuffer b = classes[shift - MIN_SHIFT].pollFirst();
        if (b == null) return ByteBuffer.allocateDirect(1 << shift).limit(size);
        retained.addAndGet(-b.capacity());
        return b.clear().limit(size);
    }

    /** Returns a buffer from {@link #acquire}; null is ignored so callers can release in finally blocks. */
    void release(ByteBuffer b) {
        if (b == null) return;
        int cap = b.capacity();
        if (Integer.bitCount(cap) != 1 || cap < (1 << MIN_SHIFT) || cap > (1 << MAX_SHIFT) || !b.isDirect()) return;
        if (retained.addAndGet(cap) > MAX_RETAINED_BYTES) {
            retained.addAndGet(-cap); // over budget: let the garbage collector free it
            return;
        }
        classes[Integer.numberOfTrailingZeros(cap) - MIN_SHIFT].offerFirst(b);
    }

    /** Bytes currently kept for reuse. */
    long retainedBytes() {
        return retained.get();
    }

    private static int shiftFor(int size) {
        if (size <= 1 << MIN_SHIFT) return MIN_SHIFT;
        return 32 - Integer.numberOfLeadingZeros(size - 1);
    }
}
