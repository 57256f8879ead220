package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A base image held in memory, for overlay tests. Counts reads, and notes which blocks' bytes were read
 * (by {@code twinBlockSize}), so tests can see what was fetched. With a {@code twinBlockSize} it names
 * twins as a snapshot's base does: the other non-zero blocks with equal bytes.
 */
final class MemoryBase implements BaseImage {
    final byte[] bytes;
    final String label;
    final AtomicInteger reads = new AtomicInteger();
    final Set<Long> blocksRead = ConcurrentHashMap.newKeySet();
    private final int twinBlockSize;
    volatile boolean closed;

    MemoryBase(String label, byte[] bytes) {
        this(label, bytes, 0);
    }

    MemoryBase(String label, byte[] bytes, int twinBlockSize) {
        this.label = label;
        this.bytes = bytes;
        this.twinBlockSize = twinBlockSize;
    }

    @Override
    public long[] twins(long block) {
        if (twinBlockSize == 0 || isZero(block * twinBlockSize, twinBlockSize)) return NO_TWINS;
        List<Long> same = new ArrayList<>();
        for (long b = 0; b < bytes.length / twinBlockSize; b++) {
            if (b != block && Arrays.equals(bytes, (int) (b * twinBlockSize), (int) ((b + 1) * twinBlockSize),
                    bytes, (int) (block * twinBlockSize), (int) ((block + 1) * twinBlockSize))) same.add(b);
        }
        return same.stream().mapToLong(Long::longValue).toArray();
    }

    @Override public String label() { return label; }
    @Override public long size() { return bytes.length; }

    @Override
    public void read(long offset, ByteBuffer dst) {
        reads.incrementAndGet();
        if (twinBlockSize > 0 && dst.hasRemaining()) {
            for (long b = offset / twinBlockSize; b <= (offset + dst.remaining() - 1) / twinBlockSize; b++) blocksRead.add(b);
        }
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
