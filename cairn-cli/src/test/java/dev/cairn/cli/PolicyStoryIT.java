package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The user's second and third stories (DESIGN §1) end to end against {@code cairn serve --test-clock}
 * with real tools: scheduled snapshots made by a policy (with server-side hooks) save files deleted by
 * accident, and roll a disk back to the version of two days ago.
 */
class PolicyStoryIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    @Test
    void filesDeletedByAccidentComeBackFromTheLastScheduledSnapshot() throws Exception {
        Path data = tmp.resolve("data");
        Path hookLog = tmp.resolve("hooks.log");
        Path hooks = Files.createDirectories(data.resolve("hooks"));
        Path freeze = hooks.resolve("fsfreeze");
        Files.writeString(freeze, "#!/bin/sh\necho \"$CAIRN_HOOK_PHASE $CAIRN_DISK_ID $CAIRN_POLICY_ID\" >> " + hookLog + "\n");
        Files.setPosixFilePermissions(freeze, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (CairnProcess server = CairnProcess.start(data, "--test-clock")) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--name", "files", "--wait").ok().out().trim();
            String disk = cairn(creds, "disk", "create", "--size", "10", "--name", "data", "--instance", instance, "--wait").ok().out().trim();
            String uri = server.nbdUri(disk);
            Path src = Files.createDirectories(tmp.resolve("src/reports"));
            byte[] report = new byte[3 << 20];
            new Random(7).nextBytes(report);
            Files.write(src.resolve("q3.bin"), report);
            Files.writeString(src.resolveSibling("notes.txt"), "do not lose me\n");
            Path image = tmp.resolve("fs.img");
            run("mke2fs", "-q", "-F", "-t", "ext4", "-d", tmp.resolve("src").toString(), image.toString(), "128M").ok();
            run("nbdcopy", "--flush", image.toString(), uri).ok();

            Tools.Result created = cairn(creds, "policy", "create", "--name", "daily", "--hours", "2", "--retention-days", "7",
                    "--pre-hook", "fsfreeze", "--post-hook", "fsfreeze", "--disk", disk).ok();
            String policy = created.out().trim();
            assertThat(policy).matches("asp-[a-z0-9]{8}");
            assertThat(created.err()).contains("next firing: ");
            assertThat(cairn(creds, "policy", "list").ok().out()).contains(policy, "daily at 02:00", "7d", disk);
            Tools.Result badHook = cairn(creds, "policy", "create", "--hours", "3", "--pre-hook", "../../bin/sh");
            assertThat(badHook.exit()).isNotZero();
            assertThat(badHook.err()).contains("InvalidParameterValue");

            cairn(creds, "clock", "advance", "1d").ok(); // 02:00 passes: the policy fires once
            List<JsonNode> autos = autoSnapshots(creds, disk);
            assertThat(autos).hasSize(1);
            assertThat(autos.getFirst().path("SnapshotName").asText()).startsWith("auto_" + policy + "_");
            assertThat(autos.getFirst().path("AutoSnapshotPolicyId").asText()).isEqualTo(policy);
            assertThat(Files.readAllLines(hookLog)).containsExactly("pre " + disk + " " + policy, "post " + disk + " " + policy);
            assertThat(cairn(creds, "policy", "history", policy).ok().out()).contains("SUCCESS", autos.getFirst().path("SnapshotId").asText());

            // the accident: both files deleted from the file system on the disk
            Path live = copy(uri, tmp.resolve("live.img"));
            run("debugfs", "-w", "-R", "rm notes.txt", live.toString()).ok();
            run("debugfs", "-w", "-R", "rm reports/q3.bin", live.toString()).ok();
            run("nbdcopy", "--flush", live.toString(), uri).ok();
            Path after = copy(uri, tmp.resolve("after.img"));
            assertThat(run("debugfs", "-R", "ls -l /", after.toString()).ok().out()).doesNotContain("notes.txt");

            // a disk cloned from the latest scheduled snapshot gives them back, byte for byte
            String latest = autos.getLast().path("SnapshotId").asText();
            String clone = cairn(creds, "snapshot", "clone", latest, "--name", "recovered", "--wait").ok().out().trim();
            cairn(creds, "disk", "attach", clone, "--instance", instance, "--wait").ok();
            Path recovered = copy(server.nbdUri(clone), tmp.resolve("recovered.img"));
            run("e2fsck", "-fn", recovered.toString()).ok();
            Path out = Files.createDirectories(tmp.resolve("out"));
            run("debugfs", "-R", "rdump / " + out, recovered.toString()).ok();
            assertThat(Files.readAllBytes(out.resolve("reports/q3.bin"))).isEqualTo(report);
            assertThat(Files.readString(out.resolve("notes.txt"))).isEqualTo("do not lose me\n");

            String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(server.api + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("cairn_scheduler_runs_total{result=\"success\"} 1.0", "cairn_scheduler_lag_seconds");
            assertThat(server.stop()).isZero();
        }
    }

    @Test
    void aBadChangeIsRolledBackToTheScheduledSnapshotOfTwoDaysAgo() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"), "--test-clock")) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--name", "app", "--wait").ok().out().trim();
            String disk = cairn(creds, "disk", "create", "--size", "10", "--name", "root", "--instance", instance, "--wait").ok().out().trim();
            String uri = server.nbdUri(disk);
            String policy = cairn(creds, "policy", "create", "--name", "nightly", "--hours", "2", "--days-of-week", "sun-sat").ok().out().trim();
            cairn(creds, "policy", "bind", policy, disk).ok();

            for (int day = 1; day <= 3; day++) { // a new version each day; the policy snapshots it at night
                writeVersion(uri, "v" + day);
                cairn(creds, "clock", "advance", "P1D").ok();
            }
            writeVersion(uri, "v4-broken");

            List<JsonNode> autos = autoSnapshots(creds, disk);
            assertThat(autos).hasSize(3);
            LocalDate newest = dateOf(autos.getLast());
            JsonNode twoDaysAgo = autos.stream().filter(s -> dateOf(s).equals(newest.minusDays(2))).findFirst().orElseThrow();
            cairn(creds, "snapshot", "rollback", twoDaysAgo.path("SnapshotId").asText(), "--auto-stop", "--auto-start", "--wait").ok();

            Path restored = copy(uri, tmp.resolve("restored.img"));
            run("e2fsck", "-fn", restored.toString()).ok();
            assertThat(run("debugfs", "-R", "cat version.txt", restored.toString()).ok().out()).isEqualTo("v1\n");
            assertThat(cairn(creds, "instance", "list", instance).ok().out()).contains("RUNNING");

            // the hours the snapshots were stored were metered: the bill of the month the oldest was taken
            // in lists it (stored two days; the newest may be younger than an hour when the clock stops:
            // the test clock starts at the real time, which can be just after the policy's hour)
            JsonNode oldest = autos.getFirst();
            String month = dateOf(oldest).format(DateTimeFormatter.ofPattern("yyyy-MM"));
            String bill = cairn(creds, "billing", "report", "--month", month, "--csv").ok().out();
            assertThat(bill).startsWith("account_id,snapshot_id,disk_id,gib_hours,cost,currency").contains(oldest.path("SnapshotId").asText(), ",CNY");
            assertThat(server.stop()).isZero();
        }
    }

    private void writeVersion(String uri, String version) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("version-" + version));
        Files.writeString(src.resolve("version.txt"), version + "\n");
        Path image = tmp.resolve(version + ".img");
        run("mke2fs", "-q", "-F", "-t", "ext4", "-d", src.toString(), image.toString(), "64M").ok();
        run("nbdcopy", "--flush", image.toString(), uri).ok();
    }

    /** The disk's automatic snapshots, oldest first. */
    private static List<JsonNode> autoSnapshots(Path creds, String disk) throws Exception {
        JsonNode set = JSON.readTree(cairn(creds, "--output", "json", "snapshot", "list", "--disk", disk).ok().out()).path("SnapshotSet");
        List<JsonNode> out = new ArrayList<>();
        set.forEach(s -> {
            if (s.path("SnapshotName").asText().startsWith("auto_")) out.add(s);
        });
        out.sort(java.util.Comparator.comparing(s -> s.path("CreateTime").asText()));
        return out;
    }

    /** The firing date in an automatic snapshot's name: {@code auto_<policy>_<yyyyMMdd>_<HH>}. */
    private static LocalDate dateOf(JsonNode snapshot) {
        String[] parts = snapshot.path("SnapshotName").asText().split("_");
        return LocalDate.parse(parts[2], DateTimeFormatter.BASIC_ISO_DATE);
    }

    /** Reads a whole disk over NBD into a file of the file system's size. */
    private static Path copy(String uri, Path file) throws Exception {
        Files.deleteIfExists(file);
        run("nbdcopy", uri, file.toString()).ok();
        return file;
    }
}
