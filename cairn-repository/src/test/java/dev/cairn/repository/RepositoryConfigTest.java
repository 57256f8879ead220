package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class RepositoryConfigTest {

    private static final ObjectKey KEY = new ObjectKey(ObjectKind.CONFIG, "config");
    private static final String ID = HexFormat.of().formatHex(Blocks.random(32, 1));

    private static RepositoryConfig plain() {
        return new RepositoryConfig(1, ID, Instant.parse("2026-11-26T08:00:00Z"), 1 << 20, 512, RepositoryConfig.ChunkIdAlgorithm.SHA256, 3, null);
    }

    private static RepositoryConfig encrypted() {
        var e = new RepositoryConfig.Encryption(RepositoryConfig.Kdf.PBKDF2_HMAC_SHA256, 600_000, "00112233445566778899aabbccddeeff", "ab".repeat(76));
        return new RepositoryConfig(1, ID, Instant.parse("2026-11-26T08:00:00Z"), 1 << 20, 512, RepositoryConfig.ChunkIdAlgorithm.HMAC_SHA256, 3, e);
    }

    /** Re-signs edited text so only the edit (not the checksum) is under test. */
    private static byte[] resign(String textWithoutChecksum) {
        byte[] body = textWithoutChecksum.getBytes(StandardCharsets.UTF_8);
        return (textWithoutChecksum + "checksum=sha256:" + HexFormat.of().formatHex(Crypto.sha256().digest(body)) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static String body(RepositoryConfig c) {
        String s = new String(c.toBytes(), StandardCharsets.UTF_8);
        return s.substring(0, s.indexOf("checksum="));
    }

    @Test
    void roundTripsAndReadsAsDocumented() throws Exception {
        for (RepositoryConfig c : new RepositoryConfig[] {plain(), encrypted()}) {
            assertThat(RepositoryConfig.parse(KEY, c.toBytes())).isEqualTo(c);
        }
        String text = new String(plain().toBytes(), StandardCharsets.UTF_8);
        assertThat(text).startsWith("cairn-repository-config\nformat-version=1\nrepository-id=" + ID + "\n")
                .contains("\nblock-size=1048576\npage-entries=512\nchunk-id=sha256\ncompression=zstd\ncompression-level=3\nencryption=none\n")
                .containsPattern("\nchecksum=sha256:[0-9a-f]{64}\n$");
        assertThat(new String(encrypted().toBytes(), StandardCharsets.UTF_8))
                .contains("encryption=aes-256-gcm\nkdf=pbkdf2-hmac-sha256\nkdf-iterations=600000\nkdf-salt=");
    }

    @Test
    void damageIsCorruption() {
        byte[] bytes = plain().toBytes();
        bytes[40] ^= 1;
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, bytes)).isInstanceOf(CorruptObjectException.class).hasMessageContaining("checksum");
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, new byte[] {1, 2, 3})).isInstanceOf(CorruptObjectException.class);
        byte[] truncated = java.util.Arrays.copyOf(plain().toBytes(), 50);
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, truncated)).isInstanceOf(CorruptObjectException.class);
    }

    @Test
    void unknownVersionIsRefusedAsUnsupported() throws Exception {
        byte[] v3 = resign(body(plain()).replace("format-version=1", "format-version=3"));
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, v3))
                .isInstanceOf(UnsupportedFormatException.class).hasMessageContaining("version 3");
        byte[] v2 = resign(body(plain()).replace("format-version=1", "format-version=2"));
        assertThat(RepositoryConfig.parse(KEY, v2).packed()).as("format 2: packs").isTrue();
    }

    @Test
    void unknownAlgorithmsAndLinesAreRefused() {
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, resign(body(plain()).replace("compression=zstd", "compression=lz4"))))
                .isInstanceOf(UnsupportedFormatException.class);
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, resign(body(plain()).replace("chunk-id=sha256", "chunk-id=blake3"))))
                .isInstanceOf(UnsupportedFormatException.class);
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, resign(body(plain()) + "frobnicate=yes\n")))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("unexpected line");
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, resign(body(plain()).replace("page-entries=512\n", ""))))
                .isInstanceOf(CorruptObjectException.class);
        assertThatThrownBy(() -> RepositoryConfig.parse(KEY, resign(body(plain()).replace("block-size=1048576", "block-size=1000"))))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("block size");
    }
}
