package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CredentialsTest {
    @TempDir Path dir;

    @Test
    void theFileIsReadAsTheContractShapesItAndWrittenBackTheSame() throws IOException {
        Path file = dir.resolve("credentials.json");
        Files.writeString(file, """
                {"accountId": 100000000001, "secretId": "AKIDx", "secretKey": "k", "region": "ap-beijing",
                 "endpoint": "http://127.0.0.1:8080", "comment": "fields it does not know are ignored"}""");
        Credentials c = Credentials.read(file, Main.JSON);
        assertThat(c).isEqualTo(new Credentials("100000000001", "AKIDx", "k", "ap-beijing", "http://127.0.0.1:8080"));
        Path copy = dir.resolve("copy.json");
        c.write(copy, Main.JSON);
        assertThat(Credentials.read(copy, Main.JSON)).isEqualTo(c);
    }

    @Test
    void aFileWithoutARegionGetsTheDefaultOne() throws IOException {
        Path file = dir.resolve("c.json");
        Files.writeString(file, "{\"secretId\":\"AKIDx\",\"secretKey\":\"k\",\"endpoint\":\"http://h:1\",\"region\":null}");
        assertThat(Credentials.read(file, Main.JSON).region()).isEqualTo("ap-guangzhou");
    }

    @Test
    void aMissingFileOrFieldIsAClearError() throws IOException {
        assertThatThrownBy(() -> Credentials.read(dir.resolve("absent.json"), Main.JSON))
                .isInstanceOf(IOException.class).hasMessageContaining("no credentials file at");
        Path file = dir.resolve("c.json");
        Files.writeString(file, "{\"secretId\":\"AKIDx\",\"secretKey\":{\"not\":\"text\"},\"endpoint\":\"http://h:1\"}");
        assertThatThrownBy(() -> Credentials.read(file, Main.JSON)).hasMessageContaining("lacks secretId, secretKey or endpoint");
        Files.writeString(file, "{\"secretId\":");
        assertThatThrownBy(() -> Credentials.read(file, Main.JSON)).isInstanceOf(IOException.class);
    }
}
