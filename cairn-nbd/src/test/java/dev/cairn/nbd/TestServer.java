package dev.cairn.nbd;

import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.fail;

/** A real {@link NbdServer} on 127.0.0.1 and a free port, serving {@link TestExports}. */
final class TestServer implements AutoCloseable {
    final TestExports exports;
    final PrometheusRegistry registry = new PrometheusRegistry();
    final NbdMetrics metrics = new NbdMetrics(registry);
    final NbdServer server;

    private TestServer(TestExports exports, NbdServer.Settings settings) throws Exception {
        this.exports = exports;
        this.server = new NbdServer(new InetSocketAddress("127.0.0.1", 0), exports, metrics, settings);
        server.start();
    }

    static TestServer start(TestExports exports) throws Exception {
        return new TestServer(exports, NbdServer.Settings.defaults());
    }

    static TestServer start(TestExports exports, NbdServer.Settings settings) throws Exception {
        return new TestServer(exports, settings);
    }

    int port() {
        return server.address().getPort();
    }

    String uri(String export) {
        return "nbd://127.0.0.1:" + port() + "/" + export;
    }

    String uri() {
        return "nbd://127.0.0.1:" + port();
    }

    /** Waits until every connection has ended and every export handle is closed again. */
    void awaitQuiet() {
        await(Duration.ofSeconds(20), () -> server.connectionCount() == 0 && metrics.connections() == 0 && exports.openNow() == 0,
                () -> "connections=" + server.connectionCount() + " gauge=" + metrics.connections() + " exportsOpen=" + exports.openNow());
    }

    /** {@link #awaitQuiet} plus: no connection or request thread of any server is left (virtual ones included). */
    void awaitNoServingThreads() {
        awaitQuiet();
        await(Duration.ofSeconds(20), () -> threadsNamed("nbd#") + threadsNamed("nbd-request") == 0,
                () -> "threads left: nbd#=" + threadsNamed("nbd#") + " nbd-request=" + threadsNamed("nbd-request"));
    }

    @Override
    public void close() {
        server.close();
    }

    /**
     * Threads, virtual ones included, whose name starts with {@code prefix}, from a JSON thread dump
     * (the only JDK view that lists virtual threads). The server names connection threads {@code nbd#N}
     * and request threads {@code nbd-request}.
     */
    static int threadsNamed(String prefix) {
        try {
            java.nio.file.Path dump = java.nio.file.Files.createTempFile("threads", ".json");
            java.nio.file.Files.delete(dump); // dumpThreads refuses to overwrite
            try {
                java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                        .dumpThreads(dump.toString(), com.sun.management.HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
                String json = java.nio.file.Files.readString(dump);
                return (int) java.util.regex.Pattern.compile("\"name\": \"" + java.util.regex.Pattern.quote(prefix)).matcher(json).results().count();
            } finally {
                java.nio.file.Files.deleteIfExists(dump);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Polls {@code condition} until it holds or the deadline passes (then fails with {@code state}). */
    static void await(Duration timeout, BooleanSupplier condition, java.util.function.Supplier<String> state) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 1;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("condition not met within " + timeout + ": " + state.get());
            try {
                Thread.sleep(pause); // polling interval of a deadline-bounded wait, not a fixed delay
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
            pause = Math.min(50, pause * 2);
        }
    }
}
