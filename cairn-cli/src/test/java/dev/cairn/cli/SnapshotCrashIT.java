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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 at random moments during a capture, a rollback, a flatten (after a rollback) and a repository
 * GC, over five seeds. After each restart: no NORMAL snapshot is corrupt ({@code repo verify}), every
 * flushed write is intact, an interrupted capture left no snapshot and its changes are in the next one,
 * a rollback took effect wholly or not at all and left no disk rolling back, and a rolled-back disk
 * reads as its snapshot whatever its flatten had reached. Kills that must land mid-way are checked to.
 */
class SnapshotCrashIT {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int DATA = 96 << 20;
    @TempDir Path tmp;

    /** Seeds whose kill landed while the capture ran (it left no snapshot): at least one must, or the test tested nothing. */
    private int capturesKilledMidway;

    @Test
    void killNineDuringCaptureRollbackFlattenAndGc() throws Exception {
        for (long seed = 1; seed <= 5; seed++) round(seed);
        assertThat(capturesKilledMidway).as("seeds whose kill landed mid-capture").isPositive();
    }

    private void round(long seed) throws Exception {
        Random r = new Random(seed);
        Path data = tmp.resolve("data-" + seed);
        byte[] v1 = bytes(seed * 10 + 1, DATA);
        byte[] v2 = bytes(seed * 10 + 2, DATA); // every block changes: the second capture reads it all
        Path file1 = write(tmp.resolve("v1-" + seed), v1);
        Path file2 = write(tmp.resolve("v2-" + seed), v2);
        String[] flags = {"--flatten-rate", "16"}; // slow enough that a kill lands mid-flatten
        String disk;
        String instance;
        String good;

        // 1. a capture killed part-way
        try (CairnProcess server = CairnProcess.start(data, flags)) {
            Path creds = server.credentials();
            instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
            disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
            run("nbdcopy", "--flush", file1.toString(), server.nbdUri(disk)).ok();
            good = cairn(creds, "snapshot", "create", disk, "--name", "v1", "--wait").ok().out().trim();
            run("nbdcopy", "--flush", file2.toString(), server.nbdUri(disk)).ok();
            createSnapshot(server, disk); // in-process, so the kill lands within milliseconds of the barrier
            Thread.sleep(r.nextInt(100)); // somewhere in the capture (or just after it)
            server.kill();
        }
        try (CairnProcess server = CairnProcess.start(data, flags)) {
            Path creds = server.credentials();
            assertThat(read(server.nbdUri(disk), DATA)).as("seed %d: flushed writes after kill -9 in a capture", seed).isEqualTo(v2);
            JsonNode snaps = JSON.readTree(cairn(creds, "--output", "json", "snapshot", "list", "--disk", disk).ok().out()).path("SnapshotSet");
            System.out.printf("seed %d: the capture killed by kill -9 %s%n", seed, snaps.size() == 2 ? "had completed" : "was removed at restart");
            if (snaps.size() == 1) capturesKilledMidway++;
            for (JsonNode s : snaps) {
                assertThat(s.path("SnapshotState").asText()).as("seed %d: no half snapshot survives", seed).isEqualTo("NORMAL");
                byte[] expected = s.path("SnapshotName").asText().equals("v1") ? v1 : v2;
                assertThat(read(server.nbdUri(s.path("SnapshotId").asText()), DATA)).isEqualTo(expected);
            }
            cairn(creds, "repo", "verify").ok();
            // the next snapshot takes whatever the killed one did not
            String next = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();
            assertThat(read(server.nbdUri(next), DATA)).as("seed %d: the next snapshot has the changes", seed).isEqualTo(v2);

            // 2. a rollback killed while it is asked for, at a random moment of the call
            Thread call = Thread.ofPlatform().start(() -> {
                try {
                    applySnapshot(server, good, disk);
                } catch (Exception e) {
                    // the server may die before it answers
                }
            });
            Thread.sleep(r.nextInt(60));
            server.kill();
            call.join();
        }
        try (CairnProcess server = CairnProcess.start(data, flags)) {
            Path creds = server.credentials();
            cairn(creds, "instance", "start", instance, "--wait"); // AutoStopInstance may have stopped it; refused if it runs
            byte[] now = read(server.nbdUri(disk), DATA);
            assertThat(Arrays.equals(now, v1) || Arrays.equals(now, v2)).as("seed %d: after kill -9 in a rollback the disk is wholly before or after it", seed).isTrue();
            JsonNode d = JSON.readTree(cairn(creds, "--output", "json", "disk", "list", disk).ok().out()).path("DiskSet").get(0);
            assertThat(d.path("DiskState").asText()).as("seed %d: no disk is left rolling back", seed).isNotEqualTo("ROLLBACKING");
            System.out.printf("seed %d: the rollback killed by kill -9 %s%n", seed, Arrays.equals(now, v1) ? "had taken effect" : "had not taken effect");

            // 3. a rollback whose flatten is killed part-way
            cairn(creds, "snapshot", "rollback", good, "--auto-stop", "--auto-start", "--wait").ok();
            assertThat(read(server.nbdUri(disk), DATA)).isEqualTo(v1);
            Thread.sleep(r.nextInt(1500));
            JsonNode before = JSON.readTree(cairn(creds, "--output", "json", "disk", "list", disk).ok().out()).path("DiskSet").get(0);
            server.kill();
            assertThat(before.path("FlattenPercent").isNull()).as("seed %d: at 16 MiB/s the flatten of 96 MiB runs 6 s: the kill lands mid-flatten", seed).isFalse();
        }
        try (CairnProcess server = CairnProcess.start(data, "--flatten-rate", "0")) {
            Path creds = server.credentials();
            assertThat(read(server.nbdUri(disk), DATA)).as("seed %d: rolled-back disk after kill -9 in its flatten", seed).isEqualTo(v1);
            awaitFlattened(creds, disk);
            assertThat(read(server.nbdUri(disk), DATA)).isEqualTo(v1);

            // 4. GC killed part-way, after deleting everything but the first snapshot
            JsonNode snaps = JSON.readTree(cairn(creds, "--output", "json", "snapshot", "list", "--disk", disk).ok().out()).path("SnapshotSet");
            for (JsonNode s : snaps) {
                if (!s.path("SnapshotId").asText().equals(good)) cairn(creds, "snapshot", "delete", s.path("SnapshotId").asText()).ok();
            }
            Process gc = new ProcessBuilder(cairnCommand(creds, "repo", "gc", "--grace", "0s")).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Thread.sleep(r.nextInt(300));
            server.kill();
            gc.waitFor();
        }
        try (CairnProcess server = CairnProcess.start(data)) {
            Path creds = server.credentials();
            cairn(creds, "repo", "verify").ok();
            assertThat(read(server.nbdUri(good), DATA)).as("seed %d: the kept snapshot after kill -9 in GC", seed).isEqualTo(v1);
            cairn(creds, "repo", "gc", "--grace", "0s").ok();
            cairn(creds, "repo", "verify").ok();
            assertThat(read(server.nbdUri(good), DATA)).isEqualTo(v1);
            assertThat(read(server.nbdUri(disk), DATA)).isEqualTo(v1);
            assertThat(server.stop()).isZero();
        }
    }

