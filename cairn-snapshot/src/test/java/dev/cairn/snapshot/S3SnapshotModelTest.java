package dev.cairn.snapshot;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.s3.S3Backend;
import dev.cairn.repository.backend.s3.S3ProxyServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The same model run against a real S3 server process (S3Proxy) on loopback. */
class S3SnapshotModelTest extends SnapshotModelTest {
    @TempDir static Path serverDir;
    static S3ProxyServer server;

    @BeforeAll
    static void start() throws Exception {
        server = S3ProxyServer.start(serverDir);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Override
    String backendLog() {
        return server == null ? "" : server.tail();
    }

    @Override
    Backend backend(Path dir) throws Exception {
        return S3Backend.open(server.newBucketOptions());
    }
}
