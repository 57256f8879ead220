package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OverlayVolumeTest {
    static final int BS = 64 * 1024;
    static final int SIZE = 16 * BS;
    @TempDir Path dir;

    Path own() { return dir.resolve("disk-a.raw"); }
    Path meta() { return dir.resolve("disk-a.overlay"); }

    static byte[] baseBytes() {
        byte[] b = new byte[SIZE];
        new Random(7).nextBytes(b);
        Arrays.fill(b, 3 * BS, 5 * BS, (byte) 0); // two zero blocks: holes in the base
        return b;
    }

    OverlayVolume open(byte[] base) throws IOException {
        return OverlayVolume.open(own(), meta(), new MemoryBase("m-1", base));
    }

    @Test
    void readsTheBaseUntilWrittenThenItsOwnBytes() throws IOException {
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        byte[] model = base.clone();
        try (OverlayVolume v = open(base)) {
            assertThat(read(v, 0, SIZE)).isEqualTo(model);
            write(v, model, BS + 100, 300);          // partial block: base copied in first
            write(v, model, 6 * BS, 2 * BS);         // whole blocks
            v.trim(9 * BS + 5, 10, false);            // partial trim
            Arrays.fill(model, 9 * BS + 5, 9 * BS + 15, (byte) 0);
            v.writeZeroes(10 * BS, BS, true, false);
            Arrays.fill(model, 10 * BS, 11 * BS, (byte) 0);
            assertThat(read(v, 0, SIZE)).isEqualTo(model);
            assertThat(v.ownBlocks().toArray()).containsExactly(1, 6, 7, 9, 10);
            assertThat(v.extents(3 * BS, 2 * BS)).containsExactly(new Volume.Extent(3 * BS, 2 * BS, true, true));
        }
        try (OverlayVolume v = open(base)) { // closed cleanly: presence kept
            assertThat(read(v, 0, SIZE)).isEqualTo(model);
            assertThat(v.missingBlocks()).isEqualTo(11);
        }
    }

    @Test
    void theAllocationMapOfAPresentHoleStopsWhereTheAbsentBlocksAfterItBegin() throws IOException {
        // a flatten that took the base's zero blocks 3-4 (present, a hole in the own file) and copied
        // nothing after them yet: blocks 5.. are absent and hold the base's data. The own file's map says
        // "hole up to the end of the file" from block 3; an NBD server that believed it for blocks 5..
        // answered reads of them with zeros (found by SnapshotCrashIT: nbdcopy of a disk in its flatten).
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        try (OverlayVolume v = open(base)) {
            v.prepareFlatten(); // as a flatten starts: zero blocks 3-4 taken (holes), blocks to copy allocated, unwritten (holes to SEEK_DATA)
            v.flattenBlocks(0, 5, ByteBuffer.allocate(5 * BS)); // blocks 0-2 copied
            assertThat(v.ownBlocks().toArray()).containsExactly(0, 1, 2, 3, 4);
            java.util.List<Volume.Extent> map = new java.util.ArrayList<>();
            for (long pos = 0; pos < SIZE; ) {
                java.util.List<Volume.Extent> part = v.extents(pos, SIZE - pos);
                map.addAll(part);
                pos = part.getLast().end();
            }
            for (Volume.Extent e : map) {
                for (long b = e.offset() / BS; b < (e.end() + BS - 1) / BS; b++) {
                    boolean zeroBlock = b == 3 || b == 4;
                    if (!zeroBlock) assertThat(e.zero()).as("block %d (in %s) holds data", b, e).isFalse();
                }
            }
            assertThat(map.getLast().end()).isEqualTo(SIZE);
            assertThat(read(v, 0, SIZE)).isEqualTo(base);
        }
    }

    @Test
    void aFlattenWritesWhatItReadsIntoTheBlocksTheBaseCallsTwinsAndNeverReadsThem() throws IOException {
        // a lock group (g blocks) and then some: blocks g-3 to g+2 (across the group boundary) hold the bytes
        // of 2-7, in order; g+6 those of 9 but a client writes it first; g+10 those of 27; 10-11 are zeros
        int g = OverlayVolume.LOCK_GROUP_BYTES / BS;
        int blocks = g + 16;
        byte[] base = new byte[blocks * BS];
        new Random(3).nextBytes(base);
        Arrays.fill(base, 10 * BS, 12 * BS, (byte) 0);
        System.arraycopy(base, 2 * BS, base, (g - 3) * BS, 6 * BS);
        System.arraycopy(base, 9 * BS, base, (g + 6) * BS, BS);
        System.arraycopy(base, 27 * BS, base, (g + 10) * BS, BS);
        byte[] model = base.clone();
        OverlayVolume.layer(own(), meta(), base.length, BS, "m-1");
        MemoryBase memory = new MemoryBase("m-1", base, BS);
        try (OverlayVolume v = OverlayVolume.open(own(), meta(), memory)) {
            write(v, model, (g + 6) * BS, BS);
            long copied = 0;
            for (long b = 0; b < blocks; b += 8) copied += v.flattenBlocks(b, 8, ByteBuffer.allocate(8 * BS));
            assertThat(v.missingBlocks()).isZero();
            assertThat(read(v, 0, base.length)).isEqualTo(model);
            assertThat(copied).isEqualTo((blocks - 2 - 1) * (long) BS); // every block but the zeros and the client's
            List<Long> twins = LongStream.of(-3, -2, -1, 0, 1, 2, 6, 10).map(d -> g + d).boxed().toList();
            assertThat(memory.blocksRead).doesNotContainAnyElementsOf(twins).contains(2L, 7L, 9L, 27L);
        }
        try (OverlayVolume v = OverlayVolume.open(own(), meta(), new MemoryBase("m-1", base))) { // what was saved
            assertThat(v.missingBlocks()).isZero();
            assertThat(read(v, 0, base.length)).isEqualTo(model);
        }
    }

    @Test
    void aCrashLosesOnlyUnflushedChangesAndNeverShowsHalfCopiedBlocks() throws IOException {
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        byte[] flushed = base.clone();
        OverlayVolume crashed = open(base);
        write(crashed, flushed, 2 * BS + 7, 1000);
        crashed.flush();
        byte[] later = flushed.clone();
        write(crashed, later, 8 * BS + 1, 10); // never flushed
        // "crash": the process dies without closing; a new process opens the same files
        try (OverlayVolume v = open(base)) {
            byte[] now = read(v, 0, SIZE);
            assertThat(Arrays.copyOfRange(now, 0, 8 * BS)).isEqualTo(Arrays.copyOfRange(flushed, 0, 8 * BS));
            assertThat(Arrays.copyOfRange(now, 9 * BS, SIZE)).isEqualTo(Arrays.copyOfRange(flushed, 9 * BS, SIZE));
            assertThat(v.ownBlocks().toArray()).containsExactly(2); // block 8 was not flushed: it reads as the base
        }
    }

    @Test
    void preparingAFlattenTakesTheZeroBlocksAndAllocatesOnlyTheBlocksToCopy() throws IOException {
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        byte[] model = base.clone();
        try (OverlayVolume v = open(base)) {
            write(v, model, 6 * BS, BS); // present already: its own bytes stay
            long before = SparseFileVolumeTest.allocatedBytes(own());
            v.prepareFlatten();
            long grown = SparseFileVolumeTest.allocatedBytes(own()) - before;
            assertThat(grown).as("13 blocks to copy: 16 less the two zero blocks and the written one").isEqualTo(13L * BS);
            assertThat(read(v, 0, SIZE)).isEqualTo(model);
            assertThat(v.ownBlocks().toArray()).as("the zero blocks are the disk's own: holes").containsExactly(3, 4, 6);
            assertThat(v.extents(3 * BS, 2 * BS)).containsExactly(new Volume.Extent(3 * BS, 2 * BS, true, true));
            for (long b = 0; b < v.blockCount(); b += 3) v.flattenBlocks(b, 3, ByteBuffer.allocate(3 * BS));
            assertThat(read(v, 0, SIZE)).isEqualTo(model);
            assertThat(SparseFileVolumeTest.allocatedBytes(own()) - before).as("the copies wrote into the preallocated blocks").isEqualTo(13L * BS);
        }
    }

    @Test
    void preparingAFlattenEmptiesZeroBlocksThatHoldStaleBytes() throws IOException {
        // after a crash, an absent block may hold bytes in the own file (a client's write that was never
        // flushed): it reads as the base, and the flatten must leave it reading so once it is the disk's own
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        try (SparseFileVolume file = SparseFileVolume.open(own(), false)) {
            byte[] stale = new byte[2 * BS];
            Arrays.fill(stale, (byte) 0x5A);
            file.write(3 * BS, ByteBuffer.wrap(stale), true);
        }
        try (OverlayVolume v = open(base)) {
            assertThat(read(v, 3 * BS, 2 * BS)).as("absent: the base's zeros").containsOnly(0);
            v.prepareFlatten();
            assertThat(v.ownBlocks().toArray()).containsExactly(3, 4);
            assertThat(read(v, 3 * BS, 2 * BS)).as("the disk's own now, still zeros").containsOnly(0);
            v.flush();
        }
        try (SparseFileVolume file = SparseFileVolume.open(own(), false)) {
            ByteBuffer b = ByteBuffer.allocate(2 * BS);
            file.read(3 * BS, b);
            assertThat(b.array()).as("the file's bytes themselves").containsOnly(0);
        }
    }

    @Test
    void aLayeredDiskRefusesMoreBlocksThanItsPresenceSetCanName() throws IOException {
        // 512-byte blocks: one block past the limit is a sparse 1 TiB file (a flatten's twin keys need block numbers below 2^31)
        long tooBig = (OverlayVolume.MAX_BLOCKS + 1) * 512;
        OverlayVolume.layer(own(), meta(), tooBig, 512, "m-1");
        assertThatThrownBy(() -> OverlayVolume.open(own(), meta(), new MemoryBase("m-1", new byte[512])))
                .isInstanceOf(IOException.class).hasMessageContaining("at most " + OverlayVolume.MAX_BLOCKS);
        Files.delete(own()); // (layer keeps a longer file's length)
        OverlayVolume.layer(own(), meta(), 16 * 512, 512, "m-1");
        try (OverlayVolume v = OverlayVolume.open(own(), meta(), new MemoryBase("m-1", new byte[16 * 512]))) {
            assertThatThrownBy(() -> v.resize(tooBig)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most");
            assertThat(v.size()).isEqualTo(16 * 512);
            v.resize(32 * 512); // growing within the limit still works
            assertThat(v.blockCount()).isEqualTo(32);
        }
    }

    @Test
    void flattenMakesEveryBlockItsOwnThenTheDiskOpensPlain() throws IOException {
        byte[] base = baseBytes();
        try (var vm = new VolumeManager(dir, BS, label -> new MemoryBase(label, base))) {
            vm.create("disk-b", SIZE); // an existing disk being rolled back
            try (Volume v = vm.open("disk-b")) {
                v.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}), true);
            }
            vm.layer("disk-b", SIZE, "m-1");
            assertThat(vm.baseOf("disk-b")).isEqualTo("m-1");
            byte[] model = base.clone();
            try (VolumeManager.Lease lease = vm.open("disk-b")) {
                assertThat(read(lease, 0, SIZE)).isEqualTo(model);
                write(lease, model, 4 * BS + 9, 9);
                OverlayVolume o = (OverlayVolume) lease.tracked().inner();
                long copied = 0;
                for (long b = 0; b < o.blockCount(); b += 5) copied += o.flattenBlocks(b, 5, ByteBuffer.allocate(5 * BS));
                assertThat(copied).as("all but block 4 (written) and block 3 (zeros in the base)").isEqualTo(14L * BS);
                assertThat(o.dropBaseIfComplete()).isTrue();
                assertThat(read(lease, 0, SIZE)).isEqualTo(model);
                write(lease, model, 0, 10);
            }
            assertThat(vm.baseOf("disk-b")).isNull();
            assertThat(Files.exists(dir.resolve("disk-b.overlay"))).isFalse();
            try (VolumeManager.Lease lease = vm.open("disk-b")) {
                assertThat(lease.tracked().inner()).isInstanceOf(SparseFileVolume.class);
                assertThat(read(lease, 0, SIZE)).isEqualTo(model);
            }
        }
    }

    @Test
    void racingPartialWritesToOneAbsentBlockKeepBoth() throws Exception {
        byte[] base = baseBytes();
        OverlayVolume.layer(own(), meta(), SIZE, BS, "m-1");
        try (OverlayVolume v = open(base)) {
            Thread[] threads = new Thread[8];
            for (int t = 0; t < threads.length; t++) {
                int n = t;
                threads[t] = Thread.ofVirtual().start(() -> {
                    try {
                        v.write(5 * BS + n * 512L, ByteBuffer.wrap(filled(512, (byte) (n + 1))), false);
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
            }
            for (Thread t : threads) t.join();
            byte[] block = read(v, 5 * BS, BS);
            for (int n = 0; n < 8; n++) assertThat(Arrays.copyOfRange(block, n * 512, n * 512 + 512)).isEqualTo(filled(512, (byte) (n + 1)));
            assertThat(Arrays.copyOfRange(block, 4096, BS)).isEqualTo(Arrays.copyOfRange(base, 5 * BS + 4096, 6 * BS));
        }
    }

    static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }

    static void write(Volume v, byte[] model, long offset, int length) throws IOException {
        byte[] data = new byte[length];
        new Random(offset).nextBytes(data);
        v.write(offset, ByteBuffer.wrap(data), false);
        System.arraycopy(data, 0, model, (int) offset, length);
    }

    static byte[] read(Volume v, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        v.read(offset, b);
        return b.array();
    }
}
