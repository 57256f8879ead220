package dev.cairn.repository.backend.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendContract;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The backend contract against a real S3Proxy process on loopback (one per class, a bucket per test). */
class S3BackendTest extends BackendContract {
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

    S3Backend.Options options;

    @Override
    protected Backend newBackend() throws Exception {
        options = server.newBucketOptions().withListPageSize(100).withPrefix("repo");
        return S3Backend.open(options);
    }

    @Test
    void aHintedRangeIsServedFromItsReadAheadAndForgottenWhenThisBackendDeletesTheKey() throws Exception {
        ObjectKey k = new ObjectKey(ObjectKind.PACK, "ab".repeat(32));
        backend.putIfAbsent(k, ByteBuffer.wrap("0123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        S3Backend s3 = (S3Backend) backend;
        s3.willRead(k, 2, 5);
        s3.readAheadOf(k, 2, 5).get(10, TimeUnit.SECONDS);
        try (S3Backend other = S3Backend.open(options)) {
            other.delete(k); // behind this backend's back: only its read-ahead still has the bytes
        }
        assertThat(java.nio.charset.StandardCharsets.US_ASCII.decode(backend.get(k, 2, 5)).toString())
                .as("served from the read-ahead, not asked again").isEqualTo("23456");
        assertThatThrownBy(() -> backend.get(k, 2, 5)).as("a range is taken once").isInstanceOf(NoSuchObjectException.class);

        backend.putIfAbsent(k, ByteBuffer.wrap("abcdefghij".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        s3.willRead(k, 0, 3);
        s3.readAheadOf(k, 0, 3).get(10, TimeUnit.SECONDS);
        backend.delete(k);
        assertThatThrownBy(() -> backend.get(k, 0, 3)).as("this backend's delete forgets the key's ranges").isInstanceOf(NoSuchObjectException.class);
    }
}
