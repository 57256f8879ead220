package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.s3.S3Backend;
import dev.cairn.repository.backend.s3.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cairn serve --repository s3://…} against a real S3 server process (S3Proxy), encrypted with
 * {@code --repository-key-file}: snapshot, clone, rollback, verify, and a restart that finds every
 * snapshot in the bucket; without the key the server refuses to start and says why. And with the
 * S3 server stopped: a snapshot fails cleanly while the disk keeps working, and once S3 is back the
 * next snapshot takes the changes.
 */
class S3RepositoryIT {
    @TempDir Path tmp;

    @Test
    void snapshotsLiveInAnEncryptedS3Repository() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"))) {
            S3Backend.Options bucket = s3.newBucketOptions();
            String location = "s3://" + bucket.bucket() + "/cairn/prod?endpoint=" + s3.endpoint() + "&create-bucket=true";
            Map<String, String> env = Map.of("CAIRN_S3_ACCESS_KEY_ID", bucket.accessKey(), "CAIRN_S3_SECRET_ACCESS_KEY", bucket.secretKey());
            Path key = Files.writeString(tmp.resolve("repo.key"), "0123456789abcdef".repeat(4) + "\n");
            String[] args = {"--repository", location, "--repository-key-file", key.toString()};
            Path data = tmp.resolve("data");
            String snap;
            String disk;
            try (CairnProcess server = CairnProcess.start(data, env, args)) {
                Path creds = server.credentials();
                String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
                disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
                run("qemu-io", "-f", "raw", "-c", "write -P 0x3c 0 3M", "-c", "write -P 0x4d 5G 1M", "-c", "flush", server.nbdUri(disk)).ok();
                snap = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();

                String clone = cairn(creds, "snapshot", "clone", snap, "--wait").ok().out().trim();
                cairn(creds, "disk", "attach", clone, "--instance", instance, "--wait").ok();
                run("qemu-io", "-f", "raw", "-c", "read -P 0x3c 0 3M", "-c", "read -P 0x4d 5G 1M", server.nbdUri(clone)).ok();

                run("qemu-io", "-f", "raw", "-c", "write -P 0x00 0 3M", "-c", "flush", server.nbdUri(disk)).ok();
                cairn(creds, "snapshot", "rollback", snap, "--auto-stop", "--auto-start", "--wait").ok();
                run("qemu-io", "-f", "raw", "-c", "read -P 0x3c 0 3M", server.nbdUri(disk)).ok();
                assertThat(cairn(creds, "repo", "verify").ok().out()).contains("Ok: true");
                assertThat(Files.list(data).map(p -> p.getFileName().toString())).as("nothing stored locally").doesNotContain("repository");
                assertThat(server.stop()).isZero();
            }
            // without the key the repository cannot be opened: a clear refusal, not a half-started server
            assertThatThrownBy(() -> CairnProcess.start(data, env, "--repository", location))
                    .hasMessageContaining("encrypted");
            try (CairnProcess server = CairnProcess.start(data, env, args)) {
                run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x3c 0 3M", "-c", "read -P 0x4d 5G 1M", server.nbdUri(snap)).ok();
                assertThat(server.stop()).isZero();
            }
        }
    }

    @Test
    void whileS3IsUnreachableASnapshotFailsCleanlyAndTheDiskKeepsWorking() throws Exception {
        S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
        try {
            S3Backend.Options bucket = s3.newBucketOptions();
            // three tries, not the default ten: the failing snapshot gives up in about a second, not half a minute
            String location = "s3://" + bucket.bucket() + "?endpoint=" + s3.endpoint() + "&create-bucket=true&attempts=3";
            Map<String, String> env = Map.of("CAIRN_S3_ACCESS_KEY_ID", bucket.accessKey(), "CAIRN_S3_SECRET_ACCESS_KEY", bucket.secretKey());
            try (CairnProcess server = CairnProcess.start(tmp.resolve("data"), env, "--repository", location)) {
                Path creds = server.credentials();
                String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
                String disk = cairn(creds, "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
                run("qemu-io", "-f", "raw", "-c", "write -P 0x21 0 2M", "-c", "flush", server.nbdUri(disk)).ok();
                String first = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();

                s3.close(); // the object store goes away
                run("qemu-io", "-f", "raw", "-c", "write -P 0x22 1M 2M", "-c", "flush", server.nbdUri(disk)).ok();
                Tools.Result failed = cairn(creds, "snapshot", "create", disk, "--wait");
                assertThat(failed.exit()).as("the snapshot fails: " + failed.out() + failed.err()).isNotZero();
                String listed = cairn(creds, "snapshot", "list", "--disk", disk).ok().out();
                assertThat(listed).contains(first).doesNotContain("CREATING");
                assertThat(listed.lines().filter(l -> l.contains("snap-")).count()).as("no half snapshot is listed").isEqualTo(1);
                // the disk is unaffected: it reads what was written and takes more writes
                run("qemu-io", "-f", "raw", "-c", "read -P 0x21 0 1M", "-c", "read -P 0x22 1M 2M",
                        "-c", "write -P 0x23 4M 1M", "-c", "flush", server.nbdUri(disk)).ok();

                s3 = s3.restart(); // back, with everything it held
                String next = cairn(creds, "snapshot", "create", disk, "--wait").ok().out().trim();
                run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x21 0 1M", "-c", "read -P 0x22 1M 2M", "-c", "read -P 0x23 4M 1M",
                        server.nbdUri(next)).ok(); // the failed capture's changes are in the next snapshot
                run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x21 0 2M", server.nbdUri(first)).ok();
                assertThat(cairn(creds, "repo", "verify").ok().out()).contains("Ok: true");
                assertThat(server.stop()).isZero();
            }
        } finally {
            s3.close();
        }
    }
}
