package dev.cairn.nbd;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One NBD client, over any pair of byte channels (a socket in production; pipes or byte arrays in tests
 * and the fuzz test). It walks {@link State#GREETING} → {@link State#OPTIONS} → {@link State#TRANSMISSION}
 * → {@link State#CLOSED}; states only move forward, so checks read {@code state.compareTo(X) < 0}.
 *
 * <p><b>What it keeps true.</b> {@link #run} never throws: a misbehaving client ends its own connection
 * and nothing else. However the connection ends — DISC, end of stream, protocol error, handshake
 * timeout, {@link #abort}, a failed reply — in-flight requests are finished (their replies go out if the
 * client is still there), the channels are closed, and only then, once no volume call can still be
 * running, is the {@link Export} closed (exactly once). End of stream without DISC is normal and logged
 * at DEBUG only.
 *
 * <p><b>Threads.</b> {@link #run} on one thread (the server gives each connection a virtual thread): it
 * is the only reader. Requests run on virtual threads started by {@link Transmission}. {@link #beginShutdown},
 * {@link #awaitIdle}, {@link #abort} and {@link #tick} may be called from any thread (the server, its
 * timer); they only touch volatile fields, the channels (closing them is thread-safe and wakes a
 * blocked reader) and the in-flight semaphore.
 */
public final class NbdConnection {
    private static final Logger log = LoggerFactory.getLogger(NbdConnection.class);
    /** On DISC or end of stream, how long in-flight requests may take to finish before the socket is closed anyway. */
    private static final long FINISH_IN_FLIGHT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int INPUT_BUFFER = 64 * 1024;

    /** Ordered: a connection only moves to a later state. */
    public enum State { GREETING, OPTIONS, TRANSMISSION, CLOSED }

    private final String name;
    private final ReadableByteChannel inChannel;
    private final WritableByteChannel outChannel;
    private final WireInput in;
    private final WireOutput out;
    private final ExportRegistry exports;
    private final NbdMetrics metrics;
    private final ConnectionConfig config;
    private final AtomicBoolean channelsClosed = new AtomicBoolean();

    private volatile State state = State.GREETING;
    private volatile boolean shuttingDown;
    /** Why the server closed us ({@link #abort}), or null. */
    private volatile String abortReason;
    /** Export name being opened or served; what {@link NbdServer#disconnect} matches. */
    private volatile String exportName;
    private volatile Transmission transmission;

    /** A connection with default settings, for running a session over arbitrary channels (tests, fuzzing). */
    public NbdConnection(ReadableByteChannel in, WritableByteChannel out, ExportRegistry exports, NbdMetrics metrics) {
        this("nbd-standalone", in, out, exports, metrics, ConnectionConfig.defaults());
    }

    NbdConnection(String name, ReadableByteChannel in, WritableByteChannel out, ExportRegistry exports, NbdMetrics metrics,
                  ConnectionConfig config) {
        this.name = name;
        this.inChannel = in;
        this.outChannel = out;
        this.in = new WireInput(in, INPUT_BUFFER);
        this.out = new WireOutput(out);
        this.exports = exports;
        this.metrics = metrics;
        this.config = config;
    }

    public State state() {
        return state;
    }

    /** Serves the client until the connection ends; then everything it held is released. Never throws. */
    public void run() {
        metrics.connectionOpened();
        Export export = null;
        Transmission tx = null;
        try {
            Negotiation.Outcome outcome = new Negotiation(this, in, out, config.disabledOptions()).run();
            switch (outcome) {
                case Negotiation.Outcome.End end -> {
                    metrics.handshake(end.result().label);
                    if (end.result() == Negotiation.Result.REJECTED) log.info("{}: handshake refused: {}", this, end.reason());
                    else log.debug("{}: handshake ended: {}", this, end.reason());
                }
                case Negotiation.Outcome.Transmit go -> {
                    export = go.session().export();
                    metrics.handshake("ok");
                    tx = new Transmission(this, in, out, go.session(), config, metrics);
                    transmission = tx;
                    state = State.TRANSMISSION;
                    Transmission.End end = tx.run();
                    log.debug("{}: transmission ended: {}", this, end);
                }
                case Negotiation.Outcome.Continue c -> throw new IllegalStateException("negotiation cannot end with CONTINUE");
            }
        } catch (IOException e) {
            String why = abortReason;
            if (state.compareTo(State.TRANSMISSION) < 0) metrics.handshake("failed");
            if (why != null) log.debug("{}: closed by the server: {}", this, why);
            else if (e instanceof ClosedChannelException) log.debug("{}: connection closed", this);
            else log.debug("{}: client went away: {}", this, e.toString());
        } catch (Throwable t) {
            log.error("{}: unexpected failure, closing the connection", this, t);
        } finally {
            if (tx != null && !tx.awaitIdle(System.nanoTime() + FINISH_IN_FLIGHT_NANOS)) {
                log.warn("{}: requests still running {} s after the client finished; closing the socket", this,
                        TimeUnit.NANOSECONDS.toSeconds(FINISH_IN_FLIGHT_NANOS));
            }
            closeChannels();
            if (tx != null) tx.awaitNoRequests(); // a volume call may still run: the export stays open until it ends
            if (export != null) releaseExport(export);
            state = State.CLOSED;
            metrics.connectionClosed();
        }
    }

    // ---- called by Negotiation / Transmission (reader and request threads) ---------------------------------

    void enterOptions() {
        state = State.OPTIONS;
    }

    ExportRegistry exports() {
        return exports;
    }

    boolean shuttingDown() {
        return shuttingDown;
    }

    /**
     * Opens an export through the registry. The name is published first, so a concurrent
     * {@link NbdServer#disconnect} sees this connection even while it is still opening; if shutdown
     * began meanwhile, the export is closed again and reported absent.
     */
    Optional<Export> openExport(String requested) throws IOException {
        exportName = requested;
        Optional<Export> export = shuttingDown ? Optional.empty() : exports.open(requested);
        if (export.isPresent() && shuttingDown) {
            releaseExport(export.get());
            export = Optional.empty();
        }
        if (export.isEmpty()) exportName = null;
        return export;
    }

    /** Closes an export this connection opened; registry exceptions are logged, never propagated. */
    void releaseExport(Export export) {
        exportName = null;
        try {
            export.close();
        } catch (RuntimeException e) {
            log.warn("{}: closing export {} failed", this, Nbd.quote(export.name()), e);
        }
    }

    /** A reply could not be written: the client is gone or the stream is broken. Ends the connection. */
    void replyFailed(IOException e) {
        if (closeChannels()) log.debug("{}: writing a reply failed, closing: {}", this, e.toString());
    }

    // ---- called by the server (any thread) ------------------------------------------------------------------

    String exportName() {
        return exportName;
    }

    /** From now on options get ERR_SHUTDOWN and requests ESHUTDOWN; running requests finish normally. */
    void beginShutdown() {
        shuttingDown = true;
    }

    /** Waits until no request is in flight (true) or the deadline passes (false). */
    boolean awaitIdle(long deadlineNanos) {
        Transmission tx = transmission;
        return tx == null || tx.awaitIdle(deadlineNanos);
    }

    /** Closes the channels: a blocked reader wakes up and the connection winds down as in {@link #run}. */
    void abort(String reason) {
        if (abortReason == null) abortReason = reason;
        closeChannels();
    }

    /**
     * The server's watchdog: lets a stalled reader hand over (see Transmission). Returns whether the
     * connection served requests since the last tick (the watchdog then ticks faster).
     */
    boolean tick(long now) {
        Transmission tx = transmission;
        return tx != null && tx.rescueIfStalled(now);
    }

    /** Closes the connection if it has not reached transmission yet (the server's handshake timer). */
    void handshakeDeadline(String reason) {
        if (state.compareTo(State.TRANSMISSION) < 0) {
            log.info("{}: {}", this, reason);
            abort(reason);
        }
    }

    /** Returns true for the call that actually closed them. */
    private boolean closeChannels() {
        if (!channelsClosed.compareAndSet(false, true)) return false;
        closeQuietly(inChannel);
        if (outChannel != inChannel) closeQuietly(outChannel);
        return true;
    }

    private void closeQuietly(Channel c) {
        try {
            c.close();
        } catch (IOException e) {
            log.debug("{}: closing channel: {}", this, e.toString()); // nothing left to lose on this connection
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
