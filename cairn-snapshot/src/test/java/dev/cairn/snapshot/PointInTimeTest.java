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
 */
class PointInTimeTest {
    static final int BS = 64 * 1024;
    static final int WRITERS = 4;
    static final int REGION = 96 * 1024; // from 32 KiB into one block to the end of the next: two blocks
    static final int STRIDE = 128 * 1024;
    static final int REGIONS_EACH = 64;
    static final long DISK = (long) WRITERS * REGIONS_EACH * STRIDE; // 32 MiB

    @TempDir Path dir;

    @Test
    void snapshotsTakenWhileWritersWriteAreEachOneInstant() throws Exception {
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
                        v.write(offset(writer, region(i)), ByteBuffer.wrap(pattern(writer, i)), false);
                        done.set(writer, i);
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
                ManifestId m = job.run((d, t, b) -> {}, id -> {}); // the writers go on meanwhile: copy-before-write
                assertThat(job.incremental()).isEqualTo(snapshot > 0);
                byte[] image = SnapshotModelTest.readAll(engine.openSnapshot(m));
                for (int w = 0; w < WRITERS; w++) {
                    long k = lastWriteIn(image, w);
                    assertThat(k).as("snapshot %d, writer %d: its writes up to K, K between %d and %d", snapshot, w, before[w], after[w])
                            .isBetween(before[w], after[w]);
                    for (int r = 0; r < REGIONS_EACH; r++) {
                        long expected = lastWriteTo(r, k);
                        byte[] want = expected == 0 ? new byte[REGION] : pattern(w, expected);
                        byte[] got = java.util.Arrays.copyOfRange(image, (int) offset(w, r), (int) offset(w, r) + REGION);
                        assertThat(got).as("snapshot %d, writer %d, region %d: write %d whole", snapshot, w, r, expected).isEqualTo(want);
                    }
                }
                last = m;
            }
            assertThat(done.get(0)).as("the writers were writing throughout").isGreaterThan(3L * REGIONS_EACH);
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

    static long offset(int writer, int region) {
        return ((long) region * WRITERS + writer) * STRIDE + 32 * 1024;
    }

    /** The last write up to {@code k} that went to {@code region}, 0 if none. */
    static long lastWriteTo(int region, long k) {
        if (k <= region) return 0;
        return k - ((k - 1 - region) % REGIONS_EACH);
    }

    /** The highest write number any of the writer's regions holds in the image (0: none). */
    static long lastWriteIn(byte[] image, int writer) {
        long k = 0;
        for (int r = 0; r < REGIONS_EACH; r++) {
            ByteBuffer b = ByteBuffer.wrap(image, (int) offset(writer, r), 16);
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
    static byte[] pattern(int writer, long i) {
        byte[] b = new byte[REGION];
        new Random(writer * 1_000_003L + i).nextBytes(b);
        ByteBuffer.wrap(b).putLong(writer).putLong(i);
        return b;
    }
}
