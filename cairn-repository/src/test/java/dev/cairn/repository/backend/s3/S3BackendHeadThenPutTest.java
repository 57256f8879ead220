package dev.cairn.repository.backend.s3;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendContract;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The backend contract for stores without conditional puts: HEAD-then-PUT, no key prefix. */
class S3BackendHeadThenPutTest extends BackendContract {
    @TempDir
    static Path dir;
    static S3ProxyServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.start(dir);
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) server.close();
    }

    @Override
    protected Backend newBackend() throws Exception {
        return S3Backend.open(server.newBucketOptions().withListPageSize(100).withConditionalPut(false));
    }
}
