package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.backend.s3.S3Backend;
import dev.cairn.repository.backend.s3.S3ProxyServer;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository end to end on a real S3 server process: encrypted, incremental, GC, verify, reopen. */
class S3RepositoryTest {
    @TempDir
    static Path dir;
    static S3ProxyServer server;

    @BeforeAll
    static void start() throws Exception {
        server = S3ProxyServer.start(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
    }

    @Test
    void snapshotsRoundTripThroughS3() throws Exception {
        int block = 64 * 1024;
        S3Backend.Options options = server.newBucketOptions().withPrefix("cairn/repo");
        // Object times come from the S3 server; the repository clock runs two days ahead so GC sees them as old.
        TestClock clock = new TestClock(Instant.now().plus(Duration.ofDays(2)));
        ManifestId first;
        ManifestId second;
        try (S3Backend backend = S3Backend.open(options)) {
            Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(block).withPageEntries(16)
                    .withKey(RepositoryKey.passphrase("s3 secret")).withKdfIterations(1000), clock);
            try (ManifestWriter w = repo.newManifest(null, 40L * block, Map.of("snapshot", "snap-1"))) {
                for (int i = 0; i < 40; i++) w.putBlock(i, Blocks.buf(i % 3 == 0 ? new byte[block] : Blocks.text(block, i)));
                first = w.commit();
            }
            try (ManifestWriter w = repo.newManifest(first, 40L * block, Map.of("snapshot", "snap-2"))) {
                w.putBlock(1, Blocks.buf(Blocks.random(block, 1)));
                second = w.commit();
            }
        }
        try (S3Backend backend = S3Backend.open(options.withCreateBucket(false))) {
            Repository repo = Repository.open(backend, RepositoryKey.passphrase("s3 secret"), clock);
            assertThat(repo.listManifests()).containsExactlyInAnyOrder(first, second);
            assertThat(repo.openManifest(second).info().metadata()).containsEntry("snapshot", "snap-2");
            repo.deleteManifest(first);
            GarbageCollector gc = repo.garbageCollector(Duration.ofHours(1));
            GcResult result = gc.execute(gc.plan(Set.of()));
            assertThat(result.deletedChunks()).as("block 1 of snap-1 only").isEqualTo(1);
            ManifestReader r = repo.openManifest(second);
            for (int i = 0; i < 40; i++) {
                ByteBuffer dst = ByteBuffer.allocate(block);
                r.readBlock(i, dst);
                byte[] expected = i == 1 ? Blocks.random(block, 1) : i % 3 == 0 ? new byte[block] : Blocks.text(block, i);
                assertThat(dst.array()).as("block %d", i).isEqualTo(expected);
            }
            assertThat(repo.verify(1.0).problems()).isEmpty();
        }
    }
}
