package dev.cairn.nbd;

import java.util.Set;
import java.util.concurrent.ThreadFactory;

/**
 * Per-connection settings shared by all connections of one server: the buffer pool, the factory for
 * request threads (virtual), options answered ERR_UNSUP on purpose (like nbdkit's {@code --no-sr} /
 * {@code --mask-handshake}, to act as an older server), the in-flight bounds, and whether the reader
 * may run small requests itself ({@code inlineSmallRequests}: only when a watchdog calls
 * {@link NbdConnection#tick} to rescue a stalled reader, as {@link NbdServer} does).
 */
record ConnectionConfig(BufferPool pool, ThreadFactory workers, Set<Integer> disabledOptions, int maxInFlight, long maxBytesInFlight,
                        boolean inlineSmallRequests) {
    /** nbdcopy keeps 64 requests in flight per connection, qemu 16, fio what iodepth says. */
    static final int DEFAULT_MAX_IN_FLIGHT = 128;
    /** Two maximum-size requests, or e.g. 256 × 256 KiB. Bounds a connection's payload memory. */
    static final long DEFAULT_MAX_BYTES_IN_FLIGHT = 2L * Nbd.MAX_PAYLOAD;

    ConnectionConfig {
        disabledOptions = Set.copyOf(disabledOptions);
        if (maxInFlight < 1) throw new IllegalArgumentException("maxInFlight " + maxInFlight);
        if (maxBytesInFlight < Nbd.MAX_PAYLOAD) throw new IllegalArgumentException("maxBytesInFlight below one maximum request");
    }

    /** For a connection without a watchdog (tests, fuzzing): every request runs on its own thread. */
    static ConnectionConfig defaults() {
        return new ConnectionConfig(new BufferPool(), Thread.ofVirtual().name("nbd-request").factory(), Set.of(),
                DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BYTES_IN_FLIGHT, false);
    }
}
