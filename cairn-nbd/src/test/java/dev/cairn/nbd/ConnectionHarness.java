package dev.cairn.nbd;

import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Runs one {@link NbdConnection} over byte arrays: a whole client stream in, everything the server wrote out. */
final class ConnectionHarness {
    final TestExports exports;
    final NbdMetrics metrics = new NbdMetrics(new PrometheusRegistry());
    Set<Integer> disabledOptions = Set.of();
    /** Let the reader run small requests itself (memory volumes never stall, so no watchdog is needed). */
    boolean inline = true;

    ConnectionHarness(TestExports exports) {
        this.exports = exports;
    }

    record Run(NbdConnection connection, byte[] output) {
        ServerBytes parse() throws IOException {
            ServerBytes s = new ServerBytes(new ByteArrayInputStream(output));
            s.greeting();
            return s;
        }
    }

    /** Runs the connection to its end (bounded) and checks it left nothing behind. */
    Run run(byte[] input) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ConnectionConfig config = new ConnectionConfig(new BufferPool(), Thread.ofVirtual().factory(), disabledOptions,
                ConnectionConfig.DEFAULT_MAX_IN_FLIGHT, ConnectionConfig.DEFAULT_MAX_BYTES_IN_FLIGHT, inline);
        NbdConnection conn = new NbdConnection("test", Channels.newChannel(new ByteArrayInputStream(input)),
                Channels.newChannel(out), exports, metrics, config);
        Thread t = Thread.ofVirtual().start(conn::run);
        try {
            if (!t.join(Duration.ofSeconds(30))) fail("connection did not finish within 30 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
        assertThat(conn.state()).isEqualTo(NbdConnection.State.CLOSED);
        assertThat(exports.openNow()).as("exports left open").isZero();
        assertThat(metrics.connections()).isZero();
        return new Run(conn, out.toByteArray());
    }

    /** All transmission replies after the handshake part was consumed, grouped by cookie in arrival order. */
    static Map<Long, List<ServerBytes.Reply>> replies(ServerBytes s, Map<Long, Integer> readLengths) throws IOException {
        Map<Long, List<ServerBytes.Reply>> byCookie = new LinkedHashMap<>();
        while (s.in.available() > 0) {
            // simple replies to READ carry data; the caller says how long each read was
            s.in.mark(16);
            int magic = s.in.readInt();
            int error = magic == Nbd.SIMPLE_REPLY_MAGIC ? s.in.readInt() : 0;
            long cookie = magic == Nbd.SIMPLE_REPLY_MAGIC ? s.in.readLong() : 0;
            s.in.reset();
            int len = magic == Nbd.SIMPLE_REPLY_MAGIC && error == 0 ? readLengths.getOrDefault(cookie, 0) : 0;
            ServerBytes.Reply r = s.reply(len);
            byCookie.computeIfAbsent(r.cookie(), k -> new ArrayList<>()).add(r);
        }
        return byCookie;
    }
}
