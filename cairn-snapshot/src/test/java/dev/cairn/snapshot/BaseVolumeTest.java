package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.local.LocalBackend;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot export over a real repository and base cache: what it reads, and what it leaves in the cache. */
class BaseVolumeTest {
    static final int BS = 64 * 1024;
    @TempDir Path dir;

    @Test
    void bulkReadsComeStraightFromTheRepositoryAndSmallOnesThroughTheCache() throws Exception {
        byte[] bytes = new byte[16 * BS];
        new Random(21).nextBytes(bytes);
        Arrays.fill(bytes, 5 * BS, 6 * BS, (byte) 0);
        try (LocalBackend backend = LocalBackend.open(dir.resolve("repo"))) {
            Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BS));
            ManifestId id = Manifests.commit(repo, bytes, BS);
            Path cacheDir = dir.resolve("cache");
            try (BaseCache cache = new BaseCache(cacheDir, repo); BaseVolume v = new BaseVolume(cache.open(id), BS)) {
                Path cacheFile = cacheDir.resolve(id + ".raw");
                ByteBuffer bulk = ByteBuffer.allocateDirect(8 * BS);
                v.read(4 * BS, bulk); // blocks 4-11, one of them zeros, none cached
                assertThat(bytesOf(bulk.flip())).isEqualTo(Arrays.copyOfRange(bytes, 4 * BS, 12 * BS));
                assertThat(Files.size(cacheFile)).as("a bulk read caches nothing").isZero();

                ByteBuffer small = ByteBuffer.allocate(4096);
                v.read(7 * BS + 100, small); // inside block 7: through the cache
                assertThat(small.array()).isEqualTo(Arrays.copyOfRange(bytes, 7 * BS + 100, 7 * BS + 100 + 4096));
                assertThat(Files.size(cacheFile)).isEqualTo(8L * BS);

                ByteBuffer again = ByteBuffer.allocate(16 * BS);
                v.read(0, again); // the whole snapshot: block 7 from the cache, the rest from the repository
                assertThat(again.array()).isEqualTo(bytes);
                assertThat(Files.size(cacheFile)).isEqualTo(8L * BS);
            }
        }
    }

    private static byte[] bytesOf(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }
}
