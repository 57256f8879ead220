package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CopySnapshotCrossRegions between two real {@code cairn serve} processes, each a region with its own
 * repository: copy, change, copy again (only the changed chunks travel), kill -9 the source mid-copy
 * and let the restarted source resume it; every copy is NORMAL only verified, and clones of it in the
 * destination read the source's bytes over NBD.
 */
class CrossRegionCopyIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MIB = 1 << 20;
    private static final int SIZE = 128 * MIB;

    @TempDir Path tmp;

    @Test
    void copyChangeCopyAgainAndResumeAfterKillNine() throws Exception {
        byte[] v1 = random(1, SIZE);
        Arrays.fill(v1, 96 * MIB, SIZE, (byte) 0); // a zero stretch: never sent
        byte[] v2 = v1.clone();
        System.arraycopy(random(2, 2 * MIB), 0, v2, 8 * MIB, 2 * MIB); // 2 MiB changed
        byte[] v3 = v2.clone();
        System.arraycopy(random(3, 64 * MIB), 0, v3, 64 * MIB, 64 * MIB); // 64 MiB changed, half of it where zeros were

        try (CairnProcess beijing = CairnProcess.start(tmp.resolve("beijing"), "--region", "ap-beijing")) {
            Path b = beijing.credentials();
            String[] sourceFlags = {"--peer-region", b.toString(), "--copy-rate", "6"}; // slow enough for a kill mid-copy after four CLI runs (0.4-0.6 s each on a slow VM; at 12 MiB/s the 64 MiB copy once ended first)
            CairnProcess guangzhou = CairnProcess.start(tmp.resolve("guangzhou"), sourceFlags);
            try {
                Path g = guangzhou.credentials();
                String instance = cairn(g, "instance", "create", "--wait").ok().out().trim();
                String disk = cairn(g, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();

                // 1. copy: the disk's 96 MiB of data travel, its zeros do not
                write(guangzhou, disk, v1);
                String s1 = cairn(g, "snapshot", "create", disk, "--name", "v1", "--wait").ok().out().trim();
                String c1 = cairn(g, "snapshot", "copy", s1, "--to", "ap-beijing", "--wait").ok().out().trim();
                JsonNode copy1 = copyOf(g, s1);
                assertThat(copy1.path("State").asText()).isEqualTo("DONE");
                assertThat(copy1.path("BytesSent").asLong()).isBetween(96L * MIB, 97L * MIB); // random data: stored as it is, plus headers
                JsonNode arrived = snapshot(b, c1);
                assertThat(arrived.path("SnapshotState").asText()).isEqualTo("NORMAL");
                assertThat(arrived.path("CopyFromRemote").asBoolean()).isTrue();
                assertThat(arrived.path("Placement").path("Zone").asText()).startsWith("ap-beijing-");
                assertThat(arrived.path("SnapshotName").asText()).isEqualTo("Copied " + s1 + " from ap-guangzhou");
                assertSameBytes(cloneAndRead(beijing, c1), v1);

                // 2. change 2 MiB, copy again: only those chunks travel
                write(guangzhou, disk, v2);
                String s2 = cairn(g, "snapshot", "create", disk, "--name", "v2", "--wait").ok().out().trim();
                String c2 = cairn(g, "snapshot", "copy", s2, "--to", "ap-beijing", "--name", "v2 in beijing", "--wait").ok().out().trim();
                assertThat(copyOf(g, s2).path("BytesSent").asLong()).isBetween(2L * MIB, 2L * MIB + 4096);
                assertThat(snapshot(b, c2).path("SnapshotName").asText()).isEqualTo("v2 in beijing");
                assertSameBytes(cloneAndRead(beijing, c2), v2);

                // errors: an unknown region, and this region itself
                assertThat(cairn(g, "snapshot", "copy", s2, "--to", "ap-mars").err()).contains("InvalidParameterValue", "ap-mars");
                assertThat(cairn(g, "snapshot", "copy", s2, "--to", "ap-guangzhou").err()).contains("InvalidParameterValue");

                // 3. change 64 MiB, copy, and kill -9 the source once 16 MiB went
                write(guangzhou, disk, v3);
                String s3 = cairn(g, "snapshot", "create", disk, "--name", "v3", "--wait").ok().out().trim();
                String c3 = cairn(g, "snapshot", "copy", s3, "--to", "ap-beijing").ok().out().trim();
                assertThat(snapshot(g, s3).path("CopyingToRegions").toString()).isEqualTo("[\"ap-beijing\"]");
                assertThat(snapshot(b, c3).path("SnapshotState").asText()).isIn("COPYING_FROM_REMOTE", "CHECKING_COPIED");
                assertThat(cairn(g, "snapshot", "copy", s3, "--to", "ap-beijing").err()).contains("ResourceInUse.CopySnapshotConflict");
                assertThat(cairn(g, "snapshot", "delete", s3).err()).contains("ResourceBusy");
                awaitCopy(g, s3, c -> c.path("BytesSent").asLong() >= 16L * MIB);
                guangzhou.kill();
                assertThat(snapshot(b, c3).path("SnapshotState").asText()).isEqualTo("COPYING_FROM_REMOTE");

                guangzhou = CairnProcess.start(tmp.resolve("guangzhou"), sourceFlags); // resumes the copy
                g = guangzhou.credentials();
                JsonNode copy3 = awaitCopy(g, s3, c -> !c.path("State").asText().equals("RUNNING"));
                assertThat(copy3.path("State").asText()).isEqualTo("DONE");
                assertThat(copy3.path("Attempts").asInt()).isEqualTo(2);
                // what the killed attempt had sent did not travel again (at most its last unrecorded request)
                assertThat(copy3.path("BytesSent").asLong()).isBetween(56L * MIB, 73L * MIB);
                assertThat(snapshot(g, s3).path("CopyingToRegions").toString()).isEqualTo("[]");
                assertThat(snapshot(b, c3).path("SnapshotState").asText()).isEqualTo("NORMAL");
                assertSameBytes(cloneAndRead(beijing, c3), v3);

                String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(guangzhou.api + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
                assertThat(metrics).contains("cairn_snapshot_copies_total{result=\"done\"} 1.0", "cairn_snapshot_copy_sent_bytes_total");
                System.out.printf("copies sent: %d, %d and %d bytes (the last over two attempts)%n", copy1.path("BytesSent").asLong(),
                        copyOf(g, s2).path("BytesSent").asLong(), copy3.path("BytesSent").asLong());
                cairn(b, "repo", "verify").ok();
                cairn(g, "snapshot", "delete", s3).ok(); // no longer being copied
                assertThat(guangzhou.stop()).isZero();
            } finally {
                guangzhou.close();
            }
            assertThat(beijing.stop()).isZero();
        }
    }

    /** Equal, or where they first differ (not a dump of 128 MiB). */
    private static void assertSameBytes(byte[] actual, byte[] expected) {
        assertThat(Arrays.mismatch(actual, expected)).as("first differing byte offset").isEqualTo(-1);
    }

    private void write(CairnProcess server, String disk, byte[] content) throws Exception {
        Path f = Files.write(tmp.resolve("image.raw"), content);
        run("nbdcopy", "--flush", f.toString(), server.nbdUri(disk)).ok();
        Files.delete(f);
    }

    /** A new disk from {@code snapshot} in that region, attached to an instance there and read back over NBD. */
    private byte[] cloneAndRead(CairnProcess server, String snapshot) throws Exception {
        Path creds = server.credentials();
        String disk = cairn(creds, "snapshot", "clone", snapshot, "--wait").ok().out().trim();
        String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
        cairn(creds, "disk", "attach", disk, "--instance", instance, "--wait").ok();
        Path out = tmp.resolve("read-" + disk + ".raw");
        run("nbdcopy", server.nbdUri(disk), out.toString()).ok();
        byte[] head = new byte[SIZE]; // the disk is 10 GiB; what was written is at its start
        try (var in = Files.newInputStream(out)) {
            assertThat(in.readNBytes(head, 0, SIZE)).isEqualTo(SIZE);
        }
        Files.delete(out);
        return head;
    }

    private static JsonNode snapshot(Path creds, String id) throws Exception {
        return JSON.readTree(cairn(creds, "--output", "json", "snapshot", "list", id).ok().out()).path("SnapshotSet").get(0);
    }

    private static JsonNode copyOf(Path creds, String snapshot) throws Exception {
        return JSON.readTree(cairn(creds, "--output", "json", "snapshot", "copies", snapshot).ok().out()).path("CopySet").get(0);
    }

    private static JsonNode awaitCopy(Path creds, String snapshot, Predicate<JsonNode> done) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(90));
        while (true) {
            JsonNode c = copyOf(creds, snapshot);
            if (done.test(c)) return c;
            if (Instant.now().isAfter(deadline)) throw new AssertionError("copy of " + snapshot + " did not get there: " + c);
            Thread.sleep(100); // polling the API for background progress; bounded by the deadline
        }
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
