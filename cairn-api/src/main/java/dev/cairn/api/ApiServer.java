package dev.cairn.api;

import dev.cairn.control.CloudControl;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.VirtualThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Cairn's HTTP server (Jetty 12 core handlers, one virtual thread per request). Routes, all listed in
 * {@link #route}:
 * <ul>
 * <li>{@code POST /} — the Tencent Cloud API 3.0 ({@link TencentApi}); bodies over 1 MiB are refused</li>
 * <li>{@code GET /healthz} — {@code 200 {"status":"ok"}}</li>
 * <li>{@code GET /metrics} — the given Prometheus registry in text format (API metrics are registered
 *     on it too; the caller adds NBD and JVM metrics)</li>
 * <li>anything else — 404</li>
 * </ul>
 * Lifecycle: construct, {@link #start}, {@link #address} (the bound port when asked for port 0),
 * {@link #close} (graceful, 5 s). Thread-safe.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
    private static final String JSON = "application/json; charset=utf-8";
    private static final long DRAIN_BYTES = 16L << 20;

    private final Server server;
    private final ServerConnector connector;
    private final TencentApi api;
    private final PrometheusRegistry registry;
    private final PrometheusTextFormatWriter metricsWriter = PrometheusTextFormatWriter.create();

    /** Signatures are checked against the real system clock. */
    public ApiServer(InetSocketAddress listen, CloudControl control, PrometheusRegistry registry) {
        this(listen, control, registry, InstantSource.system());
    }

    /** As above with the clock that X-TC-Timestamp is checked against (tests only). */
    ApiServer(InetSocketAddress listen, CloudControl control, PrometheusRegistry registry, InstantSource signatureClock) {
        this.registry = registry;
        this.api = new TencentApi(control, registry, signatureClock);
        VirtualThreadPool threads = new VirtualThreadPool();
        threads.setName("cairn-api");
        this.server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        this.connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost(listen.getHostString());
        connector.setPort(listen.getPort());
        connector.setIdleTimeout(60_000);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                try {
                    route(request, response, callback);
                } catch (Throwable t) {
                    log.error("unhandled failure on {} {}", request.getMethod(), Request.getPathInContext(request), t);
                    Response.writeError(request, response, callback, 500);
                }
                return true;
            }
        });
        server.setStopTimeout(5_000);
    }

    public void start() throws Exception {
        server.start();
        log.info("api listening address={}", address());
    }

    /** The address actually bound (after {@link #start}). */
    public InetSocketAddress address() {
        return new InetSocketAddress(connector.getHost() == null ? "0.0.0.0" : connector.getHost(), connector.getLocalPort());
    }

    /** Stops accepting, lets requests in flight finish (up to 5 s), then closes. Idempotent. */
    @Override
    public void close() {
        try {
            server.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.warn("api server did not stop cleanly", e);
        }
    }

    private void route(Request request, Response response, Callback callback) throws IOException {
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        switch (path) {
            case "/" -> tencent(request, response, callback);
            case "/healthz" -> {
                if (!method.equals("GET") && !method.equals("HEAD")) { notAllowed(response, callback); return; }
                write(response, callback, 200, JSON, "{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8));
            }
            case "/metrics" -> {
                if (!method.equals("GET") && !method.equals("HEAD")) { notAllowed(response, callback); return; }
                ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
                metricsWriter.write(out, registry.scrape());
                write(response, callback, 200, metricsWriter.getContentType(), out.toByteArray());
            }
            default -> write(response, callback, 404, JSON, "{\"error\":\"not found\"}".getBytes(StandardCharsets.UTF_8));
        }
    }

    private void tencent(Request request, Response response, Callback callback) throws IOException {
        Map<String, String> headers = new HashMap<>();
        for (HttpField f : request.getHeaders()) headers.putIfAbsent(f.getLowerCaseName(), f.getValue());
        // Bodies up to DRAIN_BYTES are read (the excess discarded) so the client gets a clean answer;
        // beyond that the connection is closed after the answer.
        boolean hopeless = request.getLength() > DRAIN_BYTES;
        byte[] body = new byte[0];
        boolean tooLarge = hopeless;
        if (!hopeless) {
            try (InputStream in = Content.Source.asInputStream(request)) {
                int max = TencentApi.maxBodyBytes(headers.get("x-tc-action"));
                body = in.readNBytes(max + 1);
                tooLarge = body.length > max;
                long drained = body.length;
                while (tooLarge && drained < DRAIN_BYTES) {
                    long n = in.skip(DRAIN_BYTES - drained);
                    if (n <= 0) {
                        if (in.read() < 0) break;
                        n = 1;
                    }
                    drained += n;
                }
                hopeless = tooLarge && drained >= DRAIN_BYTES;
            }
        }
        String query = request.getHttpURI().getQuery();
        var signed = new Tc3Signature.SignedRequest(request.getMethod().toUpperCase(Locale.ROOT), "/", query == null ? "" : query,
                headers, tooLarge ? new byte[0] : body);
        byte[] answer = api.handle(new TencentApi.ApiRequest(signed, tooLarge));
        if (hopeless) response.getHeaders().put(HttpHeader.CONNECTION, "close"); // the unread rest of the body is dropped
        write(response, callback, 200, JSON, answer);
    }

    private static void notAllowed(Response response, Callback callback) {
        write(response, callback, 405, JSON, "{\"error\":\"method not allowed\"}".getBytes(StandardCharsets.UTF_8));
    }

    private static void write(Response response, Callback callback, int status, String contentType, byte[] bytes) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }
}
