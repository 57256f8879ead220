package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.local.LocalBackend;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot is the disk at the barrier, end to end: writers keep writing through the disk while
 * the real engine takes the barrier and its capture threads read the blocks (direct buffers,
 * {@code O_DIRECT}, copy-before-write for blocks written meanwhile) into a local repository. Each
 * writer owns regions that straddle block boundaries and writes them in turn, one write at a time, so
 * a point-in-time image has, per writer, exactly the writes up to some K — each region holding its
 * last write up to K, whole — with K between the writes done before the barrier was asked for and
 * those started before it was in place. A mix of before and after, or a torn region, fails.
 *
 * <p>Two layouts: regions that straddle two blocks (the writes go on to the disk, old pages saved first)
 * and regions of whole pages inside one block (the disk holds the writes back in memory until the
 * capture has read the block). In both, each writer reads its region back now and then and must see
 * its last write, and at the end the disk holds every region's last write.
 */
class PointInTimeTest {
    static final int BS = 64 * 1024;
    static final int WRITERS = 4;
    static final int STRIDE = 128 * 1024;
    static final int REGIONS_EACH = 64;
    static final long DISK = (long) WRITERS * REGIONS_EACH * STRIDE; // 32 MiB

    @TempDir Path dir;

    /** Where a writer's region lies in its stride, and how long it is. */
    record Layout(int start, int length) {
        static final Layout STRADDLING = new Layout(32 * 1024, 96 * 1024); // from 32 KiB into one block to the end of the next
        static final Layout IN_ONE_BLOCK = new Layout(8 * 1024, 48 * 1024); // whole pages of one block: held back

        long offset(int writer, int region) {
            return ((long) region * WRITERS + writer) * STRIDE + start;
        }
    }

    static java.util.stream.Stream<Layout> layouts() {
        return java.util.stream.Stream.of(Layout.STRADDLING, Layout.IN_ONE_BLOCK);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("layouts")
    void snapshotsTakenWhileWritersWriteAreEachOneInstant(Layout layout) throws Exception {
        Repository repo = Repository.create(LocalBackend.open(dir.resolve("repository")), RepositoryOptions.defaults().withBlockSize(BS));
        BaseCache cache = new BaseCache(dir.resolve("cache"), repo);
        VolumeManager volumes = new VolumeManager(dir.resolve("volumes"), BS, cache);
        volumes.create("disk-pit", DISK);
        SnapshotEngine engine = new SnapshotEngine(repo, volumes, cache, 2);

        AtomicLongArray started = new AtomicLongArray(WRITERS); // write i began (its bytes may land any time from now)
        AtomicLongArray done = new AtomicLongArray(WRITERS); // writes 1..i returned
        AtomicBoolean stop = new AtomicBoolean();
        List<Throwable> failures = new ArrayList<>();
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            int writer = w;
            writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                try (Volume v = volumes.open("disk-pit")) {
                    for (long i = 1; !stop.get(); i++) {
                        started.set(writer, i);
                        v.write(layout.offset(writer, region(i)), ByteBuffer.wrap(pattern(writer, i, layout)), false);
                        done.set(writer, i);
                        if (i % 8 == 0) {
                            ByteBuffer back = ByteBuffer.allocate(layout.length());
                            v.read(layout.offset(writer, region(i)), back);
                            if (!java.util.Arrays.equals(back.array(), pattern(writer, i, layout))) {
                                throw new AssertionError("writer " + writer + " read back something else than its write " + i);
                            }
                        }
                    }
                } catch (Throwable e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }));
        }
        try {
            ManifestId last = null;
            for (int snapshot = 0; snapshot < 3; snapshot++) {
                Thread.sleep(150); // let the writers get ahead
                long[] before = new long[WRITERS];
                for (int w = 0; w < WRITERS; w++) before[w] = done.get(w);
                SnapshotEngine.Job job = engine.begin(List.of(new SnapshotEngine.Request("disk-pit", last, Map.of("n", "" + snapshot)))).getFirst();
                long[] after = new long[WRITERS];
                for (int w = 0; w < WRITERS; w++) after[w] = started.get(w);
                boolean lastOne = snapshot == 2;
                // the writers go on meanwhile (copy-before-write, writes held); before the last capture ends
                // they stop, so the disk's final state has writes the capture held until it read their blocks
                ManifestId m = job.run((d, t, b) -> {
                    if (lastOne && d * 2 >= t) stop.set(true);
                }, id -> {});
                assertThat(job.incremental()).isEqualTo(snapshot > 0);
                byte[] image = SnapshotModelTest.readAll(engine.openSnapshot(m));
                for (int w = 0; w < WRITERS; w++) {
                    long k = lastWriteIn(image, w, layout);
                    assertThat(k).as("snapshot %d, writer %d: its writes up to K, K between %d and %d", snapshot, w, before[w], after[w])
                            .isBetween(before[w], after[w]);
                    for (int r = 0; r < REGIONS_EACH; r++) {
                        long expected = lastWriteTo(r, k);
                        byte[] want = expected == 0 ? new byte[layout.length()] : pattern(w, expected, layout);
                        byte[] got = java.util.Arrays.copyOfRange(image, (int) layout.offset(w, r), (int) layout.offset(w, r) + layout.length());
                        assertThat(got).as("snapshot %d, writer %d, region %d: write %d whole", snapshot, w, r, expected).isEqualTo(want);
                    }
                }
                last = m;
            }
            assertThat(done.get(0)).as("the writers were writing throughout").isGreaterThan(3L * REGIONS_EACH);
            for (Thread t : writers) t.join();
            assertThat(failures).isEmpty();
            try (Volume v = volumes.open("disk-pit")) {
                for (int w = 0; w < WRITERS; w++) {
                    for (int r = 0; r < REGIONS_EACH; r++) {
                        ByteBuffer got = ByteBuffer.allocate(layout.length());
                        v.read(layout.offset(w, r), got);
                        long expected = lastWriteTo(r, done.get(w));
                        assertThat(got.array()).as("the disk at the end, writer %d, region %d: write %d", w, r, expected)
                                .isEqualTo(expected == 0 ? new byte[layout.length()] : pattern(w, expected, layout));
                    }
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : writers) t.join();
            volumes.close();
            cache.close();
        }
        assertThat(failures).isEmpty();
    }

    static int region(long write) {
        return (int) ((write - 1) % REGIONS_EACH);
    }

    /** The last write up to {@code k} that went to {@code region}, 0 if none. */
    static long lastWriteTo(int region, long k) {
        if (k <= region) return 0;
        return k - ((k - 1 - region) % REGIONS_EACH);
    }

    /** The highest write number any of the writer's regions holds in the image (0: none). */
    static long lastWriteIn(byte[] image, int writer, Layout layout) {
        long k = 0;
        for (int r = 0; r < REGIONS_EACH; r++) {
            ByteBuffer b = ByteBuffer.wrap(image, (int) layout.offset(writer, r), 16);
            long w = b.getLong();
            long i = b.getLong();
            if (i != 0) {
                assertThat(w).as("region %d of writer %d holds another writer's bytes", r, writer).isEqualTo(writer);
                k = Math.max(k, i);
            }
        }
        return k;
    }

    /** Write {@code i} of {@code writer}: its numbers, then bytes only it has. */
    static byte[] pattern(int writer, long i, Layout layout) {
        byte[] b = new byte[layout.length()];
        new Random(writer * 1_000_003L + i).nextBytes(b);
        ByteBuffer.wrap(b).putLong(writer).putLong(i);
        return b;
    }
}
