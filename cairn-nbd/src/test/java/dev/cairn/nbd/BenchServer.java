package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Not a test: serves one existing raw file as export "bench" for benchmarks side by side with nbdkit
 * ({@code fio --ioengine=nbd --uri=nbd://127.0.0.1:PORT/bench}). Usage: {@code BenchServer FILE [PORT]}.
 */
public final class BenchServer {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 10809;
        if (!Files.exists(file)) throw new IllegalArgumentException("no such file " + file);
        TestExports exports = new TestExports();
        exports.add("bench", SparseFileVolume.open(file, false));
        NbdServer server = new NbdServer(new InetSocketAddress("127.0.0.1", port), exports, new NbdMetrics(new PrometheusRegistry()));
        server.start();
        System.out.println("ready nbd://127.0.0.1:" + server.address().getPort() + "/bench");
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        new CountDownLatch(1).await();
    }
}
