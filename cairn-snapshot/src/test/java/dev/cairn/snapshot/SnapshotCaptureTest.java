package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.local.LocalBackend;
import dev.cairn.volume.TrackedVolume;
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

    /** Runs are {@link SnapshotCapture#RUN_BYTES} long, but never more blocks than a capture reads at once. */
    @Test
    void smallBlocksAreReadInRunsOfAtMostTheCapturesLimit() throws Exception {
        int bs = 4096;
        assertThat(SnapshotCapture.RUN_BYTES / bs).isGreaterThan(TrackedVolume.Capture.MAX_RUN_BLOCKS);
        int size = 3 * TrackedVolume.Capture.MAX_RUN_BLOCKS * bs + 5 * bs; // every block changed: runs of the limit, then a shorter one
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
