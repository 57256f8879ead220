package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.local.LocalBackend;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt-then-verify on a real directory: garbage over one object makes verify (and the read that
 * touches it) report exactly that object, and nothing else is lost.
 */
class CorruptionTest {

    static final int BLOCK = 4096;
    @TempDir
    Path dir;
    LocalBackend backend;
    Repository repo;
    ManifestId a;
    ManifestId b;

    @BeforeEach
    void twoManifests() throws Exception {
        backend = LocalBackend.open(dir);
        // chunk files are damaged by hand here: format 1 (PackCorruptionTest does the same to packs)
        repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BLOCK).withPageEntries(16)
                .withFormatVersion(RepositoryConfig.FORMAT_CHUNK_OBJECTS));
        a = write(0, 40);   // blocks 0..39 with contents 0..39
        b = write(20, 40);  // contents 20..59: shares 20..39 with a
        assertThat(repo.verify(1.0).problems()).isEmpty();
    }

    @AfterEach
    void close() throws IOException {
        backend.close();
    }

    ManifestId write(int firstSeed, int blocks) throws Exception {
        try (ManifestWriter w = repo.newManifest(null, (long) blocks * BLOCK, Map.of("first", "" + firstSeed))) {
            for (int i = 0; i < blocks; i++) w.putBlock(i, Blocks.buf(Blocks.text(BLOCK, firstSeed + i)));
            return w.commit();
        }
    }

    void garbage(ObjectKey key) throws IOException {
        Path file = backend.pathOf(key);
        assertThat(file).exists();
        Files.write(file, Blocks.random((int) Math.max(64, Files.size(file)), 99));
    }

    void readsIntact(ManifestId id, int firstSeed, long skipFrom, long skipTo) throws Exception {
        ManifestReader r = repo.openManifest(id);
        for (long i = 0; i < r.blockCount(); i++) {
            if (i >= skipFrom && i < skipTo) continue;
            ByteBuffer dst = ByteBuffer.allocate(BLOCK);
            r.readBlock(i, dst);
            assertThat(dst.array()).as("block %d of %s", i, id.shortForm()).isEqualTo(Blocks.text(BLOCK, (int) (firstSeed + i)));
        }
    }

    @Test
    void garbageOverAChunkIsReportedAsExactlyThatChunk() throws Exception {
        ChunkId victim = repo.openManifest(a).entry(5); // only in a
        ObjectKey key = ChunkCodec.Type.CHUNK.keyOf(victim);
        garbage(key);
        VerifyReport report = repo.verify(1.0);
        assertThat(report.problems()).singleElement().satisfies(p -> {
            assertThat(p.key()).isEqualTo(key);
            assertThat(p.kind()).isEqualTo(Problem.Kind.CORRUPT);
        });
        assertThatThrownBy(() -> repo.openManifest(a).readBlock(5, ByteBuffer.allocate(BLOCK)))
                .isInstanceOf(CorruptObjectException.class)
                .satisfies(e -> assertThat(((CorruptObjectException) e).key()).isEqualTo(key));
        readsIntact(a, 0, 5, 6);
        readsIntact(b, 20, 0, 0);
    }

    @Test
    void aTruncatedChunkIsCorruptAndADeletedOneMissing() throws Exception {
        ChunkId truncated = repo.openManifest(a).entry(1);
        ChunkId deleted = repo.openManifest(b).entry(39); // only in b
        Path file = backend.pathOf(ChunkCodec.Type.CHUNK.keyOf(truncated));
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Files.delete(backend.pathOf(ChunkCodec.Type.CHUNK.keyOf(deleted)));
        List<Problem> problems = repo.verify(1.0).problems();
        assertThat(problems).extracting(Problem::key, Problem::kind).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple(ChunkCodec.Type.CHUNK.keyOf(truncated), Problem.Kind.CORRUPT),
                org.assertj.core.groups.Tuple.tuple(ChunkCodec.Type.CHUNK.keyOf(deleted), Problem.Kind.MISSING));
        assertThat(problems).filteredOn(p -> p.kind() == Problem.Kind.MISSING).singleElement()
                .satisfies(p -> assertThat(p.detail()).contains("manifest " + b.shortForm()));
        // A sample of zero still finds the missing chunk (existence is always checked) but reads none.
        assertThat(repo.verify(0.0).problems()).extracting(Problem::kind).containsExactly(Problem.Kind.MISSING);
    }

    @Test
    void garbageOverAPageIsReportedAsExactlyThatPage() throws Exception {
        ChunkId page = repo.openManifest(a).pageIds()[0]; // entries 0..15, only in a
        ObjectKey key = ChunkCodec.Type.PAGE.keyOf(page);
        garbage(key);
        assertThat(repo.verify(1.0).problems()).singleElement().satisfies(p -> {
            assertThat(p.key()).isEqualTo(key);
            assertThat(p.kind()).isEqualTo(Problem.Kind.CORRUPT);
            assertThat(p.detail()).contains("page of manifest " + a.shortForm());
        });
        // this process holds the page in memory since it wrote it (and serves those bytes); a process that
        // reads the object — here the repository opened again, as after a restart — finds the damage
        assertThat(repo.openManifest(a).entry(3)).isNotEqualTo(ChunkId.ZERO);
        repo = Repository.open(backend, null, java.time.InstantSource.system());
        ManifestReader r = repo.openManifest(a); // the root is fine
        assertThatThrownBy(() -> r.entry(3)).isInstanceOf(CorruptObjectException.class).hasMessageContaining(key.toString());
        readsIntact(a, 0, 0, 16);
        readsIntact(b, 20, 0, 0);
    }

    @Test
    void garbageOverARootIsReportedAsExactlyThatRoot() throws Exception {
        ObjectKey key = ChunkCodec.Type.ROOT.keyOf(a.content());
        garbage(key);
        assertThat(repo.verify(1.0).problems()).singleElement().satisfies(p -> {
            assertThat(p.key()).isEqualTo(key);
            assertThat(p.kind()).isEqualTo(Problem.Kind.CORRUPT);
        });
        assertThatThrownBy(() -> repo.openManifest(a)).isInstanceOf(CorruptObjectException.class).hasMessageContaining(key.toString());
        readsIntact(b, 20, 0, 0);
    }

    @Test
    void garbageOverTheConfigFallsBackToTheCopyAndIsReported() throws Exception {
        garbage(Repository.CONFIG);
        backend.close();
        backend = LocalBackend.open(dir);
        repo = Repository.open(backend, null);
        assertThat(repo.verify(1.0).problems()).singleElement().satisfies(p -> {
            assertThat(p.key()).isEqualTo(Repository.CONFIG);
            assertThat(p.kind()).isEqualTo(Problem.Kind.CORRUPT);
        });
        readsIntact(a, 0, 0, 0);
        readsIntact(b, 20, 0, 0);

        garbage(Repository.CONFIG_COPY);
        assertThatThrownBy(() -> Repository.open(backend, null))
                .isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("both config copies")
                .hasMessageContaining("config.copy");
    }

    @Test
    void aMissingConfigCopyIsReported() throws Exception {
        Files.delete(backend.pathOf(Repository.CONFIG_COPY));
        assertThat(repo.verify(1.0).problems()).singleElement()
                .satisfies(p -> assertThat(p).isEqualTo(new Problem(Repository.CONFIG_COPY, Problem.Kind.MISSING, "config object is missing")));
    }

    @Test
    void verifyReportsEveryProblemNotJustTheFirst() throws Exception {
        ChunkId c1 = repo.openManifest(a).entry(2);
        ChunkId c2 = repo.openManifest(b).entry(30);
        garbage(ChunkCodec.Type.CHUNK.keyOf(c1));
        garbage(ChunkCodec.Type.CHUNK.keyOf(c2));
        garbage(ChunkCodec.Type.ROOT.keyOf(a.content()));
        VerifyReport report = repo.verify(1.0);
        assertThat(report.problems()).extracting(Problem::key).containsExactlyInAnyOrder(
                ChunkCodec.Type.CHUNK.keyOf(c1), ChunkCodec.Type.CHUNK.keyOf(c2), ChunkCodec.Type.ROOT.keyOf(a.content()));
        assertThat(report.ok()).isFalse();
    }
}
