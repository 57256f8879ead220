package dev.cairn.repository.backend.s3;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** A request is tried as often as {@link S3Backend.Options#attempts()} says, then fails with a clear error. */
class S3BackendAttemptsTest {

    @Test
    void aStoreThatIsNotThereIsTriedAsOftenAsConfiguredThenReported() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort(); // closed again: nothing listens there
        }
        S3Backend.Options options = S3Backend.Options.of(URI.create("http://127.0.0.1:" + port), "absent", "AK", "SK");
        assertThatThrownBy(() -> S3Backend.open(options.withAttempts(3)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("S3 check bucket at s3:http://127.0.0.1:" + port)
                .hasMessageContaining("Attempt Count: 3");
        assertThatThrownBy(() -> S3Backend.open(options.withAttempts(1))).hasMessageContaining("Attempt Count: 1");
        assertThatThrownBy(() -> options.withAttempts(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
