package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Large READs of data in the page cache go out with sendfile (Transmission.read): over a real socket,
 * with simple and structured replies, holes, DF, and many of them in flight between small ones, the
 * bytes must be exactly what a buffered read returns.
 */
class ZeroCopyReadTest {
    private static final int MiB = 1 << 20;
    private static final long SIZE = 16L * MiB;

    @TempDir Path dir;
    private SparseFileVolume volume;
    private byte[] image;
    private TestServer server;

    @BeforeEach
    void start() throws Exception {
        TestExports exports = new TestExports();
        volume = exports.addFile(dir, "disk", SIZE);
        image = new byte[(int) SIZE];
        Random random = new Random(11);
        for (long[] run : new long[][] {{0, 300_000}, {MiB + 4096, 2L * MiB}, {5L * MiB, 3L * MiB + 77}}) {
            byte[] data = new byte[(int) run[1]];
            random.nextBytes(data);
            volume.write(run[0], ByteBuffer.wrap(data), false); // written, so in the page cache
            System.arraycopy(data, 0, image, (int) run[0], data.length);
        }
        server = TestServer.start(exports);
    }

    @AfterEach
    void stop() {
        server.close();
        server.awaitQuiet();
    }

    private void assumeZeroCopy() throws Exception {
        Assumptions.assumeTrue(volume.transfer(0, 300_000) != null, "kernel without cachestat(2): every READ is buffered");
    }

    @Test
    void simpleRepliesCarryTheDataAndZerosOfHoles() throws Exception {
        assumeZeroCopy();
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("disk", false, false);
            long[][] reads = {{0, MiB}, {100, 3L * MiB}, {5L * MiB - 1000, 4L * MiB}, {SIZE - MiB, MiB}};
            for (int i = 0; i < reads.length; i++) {
                c.send(new WireBytes().request(0, Nbd.CMD_READ, i, reads[i][0], reads[i][1]));
                ServerBytes.Reply r = c.in.reply((int) reads[i][1]);
                assertThat(r.cookie()).isEqualTo(i);
                assertThat(r.error()).isZero();
                assertThat(r.payload()).isEqualTo(expected(reads[i][0], (int) reads[i][1]));
            }
        }
    }

    @Test
    void structuredRepliesSendDataChunksAndHoleChunksInOneReply() throws Exception {
        assumeZeroCopy();
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("disk", true, false);
            for (int flags : new int[] {0, Nbd.CMD_FLAG_DF}) {
                long offset = 200_000, length = 6L * MiB;
                c.send(new WireBytes().request(flags, Nbd.CMD_READ, 7, offset, length));
                byte[] got = new byte[(int) length];
                int chunks = 0, holes = 0;
                ServerBytes.Reply r;
                do {
                    r = c.in.reply(0);
                    chunks++;
                    assertThat(r.cookie()).isEqualTo(7);
                    ByteBuffer p = ByteBuffer.wrap(r.payload());
                    int at = (int) (p.getLong() - offset);
                    if (r.type() == Nbd.REPLY_TYPE_OFFSET_HOLE) {
                        holes++;
                        assertThat(expected(offset + at, p.getInt())).containsOnly(0);
                    } else {
                        assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
                        p.get(got, at, p.remaining());
                    }
                } while (!r.done());
                assertThat(got).isEqualTo(expected(offset, (int) length)); // holes left zero in `got`
                if (flags == Nbd.CMD_FLAG_DF) {
                    assertThat(chunks).isEqualTo(1);
                } else {
                    assertThat(holes).as("the hole between the runs is a hole chunk").isGreaterThan(0);
                }
            }
        }
    }

    @Test
    void manyLargeReadsInFlightBetweenSmallOnes() throws Exception {
        assumeZeroCopy();
        Random random = new Random(5);
        Map<Long, long[]> asked = new HashMap<>();
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("disk", false, false);
            WireBytes burst = new WireBytes();
            for (long cookie = 0; cookie < 96; cookie++) {
                long length = cookie % 3 == 0 ? 512 + random.nextInt(8192) : (64L << 10) + random.nextInt(2 * MiB);
                long offset = random.nextLong(SIZE - length);
                asked.put(cookie, new long[] {offset, length});
                burst.request(0, Nbd.CMD_READ, cookie, offset, length);
            }
            c.send(burst);
            while (!asked.isEmpty()) {
                ServerBytes.Reply r = c.in.reply(cookie -> asked.containsKey(cookie) ? (int) asked.get(cookie)[1] : 0);
                long[] a = asked.remove(r.cookie());
                assertThat(a).as("cookie %d answered once", r.cookie()).isNotNull();
                assertThat(r.error()).isZero();
                assertThat(r.payload()).as("cookie %d", r.cookie()).isEqualTo(expected(a[0], (int) a[1]));
            }
        }
    }

    private byte[] expected(long offset, int length) {
        return Arrays.copyOfRange(image, (int) offset, (int) offset + length);
    }
}
