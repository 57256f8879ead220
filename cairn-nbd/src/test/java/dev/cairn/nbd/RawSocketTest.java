package dev.cairn.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The server over real sockets, driven by {@link RawClient}: paths no stock client takes. */
class RawSocketTest {
    private static final long SIZE = 16 << 20;
    private MemoryVolume disk;
    private GatedVolume gated;
    private TestServer server;

    @BeforeEach
    void start() throws Exception {
        disk = new MemoryVolume(SIZE);
        gated = new GatedVolume(new MemoryVolume(SIZE), 1 << 20);
        server = TestServer.start(new TestExports().add("disk", disk).add("gated", gated));
    }

    @AfterEach
    void stop() {
        gated.open();
        server.close();
        server.awaitQuiet();
    }

    @Test
    void exportNameWithAndWithoutNoZeroes() throws Exception {
        for (boolean noZeroes : new boolean[] {true, false}) {
            try (RawClient c = RawClient.greeted(server.port())) {
                c.send(new WireBytes().clientFlags(noZeroes ? 3 : 1).option(Nbd.OPT_EXPORT_NAME, "disk".getBytes())
                        .write(0, 1, 4096, "abc".getBytes()));
                assertThat(c.in.in.readLong()).isEqualTo(SIZE);
                assertThat(c.in.in.readUnsignedShort()).isEqualTo(0x0D6D);
                if (!noZeroes) assertThat(c.in.in.readNBytes(124)).containsOnly(0);
                ServerBytes.Reply w = c.in.reply(0);
                assertThat(w.cookie()).isEqualTo(1);
                assertThat(w.error()).isZero();
                // only after the write's reply: requests in flight together may run in any order
                c.send(new WireBytes().request(0, Nbd.CMD_READ, 2, 4096, 3));
                ServerBytes.Reply r = c.in.reply(3);
                assertThat(r.cookie()).isEqualTo(2);
                assertThat(r.payload()).isEqualTo("abc".getBytes());
                c.send(new WireBytes().disc());
                assertThat(c.closedByServer()).isTrue();
            }
        }
        assertThat(server.metrics.handshakes("ok")).isEqualTo(2);
    }

