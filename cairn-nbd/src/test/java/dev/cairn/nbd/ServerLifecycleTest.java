package dev.cairn.nbd;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** start / address / disconnect(name) / close() as the rest of Cairn uses them. */
class ServerLifecycleTest {

    @Test
    void startBindsAndReportsTheRealPort() throws Exception {
        TestExports exports = new TestExports().add("d", new MemoryVolume(1 << 20));
        NbdServer server = new NbdServer(new InetSocketAddress("127.0.0.1", 0), exports, new NbdMetrics(new PrometheusRegistry()));
        assertThatThrownBy(server::address).isInstanceOf(IllegalStateException.class);
        server.start();
        int port = server.address().getPort();
        try {
            assertThat(server.address().getPort()).isPositive();
            try (RawClient c = RawClient.greeted(server.address().getPort())) {
                assertThat(c.go("d", false, false)).isEqualTo(0x0D6D);
            }
        } finally {
            server.close();
            server.close(); // idempotent
        }
        assertThatThrownBy(() -> new Socket("127.0.0.1", port)).isInstanceOf(ConnectException.class);
    }

    @Test
    void startFailsClearlyWhenThePortIsTaken() throws Exception {
        try (TestServer first = TestServer.start(new TestExports())) {
            NbdServer second = new NbdServer(new InetSocketAddress("127.0.0.1", first.port()), new TestExports(),
                    new NbdMetrics(new PrometheusRegistry()));
            assertThatThrownBy(second::start).isInstanceOf(IOException.class).hasMessageContaining("cannot listen for NBD");
            second.close();
        }
    }

    @Test
    void disconnectClosesOnlyTheConnectionsOfThatExport() throws Exception {
        MemoryVolume a = new MemoryVolume(1 << 20);
        MemoryVolume b = new MemoryVolume(1 << 20);
        try (TestServer server = TestServer.start(new TestExports().add("a", a).add("b", b))) {
            RawClient a1 = RawClient.greeted(server.port());
            RawClient a2 = RawClient.greeted(server.port());
            RawClient b1 = RawClient.greeted(server.port());
            RawClient options = RawClient.greeted(server.port()); // still negotiating: not serving anything
            a1.go("a", false, false);
            a2.go("a", true, false);
            b1.go("b", false, false);
            options.send(new WireBytes().clientFlags(3).option(Nbd.OPT_LIST));
            options.untilAck();
            assertThat(server.exports.openNow()).isEqualTo(3);

            assertThat(server.server.disconnect("a")).isEqualTo(2);
            assertThat(a1.closedByServer()).isTrue();
            assertThat(a2.closedByServer()).isTrue();
            assertThat(server.exports.openNow()).as("export handles of a released when disconnect returns").isEqualTo(1);
            assertThat(server.server.disconnect("nothing")).isZero();

            b1.send(new WireBytes().request(0, Nbd.CMD_READ, 1, 0, 512));
            assertThat(b1.in.reply(512).error()).isZero();
            options.send(new WireBytes().option(Nbd.OPT_ABORT));
            assertThat(options.in.optionReply().type()).isEqualTo(Nbd.REP_ACK);
            for (RawClient c : new RawClient[] {a1, a2, b1, options}) c.close();
            server.awaitQuiet();
        }
    }

    @Test
    void closeLetsRunningRequestsFinishRefusesNewOnesAndEndsEveryConnection() throws Exception {
        GatedVolume gated = new GatedVolume(new MemoryVolume(4 << 20), 1 << 20);
        TestServer server = TestServer.start(new TestExports().add("g", gated),
                NbdServer.Settings.defaults().withShutdownGrace(Duration.ofSeconds(10)));
        RawClient busy = RawClient.greeted(server.port());
        RawClient idle = RawClient.greeted(server.port());
        RawClient negotiating = RawClient.greeted(server.port());
        busy.go("g", false, false);
        idle.go("g", true, false);
        negotiating.send(new WireBytes().clientFlags(3));

        busy.send(new WireBytes().request(0, Nbd.CMD_READ, 1, 1 << 20, 4096));
        assertThat(gated.entered.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
        // once the server is draining, a new request on the busy connection is refused with ESHUTDOWN
        long cookie = 100;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ServerBytes.Reply refused;
        do {
            assertThat(System.nanoTime()).as("ESHUTDOWN within 10 s").isLessThan(deadline);
            busy.send(new WireBytes().request(0, Nbd.CMD_READ, ++cookie, 0, 512));
            refused = busy.in.reply(512);
            assertThat(refused.cookie()).isEqualTo(cookie);
        } while (refused.error() == 0);
        assertThat(refused.error()).isEqualTo(Nbd.ESHUTDOWN);
        assertThat(closing).isNotDone();

        gated.open(); // the running read finishes and is answered truthfully
        ServerBytes.Reply finished = busy.in.reply(4096);
        assertThat(finished.cookie()).isEqualTo(1);
        assertThat(finished.error()).isZero();

        closing.get(20, TimeUnit.SECONDS);
        assertThat(busy.closedByServer()).isTrue();
        assertThat(idle.closedByServer()).isTrue();
        assertThat(negotiating.closedByServer()).isTrue();
        assertThat(server.server.connectionCount()).isZero();
        assertThat(server.exports.openNow()).isZero();
        assertThat(server.metrics.connections()).isZero();
        assertThatThrownBy(() -> RawClient.connect(server.port())).isInstanceOf(ConnectException.class);
        for (RawClient c : new RawClient[] {busy, idle, negotiating}) c.close();
    }

    @Test
    void closeWithIdleConnectionsIsQuick() throws Exception {
        TestServer server = TestServer.start(new TestExports().add("d", new MemoryVolume(1 << 20)));
        RawClient[] clients = new RawClient[20];
        for (int i = 0; i < clients.length; i++) {
            clients[i] = RawClient.greeted(server.port());
            clients[i].go("d", i % 2 == 0, false);
        }
        long start = System.nanoTime();
        server.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        for (RawClient c : clients) {
            assertThat(c.closedByServer()).isTrue();
            c.close();
        }
        assertThat(server.exports.openNow()).isZero();
    }

    @Test
    void metricsAreExposedOnTheRegistry() throws Exception {
        try (TestServer server = TestServer.start(new TestExports().add("d", new MemoryVolume(1 << 20)))) {
            Tools.ok("nbdinfo", server.uri("d"));
            server.awaitQuiet();
            var names = server.registry.scrape().stream().map(s -> s.getMetadata().getPrometheusName()).toList();
            assertThat(names).contains("cairn_nbd_requests", "cairn_nbd_read_bytes", "cairn_nbd_written_bytes",
                    "cairn_nbd_request_duration_seconds", "cairn_nbd_connections", "cairn_nbd_handshakes");
            assertThat(server.metrics.requests("read", "ok")).isEqualTo(1);
            assertThat(server.metrics.handshakes("ok")).isEqualTo(1);
        }
    }
}
