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
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotCaptureTest {
    @TempDir Path dir;

    /** Small blocks go in long runs (RUN_BYTES of them: a thousand 4 KiB blocks), each block still as it was at the barrier. */
    @Test
    void smallBlocksAreReadInLongRuns() throws Exception {
        int bs = 4096;
        int run = SnapshotCapture.RUN_BYTES / bs;
        assertThat(run).isGreaterThan(64); // runs used to stop at 64 blocks, and longer ones failed ("1..64 blocks at a time")
        int size = 3 * run * bs + 5 * bs; // every block changed: three whole runs, then a shorter one
        Repository repo = Repository.create(LocalBackend.open(dir.resolve("repository")), RepositoryOptions.defaults().withBlockSize(bs));
        BaseCache cache = new BaseCache(dir.resolve("cache"), repo);
        VolumeManager volumes = new VolumeManager(dir.resolve("volumes"), bs, cache);
        volumes.create("disk-small", size);
        byte[] bytes = new byte[size];
        new Random(7).nextBytes(bytes);
        try (Volume v = volumes.open("disk-small")) {
            v.write(0, ByteBuffer.wrap(bytes), false);
        }
        SnapshotEngine engine = new SnapshotEngine(repo, volumes, cache, 2);
        ManifestId m = engine.begin(List.of(new SnapshotEngine.Request("disk-small", null, Map.of()))).getFirst().run((d, t, b) -> {}, id -> {});
        assertThat(SnapshotModelTest.readAll(engine.openSnapshot(m))).isEqualTo(bytes);
    }
}
