package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cairn serve --snapshot-recycle-days}: a deleted snapshot waits in the bin, comes back on request, and is purged when its days are up. */
class RecycleBinIT {
    @TempDir Path tmp;

    @Test
    void aDeletedSnapshotCanBeRecoveredUntilItsDaysInTheBinAreUp() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"), "--snapshot-recycle-days", "7", "--test-clock")) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
            String disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
            String snap = cairn(creds, "snapshot", "create", disk, "--name", "precious", "--wait").ok().out().trim();

            cairn(creds, "snapshot", "delete", snap).ok();
            assertThat(cairn(creds, "snapshot", "list").ok().out()).doesNotContain(snap); // the bin shows only when asked
            assertThat(cairn(creds, "snapshot", "bin").ok().out()).contains(snap, "precious");
            Tools.Result clone = cairn(creds, "snapshot", "clone", snap);
            assertThat(clone.exit()).isNotZero();
            assertThat(clone.err()).contains("ResourceUnavailable.SnapshotInRecycleBin");

            cairn(creds, "snapshot", "recover", snap).ok();
            assertThat(cairn(creds, "snapshot", "list").ok().out()).contains(snap, "NORMAL");

            cairn(creds, "snapshot", "delete", snap).ok();
            cairn(creds, "clock", "advance", "8d").ok(); // past its 7 days: purged
            assertThat(cairn(creds, "snapshot", "bin").ok().out()).doesNotContain(snap);
            Tools.Result gone = cairn(creds, "snapshot", "recover", snap);
            assertThat(gone.err()).contains("InvalidSnapshotId.NotFound");
            assertThat(server.stop()).isZero();
        }
    }
}
