package dev.cairn.snapshot;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestWriter;
import dev.cairn.repository.Repository;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/** Test helper: a disk image stored as a committed manifest. */
final class Manifests {
    private Manifests() {}

    /** Stores {@code bytes} (a whole number of the repository's blocks) and commits them as one manifest. */
    static ManifestId commit(Repository repo, byte[] bytes, int blockSize) throws IOException {
        try (ManifestWriter w = repo.newManifest(null, bytes.length, Map.of())) {
            for (int b = 0; b < bytes.length / blockSize; b++) w.putBlock(b, ByteBuffer.wrap(bytes, b * blockSize, blockSize));
            return w.commit();
        }
    }
}
