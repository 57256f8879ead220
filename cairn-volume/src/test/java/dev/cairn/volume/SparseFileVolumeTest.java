package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SparseFileVolumeTest {
    private static final int MiB = 1 << 20;

    @TempDir Path dir;

    @Test
    void newVolumeIsOneHoleThatReadsAsZeros() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-a.raw"), 64L * MiB)) {
            assertThat(v.size()).isEqualTo(64L * MiB);
            assertThat(v.extents(0, v.size())).containsExactly(new Volume.Extent(0, 64L * MiB, true, true));
            ByteBuffer buf = ByteBuffer.allocate(4096);
            buf.put(0, (byte) 7);
            v.read(MiB, buf);
            assertThat(buf.array()).containsOnly(0);
            assertThat(Files.size(v.path())).isEqualTo(64L * MiB);
            assertThat(allocatedBytes(v.path())).isZero();
        }
    }

    @Test
    void writesPersistAcrossReopenAndShowAsData() throws IOException {
        Path file = dir.resolve("disk-b.raw");
        byte[] data = random(256 * 1024);
        try (var v = SparseFileVolume.create(file, 16L * MiB)) {
            v.write(4L * MiB, ByteBuffer.wrap(data), false);
            v.flush();
        }
        try (var v = SparseFileVolume.open(file, false)) {
            assertThat(read(v, 4L * MiB, data.length)).isEqualTo(data);
            List<Volume.Extent> map = v.extents(0, v.size());
            assertThat(map).containsExactly(
                    new Volume.Extent(0, 4L * MiB, true, true),
                    new Volume.Extent(4L * MiB, data.length, false, false),
                    new Volume.Extent(4L * MiB + data.length, 12L * MiB - data.length, true, true));
        }
    }

    @Test
    void trimPunchesAHoleAndFreesSpace() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-c.raw"), 8L * MiB)) {
            v.write(0, ByteBuffer.wrap(random(4 * MiB)), true);
            long before = allocatedBytes(v.path());
            v.trim(MiB, 2L * MiB, false);
            v.flush();
            assertThat(allocatedBytes(v.path())).isLessThanOrEqualTo(before - 2L * MiB);
            assertThat(read(v, MiB, 2 * MiB)).containsOnly(0);
            assertThat(v.extents(MiB, 2L * MiB).getFirst()).isEqualTo(new Volume.Extent(MiB, 2L * MiB, true, true));
        }
    }

    @Test
    void zeroesWithoutHoleKeepSpaceAllocated() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-d.raw"), 8L * MiB)) {
            v.write(0, ByteBuffer.wrap(random(2 * MiB)), false);
            v.writeZeroes(0, 2L * MiB, false, true);
            assertThat(read(v, 0, 2 * MiB)).containsOnly(0);
            assertThat(allocatedBytes(v.path())).isGreaterThanOrEqualTo(2L * MiB);
            v.writeZeroes(0, 2L * MiB, true, false);
            assertThat(read(v, 0, 2 * MiB)).containsOnly(0);
            assertThat(v.fastZero(true)).isTrue();
        }
    }

    @Test
    void rangesOutsideTheVolumeAreRefused() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-e.raw"), MiB)) {
            assertThatThrownBy(() -> v.write(MiB - 512, ByteBuffer.allocate(1024), false))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> v.read(-1, ByteBuffer.allocate(1))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> v.trim(Long.MAX_VALUE, 10, false)).isInstanceOf(IllegalArgumentException.class);
            assertThat(v.extents(MiB, 0)).isEmpty();
        }
    }

    @Test
    void resizeGrowsAndNewSpaceReadsAsZeros() throws IOException {
        Path file = dir.resolve("disk-f.raw");
        try (var v = SparseFileVolume.create(file, MiB)) {
            v.write(0, ByteBuffer.wrap(random(MiB)), false);
            v.resize(4L * MiB);
            assertThat(v.size()).isEqualTo(4L * MiB);
            assertThat(read(v, MiB, 3 * MiB)).containsOnly(0);
            v.write(3L * MiB, ByteBuffer.wrap(new byte[] {1, 2, 3}), true);
            assertThatThrownBy(() -> v.resize(MiB)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(Files.size(file)).isEqualTo(4L * MiB);
    }

    @Test
    void readOnlyVolumeRefusesWrites() throws IOException {
        Path file = dir.resolve("disk-g.raw");
        SparseFileVolume.create(file, MiB).close();
        try (var v = SparseFileVolume.open(file, true)) {
            assertThat(v.readOnly()).isTrue();
            assertThatThrownBy(() -> v.write(0, ByteBuffer.allocate(512), false)).isInstanceOf(ReadOnlyVolumeException.class);
            assertThatThrownBy(() -> v.trim(0, 512, false)).isInstanceOf(ReadOnlyVolumeException.class);
            assertThat(read(v, 0, 512)).containsOnly(0);
        }
    }

    @Test
    void createRefusesExistingFileAndBadSizes() throws IOException {
        Path file = dir.resolve("disk-h.raw");
        SparseFileVolume.create(file, MiB).close();
        assertThatThrownBy(() -> SparseFileVolume.create(file, MiB)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> SparseFileVolume.create(dir.resolve("x.raw"), 1000)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void concurrentWritersToDisjointRangesAllLand() throws Exception {
        try (var v = SparseFileVolume.create(dir.resolve("disk-i.raw"), 16L * MiB)) {
            byte[][] blocks = new byte[64][];
            try (var exec = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < blocks.length; i++) {
                    int n = i;
                    blocks[n] = random(64 * 1024);
                    exec.submit(() -> { v.write(n * 256L * 1024, ByteBuffer.wrap(blocks[n]), false); return null; });
                }
            }
            v.flush();
            for (int i = 0; i < blocks.length; i++) {
                assertThat(read(v, i * 256L * 1024, blocks[i].length)).isEqualTo(blocks[i]);
            }
        }
    }

    @Test
    void bulkReadsReturnWhatReadsDoIncludingPagesOnlyInTheCache() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-b.raw"), 8L * MiB)) {
            byte[] data = random(2 * MiB);
            v.writeBulk(MiB, ByteBuffer.wrap(data)); // around the page cache: a bulk read of it goes to the device
            byte[] patch = random(4096 + 100);
            v.write(MiB + 300_000, ByteBuffer.wrap(patch), false); // dirty in the page cache, not yet on the device
            System.arraycopy(patch, 0, data, 300_000, patch.length);
            v.flush();
            byte[] recent = random(512);
            v.write(MiB + 1_000_000, ByteBuffer.wrap(recent), false); // dirty again after the flush
            System.arraycopy(recent, 0, data, 1_000_000, recent.length);

            ByteBuffer aligned = ByteBuffer.allocateDirect(2 * MiB + 4096).alignedSlice(4096).limit(2 * MiB).slice();
            v.readBulk(MiB, aligned); // O_DIRECT where the file system has it: the kernel writes the dirty pages first
            assertThat(aligned.position()).isEqualTo(2 * MiB);
            assertThat(bytes(aligned.flip())).isEqualTo(data);

            ByteBuffer heap = ByteBuffer.allocate(MiB); // not direct: a plain read
            v.readBulk(MiB + MiB / 2, heap);
            assertThat(heap.array()).isEqualTo(Arrays.copyOfRange(data, MiB / 2, MiB / 2 + MiB));
            ByteBuffer odd = ByteBuffer.allocateDirect(10_000); // not a whole number of pages: a plain read
            v.readBulk(MiB + 123, odd);
            assertThat(bytes(odd.flip())).isEqualTo(Arrays.copyOfRange(data, 123, 10_123));
            ByteBuffer hole = ByteBuffer.allocateDirect(MiB + 4096).alignedSlice(4096).limit(MiB).slice();
            v.readBulk(4 * MiB, hole);
            assertThat(bytes(hole.flip())).containsOnly(0);
            assertThatThrownBy(() -> v.readBulk(8L * MiB - 4096, ByteBuffer.allocateDirect(3 * 4096).alignedSlice(4096).limit(8192)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void transferSendsCachedDataWithoutACopyAndDeclinesWhatIsNotInMemory() throws IOException {
        try (var v = SparseFileVolume.create(dir.resolve("disk-t.raw"), 8L * MiB)) {
            byte[] data = random(3 * MiB + 4096);
            v.write(MiB, ByteBuffer.wrap(data), false); // in the page cache now (dirty)
            Volume.Transfer t = v.transfer(MiB + 100, data.length - 200);
            org.junit.jupiter.api.Assumptions.assumeTrue(t != null, "kernel without cachestat(2): transfers are always declined");
            Path out = dir.resolve("out");
            try (var ch = java.nio.channels.FileChannel.open(out, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE)) {
                t.writeTo(ch);
                t.writeTo(ch); // a transfer can be run again: it holds no state
            }
            byte[] expected = Arrays.copyOfRange(data, 100, data.length - 100);
            byte[] sent = Files.readAllBytes(out);
            assertThat(sent).hasSize(2 * expected.length);
            assertThat(Arrays.copyOfRange(sent, 0, expected.length)).isEqualTo(expected);
            assertThat(Arrays.copyOfRange(sent, expected.length, sent.length)).isEqualTo(expected);

            assertThat(v.transfer(6L * MiB, MiB)).as("a hole has no pages in memory").isNull();
            assertThat(v.transfer(0, 2L * MiB)).as("partly a hole").isNull();
            assertThat(v.transfer(MiB, 0)).isNull();
            assertThatThrownBy(() -> v.transfer(7L * MiB, 2L * MiB)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    static byte[] read(Volume v, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        v.read(offset, b);
        return b.array();
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        ThreadLocalRandom.current().nextBytes(b);
        if (Arrays.equals(b, new byte[n])) b[0] = 1;
        return b;
    }

    /** st_blocks × 512, what the file really occupies (from stat(1): the JDK has no attribute for it). */
    static long allocatedBytes(Path file) throws IOException {
        Process p = new ProcessBuilder("stat", "--format=%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        try {
            if (p.waitFor() != 0) throw new IOException("stat failed: " + out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return Long.parseLong(out) * 512;
    }
}
