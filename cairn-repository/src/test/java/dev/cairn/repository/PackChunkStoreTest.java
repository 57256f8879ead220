package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import dev.cairn.repository.backend.local.LocalBackend;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Format 2 on a real directory: chunks land in packs, the index objects are only a cache of the packs'
 * trailers, damage inside a pack is reported as the chunk or pack it hits, and GC deletes and rewrites
 * packs so that space comes back.
 */
class PackChunkStoreTest {

    static final int BLOCK = 4096;
    /** Small packs, so that a few dozen blocks make several. */
    static final int PACK_BYTES = 16 * 1024;

    @TempDir
    Path dir;
    LocalBackend backend;
    final TestClock clock = new TestClock(Instant.now().plus(Duration.ofDays(3)));
    Repository repo;

    @BeforeEach
    void setUp() throws IOException {
        System.setProperty("cairn.packBytes", Integer.toString(PACK_BYTES));
        backend = LocalBackend.open(dir);
        repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16)
                .withFormatVersion(RepositoryConfig.FORMAT_PACKS), clock);
    }

    @AfterEach
    void tearDown() throws IOException {
        System.clearProperty("cairn.packBytes");
        backend.close();
    }

    ManifestId write(int firstSeed, int blocks) throws Exception {
        try (ManifestWriter w = repo.newManifest(null, (long) blocks * BLOCK, Map.of())) {
            for (int i = 0; i < blocks; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, firstSeed + i)));
            return w.commit();
        }
    }

    void readsIntact(Repository r, ManifestId id, int firstSeed) throws Exception {
        ManifestReader m = r.openManifest(id);
        for (long i = 0; i < m.blockCount(); i++) {
            ByteBuffer dst = ByteBuffer.allocate(BLOCK);
            m.readBlock(i, dst);
            assertThat(dst.array()).as("block %d", i).isEqualTo(Blocks.random(BLOCK, (int) (firstSeed + i)));
        }
    }

    Repository reopen() throws IOException {
        backend.close();
        backend = LocalBackend.open(dir);
        repo = Repository.open(backend, null, clock);
        return repo;
    }

    List<ObjectInfo> objects(ObjectKind kind) throws IOException {
        List<ObjectInfo> all = new ArrayList<>();
        backend.list(kind, all::add);
        return all;
    }

    long packBytes() throws IOException {
        return objects(ObjectKind.PACK).stream().mapToLong(ObjectInfo::size).sum();
    }

    @Test
    void chunksGoIntoPacksNotFilesAndSurviveReopen() throws Exception {
        ManifestId a = write(0, 40); // 40 incompressible 4 KiB blocks: about 10 packs of 16 KiB
        assertThat(objects(ObjectKind.CHUNK)).as("no chunk files in format 2").isEmpty();
        assertThat(objects(ObjectKind.PACK)).hasSizeBetween(8, 14);
        assertThat(objects(ObjectKind.INDEX)).as("the writer's index objects").isNotEmpty();
        assertThat(Blocks.storedChunks(repo)).isEqualTo(40);
        assertThat(Files.readString(dir.resolve("config"))).contains("format-version=2\n");
        readsIntact(reopen(), a, 0);
        ManifestId again = write(0, 40);
        assertThat(repo.openManifest(again).info().newChunks()).as("all dedup hits after reopen").isZero();
        assertThat(repo.verify(1.0).problems()).isEmpty();
    }

    @Test
    void lostIndexObjectsAreRebuiltFromThePacksTrailers() throws Exception {
        ManifestId a = write(0, 30);
        for (ObjectInfo i : objects(ObjectKind.INDEX)) Files.delete(backend.pathOf(i.key()));
        Repository r = reopen();
        readsIntact(r, a, 0);
        assertThat(objects(ObjectKind.INDEX)).as("the open wrote an index for the packs it read").hasSize(1);
        assertThat(r.verify(1.0).problems()).isEmpty();
        assertThat(r.openManifest(write(0, 30)).info().newChunks()).as("every chunk found").isZero();
    }

    @Test
    void aDamagedIndexObjectIsReportedAndItsPacksAreStillFound() throws Exception {
        ManifestId a = write(0, 30);
        ObjectKey index = objects(ObjectKind.INDEX).getFirst().key();
        byte[] bytes = Files.readAllBytes(backend.pathOf(index));
        bytes[bytes.length / 2] ^= 1;
        Files.write(backend.pathOf(index), bytes);
        Repository r = reopen();
        readsIntact(r, a, 0);
        assertThat(r.verify(1.0).problems()).extracting(Problem::key, Problem::kind)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(index, Problem.Kind.CORRUPT));
    }

    @Test
    void damageInsideAPackIsThatChunksCorruptionAndNothingElse() throws Exception {
        ManifestId a = write(0, 30);
        ChunkId victim = repo.openManifest(a).entry(7);
        PackIndex.Location at = ((PackChunkStore) repo.chunks()).locate(victim);
        Path pack = backend.pathOf(PackChunkStore.packKey(at.pack()));
        byte[] bytes = Files.readAllBytes(pack);
        bytes[at.offset() + at.length() / 2] ^= 0x40;
        Files.write(pack, bytes);
        ObjectKey key = ChunkCodec.Type.CHUNK.keyOf(victim);
        assertThat(repo.verify(1.0).problems()).extracting(Problem::key, Problem::kind)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(key, Problem.Kind.CORRUPT));
        assertThatThrownBy(() -> repo.openManifest(a).readBlock(7, ByteBuffer.allocate(BLOCK))).isInstanceOf(CorruptObjectException.class);
        ManifestReader m = repo.openManifest(a);
        for (long i = 0; i < 30; i++) if (i != 7) m.readBlock(i, ByteBuffer.allocate(BLOCK));
        // the damaged chunk can be dropped and stored again
        assertThat(repo.dropDamagedChunk(victim)).isTrue();
        write(0, 30);
        readsIntact(repo, a, 0);
    }

    @Test
    void aTruncatedPackIsReportedAndItsChunksAreMissing() throws Exception {
        ManifestId a = write(0, 30);
        ChunkId victim = repo.openManifest(a).entry(3);
        String packName = ((PackChunkStore) repo.chunks()).locate(victim).pack();
        Path pack = backend.pathOf(PackChunkStore.packKey(packName));
        byte[] bytes = Files.readAllBytes(pack);
        Files.write(pack, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        for (ObjectInfo i : objects(ObjectKind.INDEX)) Files.delete(backend.pathOf(i.key())); // only the trailer can tell
        Repository r = reopen();
        List<Problem> problems = r.verify(1.0).problems();
        assertThat(problems).anySatisfy(p -> {
            assertThat(p.key()).isEqualTo(PackChunkStore.packKey(packName));
            assertThat(p.kind()).isEqualTo(Problem.Kind.CORRUPT);
        });
        assertThat(problems).anySatisfy(p -> {
            assertThat(p.key()).isEqualTo(ChunkCodec.Type.CHUNK.keyOf(victim));
            assertThat(p.kind()).isEqualTo(Problem.Kind.MISSING);
        });
        assertThatThrownBy(() -> r.openManifest(a).readBlock(3, ByteBuffer.allocate(BLOCK))).isInstanceOf(IOException.class);
    }

    @Test
    void gcDeletesDeadPacksRewritesSparseOnesAndSpaceComesBack() throws Exception {
        // `mixed` interleaves two families of blocks in its packs; `keep` shares one family; `dead` has its own packs
        ManifestId mixed;
        try (ManifestWriter w = repo.newManifest(null, 40L * BLOCK, Map.of())) {
            for (int i = 0; i < 40; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, (i % 2 == 0 ? 1000 : 0) + i)));
            mixed = w.commit();
        }
        ManifestId keep = write(0, 40);
        ManifestId dead = write(5000, 20);
        repo.deleteManifest(mixed);
        repo.deleteManifest(dead);
        long before = packBytes();
        int packsBefore = objects(ObjectKind.PACK).size();
        clock.advance(Duration.ofDays(2));
        GarbageCollector gc = repo.garbageCollector(Duration.ofDays(1));
        GcResult r = gc.execute(gc.plan(Set.of()));
        assertThat(r.deletedChunks()).as("mixed's even blocks and all of dead's").isEqualTo(40);
        long after = packBytes();
        assertThat(after).as("40 × 4 KiB came back, from dead packs and from half-dead ones rewritten").isLessThanOrEqualTo(before - 38L * BLOCK);
        assertThat(objects(ObjectKind.PACK).size()).isLessThan(packsBefore);
        assertThat(Blocks.storedChunks(repo)).isEqualTo(40);
        readsIntact(repo, keep, 0);
        assertThat(repo.verify(1.0).problems()).isEmpty();
        assertThat(objects(ObjectKind.INDEX)).as("one rewritten index object").hasSize(1);
        // the rewritten index is all a fresh open needs
        Repository reopened = reopen();
        readsIntact(reopened, keep, 0);
        assertThat(Blocks.storedChunks(reopened)).isEqualTo(40);
        assertThat(reopened.verify(1.0).problems()).isEmpty();
        GarbageCollector again = reopened.garbageCollector(Duration.ofDays(1));
        assertThat(again.execute(again.plan(Set.of())).deletedChunks()).isZero();
        assertThat(packBytes()).isEqualTo(after);
    }

    @Test
    void youngPacksAndTheirChunksAreLeftAlone() throws Exception {
        repo.deleteManifest(write(0, 20));
        long before = packBytes();
        GarbageCollector gc = repo.garbageCollector(Duration.ofDays(1)); // the packs' file times are "now", three days before the clock
        GcResult young = new GarbageCollector(repo, Duration.ofDays(4)).execute(new GarbageCollector(repo, Duration.ofDays(4)).plan(Set.of()));
        assertThat(young.deletedChunks()).isZero();
        assertThat(packBytes()).isEqualTo(before);
        assertThat(gc.execute(gc.plan(Set.of())).deletedChunks()).isEqualTo(20);
        assertThat(packBytes()).isZero();
    }

    @Test
    void aChunkAnotherProcessStoredIsFoundOnRead() throws Exception {
        // two nodes on one bucket: b's index was built before a wrote anything
        dev.cairn.repository.backend.MemoryBackend bucket = new dev.cairn.repository.backend.MemoryBackend(clock);
        RepositoryOptions options = RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16).withFormatVersion(RepositoryConfig.FORMAT_PACKS);
        Repository a = Repository.create(bucket, options, clock);
        Repository b = Repository.open(bucket, null, clock);
        ManifestId m;
        try (ManifestWriter w = a.newManifest(null, 20L * BLOCK, Map.of())) {
            for (int i = 0; i < 20; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, 700 + i)));
            m = w.commit();
        }
        assertThat(b.containsChunk(a.openManifest(m).entry(0))).as("not known to b yet: a dedup miss is harmless").isFalse();
        readsIntact(b, m, 700); // the first miss reads a's index objects
        assertThat(b.containsChunk(a.openManifest(m).entry(19))).isTrue();
        assertThat(b.verify(1.0).problems()).isEmpty();
    }

    /** A memory backend seen through a subclass that changes a call or two. */
    static class OverMemory implements dev.cairn.repository.backend.Backend {
        final dev.cairn.repository.backend.MemoryBackend inner = new dev.cairn.repository.backend.MemoryBackend();

        @Override public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException { return inner.putIfAbsent(key, bytes); }
        @Override public ByteBuffer get(ObjectKey key) throws IOException { return inner.get(key); }
        @Override public ByteBuffer get(ObjectKey key, long offset, int length) throws IOException { return inner.get(key, offset, length); }
        @Override public boolean exists(ObjectKey key) { return inner.exists(key); }
        @Override public void list(ObjectKind kind, java.util.function.Consumer<ObjectInfo> each) { inner.list(kind, each); }
        @Override public void delete(ObjectKey key) { inner.delete(key); }
        @Override public String describe() { return getClass().getSimpleName(); }
        @Override public void close() {}
    }

    /** A backend whose pack puts fail while {@code full} is set (a full disk, an unreachable bucket). */
    static final class FailingPacks extends OverMemory {
        volatile boolean full;

        @Override public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException {
            if (full && key.kind() == ObjectKind.PACK) throw new dev.cairn.repository.backend.BackendFullException("no room for " + key, null);
            return inner.putIfAbsent(key, bytes);
        }
    }

    @Test
    void aPackThatCouldNotBeStoredFailsItsWriterForGood() throws Exception {
        FailingPacks failing = new FailingPacks();
        Repository r = Repository.create(failing, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16)
                .withFormatVersion(RepositoryConfig.FORMAT_PACKS), clock);
        try (ManifestWriter w = r.newManifest(null, 40L * BLOCK, Map.of())) {
            failing.full = true;
            assertThatThrownBy(() -> {
                for (int i = 0; i < 40; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, i))); // the 5th seals a pack
            }).isInstanceOf(dev.cairn.repository.backend.BackendFullException.class);
            failing.full = false; // room again: the chunks of the lost pack must still not be named by a manifest
            assertThatThrownBy(w::commit).isInstanceOf(IOException.class).hasMessageContaining("could not be stored");
            assertThatThrownBy(() -> w.putBlock(39, Blocks.buf(Blocks.random(BLOCK, 39)))).isInstanceOf(IOException.class);
        }
        assertThat(r.listManifests()).isEmpty();
        ManifestId ok = null;
        try (ManifestWriter w = r.newManifest(null, 40L * BLOCK, Map.of())) { // a new writer stores them all
            for (int i = 0; i < 40; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, i)));
            ok = w.commit();
        }
        ManifestReader m = r.openManifest(ok);
        for (long i = 0; i < 40; i++) {
            ByteBuffer dst = ByteBuffer.allocate(BLOCK);
            m.readBlock(i, dst);
            assertThat(dst.array()).isEqualTo(Blocks.random(BLOCK, (int) i));
        }
        assertThat(r.verify(1.0).problems()).isEmpty();
    }

    /** A backend that counts range reads of packs and records read-ahead hints. */
    static final class CountingReads extends OverMemory {
        final java.util.concurrent.atomic.AtomicInteger packReads = new java.util.concurrent.atomic.AtomicInteger();
        final List<String> hints = java.util.Collections.synchronizedList(new ArrayList<>());

        @Override public ByteBuffer get(ObjectKey key, long offset, int length) throws IOException {
            if (key.kind() == ObjectKind.PACK) packReads.incrementAndGet();
            return inner.get(key, offset, length);
        }
        @Override public void willRead(ObjectKey key, long offset, long length) { hints.add(key.name()); }
    }

    @Test
    void blocksReadTogetherTakeOneRequestPerPackAndMatchReadsOneByOne() throws Exception {
        CountingReads counting = new CountingReads();
        Repository r = Repository.create(counting, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16)
                .withFormatVersion(RepositoryConfig.FORMAT_PACKS), clock);
        byte[][] content = new byte[24][];
        ManifestId id;
        try (ManifestWriter w = r.newManifest(null, 24L * BLOCK, Map.of())) {
            for (int i = 0; i < 24; i++) {
                content[i] = i == 5 ? new byte[BLOCK] : Blocks.random(BLOCK, i == 9 ? 2 : i); // a zero block; block 9 repeats block 2
                w.putBlock(i, Blocks.buf(content[i]));
            }
            id = w.commit();
        }
        ManifestReader m = r.openManifest(id);
        long[] blocks = new long[24];
        ByteBuffer[] dsts = new ByteBuffer[24];
        for (int i = 0; i < 24; i++) {
            blocks[i] = 23 - i; // any order
            dsts[i] = ByteBuffer.allocate(BLOCK);
        }
        Set<String> packs = new HashSet<>();
        for (int i = 0; i < 24; i++) if (i != 5) packs.add(((PackChunkStore) r.chunks()).locate(m.entry(i)).pack());
        counting.packReads.set(0);
        assertThat(m.readBlocks(blocks, dsts)).as("bytes from stored chunks: all but the zero block").isEqualTo(23L * BLOCK);
        for (int i = 0; i < 24; i++) assertThat(dsts[i].array()).as("block %d", blocks[i]).isEqualTo(content[(int) blocks[i]]);
        assertThat(counting.packReads.get()).as("one request per pack, not per chunk").isEqualTo(packs.size()).isLessThan(22);

        ChunkId[] ids = new ChunkId[24];
        for (int i = 0; i < 24; i++) ids[i] = m.entry(i);
        r.willRead(ids);
        assertThat(counting.hints).as("one read-ahead hint per pack").hasSize(packs.size()).containsExactlyInAnyOrderElementsOf(packs);

        // a pack gone since the lookup (GC moved its chunks): the read looks again and names what is missing
        String gone = packs.iterator().next();
        counting.inner.delete(PackChunkStore.packKey(gone));
        for (ByteBuffer d : dsts) d.clear();
        assertThatThrownBy(() -> m.readBlocks(blocks, dsts)).isInstanceOf(dev.cairn.repository.backend.NoSuchObjectException.class);
    }
}