    @Test
    void exportNameForUnknownExportCloses() throws Exception {
        try (RawClient c = RawClient.greeted(server.port())) {
            c.send(new WireBytes().clientFlags(3).option(Nbd.OPT_EXPORT_NAME, "missing".getBytes()));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    /**
     * The blocked read arrives alone, so the reader runs it itself (the queue-depth-1 fast path); the
     * server's watchdog must then hand reading to another thread, or the later requests would wait.
     */
    @Test
    void repliesCompleteOutOfOrderWithCookiesEchoedEvenWhenTheReaderIsStuck() throws Exception {
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("gated", false, false);
            long slowCookie = 0xfedcba9876543210L;
            c.send(new WireBytes().request(0, Nbd.CMD_READ, slowCookie, 1 << 20, 4096));
            assertThat(gated.entered.await(10, TimeUnit.SECONDS)).isTrue();
            c.send(new WireBytes().request(0, Nbd.CMD_READ, 1, 0, 512).request(0, Nbd.CMD_FLUSH, -1L, 0, 0));
            java.util.function.LongToIntFunction lengths = cookie -> cookie == 1 ? 512 : 0;
            Set<Long> first = Set.of(c.in.reply(lengths).cookie(), c.in.reply(lengths).cookie());
            assertThat(first).containsExactlyInAnyOrder(1L, -1L); // both overtook the blocked read
            gated.open();
            ServerBytes.Reply slow = c.in.reply(4096);
            assertThat(slow.cookie()).isEqualTo(slowCookie);
            assertThat(slow.payload()).hasSize(4096);
        }
    }

    @Test
    void manyRequestsInFlightOnOneConnection() throws Exception {
        Random random = new Random(3);
        Map<Long, byte[]> expected = new HashMap<>();
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("disk", true, false);
            WireBytes writes = new WireBytes();
            for (int i = 0; i < 300; i++) {
                byte[] data = new byte[4096];
                random.nextBytes(data);
                writes.write(0, 1000 + i, i * 4096L, data);
                expected.put((long) i, data);
            }
            c.send(writes); // more than the in-flight limit: the server must apply back-pressure, not fail
            Set<Long> acked = new HashSet<>();
            for (int i = 0; i < 300; i++) {
                ServerBytes.Reply r = c.in.reply(0);
                assertThat(r.error()).isZero();
                acked.add(r.cookie());
            }
            assertThat(acked).hasSize(300);
            WireBytes reads = new WireBytes();
            for (int i = 0; i < 300; i++) reads.request(0, Nbd.CMD_READ, i, i * 4096L, 4096);
            c.send(reads);
            for (int i = 0; i < 300; i++) {
                ServerBytes.Reply r = c.in.reply(0);
                assertThat(r.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
                assertThat(r.done()).isTrue();
                ByteBuffer b = ByteBuffer.wrap(r.payload());
                assertThat(b.getLong()).isEqualTo(r.cookie() * 4096);
                assertThat(java.util.Arrays.copyOfRange(r.payload(), 8, r.payload().length)).isEqualTo(expected.get(r.cookie()));
            }
        }
    }

    @Test
    void refusedOversizedWriteIsDrainedOverTheSocket() throws Exception {
        try (RawClient c = RawClient.greeted(server.port())) {
            c.go("disk", false, false);
            c.send(new WireBytes().write(0, 1, SIZE - 4096, new byte[8192]).request(0, Nbd.CMD_READ, 2, 0, 512));
            assertThat(c.in.reply(0).error()).isEqualTo(Nbd.ENOSPC);
            ServerBytes.Reply r = c.in.reply(512);
            assertThat(r.cookie()).isEqualTo(2);
            assertThat(r.error()).isZero();
        }
    }

    @Test
    void clientVanishingMidRequestReleasesEverything() throws Exception {
        for (int i = 0; i < 20; i++) {
            RawClient c = RawClient.greeted(server.port());
            c.go("disk", i % 2 == 0, false);
            // a WRITE header announcing 1 MiB, a little of the payload, then gone (RST on odd rounds)
            c.send(new WireBytes().request(0, Nbd.CMD_WRITE, 9, 0, 1 << 20).bytes(new byte[100]));
            if (i % 2 == 1) c.socket.setSoLinger(true, 0);
            c.close();
        }
        server.awaitNoServingThreads();
        assertThat(disk.bytes(0, 100)).containsOnly(0);
        try (RawClient c = RawClient.greeted(server.port())) { // still serving
            c.go("disk", false, false);
            c.send(new WireBytes().request(0, Nbd.CMD_READ, 1, 0, 512));
            assertThat(c.in.reply(512).error()).isZero();
        }
    }

    @Test
    void abandonedInFlightReadsDoNotHurtTheServer() throws Exception {
        for (int i = 0; i < 10; i++) {
            RawClient c = RawClient.greeted(server.port());
            c.go("disk", true, false);
            WireBytes reads = new WireBytes();
            for (int j = 0; j < 64; j++) reads.request(0, Nbd.CMD_READ, j, 0, 1 << 20);
            c.send(reads);
            c.socket.setSoLinger(true, 0);
            c.close(); // replies still being written meet a reset socket
        }
        server.awaitNoServingThreads();
        Tools.Result r = Tools.ok(Duration.ofSeconds(30), "nbdinfo", "--size", server.uri("disk"));
        assertThat(r.out().trim()).isEqualTo(String.valueOf(SIZE));
    }

    @Test
    void listedExportsAreTheRegistrysAndStructuredErrorsCarryMessages() throws Exception {
        try (RawClient c = RawClient.greeted(server.port())) {
            c.send(new WireBytes().clientFlags(3).option(Nbd.OPT_LIST));
            List<ServerBytes.OptionReply> list = c.untilAck();
            assertThat(list).hasSize(3);
            c.go("disk", true, false, false);
            c.send(new WireBytes().request(0, Nbd.CMD_READ, 5, SIZE, 512));
            ServerBytes.Reply err = c.in.reply(0);
            assertThat(err.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
            ByteBuffer p = ByteBuffer.wrap(err.payload());
            assertThat(p.getInt()).isEqualTo(Nbd.EINVAL);
            int len = p.getShort();
            assertThat(new String(err.payload(), 6, len)).contains("beyond the end of the export");
        }
    }
}
