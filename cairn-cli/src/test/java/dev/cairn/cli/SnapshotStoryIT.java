package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The user's first story (DESIGN §1) end to end with real tools against {@code cairn serve}: an ext4
 * file system on a disk over NBD, a snapshot with the CLI, the disk destroyed by fio, a rollback, and
 * {@code e2fsck -fn} clean with every file identical; the snapshot is readable as a read-only NBD
 * export; a clone from the same snapshot has the same files and diverges independently.
 */
class SnapshotStoryIT {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    @Test
    void snapshotDestroyRollBackAndClone() throws Exception {
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            Path creds = server.credentials();
            String instance = cairn(creds, "instance", "create", "--name", "db", "--wait").ok().out().trim();
            String disk = cairn(creds, "disk", "create", "--size", "10", "--name", "data", "--instance", instance, "--wait").ok().out().trim();
            String uri = server.nbdUri(disk);

            // ext4 with real files, written onto the disk over NBD
            Path src = Files.createDirectories(tmp.resolve("src/dir"));
            byte[] big = new byte[5 << 20];
            new Random(42).nextBytes(big);
            Files.write(src.resolve("big.bin"), big);
            Files.writeString(src.resolveSibling("hello.txt"), "hello, cairn\n");
            Path image = tmp.resolve("fs.img");
            run("mke2fs", "-q", "-F", "-t", "ext4", "-d", tmp.resolve("src").toString(), image.toString(), "256M").ok();
            run("nbdcopy", "--flush", image.toString(), uri).ok();

            // snapshot while attached and served; the CLI waits with a progress bar
            Tools.Result created = cairn(creds, "snapshot", "create", disk, "--name", "before-disaster", "--wait").ok();
            String snap = created.out().trim();
            assertThat(snap).matches("snap-[a-z0-9]{8}");
            assertThat(created.err()).contains("100%").contains("MiB/s");
            JsonNode shown = JSON.readTree(cairn(creds, "--output", "json", "snapshot", "show", snap).ok().out());
            assertThat(shown.path("SnapshotState").asText()).isEqualTo("NORMAL");
            assertThat(shown.path("DiskId").asText()).isEqualTo(disk);
            assertThat(shown.path("LogicalBytes").asLong()).isGreaterThanOrEqualTo(5L << 20);
            assertThat(cairn(creds, "snapshot", "list", "--disk", disk).ok().out()).contains(snap, "before-disaster", "NORMAL");

            // consistency hooks around the barrier (run by the CLI)
            Path hookLog = tmp.resolve("hooks.log");
            cairn(creds, "snapshot", "create", disk, "--pre-hook", "echo freeze $CAIRN_DISK_ID >> " + hookLog,
                    "--post-hook", "echo thaw >> " + hookLog, "--wait").ok();
            assertThat(Files.readAllLines(hookLog)).containsExactly("freeze " + disk, "thaw");
            Tools.Result failedHook = cairn(creds, "snapshot", "create", disk, "--pre-hook", "exit 3", "--post-hook", "echo thaw again >> " + hookLog);
            assertThat(failedHook.exit()).isNotZero();
            assertThat(failedHook.err()).contains("pre-hook failed with exit status 3");
            Tools.Result slowHook = cairn(creds, "snapshot", "create", disk, "--pre-hook", "sleep 30", "--hook-timeout", "1s");
            assertThat(slowHook.err()).contains("did not finish within 1 s");
            assertThat(Files.readAllLines(hookLog)).containsExactly("freeze " + disk, "thaw", "thaw again");
            assertThat(JSON.readTree(cairn(creds, "--output", "json", "snapshot", "list", "--disk", disk).ok().out()).path("TotalCount").asInt())
                    .as("a failed pre-hook takes no snapshot").isEqualTo(2);

            // the snapshot is served read-only under its id
            String snapUri = server.nbdUri(snap);
            assertThat(run("nbdsh", "-u", snapUri, "-c", "print(h.is_read_only())").ok().out().trim()).isEqualTo("True");
            assertThat(run("nbdsh", "-u", snapUri, "-c", "h.pwrite(b'x' * 512, 0)").exit()).as("writes refused").isNotZero();
            Path fromSnapshot = copy(snapUri, tmp.resolve("from-snapshot.img"));
            run("e2fsck", "-fn", fromSnapshot.toString()).ok();

            // disaster: fio overwrites the file system's metadata and scatters writes over its data
            run("fio", "--name=metadata", "--ioengine=nbd", "--uri=" + uri, "--rw=write", "--bs=1M", "--size=4M").ok();
            run("fio", "--name=scatter", "--ioengine=nbd", "--uri=" + uri, "--rw=randwrite", "--bs=64k", "--size=256M",
                    "--io_size=64M", "--randseed=7").ok();
            Path broken = copy(uri, tmp.resolve("broken.img"));
            assertThat(run("e2fsck", "-fn", broken.toString()).exit()).as("the file system is damaged").isNotZero();

            // roll back: the instance must be stopped (or --auto-stop)
            Tools.Result refused = cairn(creds, "snapshot", "rollback", snap);
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.err()).contains("UnsupportedOperation.InstanceNotStopped");
            cairn(creds, "snapshot", "rollback", snap, "--auto-stop", "--auto-start", "--wait").ok();
            assertThat(cairn(creds, "instance", "list", instance).ok().out()).contains("RUNNING");

