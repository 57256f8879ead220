package dev.cairn.repository.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link Backend} keeps (restic's shared backend test suite). A backend's test
 * class extends this and supplies only {@link #newBackend()}: a fresh, empty backend per test.
 */
public abstract class BackendContract {

    /** A new, empty backend. Called once per test; the test closes it. */
    protected abstract Backend newBackend() throws Exception;

    protected Backend backend;

    @BeforeEach
    final void openBackend() throws Exception {
        backend = newBackend();
    }

    @AfterEach
    final void closeBackend() throws Exception {
        if (backend != null) backend.close();
    }

    static ObjectKey key(ObjectKind kind, int n) {
        byte[] b = new byte[32];
        new Random(n * 31L + kind.ordinal()).nextBytes(b);
        return new ObjectKey(kind, HexFormat.of().formatHex(b));
    }

    static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    static String string(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return new String(a, StandardCharsets.UTF_8);
    }

    private Map<ObjectKey, ObjectInfo> listAll(ObjectKind kind) throws Exception {
        Map<ObjectKey, ObjectInfo> seen = new HashMap<>();
        backend.list(kind, info -> assertThat(seen.put(info.key(), info)).as("listed twice: %s", info.key()).isNull());
        return seen;
    }

    @Test
    void putThenGetReturnsTheExactBytes() throws Exception {
        ObjectKey k = key(ObjectKind.CHUNK, 1);
        ByteBuffer src = bytes("hello chunk");
        assertThat(backend.putIfAbsent(k, src)).isTrue();
        assertThat(src.position()).as("put must not move the caller's buffer").isZero();
        ByteBuffer got = backend.get(k);
        assertThat(got.position()).isZero();
        assertThat(string(got)).isEqualTo("hello chunk");
    }

    @Test
    void rangeReadsReturnExactlyTheRangeAndReadAheadHintsNeverFail() throws Exception {
        ObjectKey k = key(ObjectKind.PACK, 11);
        backend.putIfAbsent(k, bytes("0123456789abcdef"));
        backend.willRead(k, 4, 8);
        backend.willRead(key(ObjectKind.PACK, 12), 0, 100); // absent: still only a hint
        ByteBuffer got = backend.get(k, 4, 8);
        assertThat(got.position()).isZero();
        assertThat(string(got)).isEqualTo("456789ab");
        assertThat(string(backend.get(k, 0, 16))).isEqualTo("0123456789abcdef");
        assertThatThrownBy(() -> backend.get(k, 10, 7)).isInstanceOf(java.io.EOFException.class);
        assertThatThrownBy(() -> backend.get(key(ObjectKind.PACK, 12), 0, 1)).isInstanceOf(NoSuchObjectException.class);
    }

    @Test
    void hintedRangesReadRightEvenPastTheReadAheadBoundAndAreGoneOnceDeleted() throws Exception {
        ObjectKey k = key(ObjectKind.PACK, 13);
        byte[] bytes = new byte[200 * 64];
        new Random(3).nextBytes(bytes);
        backend.putIfAbsent(k, ByteBuffer.wrap(bytes));
        for (int i = 0; i < 200; i++) backend.willRead(k, i * 64L, 64); // more hints than any backend keeps
        for (int i = 199; i >= 0; i--) {
            ByteBuffer got = backend.get(k, i * 64L, 64);
            assertThat(got.remaining()).isEqualTo(64);
            byte[] part = new byte[64];
            got.get(part);
            assertThat(part).as("range %d", i).isEqualTo(java.util.Arrays.copyOfRange(bytes, i * 64, i * 64 + 64));
        }
        backend.willRead(k, 0, 64);
        backend.delete(k);
        assertThatThrownBy(() -> backend.get(k, 0, 64)).as("a hint must not outlive a delete").isInstanceOf(NoSuchObjectException.class);
    }

    @Test
    void secondPutOfTheSameKeyReportsPresentAndKeepsTheFirstBytes() throws Exception {
        ObjectKey k = key(ObjectKind.PAGE, 2);
        assertThat(backend.putIfAbsent(k, bytes("first"))).isTrue();
        assertThat(backend.putIfAbsent(k, bytes("second"))).isFalse();
        assertThat(string(backend.get(k))).isEqualTo("first");
    }

    @Test
    void putHonoursPositionAndLimit() throws Exception {
        ObjectKey k = key(ObjectKind.CHUNK, 3);
        ByteBuffer src = bytes("xxpayloadyy");
        src.position(2).limit(9);
        backend.putIfAbsent(k, src);
        assertThat(string(backend.get(k))).isEqualTo("payload");
    }

    @Test
    void getOfAnAbsentKeyThrowsNoSuchObjectNamingTheKey() {
        ObjectKey k = key(ObjectKind.MANIFEST, 4);
        assertThatThrownBy(() -> backend.get(k))
                .isInstanceOf(NoSuchObjectException.class)
                .hasMessageContaining(k.toString())
                .satisfies(e -> assertThat(((NoSuchObjectException) e).key()).isEqualTo(k));
    }

    @Test
    void existsFollowsPutAndDelete() throws Exception {
        ObjectKey k = key(ObjectKind.CHUNK, 5);
        assertThat(backend.exists(k)).isFalse();
        backend.putIfAbsent(k, bytes("x"));
        assertThat(backend.exists(k)).isTrue();
        backend.delete(k);
        assertThat(backend.exists(k)).isFalse();
        assertThatThrownBy(() -> backend.get(k)).isInstanceOf(NoSuchObjectException.class);
    }

    @Test
    void deleteIsIdempotentAndAllowsAPutAgain() throws Exception {
        ObjectKey k = key(ObjectKind.PAGE, 6);
        backend.delete(k);
        backend.putIfAbsent(k, bytes("one"));
        backend.delete(k);
        backend.delete(k);
        assertThat(backend.putIfAbsent(k, bytes("two"))).isTrue();
        assertThat(string(backend.get(k))).isEqualTo("two");
    }

    @Test
    void listReportsEachObjectOfOneKindWithSizeAndTime() throws Exception {
        Instant before = Instant.now().minus(Duration.ofMinutes(2));
        List<ObjectKey> chunks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ObjectKey k = key(ObjectKind.CHUNK, 100 + i);
            chunks.add(k);
            backend.putIfAbsent(k, ByteBuffer.wrap(new byte[i]));
        }
        ObjectKey page = key(ObjectKind.PAGE, 7);
        ObjectKey manifest = key(ObjectKind.MANIFEST, 8);
        ObjectKey config = new ObjectKey(ObjectKind.CONFIG, "config");
        ObjectKey copy = new ObjectKey(ObjectKind.CONFIG, "config.copy");
        ObjectKey marker = key(ObjectKind.DELETED, 8); // deletion markers are empty objects named by a manifest
        backend.putIfAbsent(marker, ByteBuffer.allocate(0));
        backend.putIfAbsent(page, bytes("page"));
        backend.putIfAbsent(manifest, bytes("manifest!"));
        backend.putIfAbsent(config, bytes("c"));
        backend.putIfAbsent(copy, bytes("cc"));
        Instant after = Instant.now().plus(Duration.ofMinutes(2));

        Map<ObjectKey, ObjectInfo> listed = listAll(ObjectKind.CHUNK);
        assertThat(listed.keySet()).containsExactlyInAnyOrderElementsOf(chunks);
        for (int i = 0; i < 20; i++) {
            ObjectInfo info = listed.get(chunks.get(i));
            assertThat(info.size()).isEqualTo(i);
            assertThat(info.lastModified()).isBetween(before, after);
        }
        assertThat(listAll(ObjectKind.PAGE).keySet()).containsExactly(page);
        assertThat(listAll(ObjectKind.MANIFEST)).containsOnlyKeys(manifest);
        assertThat(listAll(ObjectKind.MANIFEST).get(manifest).size()).isEqualTo(9);
        assertThat(listAll(ObjectKind.CONFIG).keySet()).containsExactlyInAnyOrder(config, copy);
        assertThat(listAll(ObjectKind.DELETED)).containsOnlyKeys(marker);
        assertThat(listAll(ObjectKind.DELETED).get(marker).size()).isZero();
        assertThat(backend.get(marker).remaining()).isZero();
    }

    @Test
    void listOfAnEmptyKindReportsNothing() throws Exception {
        assertThat(listAll(ObjectKind.CHUNK)).isEmpty();
        assertThat(listAll(ObjectKind.CONFIG)).isEmpty();
    }

    @Test
    void listDoesNotReportDeletedObjects() throws Exception {
        ObjectKey a = key(ObjectKind.CHUNK, 9);
        ObjectKey b = key(ObjectKind.CHUNK, 10);
        backend.putIfAbsent(a, bytes("a"));
        backend.putIfAbsent(b, bytes("b"));
        backend.delete(a);
        assertThat(listAll(ObjectKind.CHUNK).keySet()).containsExactly(b);
    }

    @Test
    void listPagesThroughManyObjects() throws Exception {
        // More than one listing page: S3 lists at most 1000 keys per request (the S3 tests set 100).
        Set<ObjectKey> expected = ConcurrentHashMap.newKeySet();
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int first = t;
                futures.add(pool.submit(() -> {
                    for (int i = first; i < 250; i += 8) {
                        ObjectKey k = key(ObjectKind.MANIFEST, 1000 + i);
                        backend.putIfAbsent(k, ByteBuffer.wrap(new byte[] {(byte) i}));
                        expected.add(k);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) f.get();
        }
        assertThat(listAll(ObjectKind.MANIFEST).keySet()).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void largeObjectsRoundTrip() throws Exception {
        byte[] big = new byte[5 * 1024 * 1024 + 17];
        new Random(42).nextBytes(big);
        ObjectKey k = key(ObjectKind.CHUNK, 11);
        backend.putIfAbsent(k, ByteBuffer.wrap(big));
        ByteBuffer got = backend.get(k);
        byte[] back = new byte[got.remaining()];
        got.get(back);
        assertThat(back).isEqualTo(big);
    }

    @Test
    void largeObjectsFromPageAlignedNativeMemoryRoundTripThroughPutsAndBatches() throws Exception {
        // what a pack looks like to the backend (a local one writes its whole pages with O_DIRECT)
        Random random = new Random(43);
        int[] sizes = {3 * 1024 * 1024 + 123, 2 * 1024 * 1024, 1024 * 1024 + 4095};
        int n = 0;
        for (int size : sizes) {
            for (int start : new int[] {0, 512}) { // page-aligned, and not
                byte[] content = new byte[size];
                random.nextBytes(content);
                ByteBuffer aligned = ByteBuffer.allocateDirect(size + start + 8192).alignedSlice(4096);
                aligned.put(start, content);
                ByteBuffer object = aligned.slice(start, size);
                ObjectKey viaPut = key(ObjectKind.PACK, 100 + n);
                ObjectKey viaBatch = key(ObjectKind.PACK, 200 + n);
                n++;
                assertThat(backend.putIfAbsent(viaPut, object)).isTrue();
                try (Backend.Batch batch = backend.batch()) {
                    assertThat(batch.putIfAbsent(viaBatch, object)).isTrue();
                    batch.commit();
                }
                assertThat(object.position()).isZero();
                for (ObjectKey k : List.of(viaPut, viaBatch)) {
                    ByteBuffer got = backend.get(k);
                    byte[] back = new byte[got.remaining()];
                    got.get(back);
                    assertThat(back).as("%s, %d bytes from offset %d", k, size, start).isEqualTo(content);
                }
            }
        }
    }

    @Test
    void emptyObjectsRoundTrip() throws Exception {
        ObjectKey k = key(ObjectKind.CHUNK, 12);
        assertThat(backend.putIfAbsent(k, ByteBuffer.allocate(0))).isTrue();
        assertThat(backend.get(k).remaining()).isZero();
        assertThat(backend.exists(k)).isTrue();
    }

    @Test
    void racingPutsOfOneKeyStoreItOnceWithIntactBytes() throws Exception {
        ObjectKey k = key(ObjectKind.CHUNK, 13);
        byte[] content = new byte[256 * 1024];
        new Random(7).nextBytes(content);
        int threads = 6;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Boolean>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    start.await();
                    return backend.putIfAbsent(k, ByteBuffer.wrap(content));
                }));
            }
            start.countDown();
            int stored = 0;
            for (Future<Boolean> f : results) if (f.get()) stored++;
            assertThat(stored).as("at least one racing put stores the object").isGreaterThanOrEqualTo(1);
        }
        ByteBuffer got = backend.get(k);
        byte[] back = new byte[got.remaining()];
        got.get(back);
        assertThat(back).isEqualTo(content);
        assertThat(listAll(ObjectKind.CHUNK)).containsOnlyKeys(k);
    }

    @Test
    void describeSaysWhere() {
        assertThat(backend.describe()).isNotBlank();
    }

    @Test
    void aBatchMakesItsPutsVisibleAndWholeByCommit() throws Exception {
        ObjectKey a = key(ObjectKind.CHUNK, 9001), b = key(ObjectKind.CHUNK, 9002), c = key(ObjectKind.CHUNK, 9003);
        backend.putIfAbsent(c, bytes("already"));
        try (Backend.Batch batch = backend.batch()) {
            assertThat(batch.putIfAbsent(a, bytes("alpha"))).isTrue();
            assertThat(batch.putIfAbsent(b, bytes("beta"))).isTrue();
            assertThat(batch.putIfAbsent(c, bytes("other"))).as("exists already").isFalse();
            batch.commit();
            assertThat(string(backend.get(a))).isEqualTo("alpha");
            assertThat(string(backend.get(b))).isEqualTo("beta");
            assertThat(string(backend.get(c))).isEqualTo("already");
            assertThat(batch.putIfAbsent(a, bytes("alpha"))).as("committed: exists").isFalse();
            batch.commit(); // nothing new: harmless
        }
        List<ObjectKey> listed = new ArrayList<>();
        backend.list(ObjectKind.CHUNK, info -> listed.add(info.key()));
        assertThat(listed).containsExactlyInAnyOrder(a, b, c);
    }

}
