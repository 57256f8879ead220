package dev.cairn.volume;

import java.util.concurrent.atomic.AtomicLongArray;
import org.roaringbitmap.RoaringBitmap;

/**
 * A fixed-length set of block indexes that many threads may test and set at once without a lock
 * (one bit per block in an {@link AtomicLongArray}: 8 MiB for 64 M blocks, a 16 TiB disk in 256 KiB
 * blocks). Used where RoaringBitmap, which is not thread-safe, would need a lock on every I/O.
 */
public final class BlockBits {
    private final long length;
    private final AtomicLongArray words;

    public BlockBits(long length) {
        if (length < 0 || (length + 63) / 64 > Integer.MAX_VALUE) throw new IllegalArgumentException("bad length " + length);
        this.length = length;
        this.words = new AtomicLongArray((int) ((length + 63) / 64));
    }

    public static BlockBits of(RoaringBitmap set, long length) {
        BlockBits b = new BlockBits(length);
        set.forEach((int i) -> {
            if (Integer.toUnsignedLong(i) < length) b.set(Integer.toUnsignedLong(i));
        });
        return b;
    }

    public long length() {
        return length;
    }

    public boolean get(long i) {
        return i < length && (words.get((int) (i >>> 6)) & (1L << i)) != 0;
    }

    /** Sets bit {@code i}; true if it was clear. */
    public boolean set(long i) {
        int w = (int) (i >>> 6);
        long bit = 1L << i;
        long old;
        do {
            old = words.get(w);
            if ((old & bit) != 0) return false;
        } while (!words.compareAndSet(w, old, old | bit));
        return true;
    }

    /** A copy {@code newLength} long: bits below both lengths kept, new ones clear. */
    public BlockBits resized(long newLength) {
        BlockBits b = new BlockBits(newLength);
        int n = Math.min(words.length(), b.words.length());
        for (int w = 0; w < n; w++) b.words.set(w, words.get(w));
        if (newLength < length && newLength % 64 != 0 && n > 0) {
            b.words.set(n - 1, b.words.get(n - 1) & ((1L << (newLength % 64)) - 1));
        }
        return b;
    }

    public long cardinality() {
        long c = 0;
        for (int w = 0; w < words.length(); w++) c += Long.bitCount(words.get(w));
        return c;
    }

    /** The set bits as a bitmap (a consistent picture only if nobody sets bits meanwhile, or the caller accepts a mix). */
    public RoaringBitmap toBitmap() {
        RoaringBitmap r = new RoaringBitmap();
        for (int w = 0; w < words.length(); w++) {
            long bits = words.get(w);
            while (bits != 0) {
                int b = Long.numberOfTrailingZeros(bits);
                r.add((w << 6) + b);
                bits &= bits - 1;
            }
        }
        return r;
    }
}
