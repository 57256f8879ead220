package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.local.LocalBackend;
import dev.cairn.volume.BaseImage;
import dev.cairn.volume.OverlayVolume;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Flatten with its two workers over a real overlay file: the disk ends as the base (plus its own writes), progress only grows, a stop resumes. */
class FlattenTest {
    static final int BS = 64 * 1024;
    static final int SIZE = 640 * BS; // 10 stripes of 64 blocks
    @TempDir Path dir;

    /**
     * A base held in memory; every 5th block is zeros (a hole in a snapshot), and every 7th from the
     * 3rd on holds the bytes of a block before it (a flatten writes them as that block's twins).
     */
    static byte[] baseBytes() {
        byte[] b = new byte[SIZE];
        new Random(5).nextBytes(b);
        for (int blk = 0; blk < SIZE / BS; blk += 5) Arrays.fill(b, blk * BS, (blk + 1) * BS, (byte) 0);
        for (int blk = 3; blk < SIZE / BS; blk += 7) System.arraycopy(b, blk / 2 * BS, b, blk * BS, BS);
        return b;
    }

    /** The base's blocks grouped by content, zeros aside: what a snapshot's base reports as twins. */
    static Map<Long, long[]> twinsOf(byte[] bytes) {
        Map<ByteBuffer, List<Long>> byContent = new HashMap<>();
        for (long blk = 0; blk < bytes.length / BS; blk++) {
            ByteBuffer content = ByteBuffer.wrap(bytes, (int) blk * BS, BS).slice();
            if (content.equals(ByteBuffer.allocate(BS))) continue;
            byContent.computeIfAbsent(content, k -> new ArrayList<>()).add(blk);
        }
        Map<Long, long[]> twins = new HashMap<>();
        for (List<Long> same : byContent.values()) {
            for (long blk : same) twins.put(blk, same.stream().mapToLong(Long::longValue).filter(x -> x != blk).toArray());
        }
        return twins;
    }

    static BaseImage memoryBase(byte[] bytes) {
        Map<Long, long[]> twins = twinsOf(bytes);
        assertThat(twins.values()).anyMatch(t -> t.length > 0);
        return new BaseImage() {
            @Override public long[] twins(long block) { return twins.getOrDefault(block, NO_TWINS); }
            @Override public String label() { return "m-1"; }
            @Override public long size() { return bytes.length; }
            @Override public void read(long offset, ByteBuffer dst) {
                int n = dst.remaining();
                dst.put(bytes, (int) offset, n);
            }
            @Override public boolean isZero(long offset, long length) {
                for (long i = offset; i < offset + length; i++) if (bytes[(int) i] != 0) return false;
                return true;
            }
            @Override public void close() { }
        };
    }

    OverlayVolume layered(byte[] base) throws IOException {
        Path own = dir.resolve("disk.raw"), meta = dir.resolve("disk.overlay");
        if (!own.toFile().exists()) {
            dev.cairn.volume.SparseFileVolume.create(own, SIZE).close();
            OverlayVolume.layer(own, meta, SIZE, BS, "m-1");
        }
        return OverlayVolume.open(own, meta, memoryBase(base));
    }

    @RepeatedTest(5)
    void theDiskEndsAsItsBasePlusItsOwnWritesAndProgressOnlyGrows() throws IOException {
        byte[] base = baseBytes();
        byte[] expected = base.clone();
        try (OverlayVolume v = layered(base)) {
            byte[] mine = new byte[3 * BS + 100];
            new Random(9).nextBytes(mine);
            v.write(7 * BS + 50, ByteBuffer.wrap(mine), false); // the disk's own, across blocks
            System.arraycopy(mine, 0, expected, 7 * BS + 50, mine.length);
            List<Long> seen = new ArrayList<>();
            new Flatten(v, 0, () -> false).run((present, total) -> {
                synchronized (seen) {
                    seen.add(present);
                }
                assertThat(total).isEqualTo(SIZE / BS);
            });
            assertThat(seen).isSorted().last().isEqualTo((long) SIZE / BS);
            assertThat(v.missingBlocks()).isZero();
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            v.read(0, all);
            assertThat(all.array()).isEqualTo(expected);
        }
    }

