package dev.cairn.snapshot;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.local.LocalBackend;
import java.nio.file.Path;

class LocalSnapshotModelTest extends SnapshotModelTest {
    @Override
    Backend backend(Path dir) throws Exception {
        return LocalBackend.open(dir.resolve("repo"));
    }
}
