package dev.cairn.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.roaringbitmap.RoaringBitmap;

class ChangeTrackerTest {

    private static final int BLOCK = 64 * 1024;

    @Test
    void marksEveryBlockAChangeTouchesAndNoOther() {
        ChangeTracker t = ChangeTracker.fresh(BLOCK, "m");
        t.mark(0, 1);                       // the first byte
        t.mark(BLOCK - 1, 2);               // straddles blocks 0 and 1
        t.mark(5L * BLOCK + 4096, 4096);    // inside block 5
        t.mark(5L * BLOCK, 4096);           // block 5 again
        t.mark(10L * BLOCK, 3L * BLOCK);    // 10, 11, 12 exactly
        t.mark(11L * BLOCK, BLOCK);         // already in
        t.mark(20L * BLOCK, 0);             // empty: nothing
        assertArrayEquals(new int[] {0, 1, 5, 10, 11, 12}, t.swap().toArray());
        assertEquals(0, t.changedBlocks(), "the set starts empty after a swap");
    }

    @Test
    void blocksPastTwoToTheThirtyOneAreUnsigned() {
        ChangeTracker t = ChangeTracker.fresh(4096, "m");
        long block = (1L << 31) + 7; // a disk past 8 TiB with 4 KiB blocks
        t.mark(block * 4096, 4096);
        t.mark((block + 1) * 4096 + 1, 4096); // straddles block + 1 and block + 2
        RoaringBitmap d = t.swap();
        assertEquals(3, d.getLongCardinality());
        assertEquals(block, Integer.toUnsignedLong(d.first()));
        assertEquals(block + 2, Integer.toUnsignedLong(d.last()));
    }

    @Test
    void randomChangesMatchASimpleModel() {
        ChangeTracker t = ChangeTracker.fresh(BLOCK, "m");
        TreeSet<Long> model = new TreeSet<>();
        Random r = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            long offset = (long) r.nextInt(6000) * 4096 + r.nextInt(4096);
            long length = r.nextInt(10) == 0 ? r.nextInt(4 * BLOCK) + 1 : r.nextInt(4096) + 1;
            t.mark(offset, length);
            for (long b = offset / BLOCK; b <= (offset + length - 1) / BLOCK; b++) model.add(b);
        }
        assertArrayEquals(model.stream().mapToInt(Long::intValue).toArray(), t.swap().toArray());
    }
}
