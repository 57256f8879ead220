package dev.cairn.repository.backend.s3;

import dev.cairn.repository.backend.s3.S3Backend.Options;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real S3Proxy server process on 127.0.0.1 for tests: a separate JVM running the jar the build
 * copies to {@code target/s3proxy/s3proxy.jar} (system property {@code s3proxy.jar}), storing in a
 * temp directory ({@code filesystem-nio2}), SigV4 auth with random credentials, on a free port.
 *
 * <p>Ready when its log prints {@code Started …ServerConnector…{127.0.0.1:PORT}} — no sleeps. A
 * missing jar or java fails the test with a clear message: CI provides both, so this never skips.
 * The output is drained for the process's life (a full pipe would stall the server) and its tail
 * is kept for error messages.
 */
public final class S3ProxyServer implements AutoCloseable {

    private static final long START_TIMEOUT_SECONDS = 90;

    private final Process process;
    private final URI endpoint;
    private final String identity;
    private final String credential;
    private final Deque<String> tail;
    private final AtomicInteger buckets = new AtomicInteger();

    private final Path java;
    private final Path jar;
    private final Path dataDir;

    private S3ProxyServer(Process process, URI endpoint, String identity, String credential, Deque<String> tail, Path java, Path jar, Path dataDir) {
        this.process = process;
        this.endpoint = endpoint;
        this.identity = identity;
        this.credential = credential;
        this.tail = tail;
        this.java = java;
        this.jar = jar;
        this.dataDir = dataDir;
    }

    /** Starts a server storing under {@code dataDir}; retries on another port if one was taken meanwhile. */
    public static S3ProxyServer start(Path dataDir) throws IOException, InterruptedException {
        String jarProperty = System.getProperty("s3proxy.jar");
        if (jarProperty == null || jarProperty.isBlank()) {
            throw new AssertionError("system property s3proxy.jar is not set: run the tests through Maven (the build copies S3Proxy to target/s3proxy/s3proxy.jar)");
        }
        Path jar = Path.of(jarProperty);
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError("S3Proxy jar not found at " + jar + ": run `mvn -pl cairn-repository generate-test-resources` (the maven-dependency-plugin copies it)");
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        if (!Files.isExecutable(java)) throw new AssertionError("java executable not found at " + java + " to run S3Proxy");
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                return startOnce(java, jar, dataDir);
            } catch (PortTakenException e) {
                last = e;
            }
        }
        throw new IOException("S3Proxy could not bind a free port in 3 attempts", last);
    }

    private static S3ProxyServer startOnce(Path java, Path jar, Path dataDir) throws IOException, InterruptedException {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        SecureRandom random = new SecureRandom();
        return startOnce(java, jar, dataDir, port, "AK" + hex(random, 8), hex(random, 20));
    }

    /**
     * Stops this server and starts another on the same port, with the same credentials and stored
     * objects: an S3 endpoint that went away and came back. Use the returned server from then on.
     */
    public S3ProxyServer restart() throws IOException, InterruptedException {
        close();
        return startOnce(java, jar, dataDir, endpoint.getPort(), identity, credential);
    }

    private static S3ProxyServer startOnce(Path java, Path jar, Path dataDir, int port, String identity, String credential)
            throws IOException, InterruptedException {
        Path storage = Files.createDirectories(dataDir.resolve("s3proxy-" + port));
        Path properties = dataDir.resolve("s3proxy-" + port + ".conf");
        Files.writeString(properties, String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + identity,
                "s3proxy.credential=" + credential,
                "jclouds.provider=filesystem-nio2",
                "jclouds.filesystem.basedir=" + storage.toAbsolutePath(),
                ""));
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-XX:TieredStopAtLevel=1",
                "-jar", jar.toString(), "--properties", properties.toString()));
        pb.redirectErrorStream(true);
        Process process = pb.start();
        Deque<String> tail = new ArrayDeque<>();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        String readyMark = "{127.0.0.1:" + port + "}";
        Thread drain = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > 40) tail.removeFirst();
                    }
                    if (line.contains("Started") && line.contains("ServerConnector") && line.contains(readyMark)) ready.complete(null);
                    if (line.contains("Address already in use")) ready.completeExceptionally(new PortTakenException(port));
                }
                ready.completeExceptionally(new IOException("S3Proxy exited before it was ready"));
            } catch (IOException e) {
                ready.completeExceptionally(new UncheckedIOException(e));
            }
        }, "s3proxy-log-" + port);
        drain.setDaemon(true);
        drain.start();
        S3ProxyServer server = new S3ProxyServer(process, URI.create("http://127.0.0.1:" + port), identity, credential, tail, java, jar, dataDir);
        try {
            ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return server;
        } catch (ExecutionException e) {
            server.close();
            if (e.getCause() instanceof PortTakenException taken) throw taken;
            throw new IOException("S3Proxy failed to start: " + e.getCause().getMessage() + "\n" + server.tail(), e.getCause());
        } catch (TimeoutException e) {
            server.close();
            throw new IOException("S3Proxy did not print its Started line within " + START_TIMEOUT_SECONDS + " s\n" + server.tail(), e);
        }
    }

    public URI endpoint() {
        return endpoint;
    }

    /** Options for a new, uniquely named bucket that the backend creates at open. */
    public Options newBucketOptions() {
        String bucket = "cairn-test-" + buckets.incrementAndGet() + "-" + Long.toHexString(System.nanoTime() & 0xffffffL);
        return Options.of(endpoint, bucket, identity, credential).withCreateBucket(true);
    }

    /** The last lines the server logged. */
    public String tail() {
        synchronized (tail) {
            return String.join("\n", tail);
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(15, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static String hex(SecureRandom random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static final class PortTakenException extends IOException {
        PortTakenException(int port) {
            super("port " + port + " was taken before S3Proxy bound it");
        }
    }
}
