package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The durability contract from outside: what a FLUSH (or FUA) acknowledged survives kill -9 and SIGTERM. */
class DurabilityIT {
    @TempDir Path tmp;

    @Test
    void flushedWritesSurviveKillNineAndCleanRestarts() throws Exception {
        Path data = tmp.resolve("data");
        String disk;
        try (CairnProcess server = CairnProcess.start(data)) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
            disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
            String uri = server.nbdUri(disk);
            run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 4M", "-c", "flush", uri).ok();
            run("qemu-io", "-f", "raw", "-c", "write -f -P 0x6b 8M 64k", uri).ok(); // FUA, no flush
            server.kill();
        }
        try (CairnProcess server = CairnProcess.start(data)) {
            String uri = server.nbdUri(disk);
            run("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 4M", "-c", "read -P 0x6b 8M 64k", uri).ok();
            run("qemu-io", "-f", "raw", "-c", "write -P 0x7c 16M 1M", uri).ok(); // no flush: SIGTERM flushes
            assertThat(server.stop()).isZero();
        }
        try (CairnProcess server = CairnProcess.start(data)) {
            run("qemu-io", "-f", "raw", "-c", "read -P 0x7c 16M 1M", "-c", "read -P 0x5a 0 4M", server.nbdUri(disk)).ok();
            assertThat(server.stop()).isZero();
        }
    }
}
