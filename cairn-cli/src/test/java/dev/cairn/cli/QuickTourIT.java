package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's quick tour, command for command, against a real {@code cairn serve}. */
class QuickTourIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path tmp;

    @Test
    void quickTourWorksAsWritten() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            Path creds = server.credentials();
            JsonNode c = JSON.readTree(creds.toFile());
            assertThat(c.path("accountId").asText()).isEqualTo("100000000001");
            assertThat(c.path("secretId").asText()).startsWith("AKID");
            assertThat(c.path("region").asText()).isEqualTo("ap-guangzhou");
            assertThat(c.path("endpoint").asText()).isEqualTo(server.api);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(creds))).isEqualTo("rw-------");

            assertThat(cairn(creds, "zones").ok().out()).contains("ap-guangzhou-1");
            String instance = cairn(creds, "instance", "create", "--name", "web-1", "--wait").ok().out().trim();
            assertThat(instance).matches("ins-[a-z0-9]{8}");
            String disk = cairn(creds, "disk", "create", "--size", "10", "--name", "data", "--instance", instance, "--wait")
                    .ok().out().trim();
            assertThat(disk).matches("disk-[a-z0-9]{8}");
            String table = cairn(creds, "disk", "list").ok().out();
            assertThat(table).contains(disk, "ATTACHED", instance, "DATA_DISK", "SYSTEM_DISK");

            String uri = server.nbdUri(disk);
            assertThat(run("nbdinfo", "--size", uri).ok().out().trim()).isEqualTo(String.valueOf(10L << 30));
            run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "flush", uri).ok();
            run("qemu-io", "-f", "raw", "-c", "read -P 0xab 0 1M", uri).ok();

            var http = java.net.http.HttpClient.newHttpClient();
            var health = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.api + "/healthz")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            String metrics = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.api + "/metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("cairn_nbd_requests_total{", "cairn_nbd_written_bytes_total", "cairn_nbd_request_duration_seconds_bucket",
                    "cairn_nbd_connections", "cairn_api_requests_total{", "action=\"CreateDisks\"", "jvm_memory_used_bytes");

            cairn(creds, "disk", "resize", disk, "--size", "20", "--wait").ok();
            assertThat(run("nbdinfo", "--size", uri).ok().out().trim()).isEqualTo(String.valueOf(20L << 30));
            run("qemu-io", "-f", "raw", "-c", "read -P 0xab 0 1M", uri).ok();

            cairn(creds, "disk", "detach", disk, "--wait").ok();
            assertThat(run("nbdinfo", "--size", uri).exit()).isNotZero();

            JsonNode listed = JSON.readTree(cairn(creds, "--output", "json", "disk", "list", disk).ok().out());
            assertThat(JSON.readTree(cairn(creds, "disk", "list", disk, "--output", "json").ok().out()))
                    .as("global options are accepted after the command too").isEqualTo(listed);
            assertThat(listed.path("DiskSet").get(0).path("DiskState").asText()).isEqualTo("UNATTACHED");
            assertThat(listed.path("DiskSet").get(0).path("DiskSize").asInt()).isEqualTo(20);

            String alice = cairn(creds, "account", "create", "alice").ok().out();
            Path aliceCreds = tmp.resolve("alice.json");
            Files.writeString(aliceCreds, alice);
            assertThat(JSON.readTree(alice).path("accountId").asText()).isNotEqualTo("100000000001");
            String aliceList = cairn(aliceCreds, "disk", "list").ok().out();
            assertThat(aliceList).doesNotContain(disk);
            Tools.Result denied = cairn(aliceCreds, "disk", "delete", disk);
            assertThat(denied.exit()).isNotZero();
            assertThat(denied.err()).contains("InvalidDiskId.NotFound");

            // quotas: the admin raises alice's; alice sees hers but cannot change them
            String aliceId = JSON.readTree(alice).path("accountId").asText();
            String quotas = cairn(creds, "account", "quota", "--account", aliceId, "--set", "snapshots-per-disk=100").ok().out();
            assertThat(quotas).containsPattern("snapshots-per-disk\\s+100\\s+0\\s+true");
            assertThat(cairn(aliceCreds, "account", "quota").ok().out()).containsPattern("auto-snapshot-policies\\s+30\\s+0\\s+false");
            Tools.Result notAdmin = cairn(aliceCreds, "account", "quota", "--set", "instances=1000");
            assertThat(notAdmin.exit()).isNotZero();
            assertThat(notAdmin.err()).contains("UnauthorizedOperation");

            // a snapshot shared with alice: she sees it, may clone it, and the owner sees with whom it is shared
            String snap = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();
            cairn(creds, "snapshot", "share", snap, aliceId).ok();
            assertThat(cairn(creds, "snapshot", "shares", snap).ok().out()).contains(aliceId);
            assertThat(cairn(aliceCreds, "snapshot", "list").ok().out()).contains(snap);
            assertThat(cairn(aliceCreds, "snapshot", "clone", snap, "--wait").ok().out()).startsWith("disk-");
            cairn(creds, "snapshot", "share", snap, aliceId, "--cancel").ok();
            assertThat(cairn(aliceCreds, "snapshot", "list").ok().out()).doesNotContain(snap);

            // deletion protection: a locked snapshot cannot be deleted, not even by the admin who owns it
            cairn(creds, "snapshot", "lock", snap, "--for", "30d").ok();
            assertThat(cairn(creds, "snapshot", "show", snap).ok().out()).contains("IsLocked: true", "LockedUntil: ");
            Tools.Result locked = cairn(creds, "snapshot", "delete", snap);
            assertThat(locked.exit()).isNotZero();
            assertThat(locked.err()).contains("UnsupportedOperation.SnapshotLocked");

            assertThat(server.stop()).isZero();
        }
    }
}
