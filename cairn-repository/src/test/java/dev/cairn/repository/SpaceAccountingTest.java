package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.MemoryBackend;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class SpaceAccountingTest {

    static final int BLOCK = 4096;

    /** Counts page reads, to prove shared pages are read once. */
    static final class CountingBackend implements Backend {
        final MemoryBackend inner = new MemoryBackend();
        final AtomicInteger pageGets = new AtomicInteger();

        @Override public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) { return inner.putIfAbsent(key, bytes); }
        @Override public ByteBuffer get(ObjectKey key) throws IOException {
            if (key.kind() == ObjectKind.PAGE) pageGets.incrementAndGet();
            return inner.get(key);
        }
        @Override public boolean exists(ObjectKey key) { return inner.exists(key); }
        @Override public void list(ObjectKind kind, Consumer<ObjectInfo> each) { inner.list(kind, each); }
        @Override public void delete(ObjectKey key) { inner.delete(key); }
        @Override public String describe() { return "counting"; }
        @Override public void close() {}
    }

    /** Brute force: sets of keys per manifest, sizes from the listing. */
    static Map<ManifestId, Long> referenceExclusive(Repository repo, List<ManifestId> all) throws IOException {
        Map<ObjectKey, Long> sizes = new HashMap<>();
        for (ObjectKind kind : new ObjectKind[] {ObjectKind.PAGE, ObjectKind.MANIFEST}) repo.backend().list(kind, i -> sizes.put(i.key(), i.size()));
        repo.chunks().list(i -> sizes.put(i.key(), i.size())); // in chunk files or in packs
        Map<ManifestId, Set<ObjectKey>> refs = new HashMap<>();
        for (ManifestId id : all) {
            Set<ObjectKey> keys = new HashSet<>();
            keys.add(ChunkCodec.Type.ROOT.keyOf(id.content()));
            ManifestReader r = repo.openManifest(id);
            for (ChunkId p : r.pageIds()) if (!p.isZero()) keys.add(ChunkCodec.Type.PAGE.keyOf(p));
            r.forEach((i, c) -> {
                if (!c.isZero()) keys.add(ChunkCodec.Type.CHUNK.keyOf(c));
            });
            refs.put(id, keys);
        }
        Map<ManifestId, Long> result = new HashMap<>();
        for (ManifestId id : all) {
            Set<ObjectKey> mine = new HashSet<>(refs.get(id));
            for (ManifestId other : all) if (!other.equals(id)) mine.removeAll(refs.get(other));
            result.put(id, mine.stream().mapToLong(sizes::get).sum());
        }
        return result;
    }

    @Test
    void exclusiveBytesMatchABruteForceReferenceOnRandomHistories() throws Exception {
        Repository repo = Repository.create(new MemoryBackend(), RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16));
        Random random = new Random(5);
        List<ManifestId> all = new ArrayList<>();
        for (int disk = 0; disk < 3; disk++) {
            ManifestId parent = null;
            for (int snap = 0; snap < 12; snap++) {
                try (ManifestWriter w = repo.newManifest(parent, 64L * BLOCK, Map.of("disk", "" + disk, "snap", "" + snap))) {
                    int changes = parent == null ? 64 : random.nextInt(6);
                    for (int c = 0; c < changes; c++) {
                        int block = parent == null ? c : random.nextInt(64);
                        if (random.nextInt(8) == 0) w.setZero(block);
                        else w.putBlock(block, Blocks.buf(Blocks.text(BLOCK, random.nextInt(120)))); // shared across disks too
                    }
                    parent = w.commit();
                    all.add(parent);
                }
            }
        }
        Map<ManifestId, Long> expected = referenceExclusive(repo, all);
        SpaceAccounting accounting = repo.spaceAccounting();
        assertThat(accounting.exclusiveBytes(all, Cancellation.none())).isEqualTo(expected);
        assertThat(expected.values()).anyMatch(v -> v > 0);
        ManifestId one = all.get(7);
        assertThat(accounting.exclusiveBytes(one, all)).isEqualTo(expected.get(one));
        // Alone, a manifest's exclusive size is everything it references.
        assertThat(accounting.exclusiveBytes(List.of(one), Cancellation.none()).get(one)).isEqualTo(accounting.storedBytes(List.of(one)));
    }

    @Test
    void storedBytesCountsSharedObjectsOnce() throws Exception {
        MemoryBackend backend = new MemoryBackend();
        Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16));
        List<ManifestId> ids = new ArrayList<>();
        ManifestId parent = null;
        for (int s = 0; s < 4; s++) {
            try (ManifestWriter w = repo.newManifest(parent, 32L * BLOCK, Map.of())) {
                for (int i = 0; i < 32; i++) if (parent == null || i == s) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, s * 100 + i)));
                parent = w.commit();
                ids.add(parent);
            }
        }
        long[] everything = {0};
        repo.chunks().list(i -> everything[0] += i.size()); // stored chunk objects, whether in files or packs
        for (ObjectKind kind : new ObjectKind[] {ObjectKind.PAGE, ObjectKind.MANIFEST}) backend.list(kind, i -> everything[0] += i.size());
        assertThat(repo.spaceAccounting().storedBytes(ids)).isEqualTo(everything[0]);
        ManifestInfo last = repo.openManifest(parent).info();
        assertThat(last.logicalBytes()).isEqualTo(32L * BLOCK);
        assertThat(last.incrementalBytes()).isPositive().isLessThan(repo.spaceAccounting().storedBytes(ids.subList(0, 1)));
    }

    @Test
    void aThousandSnapshotsOfOneDiskReadEachDistinctPageOnce() throws Exception {
        CountingBackend backend = new CountingBackend();
        Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16));
        List<ManifestId> history = new ArrayList<>();
        ManifestId parent = null;
        Random random = new Random(9);
        for (int s = 0; s < 1000; s++) {
            try (ManifestWriter w = repo.newManifest(parent, 256L * BLOCK, Map.of())) { // 16 pages
                if (parent == null) {
                    for (int i = 0; i < 256; i++) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, i)));
                } else {
                    w.putBlock(random.nextInt(256), Blocks.buf(Blocks.text(BLOCK, 1000 + s))); // one block a day
                }
                parent = w.commit();
                history.add(parent);
            }
        }
        int distinctPages = backend.inner.count(ObjectKind.PAGE);
        backend.pageGets.set(0);
        Map<ManifestId, Long> exclusive = repo.spaceAccounting().exclusiveBytes(history, Cancellation.none());
        assertThat(backend.pageGets.get()).as("each distinct page read once, not 1000 × 16").isEqualTo(distinctPages).isLessThan(1100);
        assertThat(exclusive).hasSize(1000);
        // The newest snapshot owns its one new chunk (unless a later one replaced it), its new page and its root.
        assertThat(exclusive.get(history.get(999))).isPositive();
    }
}
