package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cairn image import}: a qcow2 file becomes a public image every account can launch instances from. */
class ImageImportIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    @Test
    void aQcow2FileBecomesAPublicImageForEveryAccount() throws Exception {
        Path raw = tmp.resolve("os.raw");
        byte[] head = new byte[3 << 20];
        new Random(8).nextBytes(head);
        Files.write(raw, head);
        run("truncate", "-s", "1G", raw.toString()).ok();
        Path qcow2 = tmp.resolve("os.qcow2");
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), qcow2.toString()).ok();

        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            Path creds = server.credentials();
            String image = cairn(creds, "image", "import", qcow2.toString(), "--name", "distro-1").ok().out().trim();
            assertThat(image).matches("img-[a-z0-9]{8}");

            Path alice = tmp.resolve("alice.json");
            Files.writeString(alice, cairn(creds, "account", "create", "alice").ok().out());
            assertThat(cairn(alice, "image", "list").ok().out()).contains(image, "distro-1", "PUBLIC_IMAGE");
            Tools.Result notAdmin = cairn(alice, "image", "delete", image);
            assertThat(notAdmin.exit()).isNotZero();
            String instance = cairn(alice, "instance", "create", "--image", image, "--wait").ok().out().trim();
            String disk = null;
            for (JsonNode d : JSON.readTree(cairn(alice, "--output", "json", "disk", "list", "--instance", instance).ok().out()).path("DiskSet")) {
                if (d.path("DiskUsage").asText().equals("SYSTEM_DISK")) disk = d.path("DiskId").asText();
            }
            String hex = run("nbdsh", "-u", server.nbdUri(disk), "-c", "print(h.pread(3 << 20, 0).hex())").ok().out().trim();
            assertThat(HexFormat.of().parseHex(hex)).isEqualTo(head);
            assertThat(server.stop()).isZero();
        }
    }
}
