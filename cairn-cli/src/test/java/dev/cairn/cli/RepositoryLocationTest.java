package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An s3:// location's parameters are checked before anything is contacted. */
class RepositoryLocationTest {
    @TempDir Path dir;
    static final Map<String, String> KEYS = Map.of("CAIRN_S3_ACCESS_KEY_ID", "AK", "CAIRN_S3_SECRET_ACCESS_KEY", "SK");

    @Test
    void aNumberOfTriesThatIsNotOneTo100IsAClearError() {
        assertThatThrownBy(() -> RepositoryLocation.backend("s3://b?endpoint=http://127.0.0.1:9&attempts=many", dir, KEYS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attempts=N needs a number of tries (1..100), not 'many'");
        assertThatThrownBy(() -> RepositoryLocation.backend("s3://b?endpoint=http://127.0.0.1:9&attempts=0", dir, KEYS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attempts must be 1..100: 0");
        assertThatThrownBy(() -> RepositoryLocation.backend("s3://b?endpoint=http://127.0.0.1:9&attempts=101", dir, KEYS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attempts must be 1..100: 101");
    }

    @Test
    void anS3LocationNeedsItsKeys() {
        assertThatThrownBy(() -> RepositoryLocation.backend("s3://b?endpoint=http://127.0.0.1:9", dir, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("CAIRN_S3_ACCESS_KEY_ID");
    }
}