    @RepeatedTest(5)
    void clientWritesDuringTheFlattenAreNeverOverwrittenByTheBase() throws Exception {
        byte[] base = baseBytes();
        byte[] expected = base.clone();
        try (OverlayVolume v = layered(base)) {
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread writer = Thread.ofPlatform().start(() -> { // partial and whole-block writes all over the disk, in order
                Random r = new Random(17);
                try {
                    while (!done.get()) {
                        int len = 1 + r.nextInt(2 * BS);
                        int off = r.nextInt(SIZE - len);
                        byte[] data = new byte[len];
                        r.nextBytes(data);
                        v.write(off, ByteBuffer.wrap(data), false);
                        System.arraycopy(data, 0, expected, off, len);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            try {
                new Flatten(v, 0, () -> false).run((p, t) -> { });
            } finally {
                done.set(true);
                writer.join();
            }
            assertThat(v.missingBlocks()).isZero();
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            v.read(0, all);
            assertThat(all.array()).isEqualTo(expected);
        }
    }

    @Test
    void aRateLimitedFlattenTakesItsBytesOverTheRateAndReportsProgressOnTheWay() throws IOException {
        byte[] base = baseBytes();
        long rate = 16L << 20;
        List<Long> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (OverlayVolume v = layered(base)) {
            long t0 = System.nanoTime();
            Flatten.Result r = new Flatten(v, rate, () -> false).run((present, total) -> seen.add(present));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(r.copiedBytes()).isGreaterThan(16L << 20);
            // the last step to finish waits until every byte copied is due at the rate
            assertThat(seconds).as("%d bytes at %d B/s", r.copiedBytes(), rate).isGreaterThanOrEqualTo(r.copiedBytes() / (double) rate - 0.05);
            assertThat(seen).as("progress between none and all: %s", seen).anyMatch(p -> p > 0 && p < SIZE / BS);
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            v.read(0, all);
            assertThat(all.array()).isEqualTo(base);
        }
    }

    @Test
    void aStoppedFlattenKeepsItsProgressAndTheNextRunFinishes() throws IOException {
        byte[] base = baseBytes();
        AtomicInteger polls = new AtomicInteger();
        try (OverlayVolume v = layered(base)) {
            assertThatThrownBy(() -> new Flatten(v, 0, () -> polls.incrementAndGet() > 4).run((p, t) -> { }))
                    .isInstanceOf(InterruptedIOException.class);
            long left = v.missingBlocks();
            assertThat(left).isPositive().isLessThan(SIZE / BS);
        }
        try (OverlayVolume v = layered(base)) { // reopened, as after a restart
            new Flatten(v, 0, () -> false).run((p, t) -> { });
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            v.read(0, all);
            assertThat(all.array()).isEqualTo(base);
        }
    }
    @Test
    void aSnapshotsRepeatedBlocksAreFetchedOnceAndWrittenEverywhere() throws IOException {
        byte[] bytes = baseBytes();
        Map<Long, long[]> twins = twinsOf(bytes);
        long nonZero = twins.size() * (long) BS;
        long distinct = twins.entrySet().stream().filter(e -> Arrays.stream(e.getValue()).allMatch(t -> t > e.getKey())).count() * BS; // first of each content
        try (LocalBackend backend = LocalBackend.open(dir.resolve("repo"))) {
            Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BS));
            ManifestId id = Manifests.commit(repo, bytes, BS);
            try (BaseCache cache = new BaseCache(dir.resolve("cache"), repo)) {
                Path own = dir.resolve("disk.raw"), meta = dir.resolve("disk.overlay");
                dev.cairn.volume.SparseFileVolume.create(own, SIZE).close();
                OverlayVolume.layer(own, meta, SIZE, BS, id.toString());
                try (OverlayVolume v = OverlayVolume.open(own, meta, cache.open(id))) {
                    Flatten.Result result = new Flatten(v, 0, () -> false).run((p, t) -> { });
                    ByteBuffer all = ByteBuffer.allocate(SIZE);
                    v.read(0, all);
                    assertThat(all.array()).isEqualTo(bytes);
                    assertThat(result.copiedBytes()).isEqualTo(nonZero);
                    // a worker fetches a repeat only if it reaches it before its twin was copied (stripes run in parallel)
                    assertThat(cache.fetchedBytes()).isBetween(distinct, nonZero - BS);
                }
            }
        }
    }
}
