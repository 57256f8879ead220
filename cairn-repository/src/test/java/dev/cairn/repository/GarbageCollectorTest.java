package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.MemoryBackend;
import dev.cairn.repository.backend.ObjectKind;
import dev.cairn.repository.backend.local.LocalBackend;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GarbageCollectorTest {

    /** The repository options every test starts from; {@code GarbageCollectorFormat1} runs them all on format 1. */
    RepositoryOptions options() {
        return RepositoryOptions.defaults().withFormatVersion(RepositoryConfig.FORMAT_PACKS);
    }

    static final int BLOCK = 4096;

    /** Format 2: packs of a few blocks, so that GC deletes and rewrites packs while writers write. */
    @org.junit.jupiter.api.BeforeEach
    void smallPacks() {
        System.setProperty("cairn.packBytes", Integer.toString(3 * BLOCK));
    }

    @org.junit.jupiter.api.AfterEach
    void defaultPacks() {
        System.clearProperty("cairn.packBytes");
    }
    static final Duration GRACE = Duration.ofHours(1);
    final TestClock clock = new TestClock();
    final MemoryBackend backend = new MemoryBackend(clock);

    Repository create() throws Exception {
        return Repository.create(backend, options().withBlockSize(BLOCK).withPageEntries(16), clock);
    }

    static ManifestId write(Repository repo, int blocks, int... seeds) throws Exception {
        try (ManifestWriter w = repo.newManifest(null, (long) blocks * BLOCK, Map.of())) {
            for (int i = 0; i < seeds.length; i++) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, seeds[i])));
            return w.commit();
        }
    }

    static ChunkId idOf(Repository repo, int seed) {
        byte[] b = Blocks.text(BLOCK, seed);
        return repo.codec().contentId(b, 0, b.length);
    }

    static void readAll(Repository repo, ManifestId id) throws Exception {
        ManifestReader r = repo.openManifest(id);
        for (long i = 0; i < r.blockCount(); i++) r.readBlock(i, ByteBuffer.allocate(BLOCK));
    }

    @Test
    void deletedManifestsChunksAreCollectedOnlyAfterTheGracePeriod() throws Exception {
        Repository repo = create();
        ManifestId keep = write(repo, 16, 1, 2, 3, 4);
        ManifestId drop = write(repo, 20, 3, 4, 5, 6, 7);
        repo.deleteManifest(drop);
        GarbageCollector gc = repo.garbageCollector(GRACE);

        GcResult young = gc.execute(gc.plan(Set.of()));
        assertThat(young.deletedChunks()).isZero();
        assertThat(young.keptYoung()).as("3 chunks + 1 page of the deleted manifest (its second page is all zero)").isEqualTo(4);

        clock.advance(Duration.ofHours(2));
        GcResult result = gc.execute(gc.plan(Set.of()));
        assertThat(result.manifests()).isEqualTo(1);
        assertThat(result.markedChunks()).isEqualTo(4);
        assertThat(result.deletedChunks()).isEqualTo(3);
        assertThat(result.deletedPages()).isEqualTo(1);
        assertThat(result.deletedBytes()).isPositive();
        assertThat(result.keptYoung()).isZero();
        for (int seed : new int[] {5, 6, 7}) assertThat(repo.containsChunk(idOf(repo, seed))).isFalse();
        readAll(repo, keep);
        assertThat(repo.verify(1.0).problems()).isEmpty();
        assertThat(gc.execute(gc.plan(Set.of())).deletedChunks()).as("nothing left to collect").isZero();
    }

    @Test
    void abandonedWritersLeaveOnlyGarbage() throws Exception {
        Repository repo = create();
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 1)));
        } // closed without commit
        clock.advance(Duration.ofHours(2));
        GcResult r = repo.garbageCollector(GRACE).execute(repo.garbageCollector(GRACE).plan(Set.of()));
        // format 1 stored the chunk and GC deletes it; format 2 never stored the unflushed pack
        assertThat(r.deletedChunks()).isEqualTo(repo.config().packed() ? 0 : 1);
        assertThat(Blocks.storedChunks(repo)).isZero();
    }

    @Test
    void anInFlightWritersDedupHitOnOldGarbageIsKept() throws Exception {
        Repository repo = create();
        repo.deleteManifest(write(repo, 4, 1, 2));
        clock.advance(Duration.ofHours(2)); // chunks 1 and 2 are old garbage now
        GarbageCollector gc = repo.garbageCollector(GRACE);
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            PutResult hit = w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 1)));
            assertThat(hit.newlyStored()).as("dedup hit on a garbage chunk").isFalse();
            GcResult r = gc.execute(gc.plan(Set.of()));
            assertThat(r.deletedChunks()).as("only chunk 2 goes").isEqualTo(1);
            ManifestId id = w.commit();
            readAll(repo, id);
        }
        assertThat(repo.containsChunk(idOf(repo, 1))).isTrue();
        assertThat(repo.containsChunk(idOf(repo, 2))).isFalse();
    }

    @Test
    void idsPublishedBetweenPlanAndExecuteAreKept() throws Exception {
        Repository repo = create();
        repo.deleteManifest(write(repo, 4, 1, 2));
        clock.advance(Duration.ofHours(2));
        GarbageCollector gc = repo.garbageCollector(GRACE);
        GcPlan plan = gc.plan(Set.of());
        assertThat(plan.candidates()).hasSize(3); // two chunks, one page
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 2))); // published after the plan: the epoch records it
            GcResult r = gc.execute(plan);
            assertThat(r.keptPublished()).isEqualTo(1);
            assertThat(r.deletedChunks()).isEqualTo(1);
            id = w.commit();
        }
        readAll(repo, id);
    }

    @Test
    void theOldestWriterBoundsTheCutoff() throws Exception {
        Repository repo = create();
        try (ManifestWriter longCapture = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            clock.advance(Duration.ofMinutes(90));
            repo.deleteManifest(write(repo, 4, 7)); // garbage written after the long capture began
            clock.advance(Duration.ofHours(2));
            GcPlan plan = repo.garbageCollector(GRACE).plan(Set.of());
            assertThat(plan.cutoff()).isEqualTo(Instant.parse("2026-11-26T08:00:00Z"));
            GcResult r = repo.garbageCollector(GRACE).execute(plan);
            assertThat(r.deletedChunks()).isZero();
            assertThat(r.keptYoung()).isEqualTo(2);
            longCapture.setZero(0);
        }
    }

    @Test
    void pinnedManifestsMustExistAndNothingIsDeletedOtherwise() throws Exception {
        Repository repo = create();
        ManifestId a = write(repo, 4, 1);
        repo.deleteManifest(write(repo, 4, 2));
        clock.advance(Duration.ofHours(2));
        ManifestId missing = new ManifestId(ChunkId.of(Blocks.random(32, 9)));
        GarbageCollector gc = repo.garbageCollector(GRACE);
        assertThatThrownBy(() -> gc.plan(Set.of(a, missing))).hasMessageContaining("pinned manifest " + missing);
        assertThat(Blocks.storedChunks(repo)).isEqualTo(2);
        assertThat(gc.execute(gc.plan(Set.of(a))).deletedChunks()).as("the epoch was released after the failure").isEqualTo(1);
    }

    @Test
    void aDamagedManifestAbortsThePlan() throws Exception {
        Repository repo = create();
        ManifestId a = write(repo, 4, 1);
        repo.deleteManifest(write(repo, 4, 2));
        clock.advance(Duration.ofHours(2));
        ChunkId page = repo.openManifest(a).pageIds()[0];
        backend.replace(ChunkCodec.Type.PAGE.keyOf(page), new byte[100]);
        assertThatThrownBy(() -> repo.garbageCollector(GRACE).plan(Set.of())).isInstanceOf(CorruptObjectException.class);
        assertThat(Blocks.storedChunks(repo)).isEqualTo(2);
    }

    @Test
    void oneGcAtATimeAndCancellationReleasesIt() throws Exception {
        Repository repo = create();
        repo.deleteManifest(write(repo, 4, 1, 2, 3));
        clock.advance(Duration.ofHours(2));
        GarbageCollector gc = repo.garbageCollector(GRACE);
        GcPlan plan = gc.plan(Set.of());
        assertThatThrownBy(() -> gc.plan(Set.of())).isInstanceOf(IllegalStateException.class).hasMessageContaining("already running");
        Cancellation cancel = new Cancellation();
        cancel.cancel();
        assertThatThrownBy(() -> gc.execute(plan, cancel)).isInstanceOf(CancellationException.class);
        assertThatThrownBy(() -> gc.execute(plan)).isInstanceOf(IllegalStateException.class);
        assertThat(Blocks.storedChunks(repo)).isEqualTo(3);
        try (GcPlan abandoned = gc.plan(Set.of())) {
            assertThat(abandoned.candidates()).hasSize(4);
        }
        assertThat(gc.execute(gc.plan(Set.of())).deletedChunks()).isEqualTo(3);
    }

    @Test
    void worksOnALocalDirectoryWithFileTimes(@TempDir Path dir) throws Exception {
        TestClock later = new TestClock(Instant.now().plus(Duration.ofDays(2)));
        try (LocalBackend local = LocalBackend.open(dir)) {
            Repository repo = Repository.create(local, options().withBlockSize(BLOCK).withPageEntries(16), later);
            ManifestId keep = write(repo, 8, 1, 2);
            repo.deleteManifest(write(repo, 8, 2, 3));
            GcResult r = repo.garbageCollector(Duration.ofDays(1)).execute(repo.garbageCollector(Duration.ofDays(1)).plan(Set.of()));
            assertThat(r.deletedChunks()).isEqualTo(1);
            assertThat(r.deletedPages()).isEqualTo(1);
            readAll(repo, keep);
            GcResult young = Repository.open(local, null, InstantSource.system()).garbageCollector(Duration.ofHours(1)).execute(
                    Repository.open(local, null, InstantSource.system()).garbageCollector(Duration.ofHours(1)).plan(Set.of()));
            assertThat(young.deletedChunks()).isZero();
        }
    }

    /**
     * Writers that keep deduplicating against garbage, committing and deleting manifests, race a GC
     * that runs in a loop with no grace at all; every committed manifest must stay readable.
     */
    @Test
    void concurrentWritersAndGcNeverLoseAReferencedChunk() throws Exception {
        TestClock ticking = new TestClock(Instant.parse("2026-11-26T08:00:00Z"), Duration.ofMillis(1));
        MemoryBackend store = new MemoryBackend(ticking);
        Repository repo = Repository.create(store, options().withBlockSize(BLOCK).withPageEntries(16), ticking);
        GarbageCollector gc = repo.garbageCollector(Duration.ZERO);
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger gcRuns = new AtomicInteger();
        AtomicInteger deleted = new AtomicInteger();
        List<ManifestId> live = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(3)) {
            List<Future<?>> writers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int thread = t;
                writers.add(pool.submit(() -> {
                    Random random = new Random(thread);
                    ManifestId previous = null;
                    for (int round = 0; round < 150; round++) {
                        try (ManifestWriter w = repo.newManifest(previous, 20L * BLOCK, Map.of("t", "" + thread))) {
                            for (int i = 0; i < 20; i++) {
                                int r = random.nextInt(4);
                                if (r == 0) w.setZero(i);
                                else w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, random.nextInt(30))));
                            }
                            if (random.nextInt(10) == 0) continue; // abandon: leaves garbage behind
                            ManifestId id = w.commit();
                            readAll(repo, id);
                            if (previous != null) repo.deleteManifest(previous);
                            previous = id;
                        }
                    }
                    synchronized (live) {
                        live.add(previous);
                    }
                    return null;
                }));
            }
            Future<?> collector = pool.submit(() -> {
                while (!done.get()) {
                    GcResult r = gc.execute(gc.plan(Set.of()));
                    gcRuns.incrementAndGet();
                    deleted.addAndGet((int) r.deletedChunks());
                }
                return null;
            });
            try {
                for (Future<?> f : writers) f.get(60, TimeUnit.SECONDS);
            } finally {
                done.set(true); // a failed writer must not leave the collector looping
                collector.get(60, TimeUnit.SECONDS);
            }
        }
        assertThat(gcRuns.get()).isPositive();
        assertThat(deleted.get()).as("the GC did collect garbage during the race").isPositive();
        gc.execute(gc.plan(Set.of()));
        for (ManifestId id : live) readAll(repo, id);
        assertThat(repo.verify(1.0).problems()).isEmpty();
    }
}
