package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** qemu's NBD client (qemu-io, qemu-img, qemu-nbd --list) against the real server (test matrix rows for qemu). */
class QemuTest {
    private static final long SIZE = 64 << 20;
    @TempDir static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        TestExports exports = new TestExports();
        exports.addFile(dir, "disk", SIZE);
        exports.addFile(dir, "target", SIZE);
        try (SparseFileVolume s = SparseFileVolume.create(dir.resolve("snap.raw"), 4 << 20)) {
            s.write(0, ByteBuffer.wrap(NbdConnectionTest.filled(65536, 0x22)), true);
        }
        exports.addReadOnlyFile(dir.resolve("snap.raw"), "snap");
        server = TestServer.start(exports);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        server.awaitQuiet();
        server.exports.close();
    }

    private static Tools.Result qemuIo(String export, String... commands) {
        String[] cmd = new String[3 + 2 * commands.length];
        cmd[0] = "qemu-io";
        cmd[1] = "-f";
        cmd[2] = "raw";
        for (int i = 0; i < commands.length; i++) {
            cmd[3 + 2 * i] = "-c";
            cmd[4 + 2 * i] = commands[i];
        }
        String[] withUri = java.util.Arrays.copyOf(cmd, cmd.length + 1);
        withUri[cmd.length] = server.uri(export);
        return Tools.run(Duration.ofSeconds(60), withUri);
    }

    private static void qemuIoOk(String export, String... commands) {
        Tools.Result r = qemuIo(export, commands);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).doesNotContain("failed");
    }

    @Test
    void readWritePatterns() {
        qemuIoOk("disk", "read -P 0 0 1M");
        qemuIoOk("disk", "write -P 0xab 1M 64k", "read -P 0xab 1M 64k");
        qemuIoOk("disk", "write -f -P 1 4M 4k", "read -P 1 4M 4k");          // FUA
        qemuIoOk("disk", "write -P 7 5M 4k", "flush", "read -P 7 5M 4k");
        qemuIoOk("disk", "write -P 9 6M 3M", "discard 6M 1M", "read -P 0 6M 1M", "read -P 9 7M 2M");
        qemuIoOk("disk", "write -P 3 10M 2M", "write -z 10M 1M", "write -z -u 11M 1M", "read -P 0 10M 2M");
        qemuIoOk("disk", "aio_write -P 5 12M 64k", "aio_write -P 6 13M 64k", "aio_flush", "read -P 5 12M 64k", "read -P 6 13M 64k");
        Tools.Result bad = qemuIo("disk", "read -P 0xab 0 4k");
        assertThat(bad.exit()).as("a pattern mismatch must be visible, or the checks above prove nothing").isNotZero();
    }

    @Test
    void unalignedAccess() {
        qemuIoOk("disk", "write -P 0x33 20971521 1000", "read -P 0x33 20971521 1000", "read -P 0 20971520 1");
    }

    @Test
    void readOnlyExportRefusesWrites() {
        Tools.ok("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x22 0 64k", "-c", "read -P 0 64k 64k", server.uri("snap"));
        Tools.Result r = qemuIo("snap", "write 0 512"); // qemu sees READ_ONLY and refuses to open read-write
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("Permission denied");
    }

    @Test
    void convertOutAndInAndCompare() throws Exception {
        qemuIoOk("disk", "write -P 0x44 30M 1M", "write -P 0x45 40M 64k");
        Path qcow = dir.resolve("out.qcow2");
        Tools.ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", server.uri("disk"), qcow.toString());
        Tools.ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", server.uri("disk"), qcow.toString());

        Path raw = dir.resolve("in.raw");
        byte[] block = new byte[1 << 20];
        new Random(1).nextBytes(block);
        try (var ch = Files.newByteChannel(raw, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ch.position(3L << 20);
            ch.write(ByteBuffer.wrap(block));
            ch.position(50L << 20);
            ch.write(ByteBuffer.wrap(block));
            ch.truncate(SIZE);
            ch.position(SIZE - 1);
            ch.write(ByteBuffer.wrap(new byte[1]));
        }
        Tools.ok("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", raw.toString(), server.uri("target")); // probes FAST_ZERO
        Tools.ok("qemu-img", "compare", "-f", "raw", "-F", "raw", raw.toString(), server.uri("target"));
        Tools.Result differs = Tools.run(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", raw.toString(), server.uri("disk"));
        assertThat(differs.exit()).isEqualTo(1);
    }

    @Test
    void mapReportsDataAndZeroRuns() {
        Tools.Result r = Tools.ok("qemu-img", "map", "--output=json", "-f", "raw", server.uri("snap"));
        String json = r.out().replaceAll("\\s+", "");
        assertThat(json).contains("{\"start\":0,\"length\":65536,\"depth\":0,\"present\":true,\"zero\":false,\"data\":true");
        assertThat(json).contains("{\"start\":65536,\"length\":" + ((4 << 20) - 65536) + ",\"depth\":0,\"present\":true,\"zero\":true,\"data\":false");
    }

    @Test
    void qemuNbdListShowsExportsFlagsAndContexts() {
        String out = Tools.ok("qemu-nbd", "-L", "-b", "127.0.0.1", "-p", String.valueOf(server.port())).out();
        assertThat(out).contains("exports available: 3", "export: 'disk'", "export: 'snap'", "export: 'target'",
                "flags: 0xded ( flush fua trim zeroes df multi cache fast-zero )",
                "flags: 0x587 ( readonly flush df multi cache )", "base:allocation", "description: read-only snap");
    }

    @Test
    void exportNameFallbackWhenGoIsUnsupported() throws Exception {
        TestExports exports = new TestExports();
        exports.add("old", new MemoryVolume(4 << 20));
        try (TestServer legacy = TestServer.start(exports, NbdServer.Settings.defaults().withDisabledOptions(Set.of(Nbd.OPT_GO)))) {
            assertThat(Tools.ok("nbdinfo", "--size", legacy.uri("old")).out().trim()).isEqualTo(String.valueOf(4 << 20));
            Tools.Result r = Tools.ok("qemu-io", "-f", "raw", "-c", "write -P 8 0 512", "-c", "read -P 8 0 512", legacy.uri("old"));
            assertThat(r.out()).contains("read 512/512 bytes");
            assertThat(legacy.metrics.handshakes("ok")).isEqualTo(2);
        }
    }
}
