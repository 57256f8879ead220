package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch deployment (issue 6) against {@code cairn serve} with real tools: an image made of an instance
 * whose system disk holds ext4, ten instances launched from it; every one reads the same file system
 * over NBD, {@code e2fsck -fn} clean, and the repository and the node's disk grow by about one image,
 * not ten.
 */
class DeployIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    @Test
    void tenInstancesFromOneImageReadTheSameFileSystemAndCostOneImage() throws Exception {
        Path data = tmp.resolve("data");
        try (CairnProcess server = CairnProcess.start(data)) {
            Path creds = server.credentials();
            String golden = cairn(creds, "instance", "create", "--name", "golden", "--wait").ok().out().trim();
            String system = systemDisk(creds, golden);
            Path src = Files.createDirectories(tmp.resolve("src/etc"));
            byte[] app = new byte[8 << 20];
            new Random(3).nextBytes(app);
            Files.write(src.resolveSibling("app.bin"), app);
            Files.writeString(src.resolve("motd"), "built once, deployed ten times\n");
            Path image = tmp.resolve("root.img");
            run("mke2fs", "-q", "-F", "-t", "ext4", "-d", tmp.resolve("src").toString(), image.toString(), "64M").ok();
            run("nbdcopy", "--flush", image.toString(), server.nbdUri(system)).ok();

            String img = cairn(creds, "image", "create", "--name", "web", "--instance", golden, "--wait").ok().out().trim();
            assertThat(img).matches("img-[a-z0-9]{8}");
            assertThat(cairn(creds, "image", "list").ok().out()).contains(img, "PRIVATE_IMAGE", "NORMAL");
            long repoBefore = allocatedKiB(data.resolve("repository"));
            long dataBefore = allocatedKiB(data);

            List<String> instances = List.of(cairn(creds, "instance", "create", "--image", img, "--count", "10", "--wait").ok().out().trim().split("\\s+"));
            assertThat(instances).hasSize(10);
            List<String> digests = new ArrayList<>();
            for (String instance : instances) {
                String disk = systemDisk(creds, instance);
                digests.add(run("nbdsh", "-u", server.nbdUri(disk), "-c",
                        "import hashlib; print(hashlib.sha256(h.pread(32 << 20, 0) + h.pread(32 << 20, 32 << 20)).hexdigest())").ok().out().trim());
            }
            assertThat(digests).containsOnly(digests.getFirst());
            Path copy = tmp.resolve("one.img");
            run("nbdcopy", server.nbdUri(systemDisk(creds, instances.get(4))), copy.toString()).ok();
            run("truncate", "-s", "64M", copy.toString()).ok();
            run("e2fsck", "-fn", copy.toString()).ok();
            Path out = Files.createDirectories(tmp.resolve("out"));
            run("debugfs", "-R", "rdump / " + out, copy.toString()).ok();
            assertThat(Files.readAllBytes(out.resolve("app.bin"))).isEqualTo(app);

            // one image, not ten: nothing new in the repository; the node holds the image once (its base cache) plus metadata
            assertThat(allocatedKiB(data.resolve("repository"))).isEqualTo(repoBefore);
            long grown = allocatedKiB(data) - dataBefore;
            assertThat(grown).as("KiB the node's data grew by for ten instances").isLessThan(2 * 12 * 1024); // about one image (≈ 9 MiB used)
            assertThat(server.stop()).isZero();
        }
    }

    private static String systemDisk(Path creds, String instance) throws Exception {
        for (JsonNode d : JSON.readTree(cairn(creds, "--output", "json", "disk", "list", "--instance", instance).ok().out()).path("DiskSet")) {
            if (d.path("DiskUsage").asText().equals("SYSTEM_DISK")) return d.path("DiskId").asText();
        }
        throw new AssertionError("no system disk on " + instance);
    }

    private static long allocatedKiB(Path dir) throws Exception {
        return Long.parseLong(run("du", "-sk", dir.toString()).ok().out().trim().split("\\s+")[0]);
    }
}
