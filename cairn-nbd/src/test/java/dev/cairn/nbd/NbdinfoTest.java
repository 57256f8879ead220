package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** libnbd's nbdinfo against the real server and real sparse files (test matrix rows for nbdinfo). */
class NbdinfoTest {
    private static final long SIZE = 64 << 20;
    @TempDir static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        TestExports exports = new TestExports();
        SparseFileVolume disk = exports.addFile(dir, "disk", SIZE);
        disk.write(1 << 20, ByteBuffer.wrap(NbdConnectionTest.filled(65536, 0x5a)), false);
        SparseFileVolume.create(dir.resolve("snap.raw"), 16 << 20).close();
        exports.addReadOnlyFile(dir.resolve("snap.raw"), "snap");
        server = TestServer.start(exports);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        server.awaitQuiet();
        server.exports.close();
    }

    @Test
    void size() {
        assertThat(Tools.ok("nbdinfo", "--size", server.uri("disk")).out().trim()).isEqualTo(String.valueOf(SIZE));
    }

    @Test
    void fullInfoShowsFlagsContextsAndDescription() {
        String out = Tools.ok("nbdinfo", server.uri("disk")).out();
        assertThat(out).contains("export=\"disk\"", "export-size: " + SIZE, "description: test disk disk", "base:allocation",
                "is_read_only: false", "can_trim: true", "can_zero: true", "can_fua: true", "can_flush: true",
                "can_multi_conn: true", "can_cache: true", "can_df: true", "can_fast_zero: true", "is_rotational: false",
                "block_size_minimum: 1", "block_size_preferred: 4096", "block_size_maximum: 33554432",
                "using structured packets");
    }

    @Test
    void json() {
        String out = Tools.ok("nbdinfo", "--json", server.uri("snap")).out();
        assertThat(out.replaceAll("\\s+", " ")).contains("\"export-name\": \"snap\"", "\"export-size\": " + (16 << 20),
                "\"is_read_only\": true", "\"can_multi_conn\": true", "\"can_trim\": false");
    }

    @Test
    void listNamesBothExports() {
        String out = Tools.ok("nbdinfo", "--list", server.uri()).out();
        assertThat(out).contains("export=\"disk\"", "export=\"snap\"", "description: read-only snap");
    }

    @Test
    void mapShowsDataAndHoles() {
        String out = Tools.ok("nbdinfo", "--map", server.uri("disk")).out();
        assertThat(out.lines().map(l -> l.trim().replaceAll("\\s+", " ")).toList()).containsExactly(
                "0 1048576 3 hole,zero", "1048576 65536 0 data", "1114112 " + (SIZE - 1114112) + " 3 hole,zero");
        String totals = Tools.ok("nbdinfo", "--map", "--totals", server.uri("disk")).out();
        assertThat(totals).contains("65536", "data");
    }

    @ParameterizedTest
    @ValueSource(strings = {"trim", "zero", "fua", "flush", "multi-conn", "cache", "df", "fast-zero"})
    void canFlagsOnWritableExport(String flag) {
        assertThat(Tools.run(Duration.ofSeconds(30), "nbdinfo", "--can", flag, server.uri("disk")).exit()).isZero();
    }

    @Test
    void readOnlyFlags() {
        assertThat(Tools.run(Duration.ofSeconds(30), "nbdinfo", "--is", "read-only", server.uri("snap")).exit()).isZero();
        assertThat(Tools.run(Duration.ofSeconds(30), "nbdinfo", "--is", "read-only", server.uri("disk")).exit()).isEqualTo(2);
        assertThat(Tools.run(Duration.ofSeconds(30), "nbdinfo", "--can", "trim", server.uri("snap")).exit()).isEqualTo(2);
        assertThat(Tools.run(Duration.ofSeconds(30), "nbdinfo", "--can", "multi-conn", server.uri("snap")).exit()).isZero();
    }

    @Test
    void unknownExportFails() {
        Tools.Result connect = Tools.run(Duration.ofSeconds(30), "nbdinfo", "--size", server.uri("nope"));
        assertThat(connect.exit()).isNotZero();
        assertThat(connect.err()).contains("server has no export named 'nope'");
        // full mode negotiates in option mode, where libnbd 1.14 words the same ERR_UNKNOWN differently
        Tools.Result full = Tools.run(Duration.ofSeconds(30), "nbdinfo", server.uri("nope"));
        assertThat(full.exit()).isNotZero();
        assertThat(full.err()).contains("No such file or directory for export: nope");
    }
}
