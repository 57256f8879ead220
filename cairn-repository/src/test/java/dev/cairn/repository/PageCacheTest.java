package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PageCacheTest {

    private static final ChunkId A = new ChunkId(1, 2, 3, 4);
    private static final ChunkId B = new ChunkId(5, 6, 7, 8);
    private static final ChunkId C = new ChunkId(9, 10, 11, 12);

    @Test
    void threadsAskingForOnePageAtOnceShareOneLoad() throws Exception {
        PageCache cache = new PageCache(PageCache.DEFAULT_BYTES);
        AtomicInteger loads = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        int threads = 6;
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<long[]>> got = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                got.add(pool.submit(() -> cache.get(A, () -> {
                    loads.incrementAndGet();
                    await(release); // the others ask while this load is under way
                    return new long[] {42};
                })));
            }
            Thread.sleep(100);
            release.countDown();
            for (Future<long[]> f : got) assertThat(f.get(10, TimeUnit.SECONDS)).containsExactly(42);
        }
        assertThat(loads).hasValue(1);
        assertThat(cache.get(A, () -> { throw new AssertionError("held: no second load"); })).containsExactly(42);
    }

    @Test
    void aFailedLoadFailsEveryoneWaitingAndIsNotHeld() throws Exception {
        PageCache cache = new PageCache(PageCache.DEFAULT_BYTES);
        CountDownLatch release = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            Future<long[]> first = pool.submit(() -> cache.get(A, () -> {
                await(release);
                throw new CorruptObjectException(ChunkCodec.Type.PAGE.keyOf(A), "bad page");
            }));
            Thread.sleep(50);
            Future<long[]> second = pool.submit(() -> cache.get(A, () -> new long[] {1}));
            Thread.sleep(50);
            release.countDown();
            for (Future<long[]> f : List.of(first, second)) {
                assertThatThrownBy(f::get).hasCauseInstanceOf(CorruptObjectException.class).hasMessageContaining("bad page");
            }
        }
        assertThat(cache.size()).isZero();
        assertThat(cache.get(A, () -> new long[] {7})).containsExactly(7); // the next ask loads again
    }

    @Test
    void theLeastRecentlyUsedPageGoesFirstWhenFull() throws Exception {
        PageCache cache = new PageCache(2 * 4 * Long.BYTES); // two pages of 4 words
        cache.put(A, new long[4]);
        cache.put(B, new long[4]);
        cache.get(A, PageCacheTest::neverLoaded); // A is now the most recently used
        cache.put(C, new long[4]);
        assertThat(cache.size()).isEqualTo(2);
        cache.get(A, PageCacheTest::neverLoaded);
        cache.get(C, PageCacheTest::neverLoaded);
        AtomicInteger loads = new AtomicInteger();
        cache.get(B, () -> {
            loads.incrementAndGet();
            return new long[4];
        });
        assertThat(loads).hasValue(1);
    }

    private static void await(CountDownLatch latch) throws IOException {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException();
        }
    }

    private static long[] neverLoaded() {
        throw new AssertionError("should be held");
    }

    /** Counts page objects read from the backend. */
    static final class CountingPageReads extends PackChunkStoreTest.OverMemory {
        final AtomicInteger pageReads = new AtomicInteger();

        @Override public ByteBuffer get(ObjectKey key) throws IOException {
            if (key.kind() == ObjectKind.PAGE) pageReads.incrementAndGet();
            return inner.get(key);
        }
    }

    @Test
    void theNextSnapshotStartsFromItsParentsPagesInMemoryAndNeverChangesThem() throws Exception {
        CountingPageReads backend = new CountingPageReads();
        int block = 4096;
        int pageEntries = 16;
        Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(block).withPageEntries(pageEntries),
                new TestClock(Instant.parse("2026-11-27T00:00:00Z")));
        int blocks = pageEntries * 8; // eight pages
        ManifestId full;
        try (ManifestWriter w = repo.newManifest(null, (long) blocks * block, Map.of())) {
            for (int b = 0; b < blocks; b++) w.putBlock(b, ByteBuffer.wrap(Blocks.random(block, b)));
            full = w.commit();
        }
        ManifestId incremental;
        try (ManifestWriter w = repo.newManifest(full, (long) blocks * block, Map.of())) {
            for (int b = 3; b < blocks; b += pageEntries) w.putBlock(b, ByteBuffer.wrap(Blocks.random(block, 1000 + b))); // one block in every page
            incremental = w.commit();
        }
        assertThat(backend.pageReads).as("page objects read by the incremental").hasValue(0);

        // a fresh repository object (a restarted server) reads the pages from the backend, once each
        Repository reopened = Repository.open(backend, null, new TestClock(Instant.parse("2026-11-27T00:00:00Z")));
        try (ManifestWriter w = reopened.newManifest(incremental, (long) blocks * block, Map.of())) {
            for (int b = 5; b < blocks; b += pageEntries) {
                w.putBlock(b, ByteBuffer.wrap(Blocks.random(block, 2000 + b)));
                w.putBlock(b + 1, ByteBuffer.wrap(Blocks.random(block, 3000 + b)));
            }
            w.commit();
        }
        assertThat(backend.pageReads).hasValue(8);

        // the writers' edits went into copies: the parent still reads as it was written
        for (Repository r : List.of(repo, reopened)) {
            ManifestReader parent = r.openManifest(full);
            for (int b = 0; b < blocks; b++) {
                ByteBuffer got = ByteBuffer.allocate(block);
                parent.readBlock(b, got);
                assertThat(got.array()).as("block %d of the full snapshot", b).isEqualTo(Blocks.random(block, b));
            }
        }
    }
}
