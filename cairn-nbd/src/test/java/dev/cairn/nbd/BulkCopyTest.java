package dev.cairn.nbd;

import dev.cairn.volume.Volume;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whole-disk copies with nbdcopy (four connections, block-status-driven sparse copy) and a real ext4 file
 * system carried onto an export and back (test matrix rows for nbdcopy, sparse copy, multi-conn).
 */
class BulkCopyTest {
    private static final long SIZE = 64 << 20;
    @TempDir static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        TestExports exports = new TestExports();
        exports.addFile(dir, "copy-in", SIZE);
        exports.addFile(dir, "fs", SIZE);
        server = TestServer.start(exports);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        server.awaitQuiet();
        server.exports.close();
    }

    @Test
    void nbdcopyInAndOutWithFourConnectionsKeepsBytesAndHoles() throws Exception {
        Path src = dir.resolve("src.raw");
        Random random = new Random(42);
        try (FileChannel ch = FileChannel.open(src, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(SIZE);
            for (long at : new long[] {0, 5 << 20, 17 << 20, 33 << 20, SIZE - (1 << 20)}) {
                byte[] data = new byte[1 << 20];
                random.nextBytes(data);
                ch.write(ByteBuffer.wrap(data), at);
            }
            ch.write(ByteBuffer.wrap(new byte[1 << 20]), 40 << 20); // allocated zeros: may arrive as zero requests
        }
        Tools.ok(Duration.ofSeconds(120), "nbdcopy", "--flush", "-C", "4", src.toString(), server.uri("copy-in"));

        Volume v = server.exports.volume("copy-in");
        long holes = v.extents(0, SIZE).stream().filter(Volume.Extent::hole).mapToLong(Volume.Extent::length).sum();
        assertThat(holes).as("unwritten ranges of the source stay holes on the export").isGreaterThanOrEqualTo(50L << 20);

        Path back = dir.resolve("back.raw");
        try (FileChannel ch = FileChannel.open(back, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(SIZE); // nbdcopy 1.14 does not create the target file
        }
        Tools.ok(Duration.ofSeconds(120), "nbdcopy", "-C", "4", server.uri("copy-in"), back.toString());
        assertThat(Files.mismatch(src, back)).isEqualTo(-1);
        Tools.ok(Duration.ofSeconds(120), "nbdcopy", "-C", "4", server.uri("copy-in"), "null:");
        assertThat(server.metrics.requests("block_status", "ok")).isPositive();
    }

    @Test
    void ext4FileSystemSurvivesTheRoundTrip() throws Exception {
        Path tree = dir.resolve("tree");
        Random random = new Random(7);
        for (int d = 0; d < 4; d++) {
            Path sub = Files.createDirectories(tree.resolve("dir" + d).resolve("nested"));
            for (int f = 0; f < 8; f++) {
                byte[] data = new byte[random.nextInt(300_000) + 1];
                random.nextBytes(data);
                Files.write((f % 2 == 0 ? sub : sub.getParent()).resolve("file" + f + ".bin"), data);
            }
        }
        Files.writeString(tree.resolve("hello.txt"), "hello from cairn\n");
        Path img = dir.resolve("fs.img");
        Tools.ok("mke2fs", "-q", "-F", "-t", "ext4", "-d", tree.toString(), img.toString(), "64M");

        Tools.ok(Duration.ofSeconds(120), "nbdcopy", "--flush", img.toString(), server.uri("fs"));
        Path back = dir.resolve("fs-back.img");
        try (FileChannel ch = FileChannel.open(back, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(SIZE);
        }
        Tools.ok(Duration.ofSeconds(120), "nbdcopy", server.uri("fs"), back.toString());

        Tools.ok("e2fsck", "-fn", back.toString());
        assertThat(Files.mismatch(img, back)).isEqualTo(-1);
        Path out = Files.createDirectories(dir.resolve("extracted"));
        Tools.ok("debugfs", "-R", "rdump / " + out, back.toString());
        assertSameTree(tree, out);
    }

    private static void assertSameTree(Path expected, Path actualRoot) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(expected)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        assertThat(files).hasSizeGreaterThan(30);
        for (Path f : files) {
            Path copy = actualRoot.resolve(expected.relativize(f).toString());
            assertThat(copy).exists();
            assertThat(Files.mismatch(f, copy)).as(copy.toString()).isEqualTo(-1);
        }
    }
}
