package dev.cairn.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Many misbehaving clients at once: each is dropped on its own, the server keeps serving good clients,
 * and connections, export handles and threads return to their baseline.
 */
class HostileClientsTest {
    private static final long SIZE = 8 << 20;
    private TestServer server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start(new TestExports().add("disk", new MemoryVolume(SIZE)),
                NbdServer.Settings.defaults().withHandshakeTimeout(Duration.ofSeconds(2)));
    }

    @AfterEach
    void stop() {
        server.close();
        server.awaitQuiet();
    }

    /** One hostile behaviour per index; all end with the client closing or being closed. */
    private void misbehave(int kind, Random random) throws IOException {
        try (RawClient c = RawClient.connect(server.port())) {
            switch (kind) {
                case 0 -> { } // connect and leave at once
                case 1 -> { byte[] junk = new byte[random.nextInt(2000) + 1]; random.nextBytes(junk); c.send(junk); }
                case 2 -> c.send(new WireBytes().clientFlags(0xffff_ffff));
                case 3 -> c.send(new WireBytes().clientFlags(3).u64(0xbad).u32(1).u32(0));
                case 4 -> c.send(new WireBytes().clientFlags(3).u64(Nbd.IHAVEOPT).u32(Nbd.OPT_GO).u32(0x7fff_ffff));
                case 5 -> { // valid handshake, then a request with a bad magic
                    c.in.greeting();
                    c.go("disk", true, false);
                    c.send(new WireBytes().u32(0x1234_5678).u64(1).u64(2).u64(3));
                }
                case 6 -> { // valid handshake, a WRITE announced and abandoned, then a reset
                    c.in.greeting();
                    c.go("disk", false, false);
                    c.send(new WireBytes().request(0, Nbd.CMD_WRITE, 1, 0, 1 << 20).bytes(new byte[10]));
                    c.socket.setSoLinger(true, 0);
                }
                case 7 -> { // many unknown options, then vanish mid-option
                    WireBytes w = new WireBytes().clientFlags(3);
                    for (int i = 0; i < 10; i++) w.option(1000 + i, new byte[random.nextInt(100)]);
                    c.send(w.u64(Nbd.IHAVEOPT).u32(Nbd.OPT_INFO).u32(100).bytes(new byte[50]));
                }
                case 8 -> { // option flood past the cap
                    WireBytes w = new WireBytes().clientFlags(3);
                    for (int i = 0; i < 40; i++) w.option(Nbd.OPT_LIST);
                    c.send(w);
                }
                default -> { // unknown commands and huge lengths, then EOF without DISC
                    c.in.greeting();
                    c.go("disk", true, true);
                    c.send(new WireBytes().request(0, 99, 1, 0, 0).request(0, Nbd.CMD_READ, 2, 0, -1)
                            .request(0, Nbd.CMD_BLOCK_STATUS, 3, 0, -1));
                }
            }
        } catch (IOException e) {
            // the server may reset us first (e.g. it closed while we were still sending): that is the point
        }
    }

    @Test
    void fiveHundredBadConnectionsLeaveTheServerServingAndNothingBehind() throws Exception {
        int baselineThreads = ManagementFactory.getThreadMXBean().getThreadCount();
        try (ExecutorService pool = Executors.newFixedThreadPool(16)) {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                int kind = i % 10;
                Random random = new Random(i);
                done.add(pool.submit(() -> { misbehave(kind, random); return null; }));
            }
            for (Future<?> f : done) f.get();
        }
        // a good client is served meanwhile and afterwards
        Tools.Result r = Tools.ok(Duration.ofSeconds(30), "nbdinfo", "--size", server.uri("disk"));
        assertThat(r.out().trim()).isEqualTo(String.valueOf(SIZE));

        server.awaitNoServingThreads(); // connections, export handles and virtual threads all back to zero
        assertThat(server.metrics.connections()).isZero();
        assertThat(server.metrics.handshakes("rejected")).isGreaterThanOrEqualTo(150);
        TestServer.await(Duration.ofSeconds(10), () -> ManagementFactory.getThreadMXBean().getThreadCount() <= baselineThreads + 2,
                () -> "platform threads " + ManagementFactory.getThreadMXBean().getThreadCount() + " vs baseline " + baselineThreads);
    }

    @Test
    void silentClientsAreClosedAfterTheHandshakeTimeout() throws Exception {
        List<Socket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", server.port()));
                s.setSoTimeout(15_000);
                idle.add(s);
            }
            TestServer.await(Duration.ofSeconds(5), () -> server.server.connectionCount() == 50, () -> "connections " + server.server.connectionCount());
            for (Socket s : idle) {
                assertThat(s.getInputStream().readNBytes(18)).hasSize(18);   // greeting, then nothing from us
                assertThat(s.getInputStream().read()).as("closed by the server").isEqualTo(-1);
            }
            server.awaitQuiet();
            assertThat(server.metrics.handshakes("failed")).isEqualTo(50);
        } finally {
            for (Socket s : idle) s.close();
        }
    }

    @Test
    void connectionLimitRefusesExtraClients() throws Exception {
        try (TestServer small = TestServer.start(new TestExports().add("disk", new MemoryVolume(SIZE)),
                NbdServer.Settings.defaults().withMaxConnections(2))) {
            try (RawClient a = RawClient.greeted(small.port()); RawClient b = RawClient.greeted(small.port());
                 RawClient c = RawClient.connect(small.port())) {
                assertThat(c.closedByServer()).as("third connection, over the limit").isTrue();
                assertThat(b.socket.isConnected()).isTrue();
                a.go("disk", false, false);
                a.send(new WireBytes().request(0, Nbd.CMD_READ, 1, 0, 512));
                assertThat(a.in.reply(512).error()).isZero();
            }
            small.awaitQuiet();
        }
    }
}
