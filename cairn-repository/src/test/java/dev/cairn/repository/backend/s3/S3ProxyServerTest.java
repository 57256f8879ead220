package dev.cairn.repository.backend.s3;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Without S3Proxy the S3 tests fail with a clear message; they never skip. */
class S3ProxyServerTest {

    @Test
    void aMissingJarFailsLoudly(@TempDir Path dir) {
        String saved = System.getProperty("s3proxy.jar");
        try {
            System.setProperty("s3proxy.jar", dir.resolve("no-such-s3proxy.jar").toString());
            assertThatThrownBy(() -> S3ProxyServer.start(dir)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("S3Proxy jar not found at").hasMessageContaining("no-such-s3proxy.jar");
            System.clearProperty("s3proxy.jar");
            assertThatThrownBy(() -> S3ProxyServer.start(dir)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("s3proxy.jar is not set");
        } finally {
            if (saved != null) System.setProperty("s3proxy.jar", saved);
        }
    }
}
