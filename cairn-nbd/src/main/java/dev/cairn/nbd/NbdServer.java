package dev.cairn.nbd;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The NBD listener: accepts TCP clients and runs one {@link NbdConnection} per client.
 *
 * <p><b>What it keeps true.</b> Every accepted socket gets TCP_NODELAY and keep-alive, and either a
 * connection or an immediate close (when {@link Settings#maxConnections} are open, or the server is
 * closing). A connection that has not finished its handshake within {@link Settings#handshakeTimeout}
 * is closed, so idle or slow-loris sockets cannot pile up. {@link #close} and {@link #disconnect} return
 * only when the affected connections have ended (bounded wait), so a caller may then release volumes.
 *
 * <p><b>Threads.</b> No platform thread per connection: the accept loop, each connection's reader, and
 * each request run on virtual threads; one platform timer thread per server enforces handshake deadlines
 * and runs the watchdog that keeps a slow request from holding up a connection's reading. All public
 * methods are thread-safe. {@link #start} once; {@link #close} is idempotent.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);

    /**
     * Server settings. {@code disabledOptions} lists NBD option numbers answered ERR_UNSUP, to act like an
     * older server (nbdkit's {@code --no-sr}, {@code --mask-handshake}), e.g. {@code Set.of(Nbd.OPT_GO)}
     * to force clients onto NBD_OPT_EXPORT_NAME.
     */
    public record Settings(Duration handshakeTimeout, Duration shutdownGrace, int maxConnections, Set<Integer> disabledOptions) {
        public Settings {
            Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
            Objects.requireNonNull(shutdownGrace, "shutdownGrace");
            if (maxConnections < 1) throw new IllegalArgumentException("maxConnections " + maxConnections);
            disabledOptions = Set.copyOf(disabledOptions);
        }

        /** 30 s to finish a handshake, 5 s for requests to drain at close/disconnect, 1024 connections. */
        public static Settings defaults() {
            return new Settings(Duration.ofSeconds(30), Duration.ofSeconds(5), 1024, Set.of());
        }

        public Settings withHandshakeTimeout(Duration d) { return new Settings(d, shutdownGrace, maxConnections, disabledOptions); }
        public Settings withShutdownGrace(Duration d) { return new Settings(handshakeTimeout, d, maxConnections, disabledOptions); }
        public Settings withMaxConnections(int n) { return new Settings(handshakeTimeout, shutdownGrace, n, disabledOptions); }
        public Settings withDisabledOptions(Set<Integer> o) { return new Settings(handshakeTimeout, shutdownGrace, maxConnections, o); }
    }

    /** Watchdog periods; with Transmission.RESCUE_AFTER_NANOS they bound how long a slow request can hold up reading. */
    private static final long WATCH_BUSY_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long WATCH_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(25);

    private final InetSocketAddress listen;
    private final ExportRegistry exports;
    private final NbdMetrics metrics;
    private final Settings settings;
    private final ConnectionConfig config;
    /** Open connections and the thread serving each; an entry leaves when that thread is done. */
    private final ConcurrentHashMap<NbdConnection, Thread> live = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final ScheduledThreadPoolExecutor timer;
    private volatile ServerSocketChannel server;
    private volatile InetSocketAddress bound;
    private volatile Thread acceptor;
    private volatile boolean closing;

    public NbdServer(InetSocketAddress listen, ExportRegistry exports, NbdMetrics metrics) {
        this(listen, exports, metrics, Settings.defaults());
    }

    public NbdServer(InetSocketAddress listen, ExportRegistry exports, NbdMetrics metrics, Settings settings) {
        this.listen = Objects.requireNonNull(listen, "listen");
        this.exports = Objects.requireNonNull(exports, "exports");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.config = new ConnectionConfig(new BufferPool(), Thread.ofVirtual().name("nbd-request").factory(),
                settings.disabledOptions(), ConnectionConfig.DEFAULT_MAX_IN_FLIGHT, ConnectionConfig.DEFAULT_MAX_BYTES_IN_FLIGHT, true);
        // A platform thread: the watchdog must run even when every carrier of the virtual threads is busy
        // (that is when it is needed), and its ticks, every millisecond while busy, should not wake carriers.
        this.timer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("nbd-timer").factory());
        this.timer.setRemoveOnCancelPolicy(true);
    }

    /** Binds the listener and starts accepting; returns once clients can connect. */
    public synchronized void start() throws IOException {
        if (server != null || closing) throw new IllegalStateException("start() may be called once, before close()");
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(listen, 256);
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen for NBD on " + listen + ": " + e.getMessage(), e);
        }
        bound = (InetSocketAddress) ch.getLocalAddress();
        server = ch;
        acceptor = Thread.ofVirtual().name("nbd-accept").start(this::acceptLoop);
        timer.schedule(this::watch, WATCH_IDLE_NANOS, TimeUnit.NANOSECONDS);
        log.info("NBD server listening on {}", address());
    }

    /** The bound address (with the real port when started with port 0); still answers after {@link #close}. */
    public InetSocketAddress address() {
        InetSocketAddress a = bound;
        if (a == null) throw new IllegalStateException("not started");
        return a;
    }

    /** Connections currently open (any state). */
    public int connectionCount() {
        return live.size();
    }

    /**
     * Closes every connection currently serving (or opening) {@code exportName}, e.g. when its disk is
     * detached. Call it after the registry stops offering the name, so clients cannot come straight back.
     * New requests on those connections get ESHUTDOWN; running ones may finish for up to the shutdown
     * grace. Returns how many connections were closed, once they have ended (bounded wait).
     */
    public int disconnect(String exportName) {
        List<NbdConnection> victims = new ArrayList<>();
        for (NbdConnection c : live.keySet()) {
            if (exportName.equals(c.exportName())) victims.add(c);
        }
        if (!victims.isEmpty()) {
            log.info("disconnecting {} NBD connection(s) of export {}", victims.size(), Nbd.quote(exportName));
            wind(victims, "export " + Nbd.quote(exportName) + " disconnected");
        }
        return victims.size();
    }

    /**
     * Stops accepting, answers new options with ERR_SHUTDOWN and new requests with ESHUTDOWN, lets running
     * requests finish (up to the shutdown grace), closes every connection, and returns when all have
     * ended (bounded wait; a connection stuck in a volume call is reported and left to finish on its own).
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) return;
            closing = true;
        }
        ServerSocketChannel ch = server;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                log.warn("closing the NBD listener failed", e);
            }
        }
        Thread a = acceptor;
        if (a != null) {
            try {
                a.join(settings.shutdownGrace());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // The acceptor has stopped, so no connection can be added after this snapshot (accept re-checks closing).
        List<NbdConnection> all = new ArrayList<>(live.keySet());
        if (!all.isEmpty()) log.info("closing {} NBD connection(s)", all.size());
        wind(all, "server shutting down");
        timer.shutdownNow();
        log.info("NBD server on {} stopped", bound == null ? listen : bound);
    }

    /** Shutdown for a set of connections: refuse new work, let running work drain, close, wait for the end. */
    private void wind(List<NbdConnection> connections, String reason) {
        for (NbdConnection c : connections) c.beginShutdown();
        long graceNanos = settings.shutdownGrace().toNanos();
        long drained = System.nanoTime() + graceNanos;
        for (NbdConnection c : connections) c.awaitIdle(drained);
        for (NbdConnection c : connections) c.abort(reason);
        long ended = System.nanoTime() + graceNanos;
        for (NbdConnection c : connections) {
            Thread t = live.get(c);
            boolean done = t == null || join(t, ended);
            if (!done) log.warn("{}: still closing after {} (a volume call has not returned)", c, settings.shutdownGrace());
        }
    }

    /**
     * The watchdog tick: a connection whose reader is stuck in a slow inline request hands reading over.
     * Ticks every millisecond while any connection is busy, every 25 ms otherwise (an idle server then
     * costs next to nothing, and a stall starting after a quiet spell is caught within one slow tick).
     */
    private void watch() {
        boolean busy = false;
        try {
            long now = System.nanoTime();
            for (NbdConnection c : live.keySet()) busy |= c.tick(now);
        } catch (RuntimeException e) {
            log.error("NBD watchdog tick failed", e); // keep ticking: a dead watchdog would leave stalls unrescued
        }
        if (!closing) {
            try {
                timer.schedule(this::watch, busy ? WATCH_BUSY_NANOS : WATCH_IDLE_NANOS, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                log.debug("NBD watchdog stopped: the server is closing");
            }
        }
    }

    private void acceptLoop() {
        ServerSocketChannel ch = server;
        while (!closing) {
            SocketChannel socket;
            try {
                socket = ch.accept();
            } catch (ClosedChannelException e) {
                break; // close() closed the listener
            } catch (IOException e) {
                if (closing) break;
                // e.g. EMFILE: keep serving existing clients, and do not spin while descriptors are short
                log.warn("accepting an NBD connection failed: {}", e.toString());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    break;
                }
                continue;
            }
            try {
                serve(socket);
            } catch (IOException | RuntimeException e) {
                log.warn("setting up an NBD connection failed: {}", e.toString());
                closeQuietly(socket);
            }
        }
    }

    private void serve(SocketChannel socket) throws IOException {
        if (closing) {
            closeQuietly(socket);
            return;
        }
        if (live.size() >= settings.maxConnections()) {
            log.warn("refusing NBD connection from {}: {} connections open", socket.getRemoteAddress(), live.size());
            metrics.handshake("rejected");
            closeQuietly(socket);
            return;
        }
        socket.setOption(StandardSocketOptions.TCP_NODELAY, true);
        socket.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
        long id = ids.incrementAndGet();
        String name = "nbd#" + id + " " + peer(socket);
        NbdConnection conn = new NbdConnection(name, socket, socket, exports, metrics, config);
        ScheduledFuture<?> deadline = timer.schedule(
                () -> conn.handshakeDeadline("handshake not finished within " + settings.handshakeTimeout() + ", closing"),
                settings.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        Thread thread = Thread.ofVirtual().name("nbd#" + id).unstarted(() -> {
            try {
                conn.run();
            } finally {
                deadline.cancel(false);
                live.remove(conn);
            }
        });
        live.put(conn, thread);
        if (closing) conn.abort("server shutting down"); // close() may have snapshotted `live` just before the put
        thread.start();
    }

    /** Waits for a connection's thread until the deadline; true when it has ended. */
    private static boolean join(Thread t, long deadlineNanos) {
        try {
            return t.join(Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !t.isAlive();
        }
    }

    private static String peer(SocketChannel socket) {
        try {
            return String.valueOf(socket.getRemoteAddress()).replaceFirst("^/", "");
        } catch (IOException e) {
            return "?";
        }
    }

    private static void closeQuietly(SocketChannel socket) {
        try {
            socket.close();
        } catch (IOException e) {
            log.debug("closing a refused socket: {}", e.toString()); // nothing was served on it
        }
    }
}
