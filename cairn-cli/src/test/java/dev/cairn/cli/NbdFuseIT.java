package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cloud disk used as a real file system through FUSE: nbdfuse exposes the disk as a file, mkfs.ext4
 * formats it, fuse2fs mounts it, files are written, and after unmounting e2fsck finds it clean and a
 * fresh NBD read-back has the files byte for byte.
 */
class NbdFuseIT {
    @TempDir Path tmp;

    @Test
    void ext4ThroughNbdfuseAndFuse2fs() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
            String disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();

            Path nbdMount = Files.createDirectories(tmp.resolve("nbd"));
            Path fsMount = Files.createDirectories(tmp.resolve("fs"));
            Path device = nbdMount.resolve("disk");
            Process nbdfuse = new ProcessBuilder("nbdfuse", device.toString(), server.nbdUri(disk))
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("nbdfuse.log").toFile()).start();
            byte[] big = new byte[5 << 20];
            ThreadLocalRandom.current().nextBytes(big);
            try {
                awaitFile(device, Duration.ofSeconds(30));
                run("mkfs.ext4", "-q", "-F", device.toString()).ok();
                run("fuse2fs", device.toString(), fsMount.toString(), "-o", "fakeroot").ok();
                try {
                    Files.write(fsMount.resolve("big.bin"), big);
                    Files.writeString(Files.createDirectories(fsMount.resolve("etc")).resolve("motd"), "cairn\n");
                } finally {
                    unmount(fsMount);
                }
                run("e2fsck", "-fn", device.toString()).ok();
            } finally {
                unmount(nbdMount);
                nbdfuse.destroy();
                nbdfuse.waitFor();
            }

            Path back = tmp.resolve("back.img");
            run("truncate", "-s", String.valueOf(10L << 30), back.toString()).ok();
            run("nbdcopy", server.nbdUri(disk), back.toString()).ok();
            run("e2fsck", "-fn", back.toString()).ok();
            Path out = Files.createDirectories(tmp.resolve("out"));
            run("debugfs", "-R", "rdump / " + out, back.toString()).ok();
            assertThat(Files.readAllBytes(out.resolve("big.bin"))).isEqualTo(big);
            assertThat(Files.readString(out.resolve("etc/motd"))).isEqualTo("cairn\n");
            assertThat(server.stop()).isZero();
        }
    }

    private static void awaitFile(Path file, Duration timeout) throws Exception {
        Instant deadline = Instant.now().plus(timeout);
        while (!Files.exists(file)) {
            if (Instant.now().isAfter(deadline)) throw new AssertionError(file + " did not appear (is /dev/fuse usable?)");
            Thread.sleep(20); // polling for the FUSE mount to appear, bounded by the deadline
        }
    }

    /** fusermount -u, retried while the kernel still calls the mount busy; lazy as a last resort. */
    private static void unmount(Path mount) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (run("fusermount", "-u", mount.toString()).exit() != 0) {
            if (Instant.now().isAfter(deadline)) {
                run("fusermount", "-uz", mount.toString());
                return;
            }
            Thread.sleep(50); // the mount is still busy for a moment after its last user closed it
        }
    }
}