            Path restored = copy(uri, tmp.resolve("restored.img"));
            run("e2fsck", "-fn", restored.toString()).ok();
            Path out = Files.createDirectories(tmp.resolve("out"));
            run("debugfs", "-R", "rdump / " + out, restored.toString()).ok();
            assertThat(Files.readAllBytes(out.resolve("dir/big.bin"))).isEqualTo(big);
            assertThat(Files.readString(out.resolve("hello.txt"))).isEqualTo("hello, cairn\n");

            // a clone of the same snapshot: same files, and its own life
            String clone = cairn(creds, "snapshot", "clone", snap, "--name", "copy", "--wait").ok().out().trim();
            cairn(creds, "disk", "attach", clone, "--instance", instance, "--wait").ok();
            String cloneUri = server.nbdUri(clone);
            Path cloned = copy(cloneUri, tmp.resolve("clone.img"));
            run("e2fsck", "-fn", cloned.toString()).ok();
            Path cloneOut = Files.createDirectories(tmp.resolve("clone-out"));
            run("debugfs", "-R", "rdump / " + cloneOut, cloned.toString()).ok();
            assertThat(Files.readAllBytes(cloneOut.resolve("dir/big.bin"))).isEqualTo(big);

            run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "flush", cloneUri).ok();
            run("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", cloneUri).ok();
            Path original = copy(uri, tmp.resolve("original-again.img"));
            run("e2fsck", "-fn", original.toString()).ok(); // untouched by the clone's writes

            // the next snapshot of the rolled-back disk is incremental and small
            run("qemu-io", "-f", "raw", "-c", "write -P 0x11 200M 64k", "-c", "flush", uri).ok();
            String second = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();
            JsonNode s2 = JSON.readTree(cairn(creds, "--output", "json", "snapshot", "show", second).ok().out());
            assertThat(s2.path("IncrementalBytes").asLong()).isLessThan(2L << 20);

            String overview = cairn(creds, "snapshot", "overview").ok().out();
            assertThat(overview).contains("TotalNums: 3").contains("TotalSize:"); // before-disaster, the hooked one, the second
            Tools.Result verify = cairn(creds, "repo", "verify").ok();
            assertThat(verify.out()).contains("Ok: true");
            assertThat(cairn(creds, "repo", "verify", "--sample", "50").ok().out()).contains("Ok: true");
            assertThat(cairn(creds, "repo", "stats").ok().out()).contains("Snapshots: 3");
            assertThat(server.stop()).isZero();
        }

        // the catalog is lost: a fresh one over the same repository gets the snapshots back from it
        for (String f : List.of("cairn.db", "cairn.db-wal", "cairn.db-shm")) Files.deleteIfExists(tmp.resolve("data").resolve(f));
        try (CairnProcess server = CairnProcess.start(tmp.resolve("data"))) {
            Path creds = server.credentials();
            assertThat(cairn(creds, "snapshot", "list").ok().out()).doesNotContain("snap-");
            List<String> restored = cairn(creds, "repo", "rebuild-catalog").ok().out().lines().toList();
            assertThat(restored).hasSize(3).allMatch(id -> id.matches("snap-[a-z0-9]{8}"));
            String listed = cairn(creds, "snapshot", "list").ok().out();
            for (String id : restored) assertThat(listed).contains(id);
            assertThat(cairn(creds, "repo", "rebuild-catalog").ok().out()).as("nothing left to restore").isBlank();
            assertThat(server.stop()).isZero();
        }
    }

    /** Reads a whole disk over NBD into a sparse file of the file system's size. */
    private static Path copy(String uri, Path file) throws Exception {
        Files.deleteIfExists(file);
        Path full = file.resolveSibling(file.getFileName() + ".full");
        run("nbdcopy", uri, full.toString()).ok();
        run("truncate", "-s", "256M", full.toString()).ok(); // the file system is the first 256 MiB
        Files.move(full, file);
        return file;
    }
}
