package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.MemoryBackend;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RepositoryTest {

    /** The repository options every test starts from; {@code RepositoryFormat1} runs them all on format 1. */
    RepositoryOptions baseOptions() {
        return RepositoryOptions.defaults().withFormatVersion(RepositoryConfig.FORMAT_PACKS);
    }

    static final int BLOCK = 64 * 1024;
    final TestClock clock = new TestClock();
    final MemoryBackend backend = new MemoryBackend(clock);

    RepositoryOptions options() {
        return baseOptions().withBlockSize(BLOCK).withPageEntries(16).withKdfIterations(1000);
    }

    Repository create() throws IOException {
        return Repository.create(backend, options(), clock);
    }

    @Test
    void createWritesBothConfigCopiesAndOpenReadsThem() throws Exception {
        Repository created = create();
        assertThat(backend.count(ObjectKind.CONFIG)).isEqualTo(2);
        Repository opened = Repository.open(backend, null, clock);
        assertThat(opened.config()).isEqualTo(created.config());
        assertThat(opened.blockSize()).isEqualTo(BLOCK);
        assertThat(opened.config().created()).isEqualTo(clock.instant());
    }

    @Test
    void createRefusesAnExistingRepositoryAndOpenRefusesAnEmptyBackend() throws Exception {
        assertThatThrownBy(() -> Repository.open(backend, null, clock)).isInstanceOf(IOException.class).hasMessageContaining("no repository");
        create();
        assertThatThrownBy(this::create).isInstanceOf(IOException.class).hasMessageContaining("already a repository");
    }

    @Test
    void defaultBlockSizeIsRecordedInTheConfig() throws Exception {
        Repository repo = Repository.create(backend, baseOptions(), clock);
        assertThat(repo.blockSize()).isEqualTo(RepositoryOptions.DEFAULT_BLOCK_SIZE);
        assertThat(Repository.open(backend, null, clock).blockSize()).isEqualTo(RepositoryOptions.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void encryptedWithPassphraseOpensOnlyWithIt() throws Exception {
        Repository repo = Repository.create(backend, options().withKey(RepositoryKey.passphrase("correct horse")), clock);
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, BLOCK, Map.of())) {
            w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 1)));
            id = w.commit();
        }
        assertThat(repo.config().chunkIdAlgorithm()).isEqualTo(RepositoryConfig.ChunkIdAlgorithm.HMAC_SHA256);
        assertThatThrownBy(() -> Repository.open(backend, RepositoryKey.passphrase("wrong horse"), clock))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("wrong passphrase");
        assertThatThrownBy(() -> Repository.open(backend, null, clock))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("encrypted");
        Repository reopened = Repository.open(backend, RepositoryKey.passphrase("correct horse"), clock);
        ByteBuffer dst = ByteBuffer.allocate(BLOCK);
        reopened.openManifest(id).readBlock(0, dst);
        assertThat(dst.array()).isEqualTo(Blocks.text(BLOCK, 1));
    }

    @Test
    void encryptedWithKeyFile(@TempDir Path dir) throws Exception {
        RepositoryKey.KeyFile key = RepositoryKey.generateKeyFile(dir.resolve("repo.key"));
        Repository.create(backend, options().withKey(key), clock);
        assertThat(Repository.open(backend, key, clock).config().encryption().kdf()).isEqualTo(RepositoryConfig.Kdf.KEYFILE_HMAC_SHA256);
        RepositoryKey.KeyFile other = RepositoryKey.generateKeyFile(dir.resolve("other.key"));
        assertThatThrownBy(() -> Repository.open(backend, other, clock)).isInstanceOf(WrongKeyException.class).hasMessageContaining("wrong key file");
        assertThatThrownBy(() -> Repository.open(backend, RepositoryKey.passphrase("x"), clock))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("key file, not a passphrase");
    }

    @Test
    void zeroBlocksAreNotStored() throws Exception {
        Repository repo = create();
        try (var writer = repo.writers().begin("t")) {
            PutResult r = repo.putBlock(writer, ByteBuffer.allocate(BLOCK));
            assertThat(r).isEqualTo(new PutResult(ChunkId.ZERO, false, 0));
        }
        assertThat(Blocks.storedChunks(repo)).isZero();
        ByteBuffer dst = ByteBuffer.allocate(BLOCK);
        dst.put(0, (byte) 7);
        assertThat(repo.readBlock(ChunkId.ZERO, dst)).isEqualTo(BLOCK);
        assertThat(dst.array()).containsOnly(0);
    }

    @Test
    void identicalBlocksAreStoredOnce() throws Exception {
        Repository repo = create();
        try (var writer = repo.writers().begin("t")) {
            PutResult first = repo.putBlock(writer, Blocks.buf(Blocks.text(BLOCK, 2)));
            PutResult second = repo.putBlock(writer, Blocks.buf(Blocks.text(BLOCK, 2)));
            assertThat(first.newlyStored()).isTrue();
            assertThat(first.storedBytes()).isPositive().isLessThan(BLOCK);
            assertThat(second).isEqualTo(new PutResult(first.id(), false, 0));
        }
        assertThat(Blocks.storedChunks(repo)).isEqualTo(1);
    }

    @Test
    void blocksInDirectBuffersAreStoredLikeHeapOnesInBothKindsOfRepository() throws Exception {
        // captures hand over direct buffers (read with O_DIRECT); an encrypted repository takes the array path
        for (RepositoryOptions opts : List.of(options(), options().withKey(RepositoryKey.passphrase("p")))) {
            Repository repo = Repository.create(new MemoryBackend(clock), opts, clock);
            for (byte[] data : List.of(Blocks.text(BLOCK, 21), Blocks.random(BLOCK, 22))) {
                ByteBuffer direct = ByteBuffer.allocateDirect(BLOCK).put(data).flip();
                try (var writer = repo.writers().begin("t")) {
                    PutResult fromDirect = repo.putBlock(writer, direct);
                    assertThat(direct.position()).as("the caller's buffer is not consumed").isZero();
                    assertThat(fromDirect.newlyStored()).isTrue();
                    assertThat(repo.putBlock(writer, Blocks.buf(data))).as("the same chunk from a heap buffer")
                            .isEqualTo(new PutResult(fromDirect.id(), false, 0));
                    ByteBuffer back = ByteBuffer.allocate(BLOCK);
                    repo.readBlock(fromDirect.id(), back);
                    assertThat(back.array()).isEqualTo(data);
                }
            }
            ByteBuffer zeros = ByteBuffer.allocateDirect(BLOCK);
            try (var writer = repo.writers().begin("t")) {
                assertThat(repo.putBlock(writer, zeros).id()).isEqualTo(ChunkId.ZERO);
            }
        }
    }

    @Test
    void readBlockVerifiesAndFillsDirectBuffersToo() throws Exception {
        Repository repo = create();
        byte[] data = Blocks.random(BLOCK, 3);
        ChunkId id;
        try (var writer = repo.writers().begin("t")) {
            id = repo.putBlock(writer, Blocks.buf(data)).id();
        }
        ByteBuffer direct = ByteBuffer.allocateDirect(BLOCK);
        assertThat(repo.readBlock(id, direct)).isEqualTo(BLOCK);
        assertThat(Blocks.read(direct.flip())).isEqualTo(data);
        assertThat(repo.containsChunk(id)).isTrue();
        ChunkId absent = ChunkId.of(Blocks.random(32, 4));
        assertThatThrownBy(() -> repo.readBlock(absent, ByteBuffer.allocate(BLOCK))).isInstanceOf(NoSuchObjectException.class);
    }

    @Test
    void manifestRoundTripsEntriesInfoAndMetadata() throws Exception {
        Repository repo = create();
        long diskSize = 40L * BLOCK; // 40 blocks = 3 pages of 16
        Map<String, String> meta = Map.of("snapshot", "snap-1", "disk", "disk-1", "account", "100000000001");
        byte[][] content = new byte[40][];
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, diskSize, meta)) {
            for (int i = 39; i >= 0; i--) { // any order
                content[i] = i % 5 == 0 ? new byte[BLOCK] : (i % 2 == 0 ? Blocks.text(BLOCK, i) : Blocks.random(BLOCK, i));
                w.putBlock(i, Blocks.buf(content[i]));
            }
            id = w.commit();
        }
        ManifestReader r = repo.openManifest(id);
        ManifestInfo info = r.info();
        assertThat(info.id()).isEqualTo(id);
        assertThat(info.blockCount()).isEqualTo(40);
        assertThat(info.pageCount()).isEqualTo(3);
        assertThat(info.diskSize()).isEqualTo(diskSize);
        assertThat(info.nonZeroBlocks()).isEqualTo(32);
        assertThat(info.logicalBytes()).isEqualTo(32L * BLOCK);
        assertThat(info.newChunks()).isEqualTo(32);
        assertThat(info.newChunkBytes()).isPositive();
        assertThat(info.newPageBytes()).isPositive();
        assertThat(info.rootBytes()).isPositive();
        assertThat(info.metadata()).isEqualTo(meta);
        assertThat(info.parent()).isEmpty();
        assertThat(info.created()).isEqualTo(clock.instant());
        for (int i = 0; i < 40; i++) {
            ByteBuffer dst = ByteBuffer.allocate(BLOCK);
            r.readBlock(i, dst);
            assertThat(dst.array()).as("block %d", i).isEqualTo(content[i]);
            assertThat(r.entry(i).isZero()).isEqualTo(i % 5 == 0);
        }
        List<Long> visited = new ArrayList<>();
        r.forEach((index, chunk) -> visited.add(index));
        assertThat(visited).hasSize(40).isSorted();
        assertThat(repo.listManifests()).containsExactly(id);
    }

    @Test
    void childRewritesOnlyThePagesWithChangedEntries() throws Exception {
        Repository repo = create();
        long blocks = 16 * 8; // 8 pages
        ManifestId parent;
        try (ManifestWriter w = repo.newManifest(null, blocks * BLOCK, Map.of("snapshot", "s1"))) {
            for (int i = 0; i < blocks; i++) w.putBlock(i, Blocks.buf(Blocks.random(BLOCK, 1000 + i)));
            parent = w.commit();
        }
        int pagesBefore = backend.count(ObjectKind.PAGE);
        int chunksBefore = Blocks.storedChunks(repo);
        assertThat(pagesBefore).isEqualTo(8);
        ManifestId child;
        try (ManifestWriter w = repo.newManifest(parent, blocks * BLOCK, Map.of("snapshot", "s2"))) {
            w.putBlock(17, Blocks.buf(Blocks.random(BLOCK, 1)));       // page 1
            w.putBlock(18, Blocks.buf(Blocks.random(BLOCK, 1000 + 18))); // unchanged content: dedup
            w.setZero(100);                                              // page 6
            child = w.commit();
        }
        assertThat(backend.count(ObjectKind.PAGE)).as("two new pages").isEqualTo(pagesBefore + 2);
        assertThat(Blocks.storedChunks(repo)).as("one new chunk").isEqualTo(chunksBefore + 1);
        ManifestReader c = repo.openManifest(child);
        ManifestReader p = repo.openManifest(parent);
        assertThat(c.info().parent()).contains(parent);
        assertThat(c.info().newChunks()).isEqualTo(1);
        assertThat(c.info().nonZeroBlocks()).isEqualTo(blocks - 1);
        assertThat(c.info().logicalBytes()).isEqualTo((blocks - 1) * BLOCK);
        for (long i = 0; i < blocks; i++) {
            if (i == 17 || i == 100) continue;
            assertThat(c.entry(i)).isEqualTo(p.entry(i));
        }
        assertThat(c.entry(100)).isEqualTo(ChunkId.ZERO);
        ChunkId[] cp = c.pageIds();
        ChunkId[] pp = p.pageIds();
        for (int k = 0; k < 8; k++) assertThat(cp[k].equals(pp[k])).as("page %d shared", k).isEqualTo(k != 1 && k != 6);
    }

    @Test
    void aChildWithNoChangesReusesEveryPage() throws Exception {
        Repository repo = create();
        ManifestId parent;
        try (ManifestWriter w = repo.newManifest(null, 32L * BLOCK, Map.of())) {
            for (int i = 0; i < 32; i++) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, i)));
            parent = w.commit();
        }
        int pages = backend.count(ObjectKind.PAGE);
        clock.advance(java.time.Duration.ofHours(1));
        ManifestId child;
        try (ManifestWriter w = repo.newManifest(parent, 32L * BLOCK, Map.of())) {
            child = w.commit();
        }
        assertThat(child).isNotEqualTo(parent);
        assertThat(backend.count(ObjectKind.PAGE)).isEqualTo(pages);
        assertThat(repo.openManifest(child).pageIds()).isEqualTo(repo.openManifest(parent).pageIds());
        assertThat(repo.openManifest(child).info().nonZeroBlocks()).isEqualTo(32);
    }

    @Test
    void sparseDisksStoreNoZeroPages() throws Exception {
        Repository repo = create();
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, 1000L * BLOCK, Map.of())) {
            w.putBlock(500, Blocks.buf(Blocks.text(BLOCK, 1)));
            id = w.commit();
        }
        assertThat(backend.count(ObjectKind.PAGE)).isEqualTo(1);
        ManifestReader r = repo.openManifest(id);
        assertThat(r.info().pageCount()).isEqualTo(63);
        assertThat(r.entry(0)).isEqualTo(ChunkId.ZERO);
        assertThat(r.entry(500).isZero()).isFalse();
    }

    @Test
    void oddDiskSizesHaveAShortLastBlock() throws Exception {
        Repository repo = create();
        long diskSize = 3L * BLOCK + 1000;
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, diskSize, Map.of())) {
            assertThat(w.blockCount()).isEqualTo(4);
            assertThat(w.blockLength(3)).isEqualTo(1000);
            assertThatThrownBy(() -> w.putBlock(3, Blocks.buf(Blocks.text(BLOCK, 1)))).isInstanceOf(IllegalArgumentException.class);
            w.putBlock(3, Blocks.buf(Blocks.text(1000, 1)));
            w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 2)));
            id = w.commit();
        }
        ManifestReader r = repo.openManifest(id);
        assertThat(r.info().logicalBytes()).isEqualTo(BLOCK + 1000);
        ByteBuffer dst = ByteBuffer.allocate(1000);
        r.readBlock(3, dst);
        assertThat(dst.array()).isEqualTo(Blocks.text(1000, 1));
    }

    @Test
    void childOfAResizedDiskGrowsAndShrinks() throws Exception {
        Repository repo = create();
        ManifestId parent;
        try (ManifestWriter w = repo.newManifest(null, 40L * BLOCK, Map.of())) {
            for (int i = 0; i < 40; i++) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, i)));
            parent = w.commit();
        }
        ManifestId grown;
        try (ManifestWriter w = repo.newManifest(parent, 100L * BLOCK, Map.of())) {
            w.putBlock(99, Blocks.buf(Blocks.text(BLOCK, 99)));
            grown = w.commit();
        }
        ManifestReader g = repo.openManifest(grown);
        assertThat(g.info().nonZeroBlocks()).isEqualTo(41);
        assertThat(g.entry(45)).isEqualTo(ChunkId.ZERO);
        assertThat(g.entry(39)).isEqualTo(repo.openManifest(parent).entry(39));
        ManifestId shrunk;
        try (ManifestWriter w = repo.newManifest(parent, 20L * BLOCK, Map.of())) {
            shrunk = w.commit();
        }
        ManifestReader s = repo.openManifest(shrunk);
        assertThat(s.blockCount()).isEqualTo(20);
        assertThat(s.info().nonZeroBlocks()).isEqualTo(20);
        assertThat(s.info().logicalBytes()).isEqualTo(20L * BLOCK);
        // The shrunk manifest's last page holds no entries past the end.
        try (ManifestWriter w = repo.newManifest(shrunk, 40L * BLOCK, Map.of())) {
            ManifestReader regrown = repo.openManifest(w.commit());
            assertThat(regrown.entry(25)).isEqualTo(ChunkId.ZERO);
            assertThat(regrown.info().nonZeroBlocks()).isEqualTo(20);
        }
    }

    @Test
    void setReusesExistingChunksAndRefusesUnknownOnes() throws Exception {
        Repository repo = create();
        ManifestId first;
        ChunkId chunk;
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            chunk = w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 1))).id();
            first = w.commit();
        }
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            w.set(2, chunk);
            assertThatThrownBy(() -> w.set(3, ChunkId.of(Blocks.random(32, 5)))).isInstanceOf(NoSuchObjectException.class);
            ManifestReader r = repo.openManifest(w.commit());
            assertThat(r.entry(2)).isEqualTo(chunk);
            assertThat(r.info().newChunks()).isZero();
        }
        assertThat(repo.openManifest(first).entry(0)).isEqualTo(chunk);
    }

    @Test
    void setAcceptsAChunkThisWriterStoredButHasNotCommittedYet(@TempDir Path dir) throws Exception {
        // a local backend batches new chunks as temp files until a group commit: not yet "in" the backend
        var local = dev.cairn.repository.backend.local.LocalBackend.open(dir.resolve("repo"));
        Repository repo = Repository.create(local, options(), clock);
        try (ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of())) {
            ChunkId chunk = w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 7))).id();
            w.set(3, chunk); // a copy receiver names a chunk it was sent moments ago
            ManifestReader r = repo.openManifest(w.commit());
            assertThat(r.entry(3)).isEqualTo(chunk);
            ByteBuffer b = ByteBuffer.allocate(BLOCK);
            r.readBlock(3, b);
            assertThat(b.array()).isEqualTo(Blocks.text(BLOCK, 7));
        }
    }

    @Test
    void anotherUnencryptedRepositoryTakesAStoredChunkAsItIsAfterCheckingIt() throws Exception {
        Repository source = create();
        ChunkId chunk;
        try (ManifestWriter w = source.newManifest(null, 2L * BLOCK, Map.of())) {
            chunk = w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 3))).id();
            w.commit();
        }
        ByteBuffer stored = source.readStoredChunk(chunk);
        Repository target = Repository.create(new MemoryBackend(clock), options(), clock);
        try (ManifestWriter w = target.newManifest(null, 2L * BLOCK, Map.of())) {
            assertThat(w.putStoredChunk(1, chunk, stored).newlyStored()).isTrue();
            assertThat(w.putStoredChunk(0, chunk, stored).newlyStored()).isFalse(); // dedup as ever
            byte[] bad = Repository.bytes(stored).clone();
            bad[bad.length - 1] ^= 1;
            assertThatThrownBy(() -> w.putStoredChunk(0, ChunkId.of(Blocks.random(32, 9)), stored)).isInstanceOf(CorruptObjectException.class);
            assertThatThrownBy(() -> w.putStoredChunk(0, chunk, ByteBuffer.wrap(bad))).isInstanceOf(CorruptObjectException.class);
            ManifestReader r = target.openManifest(w.commit());
            ByteBuffer b = ByteBuffer.allocate(BLOCK);
            r.readBlock(1, b);
            assertThat(b.array()).isEqualTo(Blocks.text(BLOCK, 3));
        }
    }

    @Test
    void writerStateIsEnforced() throws Exception {
        Repository repo = create();
        ManifestWriter w = repo.newManifest(null, 4L * BLOCK, Map.of());
        assertThat(repo.writers().activeWriters()).isEqualTo(1);
        assertThatThrownBy(() -> w.putBlock(4, Blocks.buf(new byte[BLOCK]))).isInstanceOf(IndexOutOfBoundsException.class);
        w.commit();
        assertThat(repo.writers().activeWriters()).isZero();
        assertThatThrownBy(() -> w.setZero(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(w::commit).isInstanceOf(IllegalStateException.class);
        w.close();
        ManifestWriter abandoned = repo.newManifest(null, BLOCK, Map.of());
        abandoned.close();
        assertThat(repo.writers().activeWriters()).isZero();
        assertThatThrownBy(abandoned::commit).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> repo.newManifest(null, BLOCK, Map.of("", "x"))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void manyThreadsPutIntoOneWriter() throws Exception {
        Repository repo = create();
        int blocks = 200;
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, (long) blocks * BLOCK, Map.of());
             ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int first = t;
                futures.add(pool.submit(() -> {
                    for (int i = first; i < blocks; i += 4) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, i % 50)));
                    return null;
                }));
            }
            for (Future<?> f : futures) f.get();
            id = w.commit();
        }
        ManifestReader r = repo.openManifest(id);
        assertThat(r.info().newChunks()).isEqualTo(50);
        assertThat(Blocks.storedChunks(repo)).isEqualTo(50);
        for (int i = 0; i < blocks; i++) {
            ByteBuffer dst = ByteBuffer.allocate(BLOCK);
            r.readBlock(i, dst);
            assertThat(dst.array()).isEqualTo(Blocks.text(BLOCK, i % 50));
        }
    }

    @Test
    void deleteManifestRemovesOnlyTheRoot() throws Exception {
        Repository repo = create();
        ManifestId id;
        try (ManifestWriter w = repo.newManifest(null, BLOCK, Map.of())) {
            w.putBlock(0, Blocks.buf(Blocks.text(BLOCK, 1)));
            id = w.commit();
        }
        repo.deleteManifest(id);
        repo.deleteManifest(id);
        assertThat(repo.listManifests()).isEmpty();
        assertThat(Blocks.storedChunks(repo)).isEqualTo(1);
        assertThatThrownBy(() -> repo.openManifest(id)).isInstanceOf(NoSuchObjectException.class);
    }
}
