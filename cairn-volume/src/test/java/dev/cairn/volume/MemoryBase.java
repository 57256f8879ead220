package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/** A base image held in memory, for overlay tests. Counts reads so tests can see what was fetched. */
final class MemoryBase implements BaseImage {
    final byte[] bytes;
    final String label;
    final AtomicInteger reads = new AtomicInteger();
    volatile boolean closed;

    MemoryBase(String label, byte[] bytes) {
        this.label = label;
        this.bytes = bytes;
    }

    @Override public String label() { return label; }
    @Override public long size() { return bytes.length; }

    @Override
    public void read(long offset, ByteBuffer dst) {
        reads.incrementAndGet();
        while (dst.hasRemaining()) {
            dst.put(offset < bytes.length ? bytes[(int) offset] : 0);
            offset++;
        }
    }

    @Override
    public boolean isZero(long offset, long length) {
        for (long i = offset; i < Math.min(bytes.length, offset + length); i++) if (bytes[(int) i] != 0) return false;
        return true;
    }

    @Override
    public void close() throws IOException {
        closed = true;
    }
}
