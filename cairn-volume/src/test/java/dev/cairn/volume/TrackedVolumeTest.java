package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.roaringbitmap.RoaringBitmap;

class TrackedVolumeTest {
    static final int BS = 64 * 1024;
    static final int SIZE = 64 * BS;
    @TempDir Path dir;

    @org.junit.jupiter.api.RepeatedTest(5)
    void theCaptureIsTheDiskAtTheBarrierWhileWritersKeepWriting() throws Exception {
        try (var vm = new VolumeManager(dir, BS, BaseImage.Resolver.NONE)) {
            vm.create("disk-a", SIZE);
            try (VolumeManager.Lease disk = vm.open("disk-a")) {
                capturesTheBarrierWhileWritersWrite(disk.tracked());
            }
        }
    }

    /** Saved pages kept in memory, in the spill file, or some in each once the budget runs out: the capture is the same. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(longs = {0, 40 * 4096, 1L << 30})
    void savedPagesMayLiveInMemoryOrInTheSpillFile(long memoryBudget) throws Exception {
        var budget = new SavedPages.Budget(memoryBudget);
        Path file = dir.resolve("disk-b");
        SparseFileVolume.create(file, SIZE).close();
        try (var tv = new TrackedVolume("disk-b", SparseFileVolume.open(file, false), ChangeTracker.fresh(BS, null),
                dir.resolve("disk-b.cow"), budget)) {
            boolean spilled = capturesTheBarrierWhileWritersWrite(tv);
            assertThat(spilled).as("spill file used").isEqualTo(memoryBudget < 1L << 30);
            assertThat(budget.used()).as("memory given back").isZero();

            TrackedVolume.Capture failing = tv.beginCapture(tv.blocksForFullCapture());
            tv.write(5 * BS, ByteBuffer.allocate(3 * 4096), false);
            assertThat(budget.used()).isEqualTo(Math.min(memoryBudget, 3 * 4096) == 3 * 4096 ? 3 * 4096 : 0);
            failing.finish(null);
            assertThat(budget.used()).as("a failed capture gives its memory back").isZero();
        }
    }

    /** Returns whether the capture put old pages in its spill file. */
    private static boolean capturesTheBarrierWhileWritersWrite(TrackedVolume disk) throws Exception {
        byte[] initial = new byte[SIZE];
        new Random(1).nextBytes(initial);
        Arrays.fill(initial, 10 * BS, 20 * BS, (byte) 0);
        disk.write(0, ByteBuffer.wrap(initial), false);
        disk.trim(10 * BS, 10 * BS, false);
        TrackedVolume tv = disk;
        RoaringBitmap full = tv.blocksForFullCapture();
        assertThat(full.getCardinality()).isEqualTo(54);

        TrackedVolume.Capture c = tv.beginCapture(full);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            writers.add(Thread.ofPlatform().start(() -> {
                Random r = new Random(seed);
                byte[] junk = new byte[4096 * 3];
                try {
                    while (!stop.get()) {
                        r.nextBytes(junk);
                        long off = (long) r.nextInt(SIZE / 4096 - 3) * 4096;
                        switch (r.nextInt(3)) { // unaligned writes too: copy-before-write works by the page
                            case 0 -> disk.write(off + r.nextInt(4096), ByteBuffer.wrap(junk, 0, 1 + r.nextInt(junk.length - 4096)), false);
                            case 1 -> disk.trim(off, 8192, false);
                            default -> disk.writeZeroes(off, 4096, false, false);
                        }
                        writes.incrementAndGet();
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        // runs of 1–5 consecutive blocks (as a capture reads them), in random order
        List<int[]> runs = new ArrayList<>();
        Random sizes = new Random(4);
        int[] all = c.blocks().toArray();
        for (int i = 0; i < all.length; ) {
            int n = 1;
            int want = 1 + sizes.nextInt(5);
            while (n < want && i + n < all.length && all[i + n] == all[i] + n) n++;
            runs.add(new int[] {all[i], n});
            i += n;
        }
        Collections.shuffle(runs, new Random(3));
        for (int[] run : runs) {
            int b = run[0];
            ByteBuffer buf = ByteBuffer.allocate(run[1] * BS);
            c.read(b, run[1], buf);
            assertThat(buf.array()).as("blocks %d+%d", b, run[1]).isEqualTo(Arrays.copyOfRange(initial, b * BS, (b + run[1]) * BS));
            Thread.sleep(1);
        }
        assertThat(runs).as("some runs of several blocks").anyMatch(r -> r[1] > 1);
        stop.set(true);
        for (Thread w : writers) w.join();
        assertThat(writes.get()).isGreaterThan(100);
        assertThat(TrackedVolume.changedWithin(60_000_000_000L)).as("the process knows its disks are being written").isTrue();
        boolean spilled = c.bytesSpilled() > 0;
        c.finish("m-1");
        assertThat(tv.capture()).isNull();
        assertThat(tv.tracker().trusted()).isTrue();
        assertThat(tv.tracker().label()).isEqualTo("m-1");
        assertThat(tv.tracker().changedBlocks()).isGreaterThan(0);
        return spilled;
    }

    @Test
    void aFailedCaptureGivesItsBlocksBackAndOnlyOneCaptureRunsAtATime() throws IOException {
        try (var vm = new VolumeManager(dir, BS, BaseImage.Resolver.NONE)) {
            vm.create("disk-a", SIZE);
            try (VolumeManager.Lease disk = vm.open("disk-a")) {
                TrackedVolume tv = disk.tracked();
                disk.write(3 * BS, ByteBuffer.allocate(10), false);
                assertThat(tv.tracker().trusted()).isFalse();
                TrackedVolume.Capture c = tv.beginCapture(null);
                assertThat(c.blocks().toArray()).containsExactly(3);
                assertThat(c.relativeTo()).isNull();
                assertThatThrownBy(() -> tv.beginCapture(null)).isInstanceOf(IllegalStateException.class);
                disk.write(7 * BS, ByteBuffer.allocate(10), false);
                c.finish(null);
                assertThat(tv.tracker().trusted()).isFalse();
                TrackedVolume.Capture again = tv.beginCapture(null);
                assertThat(again.blocks().toArray()).containsExactly(3, 7);
                again.finish("m-2");
            }
        }
    }

    @Test
    void aGroupBarrierFreezesSeveralDisksAtOnce() throws IOException {
        try (var vm = new VolumeManager(dir, BS, BaseImage.Resolver.NONE)) {
            vm.create("disk-a", SIZE);
            vm.create("disk-b", SIZE);
            try (VolumeManager.Lease a = vm.open("disk-a"); VolumeManager.Lease b = vm.open("disk-b")) {
                a.write(0, ByteBuffer.wrap(new byte[] {1}), false);
                b.write(BS, ByteBuffer.wrap(new byte[] {2}), false);
                var captures = TrackedVolume.beginCaptures(List.of(b.tracked(), a.tracked()), Arrays.asList(null, null));
                a.write(0, ByteBuffer.wrap(new byte[] {9}), false);
                b.write(BS, ByteBuffer.wrap(new byte[] {9}), false);
                ByteBuffer got = ByteBuffer.allocate(BS);
                captures.get(1).read(0, got);
                assertThat(got.get(0)).isEqualTo((byte) 1);
                got.clear();
                captures.get(0).read(1, got);
                assertThat(got.get(0)).isEqualTo((byte) 2);
                captures.forEach(c -> c.finish("g"));
            }
        }
    }

    @Test
    void theTrackingSetSurvivesACleanCloseButNotACrash() throws IOException {
        try (var vm = new VolumeManager(dir, BS, BaseImage.Resolver.NONE)) {
            vm.create("disk-a", SIZE);
            try (VolumeManager.Lease disk = vm.open("disk-a")) {
                disk.tracked().beginCapture(disk.tracked().blocksForFullCapture()).finish("m-1");
                disk.write(5 * BS, ByteBuffer.allocate(1), false);
            }
            assertThat(Files.exists(dir.resolve("disk-a.cbt"))).isTrue();
            VolumeManager.Lease disk = vm.open("disk-a");
            assertThat(Files.exists(dir.resolve("disk-a.cbt"))).as("removed while open").isFalse();
            assertThat(disk.tracked().tracker().trusted()).isTrue();
            assertThat(disk.tracked().tracker().label()).isEqualTo("m-1");
            TrackedVolume.Capture c = disk.tracked().beginCapture(null);
            assertThat(c.blocks().toArray()).containsExactly(5);
            c.finish(null);
            // "crash": never closed; another manager (process) opens the disk
            try (var other = new VolumeManager(dir, BS, BaseImage.Resolver.NONE); VolumeManager.Lease again = other.open("disk-a")) {
                assertThat(again.tracked().tracker().trusted()).isFalse();
            }
        }
    }

    @Test
    void aDamagedTrackingFileIsDistrusted() throws IOException {
        Path f = dir.resolve("x.cbt");
        RoaringBitmap set = RoaringBitmap.bitmapOf(1, 2, 3);
        ChangeTracker.write(f, BS, "m-9", set);
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length / 2] ^= 1;
        Files.write(f, bytes);
        assertThat(ChangeTracker.load(f, BS).trusted()).isFalse();
        ChangeTracker.write(f, BS, "m-9", set);
        assertThat(ChangeTracker.load(f, BS * 2).trusted()).as("other block size").isFalse();
        ChangeTracker.write(f, BS, "m-9", set);
        ChangeTracker t = ChangeTracker.load(f, BS);
        assertThat(t.trusted()).isTrue();
        assertThat(t.changedBlocks()).isEqualTo(3);
        assertThat(Files.exists(f)).isFalse();
    }
    /**
     * A write the device holds (dirty-page throttling can hold one for a second) does not hold the
     * barrier: the capture starts at once, and what needs the write's bytes — the capture's read of its
     * block, a later change that must first save the block's old pages — waits for it to land instead.
     */
    @Test
    void theBarrierDoesNotWaitForAWriteTheDeviceHolds() throws Exception {
        Path file = dir.resolve("disk-h");
        SparseFileVolume.create(file, SIZE).close();
        HeldWrites inner = new HeldWrites(SparseFileVolume.open(file, false));
        byte[] before = filled(1), held = filled(2), after = filled(3);
        var pool = java.util.concurrent.Executors.newCachedThreadPool();
        try (var tv = new TrackedVolume("disk-h", inner, ChangeTracker.fresh(BS, null), dir.resolve("disk-h.cow"))) {
            tv.write(3L * BS, ByteBuffer.wrap(before), false);
            inner.hold = true;
            var heldWrite = pool.submit(() -> write(tv, 3L * BS, held));
            assertThat(inner.entered.await(10, TimeUnit.SECONDS)).as("the write reached the device").isTrue();
            inner.hold = false;

            TrackedVolume.Capture c = pool.submit(() -> tv.beginCapture(null)).get(10, TimeUnit.SECONDS); // it waited for the write before
            assertThat(c.blocks().toArray()).containsExactly(3);
            ByteBuffer got = ByteBuffer.allocate(BS);
            var read = pool.submit(() -> { c.read(3, got); return null; });
            var later = pool.submit(() -> write(tv, 3L * BS, after));
            Thread.sleep(200);
            assertThat(read.isDone()).as("the capture's read waits for the held write").isFalse();
            assertThat(later.isDone()).as("a change after the barrier waits before saving old pages").isFalse();

            inner.release.countDown();
            heldWrite.get(10, TimeUnit.SECONDS);
            read.get(10, TimeUnit.SECONDS);
            later.get(10, TimeUnit.SECONDS);
            assertThat(got.array()).as("the snapshot has the write in flight at the barrier, not the later one").isEqualTo(held);
            c.finish("m-1");
            ByteBuffer now = ByteBuffer.allocate(BS);
            tv.read(3L * BS, now);
            assertThat(now.array()).isEqualTo(after);
            assertThat(tv.tracker().changedBlocks()).as("the later change counts for the next snapshot").isEqualTo(1);
        } finally {
            inner.release.countDown();
            pool.shutdownNow();
        }
    }

    private static byte[] filled(int seed) {
        byte[] b = new byte[BS];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * Whole-page writes inside one block a capture has not read yet are held in memory: the capture
     * still reads the block as it was at the barrier, and the writes reach the file when the capture
     * reads their block, or earlier when a read, extents, a change over them, a flush or the capture's
     * end needs them there.
     */
    @Test
    void writesHeldDuringACaptureAreSeenAtOnceAndLandInTheFile() throws IOException {
        var budget = new SavedPages.Budget(1L << 30);
        Path file = dir.resolve("disk-w");
        SparseFileVolume.create(file, SIZE).close();
        try (var tv = new TrackedVolume("disk-w", SparseFileVolume.open(file, false), ChangeTracker.fresh(BS, null),
                dir.resolve("disk-w.cow"), budget)) {
            for (int b = 3; b <= 7; b++) tv.write((long) b * BS, filled('a', BS), false);
            RoaringBitmap d = new RoaringBitmap();
            d.add(3L, 9L); // block 8 is a hole in D (as after a trim)
            TrackedVolume.Capture c = tv.beginCapture(d);
            Volume file0 = tv.inner();

            tv.write(3 * BS + 4096, filled('b', 8192), false); // taken in by the capture's read
            tv.write(4 * BS, filled('b', 4096), false); // read back
            tv.write(5 * BS, filled('b', 8192), false); // then changed the usual way over it
            tv.write(6 * BS + 8192, filled('b', 4096), false); // flushed
            tv.write(8 * BS, filled('b', 4096), false); // over a hole
            assertThat(budget.used()).as("held in memory").isEqualTo(7 * 4096);
            assertThat(read(file0, 3 * BS + 4096, 8192)).as("not in the file yet").isEqualTo(bytes('a', 8192));
            assertThat(c.holdsWrites()).isTrue();

            ByteBuffer block = ByteBuffer.allocate(BS);
            c.read(3, block);
            assertThat(block.array()).as("the capture: the block at the barrier").isEqualTo(bytes('a', BS));
            assertThat(read(file0, 3 * BS + 4096, 8192)).as("landed when the capture read its block").isEqualTo(bytes('b', 8192));

            assertThat(read(tv, 4 * BS, 4096)).as("a read sees a held write").isEqualTo(bytes('b', 4096));
            assertThat(read(file0, 4 * BS, 4096)).isEqualTo(bytes('b', 4096));

            tv.write(5 * BS + 100, filled('c', 10), false); // not whole pages: the usual way
            byte[] page = bytes('b', 4096);
            Arrays.fill(page, 100, 110, (byte) 'c');
            assertThat(read(tv, 5 * BS, 4096)).as("the later write lands over the held one").isEqualTo(page);

            assertThat(file0.extents(8 * BS, BS).getFirst().hole()).as("the file has a hole there").isTrue();
            assertThat(tv.extents(8 * BS, BS).getFirst().hole()).as("a held write over a hole is data").isFalse();

            tv.flush();
            assertThat(read(file0, 6 * BS + 8192, 4096)).as("a flush passes held writes on").isEqualTo(bytes('b', 4096));
            assertThat(c.holdsWrites()).isFalse();

            for (int b = 4; b <= 8; b++) {
                c.read(b, block.clear());
                assertThat(block.array()).as("block %d at the barrier", b).isEqualTo(b == 8 ? new byte[BS] : bytes('a', BS));
            }
            c.finish("m-1");
            assertThat(budget.used()).as("memory given back").isZero();

            TrackedVolume.Capture failing = tv.beginCapture(d);
            tv.write(7 * BS, filled('d', 4096), false);
            assertThat(read(file0, 7 * BS, 4096)).isEqualTo(bytes('a', 4096));
            failing.finish(null);
            assertThat(read(file0, 7 * BS, 4096)).as("a failed capture's end passes held writes on").isEqualTo(bytes('d', 4096));
            assertThat(budget.used()).isZero();
        }
    }

    /** With no memory to hold a write in (the budget full, or the kernel refusing memory), it goes on to the file at once, its old pages saved. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aWriteIsNotHeldWhenMemoryIsFull(boolean kernelRefuses) throws IOException {
        var budget = kernelRefuses ? new SavedPages.Budget(1L << 30, bytes -> {
            throw new OutOfMemoryError("mmap refused (test)");
        }) : new SavedPages.Budget(0);
        Path file = dir.resolve("disk-m");
        SparseFileVolume.create(file, SIZE).close();
        try (var tv = new TrackedVolume("disk-m", SparseFileVolume.open(file, false), ChangeTracker.fresh(BS, null),
                dir.resolve("disk-m.cow"), budget)) {
            tv.write(2 * BS, filled('a', BS), false);
            TrackedVolume.Capture c = tv.beginCapture(tv.blocksForFullCapture());
            tv.write(2 * BS, filled('b', 4096), false);
            assertThat(c.holdsWrites()).isFalse();
            assertThat(read(tv.inner(), 2 * BS, 4096)).isEqualTo(bytes('b', 4096));
            ByteBuffer block = ByteBuffer.allocate(BS);
            c.read(2, block);
            assertThat(block.array()).isEqualTo(bytes('a', BS));
            assertThat(c.bytesSpilled()).isEqualTo(4096);
            c.finish("m-1");
            assertThat(budget.used()).isZero();
        }
    }

    /** A held write that cannot reach the file when the capture ends is reported by the next flush, once. */
    @Test
    void aHeldWriteThatCannotLandIsReportedByTheNextFlush() throws IOException {
        Path file = dir.resolve("disk-f");
        SparseFileVolume.create(file, SIZE).close();
        var device = new ForwardingVolume(SparseFileVolume.open(file, false)) {
            volatile boolean full;

            @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
                if (full) throw new VolumeFullException("disk-f: no space left", null);
                inner.write(offset, src, fua);
            }
        };
        try (var tv = new TrackedVolume("disk-f", device, ChangeTracker.fresh(BS, null), dir.resolve("disk-f.cow"),
                new SavedPages.Budget(1L << 30))) {
            tv.write(0, filled('a', BS), false);
            TrackedVolume.Capture c = tv.beginCapture(tv.blocksForFullCapture());
            tv.write(0, filled('b', 4096), false); // held: acknowledged
            device.full = true;
            c.finish(null);
            device.full = false;
            assertThatThrownBy(tv::flush).isInstanceOf(VolumeFullException.class);
            tv.flush(); // reported once
        }
    }

    private static ByteBuffer filled(char c, int n) {
        return ByteBuffer.wrap(bytes(c, n));
    }

    private static byte[] bytes(char c, int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) c);
        return b;
    }

    private static byte[] read(Volume v, long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        v.read(offset, b);
        return b.array();
    }

    private static Void write(Volume v, long offset, byte[] bytes) throws IOException {
        v.write(offset, ByteBuffer.wrap(bytes), false);
        return null;
    }

    /** A volume whose writes, while {@code hold} is set, wait in the "device" until released. */
    private static final class HeldWrites extends ForwardingVolume {
        volatile boolean hold;
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        HeldWrites(Volume inner) {
            super(inner);
        }

        @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            if (hold) {
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
            inner.write(offset, src, fua);
        }
    }
}