    /** CreateSnapshot through the official SDK from this process (no CLI start-up in between). */
    private static void createSnapshot(CairnProcess server, String disk) throws Exception {
        var req = new com.tencentcloudapi.cbs.v20170312.models.CreateSnapshotRequest();
        req.setDiskId(disk);
        req.setSnapshotName("v2-killed");
        cbs(server).CreateSnapshot(req);
    }

    private static com.tencentcloudapi.cbs.v20170312.CbsClient cbs(CairnProcess server) throws Exception {
        JsonNode c = JSON.readTree(server.credentials().toFile());
        var http = new com.tencentcloudapi.common.profile.HttpProfile();
        http.setEndpoint(server.api.substring("http://".length()));
        http.setProtocol("http://");
        return new com.tencentcloudapi.cbs.v20170312.CbsClient(new com.tencentcloudapi.common.Credential(c.path("secretId").asText(),
                c.path("secretKey").asText()), "ap-guangzhou", new com.tencentcloudapi.common.profile.ClientProfile("TC3-HMAC-SHA256", http));
    }

    /** ApplySnapshot (stopping and starting the instance) through the official SDK from this process. */
    private static void applySnapshot(CairnProcess server, String snapshot, String disk) throws Exception {
        var req = new com.tencentcloudapi.cbs.v20170312.models.ApplySnapshotRequest();
        req.setSnapshotId(snapshot);
        req.setDiskId(disk);
        req.setAutoStopInstance(true);
        req.setAutoStartInstance(true);
        cbs(server).ApplySnapshot(req);
    }

    private static void awaitFlattened(Path creds, String disk) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (true) {
            JsonNode d = JSON.readTree(cairn(creds, "--output", "json", "disk", "list", disk).ok().out()).path("DiskSet").get(0);
            if (d.path("FlattenPercent").isNull() || d.path("FlattenPercent").isMissingNode()) return;
            if (Instant.now().isAfter(deadline)) throw new AssertionError("disk " + disk + " did not finish flattening: " + d);
            Thread.sleep(200); // polling the API for background progress; bounded by the deadline
        }
    }

    private static java.util.List<String> cairnCommand(Path creds, String... args) {
        java.util.List<String> cmd = new java.util.ArrayList<>(CairnProcess.java());
        cmd.addAll(java.util.List.of("-jar", CairnProcess.jar().toString(), "--credentials", creds.toString()));
        cmd.addAll(java.util.List.of(args));
        return cmd;
    }

    private static byte[] bytes(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        Arrays.fill(b, n / 2, n / 2 + (4 << 20), (byte) 0); // a zero stretch, as real disks have
        return b;
    }

    private static Path write(Path file, byte[] content) throws Exception {
        return Files.write(file, content);
    }

    /** The first {@code n} bytes of an export, read with nbdcopy. */
    private Path readInto(String uri, int n) throws Exception {
        Path out = Files.createTempFile(tmp, "read-", ".img");
        Files.delete(out);
        run("nbdcopy", uri, out.toString()).ok();
        return out;
    }

    private byte[] read(String uri, int n) throws Exception {
        Path f = readInto(uri, n);
        try (var ch = java.nio.channels.FileChannel.open(f)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(n);
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) { }
            return b.array();
        } finally {
            Files.delete(f);
        }
    }
}
