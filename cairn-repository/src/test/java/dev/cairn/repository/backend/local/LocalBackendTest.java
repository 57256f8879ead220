package dev.cairn.repository.backend.local;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendContract;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class LocalBackendTest extends BackendContract {
    @TempDir
    Path dir;

    @Override
    protected Backend newBackend() throws Exception {
        return LocalBackend.open(dir.resolve("repo"));
    }
}
